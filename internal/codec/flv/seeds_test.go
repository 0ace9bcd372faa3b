package flv

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/media"
)

var writeSeeds = flag.Bool("flv.write-seeds", false, "rewrite the seed corpora in testdata/fuzz from the table cases")

// seedValue is one argument of a fuzz seed: []byte, uint8 or uint16.
type seedValue any

// encodeSeed renders a seed in the "go test fuzz v1" corpus file format.
func encodeSeed(vals ...seedValue) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		default:
			panic(fmt.Sprintf("unsupported seed type %T", v))
		}
	}
	return []byte(b.String())
}

// seedCorpora returns, per fuzz target, named seeds: the table cases of
// the unit tests, real streams and hand-made hostile inputs.
func seedCorpora(t *testing.T) map[string]map[string][]seedValue {
	c := map[string]map[string][]seedValue{}
	add := func(target, name string, vals ...seedValue) {
		if c[target] == nil {
			c[target] = map[string][]seedValue{}
		}
		c[target][name] = vals
	}

	h := loadH264(t)
	a := loadAAC(t)
	av := loadAV1(t)
	h264AAC := h264Tracks(h, &a)
	hevc := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: hevcSPS, PPS: hevcPPS}}
	av1Tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: av.seq}}

	// Real streams, kept small: sequence headers and the first frames.
	h264Stream := stream(t, h264AAC, []*media.Frame{
		{Tracks: h264AAC, Video: true, Key: true, PTS: ms(66), AU: h.aus[0]},
		{Tracks: h264AAC, Key: true, DTS: ms(10), PTS: ms(10), AU: [][]byte{a.frames[0]}},
		{Tracks: h264AAC, Video: true, DTS: ms(33), PTS: ms(33), AU: h.aus[1]},
	})
	hevcStream := stream(t, hevc, []*media.Frame{
		{Tracks: hevc, Video: true, Key: true, DTS: 0, PTS: ms(33), AU: [][]byte{{0x26, 0x01, 0xAF, 0x00}}},
		{Tracks: hevc, Video: true, DTS: ms(33), PTS: ms(20), AU: [][]byte{{0x02, 0x01, 0xD0}}},
	})
	av1Stream := stream(t, av1Tracks, []*media.Frame{
		{Tracks: av1Tracks, Video: true, Key: true, AU: av.tus[1]}, // the small one
	})
	for name, s := range map[string][]byte{"h264-aac": h264Stream, "hevc": hevcStream, "av1": av1Stream} {
		add("FuzzReader", "stream-"+name, s, uint16(len(s)/2))
		add("FuzzReader", "stream-"+name+"-truncated", s[:len(s)-7], uint16(13))
		// Lying size: the first tag (metadata) declares far more than the stream holds.
		lie := append([]byte(nil), s...)
		lie[len(flvHeader)+1] = 0xFF
		add("FuzzReader", "stream-"+name+"-lying-size", lie, uint16(20))
	}
	for _, tc := range readerCases {
		add("FuzzReader", "reader-"+tc.name, cat(flvHeader, tc.in), uint16(7))
	}
	for _, tc := range headerCases {
		add("FuzzReader", "header-"+tc.name, tc.in, uint16(3))
	}

	for _, tc := range videoCases {
		add("FuzzParseVideo", tc.name, tc.body)
	}
	for name, s := range map[string][]byte{"h264": h264Stream, "hevc": hevcStream, "av1": av1Stream} {
		r := NewReader(strings.NewReader(string(s)))
		r.ReadHeader()
		for i := 0; ; i++ {
			tag, err := r.ReadTag()
			if err != nil {
				break
			}
			switch tag.Type {
			case TagVideo:
				add("FuzzParseVideo", fmt.Sprintf("%s-tag%d", name, i), append([]byte(nil), tag.Data...))
			case TagAudio:
				add("FuzzParseAudio", fmt.Sprintf("%s-tag%d", name, i), append([]byte(nil), tag.Data...))
			}
		}
	}
	for _, tc := range audioCases {
		add("FuzzParseAudio", tc.name, tc.body)
	}

	avcRec, _ := appendAVCConfig(nil, h.sps, h.pps)
	add("FuzzAVCConfig", "testsrc2", avcRec)
	for _, tc := range avcConfigCases {
		add("FuzzAVCConfig", tc.name, tc.in)
	}
	hvcRec, _ := appendHEVCConfig(nil, hevcVPS, hevcSPS, hevcPPS)
	add("FuzzHEVCConfig", "x265", hvcRec)
	for _, tc := range hevcConfigCases {
		add("FuzzHEVCConfig", tc.name, tc.in)
	}
	for _, tc := range ascCases {
		add("FuzzAudioSpecificConfig", tc.name, tc.in)
	}
	add("FuzzAudioSpecificConfig", "testsrc2", a.asc)

	add("FuzzAV1", "libaom", av.seq, cat(av.tus[1]...), uint8(2))
	add("FuzzAV1", "libaom-sized", av1SeqHeader, av.rawTUs[1], uint8(2))
	add("FuzzAV1", "extension-flag", []byte{0x0c, 0x00, 0x00}, []byte{0x34, 0x08, 0xEE, 0x12, 0x00}, uint8(3))
	add("FuzzAV1", "size-lies", []byte{0x0a, 0x7f, 0}, []byte{0x32, 0x7f, 0x01}, uint8(1))
	add("FuzzAV1", "leb128-overlong", []byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, []byte{0x32, 0xff, 0xff}, uint8(0))
	return c
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/<FuzzName>/seed-* (other
// files there, such as crashers found by fuzzing, are kept). Without
// -flv.write-seeds it only checks that the committed seeds are up to date.
func TestWriteFuzzSeeds(t *testing.T) {
	for target, seeds := range seedCorpora(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		paths := map[string]string{}
		for name, vals := range seeds {
			data := encodeSeed(vals...)
			path := filepath.Join(dir, "seed-"+fileName(name))
			if other, dup := paths[path]; dup {
				t.Fatalf("%s: seeds %q and %q share a file name", target, name, other)
			}
			paths[path] = name
			if *writeSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			old, err := os.ReadFile(path)
			if err != nil || string(old) != string(data) {
				t.Errorf("%s seed %q is missing or stale; run go test -run TestWriteFuzzSeeds -flv.write-seeds", target, name)
			}
		}
	}
}

// fileName turns a case name into a file name: lower-case ASCII letters,
// digits and dashes.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, name)
}
