package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestStalledViewerDoesNotDelayOthers: an HTTP-FLV viewer with a 4 KiB
// receive buffer that never reads must not slow down another viewer, and
// the server must either skip frames for it (huabian_frame_drops_total) or
// disconnect it (huabian_slow_viewers_disconnected_total).
func TestStalledViewerDoesNotDelayOthers(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "demo")
	pub := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "demo", pub.proc, true)

	normal := startFLVViewer(t, srv.url("/live/demo.flv"))
	normal.waitVideo(t, 1, 20*time.Second)
	drops0, _ := metricValue(srv.metrics(t), "huabian_frame_drops_total")
	slow0, _ := metricValue(srv.metrics(t), "huabian_slow_viewers_disconnected_total", `protocol="httpflv"`)

	// The stalled viewer: tiny receive buffer, request sent, never read.
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	stalled, err := d.Dial("tcp", srv.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := fmt.Fprintf(stalled, "GET /live/demo.flv HTTP/1.1\r\nHost: %s\r\nUser-Agent: e2e-stalled-viewer\r\n\r\n", srv.httpAddr); err != nil {
		t.Fatal(err)
	}
	if !poll(10*time.Second, 50*time.Millisecond, func() bool { return srv.status(t, "demo").Viewers["httpflv"] >= 2 }) {
		t.Fatalf("the stalled viewer was never counted: %v", srv.status(t, "demo").Viewers)
	}

	// Let the stalled viewer's buffers fill, then count the normal viewer's
	// frames over 8 s against what the encoder produced in that time.
	poll(time.Second, 50*time.Millisecond, func() bool { return normal.stats().Done })
	v0, p0, t0 := normal.stats().VideoFrames, pub.progress.frames.Load(), time.Now()
	poll(8*time.Second, 250*time.Millisecond, func() bool { return normal.stats().Done })
	v1, p1, elapsed := normal.stats().VideoFrames, pub.progress.frames.Load(), time.Since(t0)
	if st := normal.stats(); st.Done {
		t.Fatalf("the normal viewer was disconnected: %v", st.Err)
	}
	got, encoded := v1-v0, p1-p0
	nominal := int64(elapsed.Seconds() * 30)
	want := int64(0.7 * float64(min(nominal, encoded)))
	t.Logf("normal viewer: %d video frames in %.1fs next to a stalled viewer (encoder produced %d; nominal %d); need ≥ %d",
		got, elapsed.Seconds(), encoded, nominal, want)
	if got < want {
		t.Errorf("normal viewer received %d video frames in %.1fs, want ≥ %d (70%% of min(nominal %d, encoded %d))",
			got, elapsed.Seconds(), want, nominal, encoded)
	}

	// The server deals with the stalled viewer: skips frames for it or
	// disconnects it (write timeout / too slow), within a bounded time.
	var drops, slow float64
	start := time.Now()
	handled := poll(30*time.Second, 250*time.Millisecond, func() bool {
		m := srv.metrics(t)
		drops, _ = metricValue(m, "huabian_frame_drops_total")
		slow, _ = metricValue(m, "huabian_slow_viewers_disconnected_total", `protocol="httpflv"`)
		return drops > drops0 || slow > slow0
	})
	t.Logf("stalled viewer: frame_drops %v→%v, slow_viewers_disconnected{httpflv} %v→%v (%.1fs after the 8 s window)",
		drops0, drops, slow0, slow, time.Since(start).Seconds())
	if !handled {
		t.Fatal("the stalled viewer was neither skipped forward (frame drops) nor disconnected within 30 s")
	}
	if slow > slow0 {
		// Disconnected: draining our side must end in EOF (or a reset).
		_ = stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := io.Copy(io.Discard, stalled)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the server counted the stalled viewer as disconnected but its connection is still open (%d bytes drained)", n)
		} else {
			t.Logf("stalled viewer's connection closed by the server after %d buffered bytes (%v)", n, err)
		}
	}
	if st := normal.stats(); st.Done || len(st.Backwards) > 0 {
		t.Errorf("normal viewer: ended=%v err=%v backwards=%v", st.Done, st.Err, st.Backwards)
	}
}
