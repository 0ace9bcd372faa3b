package srt

import (
	"bytes"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/huabian-live/huabian/internal/media"
)

// tsOffset moves output timestamps away from zero, so that the PCR (which
// runs a little ahead of the DTS) never goes negative.
const tsOffset = 2 * 90000

// tsMuxer packetises one stream's frames into MPEG-TS (one per tsFeed, so
// once per stream however many SRT readers there are).
type tsMuxer struct {
	buf    bytes.Buffer
	w      *mpegts.Writer
	tracks *media.Tracks // the frame tracks the writer was built for
	vcodec media.Codec
	acodec media.Codec
	aconf  string
	video  *mpegts.Track
	audio  *mpegts.Track
	// needKey holds back frames after the writer is (re)built until a
	// video keyframe, so that video leads: the writer then makes video the
	// PCR track and puts PAT and PMT in front of every video keyframe,
	// which is where readers start.
	needKey bool
}

// setup (re)builds the writer when the codecs change; new parameter sets
// alone need no new PMT (they travel in-band before each keyframe).
func (m *tsMuxer) setup(t *media.Tracks) error {
	m.tracks = t
	var vc, ac media.Codec
	var aconf string
	if t.Video != nil && (t.Video.Codec == media.CodecH264 || t.Video.Codec == media.CodecH265) {
		vc = t.Video.Codec
	}
	if t.Audio != nil && (t.Audio.Codec == media.CodecAAC || t.Audio.Codec == media.CodecOpus) {
		ac, aconf = t.Audio.Codec, string(t.Audio.Config)
	}
	if m.w != nil && vc == m.vcodec && ac == m.acodec && aconf == m.aconf {
		return nil
	}
	m.vcodec, m.acodec, m.aconf = vc, ac, aconf
	m.video, m.audio = nil, nil
	var tracks []*mpegts.Track
	switch vc {
	case media.CodecH264:
		m.video = &mpegts.Track{Codec: &mpegts.CodecH264{}}
	case media.CodecH265:
		m.video = &mpegts.Track{Codec: &mpegts.CodecH265{}}
	}
	if m.video != nil {
		tracks = append(tracks, m.video)
	}
	switch ac {
	case media.CodecAAC:
		var cfg mpeg4audio.AudioSpecificConfig
		if err := cfg.Unmarshal(t.Audio.Config); err == nil {
			m.audio = &mpegts.Track{Codec: &mpegts.CodecMPEG4Audio{Config: cfg}}
		}
	case media.CodecOpus:
		m.audio = &mpegts.Track{Codec: &mpegts.CodecOpus{ChannelCount: max(1, t.Audio.ChannelCount)}} //nolint:staticcheck // simplest accepted form
	}
	if m.audio != nil {
		tracks = append(tracks, m.audio)
	}
	if len(tracks) == 0 {
		m.w = nil
		return nil
	}
	// PAT and PMT go out with the first random-access frame (a reader
	// starts at a keyframe) and then periodically; writing them here
	// before the PCR track is chosen would make the PMT change version.
	m.w = &mpegts.Writer{W: &m.buf, Tracks: tracks}
	m.needKey = m.video != nil
	return m.w.Initialize()
}

func toTicks(d time.Duration) int64 {
	return int64(d/time.Second)*90000 + int64(d%time.Second)*90000/int64(time.Second) + tsOffset
}

func (m *tsMuxer) write(f *media.Frame) error {
	if f.Tracks == nil || len(f.AU) == 0 {
		return nil
	}
	if f.Tracks != m.tracks {
		if err := m.setup(f.Tracks); err != nil {
			return err
		}
	}
	if m.w == nil {
		return nil
	}
	if m.needKey {
		if !f.Video || !f.Key {
			return nil
		}
		m.needKey = false
	}
	pts, dts := toTicks(f.PTS), toTicks(f.DTS)
	if f.Video {
		if m.video == nil {
			return nil
		}
		v := f.Tracks.Video
		au := f.AU
		if f.Key {
			// Parameter sets travel out of band in the hub; MPEG-TS
			// decoders need them in-band at every random-access point.
			ps := [][]byte{v.VPS, v.SPS, v.PPS}
			if v.Codec == media.CodecH264 {
				ps = ps[1:]
			}
			au = make([][]byte, 0, len(ps)+len(f.AU))
			for _, p := range ps {
				if len(p) > 0 {
					au = append(au, p)
				}
			}
			au = append(au, f.AU...)
		}
		if v.Codec == media.CodecH265 {
			return m.w.WriteH265(m.video, pts, dts, au)
		}
		return m.w.WriteH264(m.video, pts, dts, au)
	}
	if m.audio == nil {
		return nil
	}
	if m.acodec == media.CodecOpus {
		return m.w.WriteOpus(m.audio, pts, f.AU)
	}
	return m.w.WriteMPEG4Audio(m.audio, pts, f.AU)
}
