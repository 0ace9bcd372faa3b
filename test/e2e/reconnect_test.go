package e2e

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestReconnectWithinGraceKeepsViewers: the publisher dies and a new one
// connects with the same key within the grace window. HTTP-FLV viewers stay
// connected: an ffmpeg viewer keeps decoding, and a Go FLV reader gets a new
// video sequence header with timestamps that never go backwards.
func TestReconnectWithinGraceKeepsViewers(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "demo")
	first := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "demo", first.proc, true)

	flvURL := srv.url("/live/demo.flv")
	goViewer := startFLVViewer(t, flvURL)
	viewerProgress := &progress{}
	ffViewer := startProc(t, viewerProgress, "ffmpeg",
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-rw_timeout", "20000000", "-i", flvURL,
		"-progress", "pipe:1", "-f", "null", "-")
	goViewer.waitVideo(t, 30, 20*time.Second)
	wsViewer := startWSViewer(t, "ws://"+srv.httpAddr+"/live/demo.flv")
	wsViewer.waitMessages(t, 10, 20*time.Second)
	if !poll(20*time.Second, 100*time.Millisecond, func() bool {
		return ffViewer.exited() || viewerProgress.frames.Load() >= 30
	}) || ffViewer.exited() {
		t.Fatalf("ffmpeg viewer did not start decoding (exited=%v, frames %d): %s",
			ffViewer.exited(), viewerProgress.frames.Load(), lastLines(ffViewer.stderr.String(), 10))
	}

	// The encoder dies (SIGKILL: no FCUnpublish, the socket just closes).
	first.kill(t)
	killed := time.Now()
	if took, ok := srv.waitNotLive(t, "demo", 10*time.Second); !ok {
		t.Fatal("channel still live 10 s after its publisher was killed")
	} else {
		t.Logf("publisher killed: live=false after %.2fs", took.Seconds())
	}
	second := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "demo", second.proc, true)
	t.Logf("new publisher live %.2fs after the first was killed", time.Since(killed).Seconds())

	atReconnect := goViewer.stats()
	ffAtReconnect := viewerProgress.frames.Load()
	wsAtReconnect := wsViewer.messages()
	// Watch for ~8 s that neither viewer drops out.
	deadline := time.Now().Add(8 * time.Second)
	poll(time.Until(deadline), 250*time.Millisecond, func() bool {
		return ffViewer.exited() || goViewer.stats().Done
	})
	if ffViewer.exited() {
		t.Fatalf("ffmpeg viewer exited (status %d) after the publisher reconnected: %s",
			ffViewer.exitCode(), lastLines(ffViewer.stderr.String(), 15))
	}
	st := goViewer.stats()
	if st.Done {
		t.Fatalf("Go FLV viewer's stream ended after the reconnect: %v", st.Err)
	}
	ffNow := viewerProgress.frames.Load()
	if err, ended := wsViewer.ended(); ended {
		t.Errorf("WS-FLV viewer disconnected after the reconnect: %v", err)
	} else if n := wsViewer.messages() - wsAtReconnect; n < 30 {
		t.Errorf("WS-FLV viewer got only %d messages in the 8 s after the reconnect", n)
	} else {
		t.Logf("WS-FLV viewer: %d messages in the 8 s after the reconnect", n)
	}
	t.Logf("ffmpeg viewer decoded %d frames before the reconnect, %d in the 8 s after", ffAtReconnect, ffNow-ffAtReconnect)
	t.Logf("Go viewer: %d video frames before, %d after; video sequence headers %d (audio %d)",
		atReconnect.VideoFrames, st.VideoFrames-atReconnect.VideoFrames, st.VideoSeqHeaders, st.AudioSeqHeaders)
	// 8 s at 30 fps is 240 frames; ask for a quarter so a loaded machine
	// cannot fail it, while a stalled viewer still does.
	if ffNow-ffAtReconnect < 60 {
		t.Errorf("ffmpeg viewer decoded only %d frames in the 8 s after the reconnect", ffNow-ffAtReconnect)
	}
	if st.VideoFrames-atReconnect.VideoFrames < 60 {
		t.Errorf("Go FLV viewer got only %d video frames in the 8 s after the reconnect", st.VideoFrames-atReconnect.VideoFrames)
	}
	if st.VideoSeqHeaders < 2 {
		t.Errorf("Go FLV viewer saw %d video sequence headers, want a new one after the reconnect (≥ 2)", st.VideoSeqHeaders)
	}
	if len(st.Backwards) > 0 {
		t.Errorf("FLV timestamps went backwards across the reconnect: %v", st.Backwards)
	}
	if s := ffViewer.stderr.String(); s != "" {
		t.Logf("ffmpeg viewer warnings:\n%s", lastLines(s, 10))
	}
}

// TestGraceExpiryEndsViewers: when the publisher leaves and does not come
// back, new viewers get 404 at once, attached viewers keep their connection
// for live.grace and then get a clean end of stream (HTTP chunked
// terminator; WebSocket close 1000).
func TestGraceExpiryEndsViewers(t *testing.T) {
	requireTools(t)
	const grace = 3 * time.Second
	srv := startServer(t, "--live.grace", grace.String())
	key := srv.createChannel(t, "demo")
	pub := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "demo", pub.proc, true)
	v := startFLVViewer(t, srv.url("/live/demo.flv"))
	v.waitVideo(t, 1, 20*time.Second)
	ws := startWSViewer(t, "ws://"+srv.httpAddr+"/live/demo.flv")
	ws.waitMessages(t, 1, 20*time.Second)

	pub.kill(t)
	left := time.Now()
	if _, ok := srv.waitNotLive(t, "demo", 10*time.Second); !ok {
		t.Fatal("channel still live 10 s after its publisher was killed")
	}
	if code, reason := srv.httpStatus(t, "/live/demo.flv"); code != http.StatusNotFound {
		t.Errorf("new viewer during the grace window: HTTP %d %q, want 404", code, reason)
	}
	if v.stats().Done {
		t.Errorf("attached viewer lost its stream before the grace window ended: %v", v.stats().Err)
	}
	if !v.waitEnd(grace + 10*time.Second) {
		t.Fatalf("HTTP-FLV viewer still connected %s after the publisher left (grace %s)", time.Since(left).Round(time.Second), grace)
	}
	ended := time.Since(left)
	wsErr, wsEnded := ws.waitEnd(5 * time.Second)
	t.Logf("viewers ended %.1fs after the publisher left (grace %s): HTTP-FLV %v, WS-FLV %v", ended.Seconds(), grace, v.stats().Err, wsErr)
	if ended < grace-500*time.Millisecond {
		t.Errorf("viewer's stream ended %.1fs after the publisher left, before the %s grace window", ended.Seconds(), grace)
	}
	if err := v.stats().Err; !errors.Is(err, io.EOF) {
		t.Errorf("HTTP-FLV viewer's stream ended with %v, want a clean end (chunked terminator → EOF)", err)
	}
	if !wsEnded || websocket.CloseStatus(wsErr) != websocket.StatusNormalClosure {
		t.Errorf("WS-FLV viewer: ended=%v with %v, want a close frame with status 1000", wsEnded, wsErr)
	}
}
