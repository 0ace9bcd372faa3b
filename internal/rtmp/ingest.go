package rtmp

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/transcode"
)

// ingest turns gortmplib's demuxed access units into media.Frames.
type ingest struct {
	out     transcode.FrameWriter // the hub publisher, or an AAC rendition in front of it
	metrics *observe.Metrics
	log     *slog.Logger

	video  *media.VideoTrack
	audio  *media.AudioTrack
	tracks *media.Tracks
}

// setup picks the first video and first audio track the publisher announced
// and registers the callbacks. Codecs we cannot deliver are ignored with one
// log line; a publish with neither a usable video nor audio track is refused.
func (in *ingest) setup(r *gortmplib.Reader) error {
	var videoSet, audioSet bool
	for _, t := range r.Tracks() {
		switch c := t.Codec.(type) {
		case *codecs.H264:
			if videoSet {
				continue
			}
			videoSet = true
			in.video = media.H264Track(c.SPS, c.PPS)
			r.OnDataH264(t, in.onH264)
		case *codecs.H265:
			if videoSet {
				continue
			}
			videoSet = true
			in.video = media.H265Track(c.VPS, c.SPS, c.PPS)
			r.OnDataH265(t, in.onH265)
		case *codecs.AV1:
			if videoSet {
				continue
			}
			videoSet = true
			in.video = &media.VideoTrack{Codec: media.CodecAV1}
			r.OnDataAV1(t, in.onAV1)
		case *codecs.MPEG4Audio:
			if audioSet || c.Config == nil {
				continue
			}
			audioSet = true
			cfg, err := c.Config.Marshal()
			if err != nil {
				return fmt.Errorf("AAC config: %w", err)
			}
			in.audio = &media.AudioTrack{Codec: media.CodecAAC, Config: cfg, SampleRate: c.Config.SampleRate, ChannelCount: c.Config.ChannelCount}
			r.OnDataMPEG4Audio(t, in.onAAC)
		case *codecs.Opus:
			if audioSet {
				continue
			}
			audioSet = true
			channels := 2
			if c.IDHeader != nil {
				channels = int(c.IDHeader.ChannelCount)
			}
			in.audio = &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: channels}
			r.OnDataOpus(t, in.onOpus)
		default:
			in.log.Info("ignoring track with unsupported codec", "codec", fmt.Sprintf("%T", t.Codec))
		}
	}
	if !videoSet && !audioSet {
		return fmt.Errorf("no supported track (video: H.264, H.265, AV1; audio: AAC, Opus)")
	}
	in.newTracks()
	attrs := []any{}
	if in.video != nil {
		attrs = append(attrs, "video", in.video.Codec.String(), "width", in.video.Width, "height", in.video.Height)
	}
	if in.audio != nil {
		attrs = append(attrs, "audio", in.audio.Codec.String(), "rate", in.audio.SampleRate)
	}
	in.log.Info("publish tracks", attrs...)
	return nil
}

func (in *ingest) newTracks() {
	in.tracks = &media.Tracks{Video: in.video, Audio: in.audio}
}

// paramSetsOnly reports whether every NAL unit of an H.264 AU is an SPS or
// PPS (gortmplib hands a new AVC sequence header over as such an AU).
func paramSetsOnlyH264(au [][]byte) (sps, pps []byte, ok bool) {
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		default:
			return nil, nil, false
		}
	}
	return sps, pps, sps != nil && pps != nil
}

func (in *ingest) onH264(pts, dts time.Duration, au [][]byte) {
	if sps, pps, ok := paramSetsOnlyH264(au); ok {
		if !bytes.Equal(sps, in.video.SPS) || !bytes.Equal(pps, in.video.PPS) {
			in.video = media.H264Track(sps, pps)
			in.newTracks()
			in.log.Info("video parameters changed", "width", in.video.Width, "height", in.video.Height)
		}
		return
	}
	in.write(&media.Frame{Tracks: in.tracks, Video: true, Key: h264.IsRandomAccess(au), DTS: dts, PTS: pts, AU: au})
}

func (in *ingest) onH265(pts, dts time.Duration, au [][]byte) {
	var vps, sps, pps []byte
	other := false
	for _, n := range au {
		if len(n) < 2 {
			other = true
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3F) {
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		default:
			other = true
		}
	}
	if !other && vps != nil && sps != nil && pps != nil {
		if !bytes.Equal(sps, in.video.SPS) || !bytes.Equal(pps, in.video.PPS) || !bytes.Equal(vps, in.video.VPS) {
			in.video = media.H265Track(vps, sps, pps)
			in.newTracks()
		}
		return
	}
	in.write(&media.Frame{Tracks: in.tracks, Video: true, Key: h265.IsRandomAccess(au), DTS: dts, PTS: pts, AU: au})
}

func (in *ingest) onAV1(pts time.Duration, tu [][]byte) {
	key := av1.IsRandomAccess2(tu)
	if key {
		// The sequence header OBU travels in-band; keep the newest copy so
		// FLV players can be given an av1C record.
		for _, obu := range tu {
			var h av1.OBUHeader
			if err := h.Unmarshal(obu); err == nil && h.Type == av1.OBUTypeSequenceHeader {
				if !bytes.Equal(obu, in.video.AV1SequenceHeader) {
					v := *in.video
					v.AV1SequenceHeader = obu
					var sh av1.SequenceHeader
					if err := sh.Unmarshal(obu); err == nil {
						v.Width, v.Height = sh.Width(), sh.Height()
					}
					in.video = &v
					in.newTracks()
				}
				break
			}
		}
	}
	in.write(&media.Frame{Tracks: in.tracks, Video: true, Key: key, DTS: pts, PTS: pts, AU: tu})
}

func (in *ingest) onAAC(pts time.Duration, au []byte) {
	in.write(&media.Frame{Tracks: in.tracks, Key: true, DTS: pts, PTS: pts, AU: [][]byte{au}})
}

func (in *ingest) onOpus(pts time.Duration, pkt []byte) {
	in.write(&media.Frame{Tracks: in.tracks, Key: true, DTS: pts, PTS: pts, AU: [][]byte{pkt}})
}

func (in *ingest) write(f *media.Frame) {
	in.metrics.BytesIn.Add(float64(f.Size()))
	in.out.Write(f)
}
