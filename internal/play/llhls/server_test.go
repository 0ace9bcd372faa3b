package llhls

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/httppark"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a hub, an LL-HLS server running on it and an HTTP test server.
type env struct {
	t   *testing.T
	hub *hub.Hub
	srv *Server
	ts  *httptest.Server
	fx  *fixture
	wg  sync.WaitGroup // publishers
}

func newEnv(t *testing.T, opts Options, tune func(*Server)) *env {
	t.Helper()
	e := &env{t: t, hub: hub.New(hub.HubOptions{Grace: 50 * time.Millisecond}), fx: loadFixture(t)}
	if opts.Log == nil && os.Getenv("LLHLS_TEST_LOG") != "" {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// Requests that wait are parked, as in the product (unless the test
	// passes its own listener or NoPark).
	if opts.Park == nil && !noPark {
		opts.Park = httppark.NewListener(nil)
	}
	e.srv = New(func(n string) *hub.Stream { return e.hub.Stream(n, true) }, opts)
	if tune != nil {
		tune(e.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- e.srv.Run(ctx) }()
	e.ts = httptest.NewServer(e.srv)
	parkDone := make(chan struct{})
	if opts.Park != nil {
		opts.Park.Keep(e.srv, IsRequest)
		go func() { defer close(parkDone); _ = e.ts.Config.Serve(opts.Park) }()
	} else {
		close(parkDone)
	}
	t.Cleanup(func() {
		// The stream ends first: parked requests are answered; closing the
		// park listener then ends the connections it kept.
		e.hub.Close()
		e.wg.Wait()
		if opts.Park != nil {
			opts.Park.Close()
		}
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		if opts.Park != nil {
			if n := opts.Park.Parked(); n != 0 {
				t.Errorf("%d requests still parked after Run returned", n)
			}
		}
		<-parkDone
		e.ts.Close()
	})
	return e
}

// noPark, set by a test before newEnv, makes requests wait the way net/http
// holds them.
var noPark bool

// startPublish publishes the fixture on channel name until the test ends or
// stop is called.
func (e *env) startPublish(name string, speed float64, loops int, tracksFor func(int) *media.Tracks) (stop func()) {
	e.t.Helper()
	p, err := e.hub.Publish(name, hub.PublishInfo{Protocol: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.wg.Go(func() { e.fx.publish(ctx, p, speed, loops, tracksFor) })
	e.t.Cleanup(cancel)
	return cancel
}

type response struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func (e *env) do(method, path string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	start := time.Now()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b), took: time.Since(start)}
}

func (e *env) get(path string) response { e.t.Helper(); return e.do(http.MethodGet, path) }

// mustGet fetches path and fails the test unless it answers 200.
func (e *env) mustGet(path string) response {
	e.t.Helper()
	r := e.get(path)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, body %q", path, r.status, r.body)
	}
	return r
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

var mediaURIRe = regexp.MustCompile(`(?m)^(video1_stream\.m3u8\?[^\s"]*)$`)

func parseMedia(t *testing.T, body string) *playlist.Media {
	t.Helper()
	var pl playlist.Media
	if err := pl.Unmarshal([]byte(body)); err != nil {
		t.Fatalf("media playlist: %v\n%s", err, body)
	}
	return &pl
}

func TestLive(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	e.startPublish("demo", 2, 0, nil)

	// Multivariant playlist: waits for the first segment, lists the codecs.
	mv := e.mustGet("/live/demo/index.m3u8")
	for _, want := range []string{"#EXT-X-STREAM-INF", `CODECS="avc1.`, "mp4a.40.2", "RESOLUTION=320x240"} {
		if !strings.Contains(mv.body, want) {
			t.Errorf("multivariant playlist lacks %q:\n%s", want, mv.body)
		}
	}
	if got := mv.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
	if got := mv.header.Get("Cache-Control"); !strings.HasPrefix(got, "private") {
		t.Errorf("multivariant Cache-Control = %q, want private", got)
	}
	m := mediaURIRe.FindStringSubmatch(mv.body)
	if m == nil || !strings.Contains(m[1], sessionParam+"=") {
		t.Fatalf("no video media playlist URI with a session id in:\n%s", mv.body)
	}
	mediaURI := "/live/demo/" + m[1]
	sid := urlParam(t, m[1], sessionParam)

	// Media playlist: LL-HLS tags.
	mp := e.mustGet(mediaURI)
	for _, want := range []string{"#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:TYPE=PART", "CAN-BLOCK-RELOAD=YES", "#EXT-X-MAP:URI=", "#EXT-X-PART-INF:PART-TARGET="} {
		if !strings.Contains(mp.body, want) {
			t.Errorf("media playlist lacks %q:\n%s", want, mp.body)
		}
	}
	if strings.Contains(mp.body, sessionParam+"=") {
		t.Errorf("session id leaked into segment URIs:\n%s", mp.body)
	}
	if got := mp.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("media playlist Cache-Control = %q, want no-cache", got)
	}
	pl := parseMedia(t, mp.body)
	if pt := pl.PartInf.PartTarget; pt < 150*time.Millisecond || pt > 300*time.Millisecond {
		t.Errorf("PART-TARGET = %v, want about 200ms", pt)
	}
	ed, err := parseEdge([]byte(mp.body))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("blocking reload waits for the next segment", func(t *testing.T) {
		n := ed.nextMSN // the last complete segment is n-1: ask for "N+1"
		r := e.mustGet(fmt.Sprintf("%s&_HLS_msn=%d", mediaURI, n))
		got := parseMedia(t, r.body)
		if last := int64(got.MediaSequence + len(got.Segments) - 1); last < n {
			t.Fatalf("playlist ends at segment %d, want >= %d (took %v)", last, n, r.took)
		}
		if r.took > 3*time.Second {
			t.Errorf("blocking reload took %v", r.took)
		}
		t.Logf("segment %d appeared after %v", n, r.took)
	})

	t.Run("blocking reload waits for the next part", func(t *testing.T) {
		cur, _ := parseEdge([]byte(e.mustGet(mediaURI).body))
		r := e.mustGet(fmt.Sprintf("%s&_HLS_msn=%d&_HLS_part=%d", mediaURI, cur.nextMSN, cur.partsInNext))
		got, err := parseEdge([]byte(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if !got.has(cur.nextMSN, int64(cur.partsInNext), true) {
			t.Fatalf("playlist lacks part %d.%d:\n%s", cur.nextMSN, cur.partsInNext, r.body)
		}
		t.Logf("part %d.%d appeared after %v", cur.nextMSN, cur.partsInNext, r.took)
	})

	t.Run("preload hint, init, segment and part files", func(t *testing.T) {
		pl := parseMedia(t, e.mustGet(mediaURI).body)
		hint := e.mustGet("/live/demo/" + pl.PreloadHint.URI)
		if !strings.Contains(hint.body, "moof") || !strings.Contains(hint.body, "mdat") {
			t.Errorf("preload-hinted part is not fMP4 (%d bytes)", len(hint.body))
		}
		init := e.mustGet("/live/demo/" + pl.Map.URI)
		if !strings.Contains(init.body, "ftyp") || !strings.Contains(init.body, "avc1") {
			t.Errorf("init segment lacks ftyp/avc1")
		}
		if cc := init.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=3600") {
			t.Errorf("init Cache-Control = %q", cc)
		}
		seg := pl.Segments[len(pl.Segments)-1]
		e.mustGet("/live/demo/" + seg.URI)
		e.mustGet("/live/demo/" + seg.Parts[0].URI)
		if a := e.mustGet("/live/demo/audio2_stream.m3u8?" + sessionParam + "=" + sid); !strings.Contains(a.body, "#EXT-X-PART:") {
			t.Errorf("audio playlist lacks parts:\n%s", a.body)
		}
		// HEAD works too and has no body.
		if r := e.do(http.MethodHead, "/live/demo/"+pl.Map.URI); r.status != http.StatusOK || r.body != "" {
			t.Errorf("HEAD init: %d %q", r.status, r.body)
		}
	})

	t.Run("invalid delivery directives are 400", func(t *testing.T) {
		cur, _ := parseEdge([]byte(e.mustGet(mediaURI).body))
		for _, q := range []string{
			"_HLS_msn=abc",
			"_HLS_msn=-1",
			"_HLS_msn=%2B1",
			"_HLS_msn=1.5",
			"_HLS_msn=",
			"_HLS_msn=1&_HLS_msn=2",
			"_HLS_part=1",
			"_HLS_msn=1&_HLS_part=x",
			"_HLS_msn=99999999999999999999",
			fmt.Sprintf("_HLS_msn=%d", cur.nextMSN+100),
			fmt.Sprintf("_HLS_msn=%d&_HLS_part=0", cur.nextMSN+3),
			fmt.Sprintf("_HLS_msn=%d&_HLS_part=500", cur.nextMSN),
		} {
			r := e.get("/live/demo/video1_stream.m3u8?" + q)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400 (%q)", q, r.status, r.body)
			}
			if r.took > time.Second {
				t.Errorf("%s: 400 took %v, want immediate", q, r.took)
			}
		}
	})

	t.Run("not found", func(t *testing.T) {
		cur, _ := parseEdge([]byte(e.mustGet(mediaURI).body))
		for _, p := range []string{
			"/live/nochannel/index.m3u8",
			"/live/demo/nope.mp4",
			"/live/demo/gap.mp4",
			"/live/demo/video9_stream.m3u8",
			"/live/demo/readme.txt",
			"/live/demo/" + cur.prefix + "_video1_seg999999.mp4",
			fmt.Sprintf("/live/demo/%s_video1_part%d.mp4", cur.prefix, cur.nextPartID+1000),
			"/live/Demo/index.m3u8",
			"/live/demo/../demo/index.m3u8",
			"/live/demo/%2e%2e",
			"/live/demo/a%2Fb.mp4",
			"/live/demo/a%5Cb.mp4",
			"/live/" + strings.Repeat("a", 33) + "/index.m3u8",
			"/live/demo",
			"/live/demo/",
			"/hls/demo/index.m3u8",
		} {
			r := e.get(p)
			if r.status != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404 (%q)", p, r.status, r.body)
			}
		}
		if r := e.get("/live/nochannel/index.m3u8"); !strings.Contains(r.body, "channel not live") {
			t.Errorf("unknown channel body = %q", r.body)
		}
	})

	t.Run("methods and CORS preflight", func(t *testing.T) {
		if r := e.do(http.MethodPost, "/live/demo/index.m3u8"); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", r.status)
		}
		req, _ := http.NewRequest(http.MethodOptions, e.ts.URL+"/live/demo/index.m3u8", nil)
		req.Header.Set("Origin", "https://example.com")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "range")
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "GET") ||
			res.Header.Get("Access-Control-Allow-Headers") != "range" {
			t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
		}
	})

	t.Run("metrics and viewers", func(t *testing.T) {
		if n := e.srv.Viewers("demo"); n != 1 {
			t.Errorf("Viewers = %d, want 1 (session %s)", n, sid)
		}
		if n := e.srv.Viewers("nochannel"); n != 0 {
			t.Errorf("Viewers(nochannel) = %d", n)
		}
		muxers, requests := e.srv.Stats()
		if muxers != 1 || requests < 10 {
			t.Errorf("Stats = %d muxers, %d requests", muxers, requests)
		}
		if e.srv.BytesSent() < 10000 {
			t.Errorf("BytesSent = %d", e.srv.BytesSent())
		}
	})

	t.Run("stream end stops the muxer and wakes waiters", func(t *testing.T) {
		cur, _ := parseEdge([]byte(e.mustGet(mediaURI).body))
		got := make(chan response, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s%s&_HLS_msn=%d&_HLS_part=0", e.ts.URL, mediaURI, cur.nextMSN+2), nil)
			res, err := e.ts.Client().Do(req)
			if err != nil {
				got <- response{}
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			got <- response{status: res.StatusCode, body: string(b)}
		}()
		waitFor(t, 5*time.Second, "the request to be held", func() bool { return e.srv.waiting.held("127.0.0.1") > 0 })
		e.hub.Kick("demo", true)
		r := <-got
		if r.status != http.StatusNotFound || !strings.Contains(r.body, "channel not live") {
			t.Errorf("waiting request after stream end: %d %q", r.status, r.body)
		}
		waitFor(t, 5*time.Second, "muxer to stop", func() bool { n, _ := e.srv.Stats(); return n == 0 })
		if r := e.get("/live/demo/index.m3u8"); r.status != http.StatusNotFound {
			t.Errorf("after end: %d", r.status)
		}
	})
}

func urlParam(t *testing.T, uri, key string) string {
	t.Helper()
	_, q, _ := strings.Cut(uri, "?")
	for kv := range strings.SplitSeq(q, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	t.Fatalf("%s has no %s", uri, key)
	return ""
}

func TestNotReadyAnd503(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Server) { s.readyWait = 300 * time.Millisecond })
	// Live, but no frame yet: the playlist request must not hang.
	p, err := e.hub.Publish("quiet", hub.PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := e.get("/live/quiet/index.m3u8")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("no segment yet: %d %q", r.status, r.body)
	}
	if r.took > 2*time.Second {
		t.Errorf("took %v", r.took)
	}
	if r := e.get("/live/quiet/video1_stream.m3u8?_HLS_msn=8&_HLS_part=0"); r.status != http.StatusServiceUnavailable {
		t.Errorf("blocking reload before the first segment: %d %q", r.status, r.body)
	}
	if r := e.get("/live/quiet/abc_video1_part0.mp4"); r.status != http.StatusNotFound {
		t.Errorf("part before the first segment: %d %q", r.status, r.body)
	}
}

func TestRunNotStarted(t *testing.T) {
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	p, err := h.Publish("x", hub.PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := New(func(n string) *hub.Stream { return h.Stream(n, false) }, Options{})
	s.readyWait = 100 * time.Millisecond
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/live/x/index.m3u8", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("before Run: %d %q", w.Code, w.Body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil {
		t.Error("second Run succeeded")
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/live/x/index.m3u8", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("after Run: %d %q", w.Code, w.Body)
	}
}

func TestIdleMuxerCloses(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Server) { s.idleTimeout = 300 * time.Millisecond })
	e.startPublish("idle", 4, 0, nil)
	e.mustGet("/live/idle/index.m3u8")
	waitFor(t, 5*time.Second, "idle muxer to close", func() bool { n, _ := e.srv.Stats(); return n == 0 })
	// The next request starts a fresh muxer.
	e.mustGet("/live/idle/index.m3u8")
	if n, _ := e.srv.Stats(); n != 1 {
		t.Errorf("muxers = %d, want 1", n)
	}
}

// recordHandler collects log records.
type recordHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

func (h *recordHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func TestUnsupportedTrackSkipped(t *testing.T) {
	logs := &recordHandler{}
	e := newEnv(t, Options{Log: slog.New(logs)}, nil)
	v := *e.fx.tracks.Video
	mp3 := &media.Tracks{Video: &v, Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 44100, ChannelCount: 1}}
	e.startPublish("mp3", 4, 0, func(int) *media.Tracks { return mp3 })
	mv := e.mustGet("/live/mp3/index.m3u8")
	if !strings.Contains(mv.body, "avc1.") || strings.Contains(mv.body, "mp4a") || strings.Contains(mv.body, "audio") {
		t.Errorf("multivariant playlist:\n%s", mv.body)
	}
	e.mustGet("/live/mp3/video1_stream.m3u8")
	if n := logs.count("ll-hls track skipped"); n != 1 {
		t.Errorf("%d skip log lines, want 1", n)
	}

	// Nothing playable at all: a clear 404 rather than a hang.
	none := &media.Tracks{Audio: mp3.Audio}
	e.startPublish("none", 4, 0, func(int) *media.Tracks { return none })
	waitFor(t, 5*time.Second, "404 for an unplayable stream", func() bool {
		r := e.get("/live/none/index.m3u8")
		return r.status == http.StatusNotFound && strings.Contains(r.body, "no track playable")
	})
}

func TestTracksChange(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	fx := e.fx
	same := &media.Tracks{Video: fx.tracks.Video, Audio: fx.tracks.Audio} // new pointer, same parameters
	a := *fx.tracks.Audio
	a.Config = []byte{0x11, 0x88} // AAC-LC 48 kHz mono: different parameters
	changed := &media.Tracks{Video: fx.tracks.Video, Audio: &a}
	e.startPublish("chg", 4, 0, func(loop int) *media.Tracks {
		switch {
		case loop < 2:
			return fx.tracks
		case loop < 4:
			return same
		default:
			return changed
		}
	})
	prefix := func() string {
		r := e.get("/live/chg/video1_stream.m3u8")
		if r.status != http.StatusOK {
			return ""
		}
		ed, err := parseEdge([]byte(r.body))
		if err != nil {
			return ""
		}
		return ed.prefix
	}
	e.mustGet("/live/chg/index.m3u8")
	first := prefix()
	if first == "" {
		t.Fatal("no prefix")
	}
	// Passes 2-3 use a new *Tracks with identical parameters: same muxer.
	// Loop period is ~4 s of media at 4x: ~1 s of wall time per pass.
	waitFor(t, 10*time.Second, "a new muxer after the parameters change", func() bool {
		p := prefix()
		return p != "" && p != first
	})
	if r := e.mustGet("/live/chg/index.m3u8"); !strings.Contains(r.body, "mp4a.40.2") {
		t.Errorf("restarted multivariant:\n%s", r.body)
	}
}

func TestPerAddressWaitLimit(t *testing.T) {
	e := newEnv(t, Options{}, func(s *Server) { s.maxWaitingPerIP, s.maxWaitingLoopback = 1, 1 })
	p, err := e.hub.Publish("lim", hub.PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The first request is held (no segment yet) until its client gives up.
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/live/lim/index.m3u8", nil)
		res, err := e.ts.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		first <- err
	}()
	waitFor(t, 5*time.Second, "the first request to be held", func() bool { return e.srv.waiting.held("127.0.0.1") == 1 })
	if r := e.get("/live/lim/video1_stream.m3u8"); r.status != http.StatusTooManyRequests {
		t.Errorf("second held request: %d %q", r.status, r.body)
	}
	cancel()
	if err := <-first; err == nil {
		t.Error("first request completed; want it canceled")
	}
	// A canceled request releases its slot at once.
	waitFor(t, 5*time.Second, "the slot to be released", func() bool { return e.srv.waiting.held("127.0.0.1") == 0 })
}

func TestFFprobe(t *testing.T) {
	ffprobe, err := lookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed: skipping the real-client check")
	}
	e := newEnv(t, Options{}, nil)
	e.startPublish("probe", 1, 0, nil)
	e.mustGet("/live/probe/index.m3u8") // start the muxer; ffprobe sees segments at once

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out, err := runTool(ctx, ffprobe, "-v", "error", "-rw_timeout", "10000000",
		"-show_entries", "stream=codec_name,width,height,sample_rate", "-of", "compact",
		e.ts.URL+"/live/probe/index.m3u8")
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	t.Logf("ffprobe:\n%s", out)
	for _, want := range []string{"codec_name=h264|width=320|height=240", "codec_name=aac"} {
		if !strings.Contains(out, want) {
			t.Errorf("ffprobe output lacks %q", want)
		}
	}

	ffmpeg, err := lookPath("ffmpeg")
	if err != nil {
		return
	}
	out, err = runTool(ctx, ffmpeg, "-hide_banner", "-nostats", "-v", "error", "-rw_timeout", "10000000",
		"-i", e.ts.URL+"/live/probe/index.m3u8", "-t", "3", "-f", "null", "-")
	if err != nil {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "" {
		t.Logf("ffmpeg decode messages:\n%s", out)
	}
}

func TestPathValidation(t *testing.T) {
	for _, tc := range []struct {
		path, name, file string
		ok               bool
	}{
		{"/live/demo/index.m3u8", "demo", "index.m3u8", true},
		{"/live/a_b-9/x_video1_part12.mp4", "a_b-9", "x_video1_part12.mp4", true},
		{"/live/" + strings.Repeat("z", 32) + "/index.m3u8", strings.Repeat("z", 32), "index.m3u8", true},
		{"/live/" + strings.Repeat("z", 33) + "/index.m3u8", "", "", false},
		{"/live//index.m3u8", "", "", false},
		{"/live/Demo/index.m3u8", "", "", false},
		{"/live/demo/", "", "", false},
		{"/live/demo/..", "", "", false},
		{"/live/demo/.", "", "", false},
		{"/live/demo/a/b", "", "", false},
		{"/live/demo/a\\b", "", "", false},
		{"/live/demo/a b", "", "", false},
		{"/live/demo/a\x00b", "", "", false},
		{"/live/dé/index.m3u8", "", "", false},
		{"/live/demo/" + strings.Repeat("f", 129), "", "", false},
		{"live/demo/index.m3u8", "", "", false},
		{"/LIVE/demo/index.m3u8", "", "", false},
	} {
		name, file, ok := splitPath(tc.path)
		if name != tc.name || file != tc.file || ok != tc.ok {
			t.Errorf("splitPath(%q) = %q, %q, %v; want %q, %q, %v", tc.path, name, file, ok, tc.name, tc.file, tc.ok)
		}
	}
}

func TestEdge(t *testing.T) {
	e := edge{ready: true, nextMSN: 10, partsInNext: 2, lastSegParts: 5, nextPartID: 52,
		target: time.Second, partTarget: 200 * time.Millisecond}
	for _, tc := range []struct {
		msn, part int64
		hasPart   bool
		has, far  bool
	}{
		{9, 0, false, true, false},
		{10, 0, false, false, false},
		{12, 0, false, false, false},
		{13, 0, false, false, true},
		{3, 99, true, true, false},
		{9, 4, true, true, false},
		{9, 5, true, true, false}, // = part 0 of 10, which exists
		{10, 1, true, true, false},
		{10, 2, true, false, false},
		{10, 16, true, false, false},
		{10, 17, true, false, true}, // limit 15 parts past the last (index 1)
		{11, 0, true, false, false},
		{11, 15, true, false, false},
		{11, 16, true, false, true},
		{13, 0, true, false, true},
	} {
		if got := e.has(tc.msn, tc.part, tc.hasPart); got != tc.has {
			t.Errorf("has(%d, %d, %v) = %v, want %v", tc.msn, tc.part, tc.hasPart, got, tc.has)
		}
		if got := e.tooFarAhead(tc.msn, tc.part, tc.hasPart); got != tc.far {
			t.Errorf("tooFarAhead(%d, %d, %v) = %v, want %v", tc.msn, tc.part, tc.hasPart, got, tc.far)
		}
	}
	if got := advancePartLimit(200 * time.Millisecond); got != 15 {
		t.Errorf("advancePartLimit(200ms) = %d", got)
	}
	if got := advancePartLimit(2 * time.Second); got != 3 {
		t.Errorf("advancePartLimit(2s) = %d", got)
	}
}

func TestParsePartName(t *testing.T) {
	for _, tc := range []struct {
		in     string
		prefix string
		id     int64
		ok     bool
	}{
		{"0a1b2c3d4e5f_video1_part17.mp4", "0a1b2c3d4e5f", 17, true},
		{"p_audio2_part0.mp4", "p", 0, true},
		{"p_video1_seg3.mp4", "", 0, false},
		{"p_video1_part.mp4", "", 0, false},
		{"p_video1_part-1.mp4", "", 0, false},
		{"p_video1_part1.m3u8", "", 0, false},
		{"_part1.mp4", "", 0, false},
		{"p_video1_part1234567890123456789.mp4", "", 0, false},
	} {
		prefix, id, ok := parsePartName(tc.in)
		if prefix != tc.prefix || id != tc.id || ok != tc.ok {
			t.Errorf("parsePartName(%q) = %q, %d, %v", tc.in, prefix, id, ok)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		rate int
		want int64
	}{
		{time.Second, 90000, 90000},
		{33 * time.Millisecond, 90000, 2970},
		{-time.Second, 44100, -44100},
		{100 * 24 * time.Hour, 90000, 100 * 24 * 3600 * 90000},
	} {
		if got := ticks(tc.d, tc.rate); got != tc.want {
			t.Errorf("ticks(%v, %d) = %d, want %d", tc.d, tc.rate, got, tc.want)
		}
	}
}

// BenchmarkServePart measures serving one complete part from memory to many
// concurrent requests (ServeHTTP without the network).
func BenchmarkServePart(b *testing.B) {
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	fx := loadFixture(b)
	p, err := h.Publish("bench", hub.PublishInfo{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(func(n string) *hub.Stream { return h.Stream(n, false) }, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Run(ctx) })
	wg.Go(func() { fx.publish(ctx, p, 1, 0, nil) })
	defer func() { cancel(); wg.Wait() }()

	// newestPart returns the URL of the newest complete part; it stays
	// available for SegmentCount segments (~7 s).
	newestPart := func() string {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/live/bench/video1_stream.m3u8", nil))
		if w.Code != http.StatusOK {
			b.Fatalf("playlist: %d %s", w.Code, w.Body)
		}
		var pl playlist.Media
		if err := pl.Unmarshal(w.Body.Bytes()); err != nil {
			b.Fatal(err)
		}
		return "/live/bench/" + pl.Segments[len(pl.Segments)-1].Parts[0].URI
	}
	newestPart() // waits for the first segment
	for _, par := range []int{1, 16, 64} {
		b.Run("parallelism="+strconv.Itoa(par), func(b *testing.B) {
			part := newestPart()
			b.ResetTimer()
			b.SetParallelism(par)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := &discardWriter{h: http.Header{}}
					s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, part, nil))
					if w.code != http.StatusOK {
						b.Errorf("part: %d", w.code)
						return
					}
				}
			})
		})
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
