package app

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Run serves, and once its context ends it stops within the shutdown bound
// and leaves no goroutine behind (embedded NATS, SQLite, listeners, the
// LL-HLS muxers, the key checker, the SRT and WebRTC servers, chat and
// viewer statistics included).
func TestRunStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t,
		// The SQLite driver and net/http's idle-connection closer may
		// finish a moment after Run returns; goleak retries until they do.
		goleak.IgnoreCurrent(),
	)
	// Every listener on: HTTP, RTMP, and UDP for SRT and WebRTC.
	app := startApp(t, freeUDP(t), freeUDP(t))
	addr := app.http
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
	conn, err := net.Dial("tcp", app.rtmp) // an idle RTMP client
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	took := app.stop()
	t.Logf("stopped in %v", took.Round(time.Millisecond))
}

// freeUDP returns a 127.0.0.1 UDP address whose port was free a moment ago.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}
