package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPlayback shares one server and one ffmpeg publisher across the
// read-only checks: every playback protocol decodes continuously, the status
// API and metrics describe the live stream, and a graceful stop with a
// publisher and a viewer attached ends both within 10 s.
func TestPlayback(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "demo")
	pub := startPublisher(t, srv.publishURL(key))
	took := srv.waitLive(t, "demo", pub.proc, true)
	t.Logf("publisher live (status API shows h264 + aac) %.2fs after ffmpeg started", took.Seconds())

	// Each protocol: stream info, then ≥ 3 s decoded with continuous
	// timestamps (ffprobe reads 4 s of media).
	for _, tc := range []struct{ name, url string }{
		{"httpflv", srv.url("/live/demo.flv")},
		{"rtmp", "rtmp://" + srv.rtmpAddr + "/live/demo"},
		{"llhls", srv.url("/live/demo/index.m3u8")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res, stderr := ffprobe(t, tc.url, 4)
			t.Logf("%s: ffprobe read 4 s of media in %.1fs", tc.name, time.Since(start).Seconds())
			checkPlayback(t, tc.name, res, stderr, 3)
		})
	}

	t.Run("wsflv", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ws.flv")
		msgs, n, first := wsCapture(t, "ws://"+srv.httpAddr+"/live/demo.flv", file, 4500*time.Millisecond)
		t.Logf("wsflv: %d binary messages, %d bytes; first message %.0f ms after dialing", msgs, n, first.Seconds()*1000)
		res, stderr := ffprobe(t, file, 0)
		checkPlayback(t, "wsflv", res, stderr, 3)
	})

	t.Run("httpflv_go_reader", func(t *testing.T) {
		v := startFLVViewer(t, srv.url("/live/demo.flv"))
		v.waitVideo(t, 90, 20*time.Second)
		st := v.stats()
		t.Logf("HTTP-FLV Go reader: first video frame %.0f ms after the request", st.FirstVideo.Seconds()*1000)
		if st.VideoSeqHeaders < 1 || st.AudioSeqHeaders < 1 {
			t.Errorf("sequence headers: video %d, audio %d; want ≥ 1 each before the frames", st.VideoSeqHeaders, st.AudioSeqHeaders)
		}
		if st.AudioFrames == 0 {
			t.Error("no audio frames")
		}
		if len(st.Backwards) > 0 {
			t.Errorf("timestamps went backwards: %v", st.Backwards)
		}
		v.stop()
	})

	t.Run("status_api", func(t *testing.T) {
		// ingest_bitrate covers the last whole second: poll until it is
		// measured (immediately, unless this subtest runs alone).
		var st channelStatus
		poll(10*time.Second, 100*time.Millisecond, func() bool {
			st = srv.status(t, "demo")
			return st.IngestBitrate > 0
		})
		if !st.Live || st.Name != "demo" || st.StartedAt == nil {
			t.Errorf("status: want live=true, name demo, started_at set; got %v", st)
		}
		if v := st.Video; v == nil || v.Codec != "h264" || v.Width != 1280 || v.Height != 720 || v.FPS <= 0 {
			t.Errorf("status video: want h264 1280x720 fps>0; got %v", st)
		}
		if a := st.Audio; a == nil || a.Codec != "aac" || a.SampleRate != 44100 || a.Channels < 1 {
			t.Errorf("status audio: want aac 44100 Hz; got %v", st)
		}
		if st.IngestBitrate <= 0 {
			t.Errorf("status ingest_bitrate %d, want > 0", st.IngestBitrate)
		}
		for _, k := range []string{"httpflv", "wsflv", "rtmp", "llhls", "total"} {
			if _, ok := st.Viewers[k]; !ok {
				t.Errorf("status viewers has no %q count: %v", k, st.Viewers)
			}
		}
		t.Logf("status while live: %v", st)

		// An attached HTTP-FLV viewer shows up in the counts. Viewers of the
		// subtests before have left; wait until the server has seen that.
		var last channelStatus
		if !poll(10*time.Second, 100*time.Millisecond, func() bool {
			last = srv.status(t, "demo")
			return last.Viewers["httpflv"] == 0
		}) {
			t.Errorf("HTTP-FLV viewers that left are still counted: %v", last.Viewers)
		}
		before := last.Viewers["httpflv"]
		v := startFLVViewer(t, srv.url("/live/demo.flv"))
		v.waitVideo(t, 1, 20*time.Second)
		if !poll(10*time.Second, 100*time.Millisecond, func() bool {
			last = srv.status(t, "demo")
			return last.Viewers["httpflv"] >= before+1 && last.Viewers["total"] >= last.Viewers["httpflv"]
		}) {
			t.Errorf("viewers did not count the attached HTTP-FLV viewer: before %d, now %v", before, last.Viewers)
		}
		if g := srv.metric(t, "huabian_viewers", `protocol="httpflv"`); g < 1 {
			t.Errorf(`huabian_viewers{protocol="httpflv"} = %v with a viewer attached, want ≥ 1`, g)
		}
		v.stop()
		if !poll(10*time.Second, 100*time.Millisecond, func() bool {
			last = srv.status(t, "demo")
			return last.Viewers["httpflv"] == before
		}) {
			t.Errorf("viewer count did not go back to %d after the viewer left: %v", before, last.Viewers)
		}

		// Unknown channel: 404 with a JSON error.
		code, body, err := srv.get("/api/v1/channels/nosuchchannel")
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		if code != http.StatusNotFound || json.Unmarshal(body, &e) != nil || e["error"] == nil || e["message"] == nil {
			t.Errorf("unknown channel: want 404 JSON {error, message}; got %d %s", code, body)
		}
		// Not live → 404 on the playback URLs.
		for _, p := range []string{"/live/nosuchchannel.flv", "/live/nosuchchannel/index.m3u8"} {
			if code, reason := srv.httpStatus(t, p); code != http.StatusNotFound || reason == "" {
				t.Errorf("GET %s: want 404 with a short reason, got %d %q", p, code, reason)
			}
		}
		if code, body, err := srv.get("/healthz"); err != nil || code != http.StatusOK {
			t.Errorf("/healthz: %d %s %v", code, body, err)
		}
		m := srv.metrics(t)
		for _, name := range []string{"huabian_viewers", "huabian_frame_drops_total", "huabian_publishers", "huabian_publishes_total"} {
			if !metricFamilyPresent(m, name) {
				t.Errorf("/metrics has no %s", name)
			}
		}
		if g, _ := metricValue(m, "huabian_publishers"); g != 1 {
			t.Errorf("huabian_publishers = %v, want 1", g)
		}
	})

	// Last: SIGTERM with a publisher and viewers attached. The server must
	// exit within 10 s (checked by stop), end the viewers' streams and drop
	// the publisher's connection. app.Run documents the order: publishers
	// first, "then viewers get end-of-stream", so a viewer should see a
	// clean end (HTTP chunked terminator / WebSocket close 1000), not a
	// truncated response.
	t.Run("graceful_shutdown_with_clients", func(t *testing.T) {
		v := startFLVViewer(t, srv.url("/live/demo.flv"))
		v.waitVideo(t, 1, 20*time.Second)
		ws := startWSViewer(t, "ws://"+srv.httpAddr+"/live/demo.flv")
		ws.waitMessages(t, 1, 20*time.Second)
		srv.stop(t)
		if !v.waitEnd(5 * time.Second) {
			t.Error("HTTP-FLV viewer still connected 5 s after the server exited")
		}
		wsErr, wsEnded := ws.waitEnd(5 * time.Second)
		if !wsEnded {
			t.Error("WS-FLV viewer still connected 5 s after the server exited")
		}
		if !pub.waitExit(10 * time.Second) {
			t.Error("publisher (ffmpeg) still running 10 s after the server exited")
		}
		httpErr := v.stats().Err
		t.Logf("on shutdown: HTTP-FLV viewer's stream ended with %v; WS-FLV viewer with %v", httpErr, wsErr)
		if !errors.Is(httpErr, io.EOF) {
			t.Errorf("on SIGTERM the HTTP-FLV response is cut off (%v) instead of ending with the chunked terminator", httpErr)
		}
		if wsEnded && websocket.CloseStatus(wsErr) != websocket.StatusNormalClosure {
			t.Errorf("on SIGTERM the WS-FLV connection is dropped (%v) instead of closed with status 1000", wsErr)
		}
	})
}
