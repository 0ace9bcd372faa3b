package stats

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
	"github.com/huabian-live/huabian/internal/play/httpflv"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a database with channels, a hub whose OnLive feeds the service,
// and an HTTP-FLV/WS-FLV server reporting sessions to it.
type env struct {
	t   *testing.T
	db  *sqlstore.Store
	hub *hub.Hub
	svc *Service
	ts  *httptest.Server
}

func newEnv(t *testing.T, opts Options, channels ...string) *env {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for i, name := range channels {
		k := store.ChannelKey{Hash: bytes.Repeat([]byte{byte(i + 1)}, 32), Sealed: []byte{byte(i)}, Hint: "x"}
		if _, err := db.CreateChannel(t.Context(), name, k); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, db: db}
	e.hub = hub.New(hub.HubOptions{
		Stream: hub.Options{Prepare: play.PrepareFrame, MaxLag: time.Hour},
		Grace:  time.Millisecond,
		OnLive: func(name string, live bool) { e.svc.OnLive(name, live) },
	})
	t.Cleanup(e.hub.Close)
	opts.Store, opts.Streams = db, e.hub.List
	if e.svc, err = New(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	flv := httpflv.New(func(n string) *hub.Stream { return e.hub.Stream(n, true) },
		observe.NewMetrics(nil), slog.New(slog.DiscardHandler), httpflv.Options{Sessions: e.svc})
	e.ts = httptest.NewServer(flv)
	t.Cleanup(func() {
		e.hub.Close()
		flv.Close()
		e.ts.Close()
	})
	return e
}

var tracks = &media.Tracks{
	Video: &media.VideoTrack{Codec: media.CodecH264, SPS: []byte{0x67, 0x64, 0x00, 0x0b, 0xac, 0xb2}, PPS: []byte{0x68, 0xeb, 0xc0}, Width: 160, Height: 120},
}

// publish makes name live and writes a frame every 10 ms (a keyframe every
// 30 frames of 1/30 s media time) until the test ends or stop is called.
func (e *env) publish(name string) (stop func()) {
	e.t.Helper()
	p, err := e.hub.Publish(name, hub.PublishInfo{Protocol: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			d := time.Duration(i) * time.Second / 30
			key := i%30 == 0
			nalu := []byte{0x41, 0x9a, byte(i)}
			if key {
				nalu = []byte{0x65, 0x88, byte(i)}
			}
			p.Write(&media.Frame{Tracks: tracks, Video: true, Key: key, DTS: d, PTS: d, AU: [][]byte{nalu}})
			select {
			case <-quit:
				return
			case <-tk.C:
			}
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
			p.Close()
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// watchFLV plays name over HTTP-FLV until the returned func is called.
func (e *env) watchFLV(name, vid string) (leave func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/live/"+name+".flv?vid="+vid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %s", req.URL, res.Status)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(io.Discard, res.Body) })
	return func() {
		cancel()
		res.Body.Close()
		wg.Wait()
	}
}

// watchWS plays name over WS-FLV until the returned func is called.
func (e *env) watchWS(name, vid string) (leave func()) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+e.ts.URL[len("http"):]+"/live/"+name+".flv?vid="+vid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetReadLimit(-1)
	rctx, rcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, _, err := c.Read(rctx); err != nil {
				return
			}
		}
	})
	return func() {
		rcancel()
		wg.Wait()
		_ = c.CloseNow()
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

func ranking(t *testing.T, s *Service) string {
	t.Helper()
	r, err := s.TopViewers(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(r)
}

func TestSessionsOverHTTPFLVAndWSFLV(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, Options{Now: clk.Now}, "alpha", "beta")
	e.publish("alpha")

	// Viewer A twice (HTTP-FLV and WS-FLV, same vid), viewer B once.
	leaveA1 := e.watchFLV("alpha", "viewer-aaaa")
	leaveA2 := e.watchWS("alpha", "viewer-aaaa")
	leaveB := e.watchFLV("alpha", "viewer-bbbb")
	waitFor(t, "3 open sessions", func() bool { return e.svc.Viewers("alpha") == 3 })

	// Too short to count yet.
	if err := e.svc.Flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if got := ranking(t, e.svc); got != "[]" {
		t.Fatalf("ranking before MinSession = %s, want empty", got)
	}
	clk.Advance(DefaultMinSession)
	if err := e.svc.Flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultRankingCacheTTL) // past the cached empty ranking
	if got, want := ranking(t, e.svc), "[{alpha 2}]"; got != want {
		t.Fatalf("ranking = %s, want %s", got, want)
	}

	leaveA1()
	leaveA2()
	leaveB()
	waitFor(t, "sessions to end", func() bool { return e.svc.Viewers("alpha") == 0 })
	if err := e.svc.Flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	// Each session is one row, ended.
	n, err := e.db.CloseOpenViewerSessions(t.Context(), time.Second)
	if err != nil || n != 0 {
		t.Fatalf("open sessions left: %d, %v", n, err)
	}
	if n, _ := e.db.PruneViewerSessions(t.Context(), clk.Now().Add(time.Hour)); n != 3 {
		t.Fatalf("stored sessions = %d, want 3", n)
	}
}

func TestShortSessionsNotCounted(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, Options{Now: clk.Now}, "alpha")
	end := e.svc.ViewerStarted("alpha", observe.ProtoLLHLS, "viewer-short", "192.0.2.1", "ua")
	clk.Advance(DefaultMinSession - time.Millisecond)
	end()
	end() // idempotent
	if err := e.svc.Flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if got := ranking(t, e.svc); got != "[]" {
		t.Fatalf("ranking = %s, want empty", got)
	}
	if e.svc.Viewers("alpha") != 0 {
		t.Fatal("viewer count not released")
	}
}

func TestUniqueViewersAndWindow(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type session struct {
		channel, vid, ip string
		at, length       time.Duration // start after `start`, duration
	}
	tests := []struct {
		name     string
		sessions []session
		after    time.Duration // query time after `start`
		want     string
	}{
		{
			name: "same vid twice is one viewer",
			sessions: []session{
				{"alpha", "viewer-0001", "192.0.2.1", 0, time.Minute},
				{"alpha", "viewer-0001", "192.0.2.2", 2 * time.Minute, time.Minute},
			},
			after: time.Hour,
			want:  "[{alpha 1}]",
		},
		{
			name: "two vids are two viewers, ranked above one",
			sessions: []session{
				{"alpha", "viewer-0001", "192.0.2.1", 0, time.Minute},
				{"beta", "viewer-0001", "192.0.2.1", 0, time.Minute},
				{"beta", "viewer-0002", "192.0.2.1", 0, time.Minute},
			},
			after: time.Hour,
			want:  "[{beta 2} {alpha 1}]",
		},
		{
			name: "without vid: address and user agent identify",
			sessions: []session{
				{"alpha", "", "192.0.2.1", 0, time.Minute},
				{"alpha", "bad id!", "192.0.2.1", 0, time.Minute},
				{"alpha", "", "192.0.2.9", 0, time.Minute},
			},
			after: time.Hour,
			want:  "[{alpha 2}]",
		},
		{
			name:     "ended exactly 24 h ago still counts",
			sessions: []session{{"alpha", "viewer-0001", "192.0.2.1", 0, time.Minute}},
			after:    24*time.Hour + time.Minute,
			want:     "[{alpha 1}]",
		},
		{
			name:     "ended just over 24 h ago does not",
			sessions: []session{{"alpha", "viewer-0001", "192.0.2.1", 0, time.Minute}},
			after:    24*time.Hour + time.Minute + time.Millisecond,
			want:     "[]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: start}
			e := newEnv(t, Options{Now: clk.Now}, "alpha", "beta")
			for _, s := range tc.sessions {
				clk.mu.Lock()
				clk.t = start.Add(s.at)
				clk.mu.Unlock()
				end := e.svc.ViewerStarted(s.channel, observe.ProtoRTMP, s.vid, s.ip, "test-agent")
				clk.Advance(s.length)
				end()
			}
			if err := e.svc.Flush(t.Context(), false); err != nil {
				t.Fatal(err)
			}
			clk.mu.Lock()
			clk.t = start.Add(tc.after)
			clk.mu.Unlock()
			if got := ranking(t, e.svc); got != tc.want {
				t.Fatalf("ranking = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHealthAndBroadcast(t *testing.T) {
	e := newEnv(t, Options{SampleInterval: 5 * time.Millisecond, ViewerSampleEvery: 2, MinSession: time.Millisecond}, "alpha")
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- e.svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	stop := e.publish("alpha")
	leave1 := e.watchFLV("alpha", "viewer-0001")
	leave2 := e.watchWS("alpha", "viewer-0002")
	waitFor(t, "a health sample with bitrate, fps, keyframe interval and both viewers", func() bool {
		for _, h := range e.svc.Health("alpha", time.Minute) {
			if h.Bitrate > 0 && h.FPS > 0 && h.KeyframeIntervalMS == 1000 && h.Viewers == 2 {
				return true
			}
		}
		return false
	})
	if got := e.svc.Health("beta", time.Minute); len(got) != 0 {
		t.Fatalf("health of a channel never live: %v", got)
	}
	waitFor(t, "the broadcast row", func() bool {
		bs, err := e.svc.Broadcasts(t.Context(), "alpha", 10)
		return err == nil && len(bs) == 1 && bs[0].PeakViewers == 2 && bs[0].UniqueViewers == 2
	})
	leave1()
	leave2()
	stop()
	e.hub.Kick("alpha", true)
	ended := time.Now()

	var b store.Broadcast
	waitFor(t, "the broadcast to end", func() bool {
		bs, err := e.db.ChannelBroadcasts(t.Context(), "alpha", 10)
		if err != nil || len(bs) != 1 {
			return false
		}
		b = bs[0]
		return !b.EndedAt.IsZero()
	})
	if b.PeakViewers != 2 || b.UniqueViewers != 2 {
		t.Fatalf("broadcast = %+v, want peak 2, unique 2", b)
	}
	// The row ended in a tick after the stream ended: no sample since.
	for _, h := range e.svc.Health("alpha", time.Minute) {
		if h.At.After(ended) {
			t.Fatalf("health sample at %v after the stream ended at %v", h.At, ended)
		}
	}
	samples, err := e.svc.BroadcastViewers(t.Context(), "alpha", b.ID)
	if err != nil || len(samples) == 0 {
		t.Fatalf("viewer samples = %v, %v", samples, err)
	}
	if _, err := e.svc.BroadcastViewers(t.Context(), "beta", b.ID); err == nil {
		t.Fatal("a broadcast was served under another channel")
	}
}

func TestRunEndsOpenSessionsAndBroadcasts(t *testing.T) {
	e := newEnv(t, Options{SampleInterval: 5 * time.Millisecond, MinSession: time.Millisecond}, "alpha")
	e.svc.OnLive("alpha", true)
	e.svc.ViewerStarted("alpha", observe.ProtoRTMP, "viewer-0001", "192.0.2.1", "")
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- e.svc.Run(ctx) }()
	waitFor(t, "the broadcast row", func() bool {
		bs, err := e.db.ChannelBroadcasts(t.Context(), "alpha", 10)
		return err == nil && len(bs) == 1
	})
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	bs, err := e.db.ChannelBroadcasts(t.Context(), "alpha", 10)
	if err != nil || len(bs) != 1 || bs[0].EndedAt.IsZero() || bs[0].UniqueViewers != 1 {
		t.Fatalf("broadcasts after Run = %+v, %v", bs, err)
	}
	if n, _ := e.db.CloseOpenViewerSessions(t.Context(), time.Second); n != 0 {
		t.Fatalf("%d sessions left open", n)
	}
}

func TestValidViewerID(t *testing.T) {
	for _, tc := range []struct {
		vid  string
		want bool
	}{
		{"abcdefgh", true},
		{"abc-DEF_123", true},
		{"abcdefg", false},
		{string(bytes.Repeat([]byte("a"), 64)), true},
		{string(bytes.Repeat([]byte("a"), 65)), false},
		{"abcdefg!", false},
		{"abcdéfgh", false},
	} {
		if got := ValidViewerID(tc.vid); got != tc.want {
			t.Errorf("ValidViewerID(%q) = %v, want %v", tc.vid, got, tc.want)
		}
	}
}
