package llhls

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/huabian-live/huabian/internal/media"
)

// Clock rates gohlslib requires per codec (it refuses any other).
const (
	videoClockRate = 90000
	opusClockRate  = 48000
)

// muxTracks is the gohlslib view of one *media.Tracks. A nil track was
// absent or skipped (unsupported codec or unusable parameters).
type muxTracks struct {
	video, audio *gohlslib.Track
	vcodec       media.Codec
	acodec       media.Codec
	v            *media.VideoTrack
	a            *media.AudioTrack
}

// list returns the tracks in gohlslib order: video first, so that gohlslib
// names the playlists video1_stream.m3u8 and audio2_stream.m3u8 and makes
// video the leading track that drives segmentation.
func (t *muxTracks) list() []*gohlslib.Track {
	var out []*gohlslib.Track
	if t.video != nil {
		out = append(out, t.video)
	}
	if t.audio != nil {
		out = append(out, t.audio)
	}
	return out
}

// buildTracks maps t to gohlslib tracks. skipped explains every track left
// out, for one log line per track and publish session (never per packet).
func buildTracks(t *media.Tracks) (mt *muxTracks, skipped []error) {
	mt = &muxTracks{}
	if v := t.Video; v != nil {
		tr, err := videoTrack(v)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("video track %s skipped: %w", v.Codec, err))
		} else {
			mt.video, mt.vcodec, mt.v = tr, v.Codec, v
		}
	}
	if a := t.Audio; a != nil {
		tr, err := audioTrack(a)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("audio track %s skipped: %w", a.Codec, err))
		} else {
			mt.audio, mt.acodec, mt.a = tr, a.Codec, a
		}
	}
	return mt, skipped
}

var errUnsupportedCodec = errors.New("codec not supported by LL-HLS/fMP4 muxer")

func videoTrack(v *media.VideoTrack) (*gohlslib.Track, error) {
	switch v.Codec {
	case media.CodecH264:
		if len(v.SPS) == 0 || len(v.PPS) == 0 {
			return nil, errors.New("missing SPS/PPS")
		}
		var sps h264.SPS
		if err := sps.Unmarshal(v.SPS); err != nil {
			return nil, fmt.Errorf("bad SPS: %w", err)
		}
		return &gohlslib.Track{Codec: &codecs.H264{SPS: v.SPS, PPS: v.PPS}, ClockRate: videoClockRate}, nil
	case media.CodecH265:
		if len(v.VPS) == 0 || len(v.SPS) == 0 || len(v.PPS) == 0 {
			return nil, errors.New("missing VPS/SPS/PPS")
		}
		var sps h265.SPS
		if err := sps.Unmarshal(v.SPS); err != nil {
			return nil, fmt.Errorf("bad SPS: %w", err)
		}
		return &gohlslib.Track{Codec: &codecs.H265{VPS: v.VPS, SPS: v.SPS, PPS: v.PPS}, ClockRate: videoClockRate}, nil
	case media.CodecAV1:
		var sh av1.SequenceHeader
		if err := sh.Unmarshal(v.AV1SequenceHeader); err != nil {
			return nil, fmt.Errorf("bad sequence header: %w", err)
		}
		return &gohlslib.Track{Codec: &codecs.AV1{SequenceHeader: v.AV1SequenceHeader}, ClockRate: videoClockRate}, nil
	default:
		return nil, errUnsupportedCodec
	}
}

func audioTrack(a *media.AudioTrack) (*gohlslib.Track, error) {
	switch a.Codec {
	case media.CodecAAC:
		var conf mpeg4audio.AudioSpecificConfig
		if err := conf.Unmarshal(a.Config); err != nil {
			return nil, fmt.Errorf("bad AudioSpecificConfig: %w", err)
		}
		if conf.SampleRate <= 0 {
			return nil, errors.New("bad AudioSpecificConfig: no sample rate")
		}
		return &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: conf}, ClockRate: conf.SampleRate}, nil
	case media.CodecOpus:
		ch := a.ChannelCount
		if ch <= 0 {
			ch = 2
		}
		return &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: ch}, ClockRate: opusClockRate}, nil
	default:
		return nil, errUnsupportedCodec
	}
}

// sameParams reports whether a and b carry identical codec parameters, so
// that a muxer built for a can keep going with frames of b (a publisher that
// reconnected with the same encoder settings: viewers continue seamlessly).
func sameParams(a, b *media.Tracks) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if (a.Video == nil) != (b.Video == nil) || (a.Audio == nil) != (b.Audio == nil) {
		return false
	}
	if v, w := a.Video, b.Video; v != nil {
		if v.Codec != w.Codec || !bytes.Equal(v.VPS, w.VPS) || !bytes.Equal(v.SPS, w.SPS) ||
			!bytes.Equal(v.PPS, w.PPS) || !bytes.Equal(v.AV1SequenceHeader, w.AV1SequenceHeader) {
			return false
		}
	}
	if x, y := a.Audio, b.Audio; x != nil {
		if x.Codec != y.Codec || !bytes.Equal(x.Config, y.Config) ||
			x.SampleRate != y.SampleRate || x.ChannelCount != y.ChannelCount {
			return false
		}
	}
	return true
}

// ticks converts d to units of rate Hz without overflowing for large d.
func ticks(d time.Duration, rate int) int64 {
	s, r := int64(d/time.Second), int64(d%time.Second)
	return s*int64(rate) + r*int64(rate)/int64(time.Second)
}

// nonEmpty returns au without zero-length units (gohlslib and mediacommon
// index unit[0] unconditionally), reusing au when nothing is dropped.
func nonEmpty(au [][]byte) [][]byte {
	for i, u := range au {
		if len(u) == 0 {
			out := make([][]byte, 0, len(au)-1)
			out = append(out, au[:i]...)
			for _, v := range au[i+1:] {
				if len(v) > 0 {
					out = append(out, v)
				}
			}
			return out
		}
	}
	return au
}

// withParamSets prepends the parameter sets to a random-access AU that does
// not carry them in-band: gohlslib's DTS extractor and init segment need them
// in the bitstream, while the hub delivers them out of band in Tracks. The
// shared frame is never modified.
func withParamSets(au [][]byte, sets ...[]byte) [][]byte {
	out := make([][]byte, 0, len(sets)+len(au))
	for _, s := range sets {
		if len(s) > 0 {
			out = append(out, s)
		}
	}
	return append(out, au...)
}

func hasH264NALU(au [][]byte, typ h264.NALUType) bool {
	for _, n := range au {
		if h264.NALUType(n[0]&0x1f) == typ {
			return true
		}
	}
	return false
}

func hasH265NALU(au [][]byte, typ h265.NALUType) bool {
	for _, n := range au {
		if h265.NALUType((n[0]>>1)&0x3f) == typ {
			return true
		}
	}
	return false
}

func hasAV1SequenceHeader(tu [][]byte) bool {
	for _, obu := range tu {
		if av1.OBUType((obu[0]>>3)&0x0f) == av1.OBUTypeSequenceHeader {
			return true
		}
	}
	return false
}

// writeFrame hands one frame to m. rel is the frame's PTS relative to the
// muxer's time origin; ntp its wall-clock time (EXT-X-PROGRAM-DATE-TIME).
func (mt *muxTracks) writeFrame(m *gohlslib.Muxer, f *media.Frame, rel time.Duration, ntp time.Time) error {
	au := nonEmpty(f.AU)
	if len(au) == 0 {
		return nil
	}
	if f.Video {
		if mt.video == nil {
			return nil
		}
		pts := ticks(rel, videoClockRate)
		switch mt.vcodec {
		case media.CodecH264:
			if (f.Key || h264.IsRandomAccess(au)) && !hasH264NALU(au, h264.NALUTypeSPS) {
				au = withParamSets(au, mt.v.SPS, mt.v.PPS)
			}
			return m.WriteH264(mt.video, ntp, pts, au)
		case media.CodecH265:
			if (f.Key || h265.IsRandomAccess(au)) && !hasH265NALU(au, h265.NALUType_SPS_NUT) {
				au = withParamSets(au, mt.v.VPS, mt.v.SPS, mt.v.PPS)
			}
			return m.WriteH265(mt.video, ntp, pts, au)
		case media.CodecAV1:
			// gohlslib treats a temporal unit as random access only when it
			// carries a sequence header OBU.
			if f.Key && !hasAV1SequenceHeader(au) {
				au = withParamSets(au, mt.v.AV1SequenceHeader)
			}
			return m.WriteAV1(mt.video, ntp, pts, au)
		}
		return nil
	}
	if mt.audio == nil {
		return nil
	}
	switch mt.acodec {
	case media.CodecAAC:
		return m.WriteMPEG4Audio(mt.audio, ntp, ticks(rel, mt.audio.ClockRate), au)
	case media.CodecOpus:
		return m.WriteOpus(mt.audio, ntp, ticks(rel, opusClockRate), au)
	}
	return nil
}
