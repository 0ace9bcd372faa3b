package bench

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// scanAll runs the scanner to the end and returns every tag and the error
// that stopped it.
func scanAll(r io.Reader) ([]flvTag, error) {
	s := newFLVScanner(r, 4096)
	if err := s.readHeader(); err != nil {
		return nil, err
	}
	var tags []flvTag
	for {
		t, err := s.next()
		if err != nil {
			return tags, err
		}
		tags = append(tags, t)
	}
}

// splitMessages cuts b into WebSocket-like messages at random points,
// including empty and one-byte messages.
func splitMessages(b []byte, rng *rand.Rand, maxLen int) [][]byte {
	var msgs [][]byte
	for len(b) > 0 {
		var n int
		switch rng.IntN(10) {
		case 0:
			n = 0
		case 1:
			n = 1
		default:
			n = 1 + rng.IntN(maxLen)
		}
		n = min(n, len(b))
		msgs = append(msgs, b[:n])
		b = b[n:]
	}
	return msgs
}

func messageStream(msgs [][]byte) *wsStream {
	return &wsStream{next: func() (io.Reader, error) {
		if len(msgs) == 0 {
			return nil, io.EOF
		}
		m := msgs[0]
		msgs = msgs[1:]
		return bytes.NewReader(m), nil
	}}
}

func TestFLVScanner(t *testing.T) {
	t.Parallel()
	tags, err := scanAll(bytes.NewReader(fixtureFLV))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("scan ended with %v, want EOF", err)
	}
	var video, keys, audio, seq int
	var lastVideo time.Duration
	for _, tag := range tags {
		f, ok := tag.frame()
		switch {
		case !ok:
			seq++
		case f.Video:
			video++
			if f.Key {
				keys++
			}
			if f.TS < lastVideo {
				t.Errorf("video DTS went back: %v after %v", f.TS, lastVideo)
			}
			lastVideo = f.TS
		default:
			audio++
		}
	}
	// The onMetaData script tag, two sequence headers and the AVC end of
	// sequence are not frames.
	if video != 300 || keys != 10 || audio < 430 || seq != 4 {
		t.Errorf("video %d (keys %d), audio %d, non-frames %d", video, keys, audio, seq)
	}

	// Frame sizes match what the publisher logs for the same frames.
	fx, err := loadFixture(fixtureFLV)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, tag := range tags {
		if f, ok := tag.frame(); ok {
			if f.Size != fx.tags[i].size || f.Video != fx.tags[i].video {
				t.Fatalf("frame %d: size %d video %v, fixture says %d %v", i, f.Size, f.Video, fx.tags[i].size, fx.tags[i].video)
			}
			i++
		}
	}
}

// TestFLVScannerSplitMessages feeds the same stream whole and cut into
// messages at random points (tags split across messages, several tags in one
// message, empty messages): the tags must agree.
func TestFLVScannerSplitMessages(t *testing.T) {
	t.Parallel()
	stream := fixtureFLV[:512<<10]
	want, wantErr := scanAll(bytes.NewReader(stream))
	if len(want) < 100 {
		t.Fatalf("only %d tags in the sample", len(want))
	}
	for _, maxLen := range []int{7, 1000, 40000} {
		rng := rand.New(rand.NewPCG(uint64(maxLen), 1))
		got, err := scanAll(messageStream(splitMessages(stream, rng, maxLen)))
		if !slices.Equal(got, want) {
			t.Errorf("maxLen %d: %d tags, want %d (or contents differ)", maxLen, len(got), len(want))
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(wantErr, io.ErrUnexpectedEOF) {
			t.Errorf("maxLen %d: ended with %v, whole stream with %v; want unexpected EOF (cut mid-tag)", maxLen, err, wantErr)
		}
	}
}

func TestFLVTagFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tag    flvTag
		wantOK bool
		want   frameInfo
	}{
		{"avc keyframe", flvTag{Type: tagVideo, Size: 100, Head: [8]byte{0x17, 1}}, true,
			frameInfo{Video: true, Key: true, Size: 95}},
		{"avc inter frame", flvTag{Type: tagVideo, Size: 100, Head: [8]byte{0x27, 1}}, true,
			frameInfo{Video: true, Size: 95}},
		{"avc sequence header", flvTag{Type: tagVideo, Size: 40, Head: [8]byte{0x17, 0}}, false, frameInfo{}},
		{"avc end of sequence", flvTag{Type: tagVideo, Size: 5, Head: [8]byte{0x17, 2}}, false, frameInfo{}},
		{"enhanced hevc coded frames key", flvTag{Type: tagVideo, Size: 100, Head: [8]byte{0x91, 'h', 'v', 'c', '1'}}, true,
			frameInfo{Video: true, Key: true, Size: 92}},
		{"enhanced frames x inter", flvTag{Type: tagVideo, Size: 100, Head: [8]byte{0xa3, 'a', 'v', '0', '1'}}, true,
			frameInfo{Video: true, Size: 95}},
		{"enhanced sequence start", flvTag{Type: tagVideo, Size: 50, Head: [8]byte{0x90, 'a', 'v', '0', '1'}}, false, frameInfo{}},
		{"aac frame", flvTag{Type: tagAudio, Size: 300, Head: [8]byte{0xaf, 1}}, true, frameInfo{Size: 298}},
		{"aac config", flvTag{Type: tagAudio, Size: 4, Head: [8]byte{0xaf, 0}}, false, frameInfo{}},
		{"mp3 frame", flvTag{Type: tagAudio, Size: 300, Head: [8]byte{0x2f}}, true, frameInfo{Size: 299}},
		{"script", flvTag{Type: tagScript, Size: 300}, false, frameInfo{}},
		{"empty video", flvTag{Type: tagVideo}, false, frameInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.tag.frame()
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if ok && got != tc.want {
				t.Errorf("frame = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzFLVScanner checks the scanner never panics on hostile input and gives
// the same answer whole and split into messages.
func FuzzFLVScanner(f *testing.F) {
	f.Add(fixtureFLV[:4096], uint64(1))
	f.Add(fixtureFLV[:64], uint64(2))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\xff\xff\xff"), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		want, wantErr := scanAll(bytes.NewReader(data))
		rng := rand.New(rand.NewPCG(seed, 0))
		got, err := scanAll(messageStream(splitMessages(data, rng, 64)))
		if !slices.Equal(got, want) {
			t.Fatalf("split: %d tags, whole: %d tags (or contents differ)", len(got), len(want))
		}
		if (err == nil) != (wantErr == nil) || errors.Is(err, io.ErrUnexpectedEOF) != errors.Is(wantErr, io.ErrUnexpectedEOF) {
			t.Fatalf("split ended with %v, whole with %v", err, wantErr)
		}
		for _, tag := range got {
			tag.frame()
		}
	})
}
