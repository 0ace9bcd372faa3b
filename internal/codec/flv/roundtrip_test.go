package flv

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// stream is the FLV a viewer gets: header, metadata, sequence headers, then
// the frame tags.
func stream(t testing.TB, tr *media.Tracks, frames []*media.Frame) []byte {
	t.Helper()
	b := AppendFileHeader(nil, tr.Video != nil, tr.Audio != nil)
	b = AppendMetadataTag(b, tr)
	b = AppendSequenceHeaders(b, tr, 0)
	for _, f := range frames {
		var ok bool
		if b, ok = AppendFrameTag(b, f); !ok {
			t.Fatalf("frame not carried: %+v", f)
		}
	}
	return b
}

// demuxed is what the reader side recovers from a stream.
type demuxed struct {
	hdr      Header
	meta     int
	vps      []byte
	sps, pps []byte
	av1C     []byte
	asc      []byte
	frames   []media.Frame // AU, Key, DTS, PTS, Video
	vcodec   media.Codec
	acodec   media.Codec
}

func demux(t testing.TB, r io.Reader) demuxed {
	t.Helper()
	var d demuxed
	fr := NewReader(r)
	var err error
	if d.hdr, err = fr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for {
		tag, err := fr.ReadTag()
		if errors.Is(err, io.EOF) {
			return d
		}
		if err != nil {
			t.Fatal(err)
		}
		dts := time.Duration(tag.Timestamp) * time.Millisecond
		switch tag.Type {
		case TagScript:
			d.meta++
		case TagVideo:
			p, err := ParseVideo(tag.Data)
			if err != nil {
				t.Fatal(err)
			}
			d.vcodec = p.Codec
			switch {
			case p.SequenceHeader && p.Codec == media.CodecH264:
				sps, pps, err := ParseAVCConfig(p.Data)
				if err != nil {
					t.Fatal(err)
				}
				d.sps, d.pps = bytes.Clone(sps), bytes.Clone(pps)
			case p.SequenceHeader && p.Codec == media.CodecH265:
				vps, sps, pps, err := ParseHEVCConfig(p.Data)
				if err != nil {
					t.Fatal(err)
				}
				d.vps, d.sps, d.pps = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps)
			case p.SequenceHeader:
				d.av1C = bytes.Clone(p.Data)
			case p.Codec == media.CodecAV1:
				d.frames = append(d.frames, media.Frame{
					Video: true, Key: p.Key, DTS: dts, PTS: dts, AU: [][]byte{bytes.Clone(p.Data)},
				})
			default:
				nalus, err := SplitAVCC(p.Data)
				if err != nil {
					t.Fatal(err)
				}
				var au [][]byte
				for _, n := range nalus {
					au = append(au, bytes.Clone(n))
				}
				d.frames = append(d.frames, media.Frame{
					Video: true, Key: p.Key, DTS: dts, PTS: dts + time.Duration(p.CompositionTime)*time.Millisecond, AU: au,
				})
			}
		case TagAudio:
			p, err := ParseAudio(tag.Data)
			if err != nil {
				t.Fatal(err)
			}
			d.acodec = p.Codec
			if p.SequenceHeader {
				d.asc = bytes.Clone(p.Data)
				continue
			}
			d.frames = append(d.frames, media.Frame{Key: true, DTS: dts, PTS: dts, AU: [][]byte{bytes.Clone(p.Data)}})
		default:
			t.Fatalf("unexpected tag type %d", tag.Type)
		}
	}
}

func sameFrames(t *testing.T, got []media.Frame, want []*media.Frame, wantAU func(*media.Frame) [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Video != w.Video || g.Key != w.Key || g.DTS != w.DTS || g.PTS != w.PTS {
			t.Fatalf("frame %d: video %v key %v dts %v pts %v, want %v %v %v %v", i, g.Video, g.Key, g.DTS, g.PTS, w.Video, w.Key, w.DTS, w.PTS)
		}
		if !slices.EqualFunc(g.AU, wantAU(w), bytes.Equal) {
			t.Fatalf("frame %d: AU differs", i)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	h := loadH264(t)
	a := loadAAC(t)
	av := loadAV1(t)
	identity := func(f *media.Frame) [][]byte { return f.AU }

	h264AAC := h264Tracks(h, &a)
	var h264AACFrames []*media.Frame
	for i, au := range h.aus {
		// Fake B-frame-like reordering on odd frames to carry a composition time.
		dts := ms(i * 33)
		pts := dts
		if i%2 == 1 {
			pts += ms(66)
		}
		h264AACFrames = append(h264AACFrames, &media.Frame{Tracks: h264AAC, Video: true, Key: h.keys[i], DTS: dts, PTS: pts, AU: au})
		if i < len(a.frames) {
			d := ms(i * 23)
			h264AACFrames = append(h264AACFrames, &media.Frame{Tracks: h264AAC, Key: true, DTS: d, PTS: d, AU: [][]byte{a.frames[i]}})
		}
	}

	hevc := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: hevcSPS, PPS: hevcPPS, Width: 320, Height: 240}}
	hevcFrames := []*media.Frame{
		{Tracks: hevc, Video: true, Key: true, DTS: 0, PTS: ms(33), AU: [][]byte{{0x4e, 0x01, 0x05}, {0x26, 0x01, 0xAF, 0x00, 0x11}}},
		{Tracks: hevc, Video: true, DTS: ms(33), PTS: ms(33), AU: [][]byte{{0x02, 0x01, 0xD0}}},
		{Tracks: hevc, Video: true, DTS: ms(66), PTS: ms(50), AU: [][]byte{{0x00, 0x01, 0xE0}}},
	}

	av1Tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: av.seq, Width: 320, Height: 240}}
	var av1Frames []*media.Frame
	for i, tu := range av.tus {
		av1Frames = append(av1Frames, &media.Frame{Tracks: av1Tracks, Video: true, Key: i == 0, DTS: ms(i * 33), PTS: ms(i * 33), AU: tu})
	}
	av1AU := func(f *media.Frame) [][]byte { return [][]byte{av.rawTUs[slices.Index(av1Frames, f)]} }

	mp3 := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 44100, ChannelCount: 2}}
	mp3Frames := []*media.Frame{
		{Tracks: mp3, Key: true, DTS: 0, PTS: 0, AU: [][]byte{{0xFF, 0xFB, 0x90, 0x64}}},
		{Tracks: mp3, Key: true, DTS: ms(26), PTS: ms(26), AU: [][]byte{{0xFF, 0xFB, 0x90, 0x65}}},
	}

	for _, tc := range []struct {
		name   string
		tr     *media.Tracks
		frames []*media.Frame
		wantAU func(*media.Frame) [][]byte
		check  func(t *testing.T, d demuxed)
	}{
		{"h264+aac", h264AAC, h264AACFrames, identity, func(t *testing.T, d demuxed) {
			if !bytes.Equal(d.sps, h.sps) || !bytes.Equal(d.pps, h.pps) || !bytes.Equal(d.asc, a.asc) {
				t.Fatal("parameter sets differ")
			}
			if d.vcodec != media.CodecH264 || d.acodec != media.CodecAAC || d.hdr != (Header{true, true}) {
				t.Fatalf("%+v", d)
			}
			rate, ch, err := ParseAudioSpecificConfig(d.asc)
			if err != nil || rate != 44100 || ch != 2 {
				t.Fatalf("asc: %d %d %v", rate, ch, err)
			}
		}},
		{"h265", hevc, hevcFrames, identity, func(t *testing.T, d demuxed) {
			if !bytes.Equal(d.vps, hevcVPS) || !bytes.Equal(d.sps, hevcSPS) || !bytes.Equal(d.pps, hevcPPS) {
				t.Fatal("parameter sets differ")
			}
			if d.vcodec != media.CodecH265 || d.hdr != (Header{HasVideo: true}) {
				t.Fatalf("%+v", d)
			}
		}},
		{"av1", av1Tracks, av1Frames, av1AU, func(t *testing.T, d demuxed) {
			if len(d.av1C) < 4 || !bytes.Equal(d.av1C[4:], av1SeqHeader) || d.vcodec != media.CodecAV1 {
				t.Fatalf("av1C % x", d.av1C)
			}
		}},
		{"mp3", mp3, mp3Frames, identity, func(t *testing.T, d demuxed) {
			if d.asc != nil || d.acodec != media.CodecMP3 || d.hdr != (Header{HasAudio: true}) {
				t.Fatalf("%+v", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := stream(t, tc.tr, tc.frames)
			d := demux(t, bytes.NewReader(b))
			if d.meta != 1 {
				t.Fatalf("%d metadata tags", d.meta)
			}
			sameFrames(t, d.frames, tc.frames, tc.wantAU)
			tc.check(t, d)
		})
	}
}
