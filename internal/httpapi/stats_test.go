package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/stats"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

type statsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *statsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *statsClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type statsEnv struct {
	t     *testing.T
	ts    *httptest.Server
	svc   *stats.Service
	clock *statsClock
	hub   *hub.Hub
	users map[string]*account.User
}

func newStatsEnv(t *testing.T) *statsEnv {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for i, name := range []string{"alpha", "beta"} {
		k := store.ChannelKey{Hash: bytes.Repeat([]byte{byte(i + 1)}, 32), Sealed: []byte{byte(i)}, Hint: "x"}
		if _, err := db.CreateChannel(t.Context(), name, k); err != nil {
			t.Fatal(err)
		}
	}
	e := &statsEnv{
		t:     t,
		clock: &statsClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		users: map[string]*account.User{
			"owner": {ID: 1, Name: "owner", Role: account.RoleStreamer},
			"other": {ID: 2, Name: "other", Role: account.RoleStreamer},
			"admin": {ID: 3, Name: "admin", Role: account.RoleAdmin},
		},
	}
	e.hub = hub.New(hub.HubOptions{OnLive: func(n string, live bool) { e.svc.OnLive(n, live) }})
	t.Cleanup(e.hub.Close)
	e.svc, err = stats.New(t.Context(), stats.Options{
		Store: db, Streams: e.hub.List, Now: e.clock.Now,
		SampleInterval: 5 * time.Millisecond, ViewerSampleEvery: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]int64{"alpha": 1, "beta": 1}
	h := New(Deps{
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Live: func(name string) (hub.Status, bool) {
			return e.hub.Lookup(name)
		},
		Stats: e.svc,
		StatsCanManage: func(_ context.Context, u *account.User, ch string) (bool, error) {
			owner, ok := owners[ch]
			if !ok {
				return false, store.ErrNotFound
			}
			return u.IsAdmin() || u.ID == owner, nil
		},
		StatsTitles: func(_ context.Context, names []string) (map[string]string, error) {
			out := map[string]string{}
			if slices.Contains(names, "alpha") {
				out["alpha"] = "Alpha show" // beta is unlisted
			}
			return out, nil
		},
	})
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := e.users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(account.WithUser(r.Context(), u))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.ts.Close)
	return e
}

func (e *statsEnv) get(path, user string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-Test-User", user)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		e.t.Fatalf("GET %s: %d %q: %v", path, res.StatusCode, b, err)
	}
	return res.StatusCode, body
}

// keysOf returns the sorted keys of v, a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func firstOf(t *testing.T, body map[string]any, key string) any {
	t.Helper()
	list, ok := body[key].([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: %v, want a non-empty list", key, body)
	}
	return list[0]
}

func TestStatsRanking(t *testing.T) {
	e := newStatsEnv(t)
	if _, err := e.hub.Publish("alpha", hub.PublishInfo{Protocol: "test"}); err != nil {
		t.Fatal(err)
	}
	var ends []func()
	for _, v := range []struct{ ch, vid string }{
		{"alpha", "viewer-0001"}, {"alpha", "viewer-0002"}, {"alpha", "viewer-0001"},
		{"beta", "viewer-0001"}, {"beta", "viewer-0002"}, {"beta", "viewer-0003"},
	} {
		ends = append(ends, e.svc.ViewerStarted(v.ch, "httpflv", v.vid, "192.0.2.1", "ua"))
	}
	e.clock.Advance(stats.DefaultMinSession)
	for _, end := range ends {
		end()
	}
	if err := e.svc.Flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}

	status, body := e.get("/api/v1/rankings/viewers-24h?limit=5", "")
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	got, _ := json.Marshal(body)
	if want := `{"channels":[{"live":true,"name":"alpha","title":"Alpha show","unique_viewers":2}]}`; string(got) != want {
		t.Fatalf("ranking = %s, want %s (beta is unlisted)", got, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x"} {
		if status, body := e.get("/api/v1/rankings/viewers-24h?"+q, ""); status != http.StatusBadRequest || body["error"] != "invalid_limit" {
			t.Errorf("%s: %d %v, want 400 invalid_limit", q, status, body)
		}
	}
}

func TestStatsAuthPolicy(t *testing.T) {
	e := newStatsEnv(t)
	tests := []struct {
		path, user string
		status     int
		code       string
	}{
		{"/api/v1/channels/alpha/health", "", 401, "unauthorized"},
		{"/api/v1/channels/alpha/health", "other", 403, "forbidden"},
		{"/api/v1/channels/alpha/health", "owner", 200, ""},
		{"/api/v1/channels/alpha/health", "admin", 200, ""},
		{"/api/v1/channels/alpha/health?seconds=601", "owner", 400, "invalid_seconds"},
		{"/api/v1/channels/alpha/health?seconds=0", "owner", 400, "invalid_seconds"},
		{"/api/v1/channels/nope/health", "owner", 404, "not_found"},
		{"/api/v1/channels/alpha/broadcasts", "", 401, "unauthorized"},
		{"/api/v1/channels/alpha/broadcasts", "other", 403, "forbidden"},
		{"/api/v1/channels/alpha/broadcasts", "owner", 200, ""},
		{"/api/v1/channels/alpha/broadcasts", "admin", 200, ""},
		{"/api/v1/channels/alpha/broadcasts/1/viewers", "", 401, "unauthorized"},
		{"/api/v1/channels/alpha/broadcasts/1/viewers", "other", 403, "forbidden"},
		{"/api/v1/channels/alpha/broadcasts/x/viewers", "owner", 400, "invalid_broadcast_id"},
		{"/api/v1/channels/alpha/broadcasts/99/viewers", "owner", 404, "broadcast_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.user+" "+tc.path, func(t *testing.T) {
			status, body := e.get(tc.path, tc.user)
			if status != tc.status || (tc.code != "" && body["error"] != tc.code) {
				t.Fatalf("got %d %v, want %d %q", status, body, tc.status, tc.code)
			}
			if tc.code != "" && !slices.Equal(keysOf(t, body), []string{"error", "message"}) {
				t.Fatalf("error body %v", body)
			}
		})
	}
}

func TestStatsHealthAndBroadcasts(t *testing.T) {
	e := newStatsEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- e.svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	pub, err := e.hub.Publish("alpha", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	end := e.svc.ViewerStarted("alpha", "llhls", "viewer-0001", "192.0.2.1", "ua")
	deadline := time.Now().Add(10 * time.Second)
	var body map[string]any
	for {
		var status int
		status, body = e.get("/api/v1/channels/alpha/health?seconds=60", "owner")
		if status != http.StatusOK {
			t.Fatalf("health: %d %v", status, body)
		}
		if list, _ := body["samples"].([]any); len(list) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no health sample")
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	smp := firstOf(t, body, "samples")
	if got, want := keysOf(t, smp), []string{"at", "bitrate", "fps", "keyframe_interval_ms", "viewers"}; !slices.Equal(got, want) {
		t.Fatalf("health sample keys %v, want %v", got, want)
	}
	if smp.(map[string]any)["viewers"] != 1.0 {
		t.Fatalf("health sample %v, want 1 viewer", smp)
	}

	e.clock.Advance(stats.DefaultMinSession)
	end()
	pub.Close()
	e.hub.Kick("alpha", true)
	for {
		_, body = e.get("/api/v1/channels/alpha/broadcasts", "owner")
		if list, _ := body["broadcasts"].([]any); len(list) == 1 && list[0].(map[string]any)["ended_at"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast never ended: %v", body)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	b := firstOf(t, body, "broadcasts").(map[string]any)
	if got, want := keysOf(t, b), []string{"ended_at", "id", "peak_viewers", "started_at", "unique_viewers"}; !slices.Equal(got, want) {
		t.Fatalf("broadcast keys %v, want %v", got, want)
	}
	if b["peak_viewers"] != 1.0 || b["unique_viewers"] != 1.0 {
		t.Fatalf("broadcast %v, want peak 1, unique 1", b)
	}
	id := int64(b["id"].(float64))
	status, body := e.get("/api/v1/channels/alpha/broadcasts/"+itoa(id)+"/viewers", "admin")
	if status != http.StatusOK {
		t.Fatalf("viewers: %d %v", status, body)
	}
	if got, want := keysOf(t, firstOf(t, body, "samples")), []string{"at", "viewers"}; !slices.Equal(got, want) {
		t.Fatalf("viewer sample keys %v, want %v", got, want)
	}
	if status, _ := e.get("/api/v1/channels/beta/broadcasts/"+itoa(id)+"/viewers", "owner"); status != http.StatusNotFound {
		t.Fatalf("another channel's broadcast: %d, want 404", status)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
