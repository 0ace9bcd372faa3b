package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/config"
)

// Run serves, and once its context ends it stops within the shutdown bound
// and leaves no goroutine behind (embedded NATS, SQLite, listeners, the
// LL-HLS muxers and the key checker included).
func TestRunStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t,
		// The SQLite driver and net/http's idle-connection closer may
		// finish a moment after Run returns; goleak retries until they do.
		goleak.IgnoreCurrent(),
	)
	cfg := config.Defaults()
	cfg.Data = t.TempDir()
	cfg.SRT.Listen, cfg.WebRTC.UDP = config.Off, config.Off
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtmpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.DiscardHandler), Listeners{HTTP: httpLn, RTMP: rtmpLn,
			Ready: func(h, _ net.Addr) { ready <- h.String() }})
	}()
	addr := <-ready
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/metrics", "/api/v1/channels/nobody", "/live/nobody.flv"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := http.StatusOK
		if path == "/api/v1/channels/nobody" || path == "/live/nobody.flv" {
			want = http.StatusNotFound
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	conn, err := net.Dial("tcp", rtmpLn.Addr().String()) // an idle RTMP client
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancellation")
	}
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
}
