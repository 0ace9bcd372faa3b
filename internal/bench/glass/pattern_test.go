package glass

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// sampleLuma reads the code blocks' centres from a yuv420p picture the way
// the page does from its canvas (a 5×5 average at each block's centre).
func sampleLuma(y []byte, w, h int) (top, bottom []byte) {
	rows := codeRows(h)
	bw := w / codeBits
	read := func(r, i int) byte {
		cx, cy := i*bw+bw/2, r*rows+rows/2
		s := 0
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				s += int(y[(cy+dy)*w+cx+dx])
			}
		}
		return byte(s / 25)
	}
	top, bottom = make([]byte, codeBits), make([]byte, codeBits)
	for i := range codeBits {
		top[i], bottom[i] = read(0, i), read(1, i)
	}
	return top, bottom
}

func TestCodeRoundTrip(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {640, 360}, {1920, 1080}, {256, 144}} {
		w, h := size[0], size[1]
		buf := make([]byte, frameSize(w, h))
		for n, v := range []uint32{0, 1, 0x80000000, 0xffffffff, 0x12345678, 86_399_999} {
			drawFrame(buf, w, h, n, v)
			got, ok := decodeCode(sampleLuma(buf[:w*h], w, h))
			if !ok || got != v {
				t.Fatalf("%dx%d: code %#x read back as %#x (ok %v)", w, h, v, got, ok)
			}
		}
	}
}

func TestDecodeRejectsUnclearPictures(t *testing.T) {
	top, bottom := make([]byte, codeBits), make([]byte, codeBits)
	for i := range codeBits {
		top[i], bottom[i] = 235, 16
	}
	if _, ok := decodeCode(top, bottom); !ok {
		t.Fatal("a clear code did not read")
	}
	bottom[7] = 200 // both rows bright: a smeared or half-updated picture
	if _, ok := decodeCode(top, bottom); ok {
		t.Fatal("a code with one block pair agreeing was accepted")
	}
	if _, ok := decodeCode(top[:5], bottom[:5]); ok {
		t.Fatal("a short sample was accepted")
	}
}

func TestCheckSize(t *testing.T) {
	for _, bad := range [][2]int{{100, 720}, {1281, 720}, {1280, 0}, {7680, 4320}} {
		if checkSize(bad[0], bad[1]) == nil {
			t.Errorf("size %dx%d accepted", bad[0], bad[1])
		}
	}
	if err := checkSize(1280, 720); err != nil {
		t.Errorf("1280x720: %v", err)
	}
}

// TestCodeSurvivesX264 encodes coded pictures with the encoder settings the
// tool publishes with, decodes them with ffmpeg and reads every code back.
func TestCodeSurvivesX264(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs ffmpeg")
	}
	const w, h, n = 640, 360, 45
	var raw bytes.Buffer
	buf := make([]byte, frameSize(w, h))
	for i := range n {
		drawFrame(buf, w, h, i, uint32(1_000_000+i*33))
		raw.Write(buf)
	}
	o := sourceOptions{URL: "rtmp://127.0.0.1/live/x", Width: w, Height: h, FPS: 30, Preset: "veryfast", BitrateK: 800}
	args, err := ffmpegArgs(o)
	if err != nil {
		t.Fatal(err)
	}
	// Same encoder arguments, but into a pipe and straight back to raw.
	args = append(args[:len(args)-1-4], "-f", "h264", "pipe:1") // drop -f flv -flvflags … URL
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	enc := exec.CommandContext(ctx, "ffmpeg", args...)
	enc.Stdin = &raw
	var h264, stderr bytes.Buffer
	enc.Stdout, enc.Stderr = &h264, &stderr
	if err := enc.Run(); err != nil {
		t.Fatalf("encode: %v: %s", err, stderr.Bytes())
	}
	dec := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "h264", "-i", "pipe:0",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1")
	dec.Stdin = &h264
	decoded, err := dec.Output()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(decoded) != n*frameSize(w, h) {
		t.Fatalf("decoded %d bytes, want %d pictures of %d", len(decoded), n, frameSize(w, h))
	}
	for i := range n {
		pic := decoded[i*frameSize(w, h):]
		got, ok := decodeCode(sampleLuma(pic[:w*h], w, h))
		if want := uint32(1_000_000 + i*33); !ok || got != want {
			t.Fatalf("picture %d: code read as %d (ok %v), want %d", i, got, ok, want)
		}
	}
}

func TestCodeTime(t *testing.T) {
	for _, c := range []struct {
		sent  int64
		delay time.Duration
	}{
		{1_795_000_000_000, 80 * time.Millisecond},
		{1_795_000_000_000, 40 * time.Second},
		{0x19_ffff_fff0, 100 * time.Millisecond}, // the code wraps between send and show
		{0x1a_0000_0005, -3 * time.Millisecond},  // shown "before" sent: clocks a hair apart
	} {
		shown := time.UnixMilli(c.sent).Add(c.delay)
		if got := codeTime(uint32(c.sent), shown); got.UnixMilli() != c.sent {
			t.Errorf("sent %d, shown %s later: code time %d", c.sent, c.delay, got.UnixMilli())
		}
	}
}
