package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startHuabian builds the server binary, creates channel "bench" and serves
// it on free loopback ports. It returns the HTTP and RTMP addresses and the
// stream key. The process is killed by a cleanup.
func startHuabian(t *testing.T) (httpAddr, rtmpAddr, key string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "huabian")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/huabian-live/huabian/cmd/huabian")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	out, err := exec.CommandContext(ctx, bin, "channel", "create", "bench", "--data", data).Output()
	if err != nil {
		t.Fatalf("channel create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key = strings.TrimSpace(lines[len(lines)-1])

	httpAddr, rtmpAddr = freeAddr(t, "tcp"), freeAddr(t, "tcp")
	srv := exec.Command(bin, "serve", "--data", data, "--http", httpAddr, "--rtmp", rtmpAddr,
		"--webrtc-udp", freeAddr(t, "udp"), "--srt", "off", "--log.level", "warn")
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	// Wait for the HTTP listener, bounded.
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + httpAddr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return httpAddr, rtmpAddr, key
}

// Three WHEP viewers of the real server, with the fixture published over
// RTMP by Play itself.
func TestPlayWHEPWithPublish(t *testing.T) {
	t.Parallel()
	httpAddr, rtmpAddr, key := startHuabian(t)
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{
		URL:      fmt.Sprintf("http://%s/live/bench/whep", httpAddr),
		Viewers:  3,
		Duration: 4 * time.Second,
		Publish:  fmt.Sprintf("rtmp://%s/live/%s", rtmpAddr, key),
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	if rep.Protocol != "whep" {
		t.Errorf("protocol %q", rep.Protocol)
	}
	checkReport(t, rep, 3)
	checkLatency(t, rep, 3)
}

func TestH264PayloadInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		size int
		idr  bool
	}{
		{"single IDR", []byte{0x65, 1, 2, 3}, 8, true},
		{"single non-IDR", []byte{0x41, 1, 2}, 7, false},
		{"STAP-A SPS PPS IDR", []byte{0x78, 0, 2, 0x67, 1, 0, 1, 0x68, 0, 3, 0x65, 9, 9}, 6 + 5 + 7, true},
		{"FU-A start IDR", []byte{0x7c, 0x85, 1, 2, 3}, 3 + 5, true},
		{"FU-A middle", []byte{0x7c, 0x05, 1, 2, 3}, 3, false},
		{"empty", nil, 0, false},
	} {
		size, idr := h264PayloadInfo(c.b)
		if size != c.size || idr != c.idr {
			t.Errorf("%s: size %d idr %v, want %d %v", c.name, size, idr, c.size, c.idr)
		}
	}
}

func TestRTPClockUnwraps(t *testing.T) {
	var c rtpClock
	base := uint32(0xffff_0000)
	if d := c.media(base, 90000); d <= 0 {
		t.Fatalf("first %v", d)
	}
	a := c.media(base, 90000)
	b := c.media(base+90000, 90000) // wraps past 2^32
	if b-a != time.Second {
		t.Errorf("step over the wrap = %v, want 1s", b-a)
	}
	if r := c.media(base+45000, 90000); b-r != 500*time.Millisecond {
		t.Errorf("reordered packet = %v before, want 500ms", b-r)
	}
}
