package e2e

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestGlassToGlass runs `huabian bench glass` against the watch page in
// each latency mode: ffmpeg encodes time-coded 720p30 pictures (x264, 1 s
// GOP, AAC), the server relays them, headless Chromium plays them on
// /c/NAME and the tool reads each presented picture's code back. The
// figures are logged (docs/latency.md holds a quieter run's); the test
// checks that every path delivered a steady run of readable pictures.
func TestGlassToGlass(t *testing.T) {
	requireTools(t)
	if chromiumPath() == "" {
		t.Skip("needs chromium on PATH")
	}
	s := startServer(t, "--webrtc-udp", freeUDPAddr(t))
	key := s.createChannel(t, "glass")

	line := regexp.MustCompile(`glass-to-glass latency +p50 (\d+) ms, p95 (\d+) ms`)
	shown := regexp.MustCompile(`pictures shown once +(\d+) of (\d+) sent`)
	for _, mode := range []struct{ name, method string }{
		{"realtime", "WebRTC"},
		{"low", "WS-FLV"},
		{"normal", "LL-HLS"},
	} {
		out, errOut, code := runCmd(t, 90*time.Second, binPath, "bench", "glass",
			"--publish", s.publishURL(key), "--page", s.url("/c/glass?latency="+mode.name),
			"--duration", "8s", "--warmup", "1s", "--preset", "ultrafast")
		if code != 0 {
			t.Fatalf("%s: bench glass exited %d: %s%s", mode.method, code, errOut, out)
		}
		m, n := line.FindStringSubmatch(out), shown.FindStringSubmatch(out)
		if m == nil || n == nil {
			t.Fatalf("%s: no figures in the report:\n%s", mode.method, out)
		}
		count, _ := strconv.Atoi(n[1])
		// 8 s at 30 fps is 240 pictures; a headless compositor on a busy
		// machine skips some, but a path that delivers only a handful is
		// broken.
		if count < 60 {
			t.Errorf("%s: only %s of %s pictures shown:\n%s", mode.method, n[1], n[2], out)
		}
		t.Logf("%s (%s): glass-to-glass p50 %s ms, p95 %s ms; %s of %s pictures shown", mode.name, mode.method, m[1], m[2], n[1], n[2])
		// The next mode's publish must start a new stream, not continue
		// this one in its reconnect grace window.
		s.waitNotLive(t, "glass", 40*time.Second)
	}
}
