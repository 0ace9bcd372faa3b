package flv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/huabian-live/huabian/internal/media"
)

// Table cases are shared with the fuzz seed generator (seeds_test.go).

type videoCase struct {
	name string
	body []byte
	want VideoPacket
	err  error // sentinel to match with errors.Is; errAny for "some error"
}

var errAny = errors.New("any error")

var videoCases = []videoCase{
	{"avc seq header", []byte{0x17, 0, 0, 0, 0, 1, 0x64}, VideoPacket{Codec: media.CodecH264, Key: true, SequenceHeader: true, Data: []byte{1, 0x64}}, nil},
	{"avc key nalu cts", []byte{0x17, 1, 0, 0, 0x21, 0, 0, 0, 1, 0x65}, VideoPacket{Codec: media.CodecH264, Key: true, CompositionTime: 33, Data: []byte{0, 0, 0, 1, 0x65}}, nil},
	{"avc inter negative cts", []byte{0x27, 1, 0xFF, 0xFF, 0xDF, 9}, VideoPacket{Codec: media.CodecH264, CompositionTime: -33, Data: []byte{9}}, nil},
	{"avc disposable", []byte{0x37, 1, 0, 0, 0}, VideoPacket{Codec: media.CodecH264, Data: []byte{}}, nil},
	{"avc generated key", []byte{0x47, 1, 0, 0, 0}, VideoPacket{Codec: media.CodecH264, Key: true, Data: []byte{}}, nil},
	{"avc end of sequence", []byte{0x17, 2, 0, 0, 0}, VideoPacket{Codec: media.CodecH264, Key: true, SequenceEnd: true, Data: []byte{}}, nil},
	{"avc bad packet type", []byte{0x17, 3, 0, 0, 0}, VideoPacket{}, errAny},
	{"avc truncated", []byte{0x17, 1, 0, 0}, VideoPacket{}, errAny},
	{"legacy hevc id 12", []byte{0x1C, 1, 0, 0, 0, 0, 0, 0, 1, 0x26}, VideoPacket{Codec: media.CodecH265, Key: true, Data: []byte{0, 0, 0, 1, 0x26}}, nil},
	{"legacy command frame", []byte{0x57, 0}, VideoPacket{}, ErrIgnorable},
	{"vp6", []byte{0x14, 0, 0}, VideoPacket{}, ErrUnsupported},
	{"empty", nil, VideoPacket{}, errAny},
	{"hvc1 seq start", []byte{0x90, 'h', 'v', 'c', '1', 1, 2}, VideoPacket{Codec: media.CodecH265, Key: true, SequenceHeader: true, Data: []byte{1, 2}}, nil},
	{"hvc1 coded frames", []byte{0xA1, 'h', 'v', 'c', '1', 0, 0, 40, 7}, VideoPacket{Codec: media.CodecH265, CompositionTime: 40, Data: []byte{7}}, nil},
	{"hvc1 coded frames x", []byte{0x93, 'h', 'v', 'c', '1', 7}, VideoPacket{Codec: media.CodecH265, Key: true, Data: []byte{7}}, nil},
	{"hvc1 sequence end", []byte{0x92, 'h', 'v', 'c', '1'}, VideoPacket{Codec: media.CodecH265, Key: true, SequenceEnd: true, Data: []byte{}}, nil},
	{"hvc1 coded frames truncated cts", []byte{0xA1, 'h', 'v', 'c', '1', 0, 0}, VideoPacket{}, errAny},
	{"av01 coded frames no cts", []byte{0x91, 'a', 'v', '0', '1', 0x12, 0}, VideoPacket{Codec: media.CodecAV1, Key: true, Data: []byte{0x12, 0}}, nil},
	{"avc1 fourcc", []byte{0xA1, 'a', 'v', 'c', '1', 0, 0, 1, 5}, VideoPacket{Codec: media.CodecH264, CompositionTime: 1, Data: []byte{5}}, nil},
	{"metadata", []byte{0x94, 'h', 'v', 'c', '1', 2, 0, 9, 'c', 'o', 'l', 'o', 'r', 'I', 'n', 'f', 'o'}, VideoPacket{}, ErrIgnorable},
	{"enhanced command frame", []byte{0xD1, 0}, VideoPacket{}, ErrIgnorable},
	{"mpeg2ts sequence start", []byte{0x95, 'a', 'v', '0', '1'}, VideoPacket{}, ErrIgnorable},
	{"vp09", []byte{0x91, 'v', 'p', '0', '9', 0}, VideoPacket{}, ErrUnsupported},
	{"unknown packet type", []byte{0x98, 'h', 'v', 'c', '1'}, VideoPacket{}, errAny},
	{"truncated fourcc", []byte{0x91, 'h', 'v'}, VideoPacket{}, errAny},
	{"modex then coded frames x", []byte{0x97, 2, 0, 0x10, 0x20, 0x03, 'h', 'v', 'c', '1', 7}, VideoPacket{Codec: media.CodecH265, Key: true, Data: []byte{7}}, nil},
	{"modex 16-bit size", append(append([]byte{0x97, 0xFF, 0x01, 0x00}, make([]byte, 257)...), 0x03, 'h', 'v', 'c', '1', 8), VideoPacket{Codec: media.CodecH265, Key: true, Data: []byte{8}}, nil},
	{"modex truncated", []byte{0x97, 5, 0, 0}, VideoPacket{}, errAny},
	{"modex chain truncated", []byte{0x97, 0, 0, 0x07, 0, 0}, VideoPacket{}, errAny},
	{"multitrack one track", []byte{0x96, 0x01, 'h', 'v', 'c', '1', 0, 0, 0, 3, 9}, VideoPacket{Codec: media.CodecH265, Key: true, CompositionTime: 3, Data: []byte{9}}, nil},
	{"multitrack many tracks", []byte{0x96, 0x11, 'h', 'v', 'c', '1', 0, 0, 0, 0, 5, 9}, VideoPacket{}, ErrUnsupported},
	{"multitrack nested", []byte{0x96, 0x06, 'h', 'v', 'c', '1', 0}, VideoPacket{}, errAny},
	{"multitrack missing track id", []byte{0x96, 0x01, 'h', 'v', 'c', '1'}, VideoPacket{}, errAny},
}

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error %v", err)
	case want == errAny && err == nil, want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestParseVideo(t *testing.T) {
	for _, tc := range videoCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseVideo(tc.body)
			checkErr(t, err, tc.err)
			if err != nil {
				return
			}
			if p.Codec != tc.want.Codec || p.Key != tc.want.Key || p.SequenceHeader != tc.want.SequenceHeader ||
				p.SequenceEnd != tc.want.SequenceEnd || p.CompositionTime != tc.want.CompositionTime || !bytes.Equal(p.Data, tc.want.Data) {
				t.Fatalf("got %+v, want %+v", p, tc.want)
			}
		})
	}
}

type audioCase struct {
	name string
	body []byte
	want AudioPacket
	err  error
}

var audioCases = []audioCase{
	{"aac config", []byte{0xAF, 0, 0x12, 0x10}, AudioPacket{Codec: media.CodecAAC, SequenceHeader: true, Data: []byte{0x12, 0x10}}, nil},
	{"aac raw", []byte{0xAF, 1, 0x21, 0x00}, AudioPacket{Codec: media.CodecAAC, Data: []byte{0x21, 0x00}}, nil},
	{"aac mono flags", []byte{0xAE, 1, 5}, AudioPacket{Codec: media.CodecAAC, Data: []byte{5}}, nil},
	{"aac bad packet type", []byte{0xAF, 2, 0}, AudioPacket{}, errAny},
	{"aac truncated", []byte{0xAF}, AudioPacket{}, errAny},
	{"mp3", []byte{0x2F, 0xFF, 0xFB}, AudioPacket{Codec: media.CodecMP3, Data: []byte{0xFF, 0xFB}}, nil},
	{"mp3 8k", []byte{0xE2, 0xFF, 0xF3}, AudioPacket{Codec: media.CodecMP3, Data: []byte{0xFF, 0xF3}}, nil},
	{"silence", nil, AudioPacket{}, ErrIgnorable},
	{"nellymoser", []byte{0x62, 0}, AudioPacket{}, ErrUnsupported},
	{"speex", []byte{0xB2, 0}, AudioPacket{}, ErrUnsupported},
	{"ex opus start", []byte{0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'}, AudioPacket{Codec: media.CodecOpus, SequenceHeader: true, Data: []byte("OpusHead")}, nil},
	{"ex opus frame", []byte{0x91, 'O', 'p', 'u', 's', 0xFC}, AudioPacket{Codec: media.CodecOpus, Data: []byte{0xFC}}, nil},
	{"ex mp4a", []byte{0x91, 'm', 'p', '4', 'a', 0x21}, AudioPacket{Codec: media.CodecAAC, Data: []byte{0x21}}, nil},
	{"ex mp3", []byte{0x91, '.', 'm', 'p', '3', 0xFF}, AudioPacket{Codec: media.CodecMP3, Data: []byte{0xFF}}, nil},
	{"ex flac", []byte{0x91, 'f', 'L', 'a', 'C', 0}, AudioPacket{}, ErrUnsupported},
	{"ex sequence end", []byte{0x92, 'O', 'p', 'u', 's'}, AudioPacket{}, ErrIgnorable},
	{"ex multichannel config", []byte{0x94, 'O', 'p', 'u', 's', 0, 2}, AudioPacket{}, ErrIgnorable},
	{"ex reserved packet type", []byte{0x93, 'O', 'p', 'u', 's'}, AudioPacket{}, ErrUnsupported},
	{"ex modex", []byte{0x97, 2, 0, 0, 1, 0x01, 'O', 'p', 'u', 's', 7}, AudioPacket{Codec: media.CodecOpus, Data: []byte{7}}, nil},
	{"ex multitrack one track", []byte{0x95, 0x01, 'm', 'p', '4', 'a', 0, 0x21}, AudioPacket{Codec: media.CodecAAC, Data: []byte{0x21}}, nil},
	{"ex multitrack many codecs", []byte{0x95, 0x21, 'm', 'p', '4', 'a', 0}, AudioPacket{}, ErrUnsupported},
	{"ex truncated fourcc", []byte{0x90, 'O', 'p'}, AudioPacket{}, errAny},
}

func TestParseAudio(t *testing.T) {
	for _, tc := range audioCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseAudio(tc.body)
			checkErr(t, err, tc.err)
			if err != nil {
				return
			}
			if p.Codec != tc.want.Codec || p.SequenceHeader != tc.want.SequenceHeader || !bytes.Equal(p.Data, tc.want.Data) {
				t.Fatalf("got %+v, want %+v", p, tc.want)
			}
		})
	}
}

type avcConfigCase struct {
	name     string
	in       []byte
	sps, pps []byte
	err      error
}

var avcConfigCases = []avcConfigCase{
	{"one each", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1F, 1, 0, 2, 0x68, 0xEE}, []byte{0x67, 0x64, 0, 0x1F}, []byte{0x68, 0xEE}, nil},
	{"two sps, first wins, high-profile tail ignored", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE2, 0, 2, 0x67, 1, 0, 2, 0x67, 2, 1, 0, 1, 0x68, 0xFD, 0xF8, 0xF8, 0}, []byte{0x67, 1}, []byte{0x68}, nil},
	{"numSPS 31 truncated", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xFF, 0, 2, 0x67, 1}, nil, nil, errAny},
	{"numSPS 31 lying lengths", append([]byte{1, 0x64, 0, 0x1F, 0xFF, 0xFF}, bytes.Repeat([]byte{0xFF, 0xFF}, 31)...), nil, nil, errAny},
	{"no sps", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE0, 1, 0, 1, 0x68}, nil, nil, errAny},
	{"no pps", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67, 0}, nil, nil, errAny},
	{"missing pps count", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67}, nil, nil, errAny},
	{"pps length lies", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67, 1, 0xFF, 0xFF, 0x68}, nil, nil, errAny},
	{"empty sps", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 0, 1, 0, 1, 0x68}, nil, nil, errAny},
	{"wrong nal type", []byte{1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x68, 1, 0, 1, 0x68}, nil, nil, errAny},
	{"length size 2", []byte{1, 0x64, 0, 0x1F, 0xFD, 0xE1, 0, 1, 0x67, 1, 0, 1, 0x68}, nil, nil, ErrLengthSize},
	{"version 0", []byte{0, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67, 1, 0, 1, 0x68}, nil, nil, errAny},
	{"annex b", []byte{0, 0, 0, 1, 0x67, 0x64, 0, 0x1F}, nil, nil, errAny},
	{"short", []byte{1, 0x64, 0, 0x1F, 0xFF}, nil, nil, errAny},
	{"empty", nil, nil, nil, errAny},
}

func TestParseAVCConfig(t *testing.T) {
	for _, tc := range avcConfigCases {
		t.Run(tc.name, func(t *testing.T) {
			sps, pps, err := ParseAVCConfig(tc.in)
			checkErr(t, err, tc.err)
			if !bytes.Equal(sps, tc.sps) || !bytes.Equal(pps, tc.pps) {
				t.Fatalf("sps % x pps % x", sps, pps)
			}
		})
	}
}

type hevcConfigCase struct {
	name          string
	in            []byte
	vps, sps, pps []byte
	err           error
}

// hvccHeader is a 23-byte HEVCDecoderConfigurationRecord header with
// lengthSizeMinusOne 3 and the given numOfArrays.
func hvccHeader(numArrays byte) []byte {
	return []byte{1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 60, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, numArrays}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

var hevcConfigCases = []hevcConfigCase{
	{"vps sps pps", cat(hvccHeader(3), []byte{0xA0, 0, 1, 0, 2, 0x40, 1}, []byte{0xA1, 0, 1, 0, 2, 0x42, 1}, []byte{0xA2, 0, 1, 0, 2, 0x44, 1}),
		[]byte{0x40, 1}, []byte{0x42, 1}, []byte{0x44, 1}, nil},
	{"sei array skipped, two pps", cat(hvccHeader(4), []byte{0x27, 0, 1, 0, 2, 0x4E, 1}, []byte{0x20, 0, 1, 0, 2, 0x40, 1}, []byte{0x21, 0, 1, 0, 2, 0x42, 1}, []byte{0x22, 0, 2, 0, 2, 0x44, 1, 0, 2, 0x44, 2}),
		[]byte{0x40, 1}, []byte{0x42, 1}, []byte{0x44, 1}, nil},
	{"array with 0 nalus", cat(hvccHeader(3), []byte{0xA0, 0, 0}, []byte{0xA1, 0, 1, 0, 2, 0x42, 1}, []byte{0xA2, 0, 1, 0, 2, 0x44, 1}), nil, nil, nil, errAny},
	{"missing pps", cat(hvccHeader(2), []byte{0xA0, 0, 1, 0, 2, 0x40, 1}, []byte{0xA1, 0, 1, 0, 2, 0x42, 1}), nil, nil, nil, errAny},
	{"numArrays lies", cat(hvccHeader(255), []byte{0xA0, 0, 1, 0, 2, 0x40, 1}), nil, nil, nil, errAny},
	{"numNalus lies", cat(hvccHeader(1), []byte{0xA0, 0xFF, 0xFF, 0, 2, 0x40, 1}), nil, nil, nil, errAny},
	{"nalu length lies", cat(hvccHeader(1), []byte{0xA0, 0, 1, 0xFF, 0xFF, 0x40, 1}), nil, nil, nil, errAny},
	{"empty nalu", cat(hvccHeader(1), []byte{0xA0, 0, 1, 0, 0}), nil, nil, nil, errAny},
	{"nal type mismatch", cat(hvccHeader(3), []byte{0xA0, 0, 1, 0, 2, 0x42, 1}, []byte{0xA1, 0, 1, 0, 2, 0x42, 1}, []byte{0xA2, 0, 1, 0, 2, 0x44, 1}), nil, nil, nil, errAny},
	{"length size 1", func() []byte { b := hvccHeader(0); b[21] = 0x0C; return b }(), nil, nil, nil, ErrLengthSize},
	{"short header", hvccHeader(0)[:22], nil, nil, nil, errAny},
	{"empty", nil, nil, nil, nil, errAny},
}

func TestParseHEVCConfig(t *testing.T) {
	for _, tc := range hevcConfigCases {
		t.Run(tc.name, func(t *testing.T) {
			vps, sps, pps, err := ParseHEVCConfig(tc.in)
			checkErr(t, err, tc.err)
			if !bytes.Equal(vps, tc.vps) || !bytes.Equal(sps, tc.sps) || !bytes.Equal(pps, tc.pps) {
				t.Fatalf("vps % x sps % x pps % x", vps, sps, pps)
			}
		})
	}
}

type ascCase struct {
	name           string
	in             []byte
	rate, channels int
	err            error
}

var ascCases = []ascCase{
	{"lc 44100 stereo", []byte{0x12, 0x10}, 44100, 2, nil},
	{"lc 48000 mono", []byte{0x11, 0x88}, 48000, 1, nil},
	{"lc 48000 5.1", []byte{0x11, 0xB0}, 48000, 6, nil},
	{"lc 48000 7.1", []byte{0x11, 0xB8}, 48000, 8, nil},
	{"explicit rate", []byte{0x17, 0x80, 0x2E, 0xE0, 0x10}, 24000, 2, nil},
	{"he-aac sbr explicit", []byte{0x2B, 0x92, 0x08, 0x00}, 44100, 2, nil},
	{"object type 31 escape", []byte{0xF8, 0x01, 0x10}, 0, 0, errAny},
	{"sampling index 15 without rate", []byte{0x17, 0x80}, 0, 0, errAny},
	{"sampling index 15 rate 0", []byte{0x17, 0x80, 0x00, 0x00, 0x10}, 0, 0, errAny},
	{"sampling index 13", []byte{0x16, 0x90}, 0, 0, errAny},
	{"0 channels", []byte{0x12, 0x00}, 0, 0, errAny},
	{"reserved channel config", []byte{0x12, 0x40}, 0, 0, errAny},
	{"main profile", []byte{0x0A, 0x10}, 0, 0, errAny},
	{"one byte", []byte{0x12}, 0, 0, errAny},
	{"empty", nil, 0, 0, errAny},
}

func TestParseAudioSpecificConfig(t *testing.T) {
	for _, tc := range ascCases {
		t.Run(tc.name, func(t *testing.T) {
			rate, ch, err := ParseAudioSpecificConfig(tc.in)
			checkErr(t, err, tc.err)
			if rate != tc.rate || ch != tc.channels {
				t.Fatalf("rate %d channels %d", rate, ch)
			}
		})
	}
}

type avccCase struct {
	name string
	in   []byte
	want [][]byte
	err  error
}

var avccCases = []avccCase{
	{"two", []byte{0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x06}, [][]byte{{0x65, 1}, {0x06}}, nil},
	{"zero length skipped", []byte{0, 0, 0, 0, 0, 0, 0, 1, 0x41}, [][]byte{{0x41}}, nil},
	{"length lies", []byte{0, 0, 0, 9, 0x65, 1}, nil, errAny},
	{"huge length", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x65}, nil, errAny},
	{"trailing partial length", []byte{0, 0, 0, 1, 0x41, 0, 0}, nil, errAny},
	{"only zero lengths", []byte{0, 0, 0, 0}, nil, errAny},
	{"empty", nil, nil, errAny},
}

func TestSplitAVCC(t *testing.T) {
	for _, tc := range avccCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitAVCC(tc.in)
			checkErr(t, err, tc.err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d units", len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) || cap(got[i]) != len(got[i]) {
					t.Fatalf("unit %d: % x", i, got[i])
				}
			}
		})
	}
}
