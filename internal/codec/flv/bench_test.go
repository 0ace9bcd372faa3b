package flv

import (
	"bytes"
	"io"
	"testing"

	"github.com/huabian-live/huabian/internal/media"
)

// frame10K is a 10 KB H.264 access unit: an IDR slice plus SEI, as a hub
// would hand it over.
func frame10K() *media.Frame {
	tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}}
	idr := bytes.Repeat([]byte{0x65, 0x88, 0x84, 0x21}, 2500-8)
	return &media.Frame{
		Tracks: tr, Video: true, Key: true, DTS: ms(1000), PTS: ms(1066),
		AU: [][]byte{{0x06, 0x05, 0x01, 0x80}, idr},
	}
}

func TestAppendFrameTagZeroAllocs(t *testing.T) {
	av := loadAV1(t)
	for _, tc := range []struct {
		name string
		f    *media.Frame
	}{
		{"h264 10KB", frame10K()},
		{"h265", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265}}, Video: true, AU: [][]byte{{0x26, 1, 2}}}},
		{"av1 size insertion", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1}}, Video: true, AU: av.tus[0]}},
		{"aac", &media.Frame{Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC}}, AU: [][]byte{{0x21, 0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, 0, 64<<10)
			if n := testing.AllocsPerRun(100, func() { AppendFrameTag(dst[:0], tc.f) }); n != 0 {
				t.Fatalf("%v allocs per call", n)
			}
		})
	}
}

func BenchmarkAppendFrameTag(b *testing.B) {
	f := frame10K()
	dst := make([]byte, 0, 16<<10)
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendFrameTag(dst[:0], f)
	}
}

func BenchmarkReadTagParseVideo(b *testing.B) {
	f := frame10K()
	tag, _ := AppendFrameTag(nil, f)
	in := bytes.Repeat(tag, 100)
	r := bytes.NewReader(in)
	fr := NewReader(r)
	b.SetBytes(int64(len(tag)))
	b.ReportAllocs()
	for b.Loop() {
		t, err := fr.ReadTag()
		if err == io.EOF {
			r.Reset(in)
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseVideo(t.Data); err != nil {
			b.Fatal(err)
		}
	}
}
