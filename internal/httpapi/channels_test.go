package httpapi

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
	"github.com/huabian-live/huabian/internal/testkit"
)

// chanSpec is docs/openapi.yaml: every response of these tests must match it.
var chanSpec = sync.OnceValues(func() (*testkit.Spec, error) {
	return testkit.LoadSpec(filepath.Join("..", "..", "docs", "openapi.yaml"))
})

const testPassword = "correct horse battery"

type rateLimited struct{}

func (rateLimited) Error() string             { return "too many attempts" }
func (rateLimited) RetryAfter() time.Duration { return 90 * time.Second }

// chanEnv is a channel API over a real SQLite store and media directory.
type chanEnv struct {
	t       *testing.T
	h       http.Handler
	svc     *channel.Service
	dir     string
	db      *sql.DB
	mu      sync.Mutex
	live    map[string]channel.LiveInfo
	ended   []string
	firsts  []int64
	users   map[string]*account.User
	nextKey string
}

func newChanEnv(t *testing.T) *chanEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := channel.OpenSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	media, err := channel.OpenMedia(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { media.Close() })
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlstore.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &chanEnv{t: t, svc: channel.NewService(st, sealer), dir: dir, db: db,
		live: map[string]channel.LiveInfo{}, users: map[string]*account.User{}}
	e.h = New(Deps{
		Log:           slog.New(slog.DiscardHandler),
		Registry:      prometheus.NewRegistry(),
		ChannelExists: e.svc.Exists,
		ValidName:     channel.ValidateName,
		Channels:      e.svc,
		Media:         media,
		LiveChannels: func() map[string]channel.LiveInfo {
			e.mu.Lock()
			defer e.mu.Unlock()
			m := make(map[string]channel.LiveInfo, len(e.live))
			for k, v := range e.live {
				m[k] = v
			}
			return m
		},
		CheckPassword: func(_ context.Context, _ int64, pw string) error {
			switch pw {
			case testPassword:
				return nil
			case "hammering":
				return rateLimited{}
			case "account wrong":
				return account.ErrInvalidCredentials
			}
			return ErrPasswordMismatch
		},
		OnFirstChannel: func(_ context.Context, id int64) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.firsts = append(e.firsts, id)
			return nil
		},
		EndLive: func(name string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.ended = append(e.ended, name)
		},
		Localize: func(_ context.Context, key string) string {
			if key == "channels.category.games" {
				return "Jeux"
			}
			return key
		},
	})
	for _, u := range []struct {
		name string
		role account.Role
	}{{"alice", account.RoleStreamer}, {"mallory", account.RoleViewer}, {"root", account.RoleAdmin}, {"newbie", account.RoleViewer}} {
		var id int64
		if err := db.QueryRowContext(t.Context(), `INSERT INTO users (name, display_name, role, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, 'x', 0, 0) RETURNING id`, u.name, "Display "+u.name, string(u.role)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		e.users[u.name] = &account.User{ID: id, Name: u.name, Role: u.role}
	}
	return e
}

type chanResp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r chanResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d %q: %v", r.code, r.body, err)
	}
	return m
}

// do sends a request as user ("" = anonymous); body may be a string, bytes
// or a value encoded as JSON.
func (e *chanEnv) do(user, method, target string, body any) chanResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, target, rd)
	if user != "" {
		u, ok := e.users[user]
		if !ok {
			e.t.Fatalf("no user %s", user)
		}
		req = req.WithContext(account.WithUser(req.Context(), u))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	spec, err := chanSpec()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := spec.Validate(method, target, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
		e.t.Errorf("response does not match docs/openapi.yaml: %v", err)
	}
	return chanResp{code: rec.Code, hdr: rec.Header(), body: rec.Body.Bytes()}
}

func (e *chanEnv) create(user, name string, extra map[string]any) {
	e.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range extra {
		body[k] = v
	}
	if r := e.do(user, "POST", "/api/v1/channels", body); r.code != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", name, r.code, r.body)
	}
}

func errCode(t *testing.T, r chanResp) string {
	t.Helper()
	m := r.json(t)
	code, _ := m["error"].(string)
	if _, ok := m["message"].(string); !ok {
		t.Errorf("error body without message: %s", r.body)
	}
	return code
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestChannelRoutesAuth(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", nil)
	pw := map[string]string{"password": testPassword}
	img := testPNG(t, 32, 32)
	routes := []struct {
		method, path string
		body         any
		adminOnly    bool
	}{
		{"PATCH", "/api/v1/channels/demo", map[string]any{"title": "x"}, false},
		{"POST", "/api/v1/channels/demo/key", pw, false},
		{"POST", "/api/v1/channels/demo/key/rotate", pw, false},
		{"PUT", "/api/v1/channels/demo/avatar", img, false},
		{"DELETE", "/api/v1/channels/demo/avatar", nil, false},
		{"PUT", "/api/v1/channels/demo/banner", img, false},
		{"DELETE", "/api/v1/channels/demo/banner", nil, false},
		{"GET", "/api/v1/admin/channels", nil, true},
		{"PATCH", "/api/v1/admin/channels/demo", map[string]any{"disabled": false}, true},
		{"POST", "/api/v1/admin/channels/demo/takedown", nil, true},
		{"DELETE", "/api/v1/channels/demo", pw, false}, // last: it removes the channel
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if r := e.do("", rt.method, rt.path, rt.body); r.code != http.StatusUnauthorized || errCode(t, r) != "unauthorized" {
				t.Errorf("anonymous: %d %s, want 401", r.code, r.body)
			}
			if r := e.do("mallory", rt.method, rt.path, rt.body); r.code != http.StatusForbidden || errCode(t, r) != "forbidden" {
				t.Errorf("other user: %d %s, want 403", r.code, r.body)
			}
			if rt.adminOnly {
				if r := e.do("alice", rt.method, rt.path, rt.body); r.code != http.StatusForbidden {
					t.Errorf("owner on an admin route: %d, want 403", r.code)
				}
			}
			if r := e.do("root", rt.method, rt.path, rt.body); r.code >= 300 {
				t.Errorf("admin: %d %s, want success", r.code, r.body)
			}
		})
	}
	for _, rt := range []struct{ method, path string }{
		{"POST", "/api/v1/channels"}, {"GET", "/api/v1/me/channels"},
		{"PUT", "/api/v1/channels/demo/follow"}, {"DELETE", "/api/v1/channels/demo/follow"},
		{"GET", "/api/v1/channels?followed=true"},
	} {
		if r := e.do("", rt.method, rt.path, map[string]any{"name": "x"}); r.code != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: %d, want 401", rt.method, rt.path, r.code)
		}
	}
}

func TestChannelCreateValidation(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	tests := []struct {
		name string
		body any
		code int
		err  string
	}{
		{"ok", map[string]any{"name": "good", "title": "T", "description": "D", "category": "music-dj",
			"tags": []string{"House", "live"}, "language": "fr", "visibility": "unlisted"}, 201, ""},
		{"taken", map[string]any{"name": "good"}, 409, "channel_exists"},
		{"no name", map[string]any{"title": "x"}, 400, "invalid_name"},
		{"upper name", map[string]any{"name": "Good"}, 400, "invalid_name"},
		{"dotdot name", map[string]any{"name": "../x"}, 400, "invalid_name"},
		{"long name", map[string]any{"name": strings.Repeat("a", 33)}, 400, "invalid_name"},
		{"long title", map[string]any{"name": "a1", "title": strings.Repeat("é", 141)}, 400, "invalid_title"},
		{"long description", map[string]any{"name": "a1", "description": strings.Repeat("x", 2001)}, 400, "invalid_description"},
		{"bad tag", map[string]any{"name": "a1", "tags": []string{"no spaces"}}, 400, "invalid_tags"},
		{"too many tags", map[string]any{"name": "a1", "tags": strings.Split("a b c d e f g h i j k", " ")}, 400, "invalid_tags"},
		{"bad category", map[string]any{"name": "a1", "category": "games/../x"}, 400, "invalid_category"},
		{"bad language", map[string]any{"name": "a1", "language": "en-XX-bogus"}, 400, "invalid_language"},
		{"bad visibility", map[string]any{"name": "a1", "visibility": "private"}, 400, "invalid_visibility"},
		{"unknown field", map[string]any{"name": "a1", "owner_id": 1}, 400, "invalid_request"},
		{"not json", "name=a1", 400, "invalid_request"},
		{"two values", `{"name":"a1"}{"name":"a2"}`, 400, "invalid_request"},
		{"huge body", `{"name":"a1","description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("alice", "POST", "/api/v1/channels", tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d %s, want %d", r.code, r.body, tc.code)
			}
			if tc.err != "" {
				if got := errCode(t, r); got != tc.err {
					t.Errorf("error %q, want %q", got, tc.err)
				}
				return
			}
			m := r.json(t)
			if m["name"] != "good" || m["visibility"] != "unlisted" || m["language"] != "fr" ||
				!slices.Equal(toStrings(m["tags"]), []string{"house", "live"}) {
				t.Errorf("created %s", r.body)
			}
			cat, _ := m["category"].(map[string]any)
			if cat["slug"] != "music-dj" || len(cat["path"].([]any)) != 2 {
				t.Errorf("category %v", cat)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestChannelLimitAndPromotion(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	for i := range channel.MaxChannelsPerUser {
		e.create("newbie", "n"+string(rune('a'+i)), nil)
	}
	if r := e.do("newbie", "POST", "/api/v1/channels", map[string]any{"name": "nz"}); r.code != http.StatusForbidden || errCode(t, r) != "channel_limit" {
		t.Errorf("sixth channel: %d %s", r.code, r.body)
	}
	e.create("alice", "al", nil)
	e.mu.Lock()
	firsts := slices.Clone(e.firsts)
	e.mu.Unlock()
	// newbie is still a viewer in its context, so each creation asks; a
	// streamer (alice) is never promoted again.
	if len(firsts) != channel.MaxChannelsPerUser || slices.Contains(firsts, e.users["alice"].ID) {
		t.Errorf("OnFirstChannel calls %v", firsts)
	}
	r := e.do("newbie", "GET", "/api/v1/me/channels", nil)
	if chs := r.json(t)["channels"].([]any); len(chs) != channel.MaxChannelsPerUser {
		t.Errorf("me/channels: %d channels", len(chs))
	} else if hint, _ := chs[0].(map[string]any)["key_hint"].(string); len(hint) != 4 {
		t.Errorf("key_hint %q", hint)
	}
}

func TestChannelXSSVerbatim(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	payload := `"><script>alert(1)</script><img src=x onerror=alert(document.cookie)>&amp;`
	e.create("alice", "demo", map[string]any{"title": payload, "description": payload + "\n" + payload})
	for _, path := range []string{"/api/v1/channels/demo", "/api/v1/channels", "/api/v1/me/channels"} {
		r := e.do("alice", "GET", path, nil)
		if r.code != 200 {
			t.Fatalf("%s: %d", path, r.code)
		}
		if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || r.hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if bytes.Contains(r.body, []byte("<script>")) || bytes.Contains(r.body, []byte("<img")) {
			t.Errorf("%s: raw HTML in the JSON: %s", path, r.body)
		}
		if !bytes.Contains(r.body, []byte(`\u003cscript\u003e`)) {
			t.Errorf("%s: payload missing", path)
		}
	}
	m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t)
	if m["title"] != payload || m["description"] != payload+"\n"+payload {
		t.Errorf("title %q, want the payload verbatim", m["title"])
	}
}

func TestChannelStatusCompatible(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", map[string]any{"title": "Hello", "category": "games-rpg"})
	for _, who := range []string{"", "alice", "mallory", "root"} {
		m := e.do(who, "GET", "/api/v1/channels/demo", nil).json(t)
		for _, k := range []string{"name", "live", "started_at", "video", "audio", "ingest_bitrate", "viewers",
			"title", "description", "owner", "category", "tags", "language", "visibility", "avatar_url", "banner_url",
			"preview_url", "last_live_at", "followers", "following", "can_edit", "can_moderate"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%q: field %s missing", who, k)
			}
		}
		if v := m["viewers"].(map[string]any); v["total"] != float64(0) {
			t.Errorf("viewers %v", v)
		}
		wantEdit := who == "alice" || who == "root"
		if m["can_edit"] != wantEdit || m["can_moderate"] != wantEdit {
			t.Errorf("%q: can_edit %v, want %v", who, m["can_edit"], wantEdit)
		}
		if owner := m["owner"].(map[string]any); owner["name"] != "alice" || owner["display_name"] != "Display alice" {
			t.Errorf("owner %v", owner)
		}
	}
	if r := e.do("", "GET", "/api/v1/channels/nope", nil); r.code != 404 || errCode(t, r) != "not_found" {
		t.Errorf("unknown: %d %s", r.code, r.body)
	}
	if r := e.do("", "GET", "/api/v1/channels/BAD", nil); r.code != 400 || errCode(t, r) != "invalid_name" {
		t.Errorf("bad name: %d %s", r.code, r.body)
	}

	// Without profiles (the live core alone) the status still works.
	h := New(Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		ChannelExists: e.svc.Exists, ValidName: channel.ValidateName})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/channels/demo", nil))
	var st ChannelStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); rec.Code != 200 || err != nil || st.Name != "demo" || st.Viewers["total"] != 0 {
		t.Errorf("status without profiles: %d %s", rec.Code, rec.Body)
	}
}

func TestChannelUpdate(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", map[string]any{"title": "Old", "tags": []string{"a"}})
	r := e.do("alice", "PATCH", "/api/v1/channels/demo", map[string]any{"title": "New", "category": "games"})
	if m := r.json(t); r.code != 200 || m["title"] != "New" || !slices.Equal(toStrings(m["tags"]), []string{"a"}) {
		t.Errorf("patch: %d %s", r.code, r.body)
	}
	r = e.do("root", "PATCH", "/api/v1/channels/demo", map[string]any{"description": "by admin"})
	if m := r.json(t); r.code != 200 || m["description"] != "by admin" || m["title"] != "New" {
		t.Errorf("admin patch: %d %s", r.code, r.body)
	}
	for _, tc := range []struct {
		body any
		err  string
	}{
		{map[string]any{"name": "other"}, "name_immutable"},
		{map[string]any{"tags": []string{strings.Repeat("x", 25)}}, "invalid_tags"},
		{map[string]any{"visibility": "secret"}, "invalid_visibility"},
		{map[string]any{"language": "tlh"}, "invalid_language"},
		{map[string]any{"title": strings.Repeat("t", 141)}, "invalid_title"},
		{map[string]any{"category": "nope"}, "invalid_category"},
	} {
		if r := e.do("alice", "PATCH", "/api/v1/channels/demo", tc.body); r.code != 400 || errCode(t, r) != tc.err {
			t.Errorf("patch %v: %d %s, want %s", tc.body, r.code, r.body, tc.err)
		}
	}
	if r := e.do("alice", "PATCH", "/api/v1/channels/nope", map[string]any{}); r.code != 404 {
		t.Errorf("patch unknown: %d", r.code)
	}
	// A CLI channel has no owner: only admins manage it.
	if _, err := e.svc.Create(t.Context(), "cli"); err != nil {
		t.Fatal(err)
	}
	if r := e.do("alice", "PATCH", "/api/v1/channels/cli", map[string]any{"title": "x"}); r.code != 403 {
		t.Errorf("patch ownerless by a user: %d", r.code)
	}
	if r := e.do("root", "PATCH", "/api/v1/channels/cli", map[string]any{"title": "x"}); r.code != 200 {
		t.Errorf("patch ownerless by admin: %d", r.code)
	}
}

func TestChannelKeyRoutes(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", nil)
	ctx := t.Context()
	for _, path := range []string{"/api/v1/channels/demo/key", "/api/v1/channels/demo/key/rotate", "/api/v1/channels/demo"} {
		method := "POST"
		if path == "/api/v1/channels/demo" {
			method = "DELETE"
		}
		if r := e.do("alice", method, path, map[string]string{"password": "wrong password!"}); r.code != 401 || errCode(t, r) != "invalid_credentials" {
			t.Errorf("%s wrong password: %d %s", path, r.code, r.body)
		}
		if r := e.do("alice", method, path, map[string]string{"password": "account wrong"}); r.code != 401 || errCode(t, r) != "invalid_credentials" {
			t.Errorf("%s account.ErrInvalidCredentials: %d %s", path, r.code, r.body)
		}
		if r := e.do("alice", method, path, map[string]string{}); r.code != 401 {
			t.Errorf("%s no password: %d", path, r.code)
		}
		r := e.do("alice", method, path, map[string]string{"password": "hammering"})
		if r.code != 429 || r.hdr.Get("Retry-After") != "90" || errCode(t, r) != "rate_limited" {
			t.Errorf("%s rate limited: %d %s Retry-After %q", path, r.code, r.body, r.hdr.Get("Retry-After"))
		}
	}
	r := e.do("alice", "POST", "/api/v1/channels/demo/key", map[string]string{"password": testPassword})
	key1, _ := r.json(t)["stream_key"].(string)
	c, err := e.svc.Authenticate(ctx, key1)
	if r.code != 200 || err != nil || c.Name != "demo" {
		t.Fatalf("reveal: %d %s; authenticate %v", r.code, r.body, err)
	}
	r = e.do("alice", "POST", "/api/v1/channels/demo/key/rotate", map[string]string{"password": testPassword})
	key2, _ := r.json(t)["stream_key"].(string)
	if r.code != 200 || key2 == key1 || key2 == "" {
		t.Fatalf("rotate: %d %s", r.code, r.body)
	}
	if _, err := e.svc.Authenticate(ctx, key1); !errors.Is(err, channel.ErrBadKey) {
		t.Errorf("old key after rotation: %v", err)
	}
	if e.svc.KeyStillValid(ctx, c.ID, c.KeyHash) {
		t.Error("a publish with the old key stays valid (CheckKeys would not end it)")
	}
	e.mu.Lock()
	ended := len(e.ended)
	e.mu.Unlock()
	if ended != 0 {
		t.Error("rotation ended a stream itself; the key check does that")
	}
	if r := e.do("alice", "DELETE", "/api/v1/channels/demo", map[string]string{"password": testPassword}); r.code != 204 {
		t.Errorf("delete: %d %s", r.code, r.body)
	}
	if _, err := e.svc.Authenticate(ctx, key2); !errors.Is(err, channel.ErrBadKey) {
		t.Errorf("key after delete: %v", err)
	}
}

// pngClaiming returns a small PNG whose header claims w×h.
func pngClaiming(t *testing.T, w, h uint32) []byte {
	b := testPNG(t, 8, 8)
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestChannelImages(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", nil)
	good := testPNG(t, 300, 300)
	tests := []struct {
		name, kind string
		body       []byte
		code       int
		err        string
	}{
		{"html as png", "avatar", []byte("<html><script>alert(1)</script>"), 415, "unsupported_image"},
		{"svg", "banner", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 415, "unsupported_image"},
		{"empty", "avatar", nil, 415, "unsupported_image"},
		{"oversize avatar", "avatar", append(bytes.Clone(good), make([]byte, channel.MaxAvatarBytes)...), 413, "image_too_large"},
		{"bomb", "banner", pngClaiming(t, 60000, 60000), 400, "image_dimensions"},
		{"polyglot", "avatar", append(bytes.Clone(good), "<script>alert(1)</script>"...), 400, "invalid_image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("alice", "PUT", "/api/v1/channels/demo/"+tc.kind, tc.body)
			if r.code != tc.code || errCode(t, r) != tc.err {
				t.Errorf("%d %s, want %d %s", r.code, r.body, tc.code, tc.err)
			}
		})
	}
	r := e.do("alice", "PUT", "/api/v1/channels/demo/avatar", good)
	url1, _ := r.json(t)["url"].(string)
	if r.code != 200 || !strings.HasPrefix(url1, "/media/") || !strings.HasSuffix(url1, ".png") {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	got := e.do("", "GET", url1, nil)
	if got.code != 200 || got.hdr.Get("Content-Type") != "image/png" || got.hdr.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(got.hdr.Get("Cache-Control"), "immutable") {
		t.Errorf("GET %s: %d %v", url1, got.code, got.hdr)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(got.body)); err != nil || cfg.Width != 256 || cfg.Height != 256 {
		t.Errorf("served avatar %+v, %v", cfg, err)
	}
	if m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t); m["avatar_url"] != url1 {
		t.Errorf("avatar_url %v, want %s", m["avatar_url"], url1)
	}
	r = e.do("alice", "PUT", "/api/v1/channels/demo/avatar", good)
	url2, _ := r.json(t)["url"].(string)
	if url2 == url1 || e.do("", "GET", url1, nil).code != 404 {
		t.Errorf("replaced avatar %s still served", url1)
	}
	r = e.do("alice", "PUT", "/api/v1/channels/demo/banner", testPNG(t, 2000, 500))
	banner, _ := r.json(t)["url"].(string)
	if got := e.do("", "GET", banner, nil); got.code != 200 || got.hdr.Get("Content-Type") != "image/jpeg" {
		t.Errorf("banner: %d %v", got.code, got.hdr)
	}
	if r := e.do("alice", "DELETE", "/api/v1/channels/demo/avatar", nil); r.code != 204 || e.do("", "GET", url2, nil).code != 404 {
		t.Errorf("delete avatar: %d", r.code)
	}
	if m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t); m["avatar_url"] != nil || m["banner_url"] != banner {
		t.Errorf("after delete: avatar_url %v banner_url %v", m["avatar_url"], m["banner_url"])
	}
}

func TestMediaPathTricks(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	id := strings.Repeat("a", 32)
	for _, p := range []string{
		"/media/../huabian.db", "/media/..%2fhuabian.db", "/media/%2e%2e/secret.key", "/media/%2e%2e%2fsecret.key",
		"/media/..%5csecret.key", `/media/..\secret.key`, "/media/" + id + ".png%00.html", "/media/" + id + ".gif",
		"/media/" + strings.ToUpper(id) + ".png", "/media/" + strings.Repeat("a", 5000) + ".png", "/media/",
		"/media/" + id + ".png/..", "/media/.", "/media/%2e", "/media/" + id + ".png", // well-formed but absent
	} {
		req := httptest.NewRequest("GET", "http://x/", nil)
		req.URL.RawPath, req.URL.Path = "", ""
		req.RequestURI = p
		u, err := req.URL.Parse(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		req.URL = u
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code == 200 || bytes.Contains(rec.Body.Bytes(), []byte("SQLite")) || rec.Body.Len() > 200 {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.Bytes())
		}
	}
	if r := e.do("", "GET", "/media/preview/demo", nil); r.code != 200 || r.hdr.Get("Content-Type") != "image/png" {
		t.Errorf("preview: %d %v", r.code, r.hdr)
	}
	if r := e.do("", "GET", "/media/preview/..%2fx", nil); r.code == 200 {
		t.Errorf("preview of a bad name: %d", r.code)
	}
}

func TestDirectoryRoutes(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "chess", map[string]any{"title": "Chess", "category": "games-strategy", "tags": []string{"blitz"}})
	e.create("alice", "doom", map[string]any{"title": "Doom 100%", "category": "games-shooters"})
	e.create("alice", "cook", map[string]any{"title": "Cooking", "category": "irl-food"})
	e.create("alice", "hidden", map[string]any{"title": "Hidden", "visibility": "unlisted"})
	e.create("mallory", "banned", map[string]any{"title": "Banned"})
	if r := e.do("root", "PATCH", "/api/v1/admin/channels/banned", map[string]any{"disabled": true}); r.code != 200 {
		t.Fatalf("disable: %d %s", r.code, r.body)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := e.svc.RecordLive(t.Context(), "cook", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.live["doom"] = channel.LiveInfo{StartedAt: now, Viewers: 7}
	e.live["chess"] = channel.LiveInfo{StartedAt: now, Viewers: 2}
	e.live["hidden"] = channel.LiveInfo{StartedAt: now, Viewers: 50}
	e.live["banned"] = channel.LiveInfo{StartedAt: now, Viewers: 50}
	e.mu.Unlock()
	if r := e.do("mallory", "PUT", "/api/v1/channels/cook/follow", nil); r.code != 200 ||
		r.json(t)["followers"] != float64(1) || r.json(t)["following"] != true {
		t.Errorf("follow: %d %s", r.code, r.body)
	}
	if r := e.do("alice", "PUT", "/api/v1/channels/cook/follow", nil); r.json(t)["followers"] != float64(2) {
		t.Errorf("second follow: %s", r.body)
	}
	if r := e.do("alice", "DELETE", "/api/v1/channels/cook/follow", nil); r.json(t)["followers"] != float64(1) || r.json(t)["following"] != false {
		t.Errorf("unfollow: %s", r.body)
	}
	if r := e.do("alice", "PUT", "/api/v1/channels/banned/follow", nil); r.code != 404 {
		t.Errorf("follow disabled: %d", r.code)
	}
	if r := e.do("alice", "PUT", "/api/v1/channels/nope/follow", nil); r.code != 404 {
		t.Errorf("follow unknown: %d", r.code)
	}
	names := func(r chanResp) ([]string, float64) {
		m := r.json(t)
		var out []string
		for _, c := range m["channels"].([]any) {
			out = append(out, c.(map[string]any)["name"].(string))
		}
		total, _ := m["total"].(float64)
		return out, total
	}
	tests := []struct {
		who, query string
		want       []string
	}{
		{"", "", []string{"doom", "chess", "cook"}},
		{"", "?live=true", []string{"doom", "chess"}},
		{"", "?category=games", []string{"doom", "chess"}},
		{"", "?category=irl-food", []string{"cook"}},
		{"", "?q=BLITZ", []string{"chess"}},
		{"", "?q=100%25", []string{"doom"}},
		{"", "?q=hidden", nil},
		{"", "?q=banned", nil},
		{"", "?limit=1&offset=1", []string{"chess"}},
		{"mallory", "?followed=true", []string{"cook"}},
		{"alice", "?followed=true", nil},
	}
	for _, tc := range tests {
		r := e.do(tc.who, "GET", "/api/v1/channels"+tc.query, nil)
		got, total := names(r)
		if r.code != 200 || !slices.Equal(got, tc.want) {
			t.Errorf("%s as %q: %d %v, want %v", tc.query, tc.who, r.code, got, tc.want)
		}
		if tc.query == "?limit=1&offset=1" && total != 3 {
			t.Errorf("total %v, want 3", total)
		}
	}
	r := e.do("", "GET", "/api/v1/channels", nil)
	first := r.json(t)["channels"].([]any)[0].(map[string]any)
	if first["viewers"] != float64(7) || first["live"] != true || first["started_at"] != now.Format(time.RFC3339) ||
		first["preview_url"] != "/media/preview/doom" || first["title"] != "Doom 100%" {
		t.Errorf("live entry %v", first)
	}
	if cat := first["category"].(map[string]any); cat["path"].([]any)[0].(map[string]any)["name"] != "Jeux" {
		t.Errorf("category not localised: %v", cat)
	}
	for _, q := range []string{"?category=nope", "?limit=-1", "?offset=x"} {
		if r := e.do("", "GET", "/api/v1/channels"+q, nil); r.code != 400 {
			t.Errorf("%s: %d", q, r.code)
		}
	}
	// Unlisted: reachable by name, not listed. Disabled: 404 but for admins.
	if r := e.do("", "GET", "/api/v1/channels/hidden", nil); r.code != 200 {
		t.Errorf("unlisted by name: %d", r.code)
	}
	if r := e.do("mallory", "GET", "/api/v1/channels/banned", nil); r.code != 404 {
		t.Errorf("disabled for its owner: %d", r.code)
	}
	if r := e.do("root", "GET", "/api/v1/channels/banned", nil); r.code != 200 {
		t.Errorf("disabled for admin: %d", r.code)
	}
	r = e.do("root", "GET", "/api/v1/admin/channels", nil)
	if got, _ := names(r); len(got) != 5 {
		t.Errorf("admin list %v", got)
	}
	if r := e.do("", "GET", "/api/v1/categories", nil); len(r.json(t)["categories"].([]any)) != 6 {
		t.Errorf("categories %s", r.body)
	}
}

func TestAdminChannelRoutes(t *testing.T) {
	t.Parallel()
	e := newChanEnv(t)
	e.create("alice", "demo", nil)
	ctx := t.Context()
	r := e.do("alice", "POST", "/api/v1/channels/demo/key", map[string]string{"password": testPassword})
	key := r.json(t)["stream_key"].(string)
	c, err := e.svc.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("root", "POST", "/api/v1/admin/channels/demo/takedown", nil); r.code != 204 {
		t.Errorf("takedown: %d %s", r.code, r.body)
	}
	if r := e.do("root", "POST", "/api/v1/admin/channels/nope/takedown", nil); r.code != 404 {
		t.Errorf("takedown unknown: %d", r.code)
	}
	r = e.do("root", "PATCH", "/api/v1/admin/channels/demo", map[string]any{"disabled": true})
	if r.code != 200 || r.json(t)["disabled"] != true {
		t.Errorf("disable: %d %s", r.code, r.body)
	}
	e.mu.Lock()
	ended := slices.Clone(e.ended)
	e.mu.Unlock()
	if !slices.Equal(ended, []string{"demo", "demo"}) {
		t.Errorf("EndLive calls %v, want takedown and disable", ended)
	}
	if _, err := e.svc.Authenticate(ctx, key); !errors.Is(err, channel.ErrDisabled) {
		t.Errorf("publish on a disabled channel: %v", err)
	}
	if e.svc.KeyStillValid(ctx, c.ID, c.KeyHash) {
		t.Error("live publish of a disabled channel stays valid")
	}
	if r := e.do("", "GET", "/api/v1/channels", nil); strings.Contains(string(r.body), `"demo"`) {
		t.Error("disabled channel listed")
	}
	if r := e.do("root", "PATCH", "/api/v1/admin/channels/demo", map[string]any{"disabled": false}); r.code != 200 {
		t.Errorf("enable: %d", r.code)
	}
	if _, err := e.svc.Authenticate(ctx, key); err != nil {
		t.Errorf("publish after enabling: %v", err)
	}
}

func TestLiveFromHubAndTakedown(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "rtmp"})
	if err != nil {
		t.Fatal(err)
	}
	done := pub.Stream().AddViewer("http-flv")
	defer done()
	live := LiveFromHub(h.List, func(name string) int { return 2 })()
	if l, ok := live["demo"]; !ok || l.Viewers != 3 || !l.StartedAt.Equal(pub.StartedAt()) || len(live) != 1 {
		t.Fatalf("LiveFromHub = %+v", live)
	}

	e := newChanEnv(t)
	e.create("alice", "demo", nil)
	e.h = New(Deps{
		Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		ChannelExists: e.svc.Exists, ValidName: channel.ValidateName, Live: h.Lookup,
		Channels: e.svc, LiveChannels: LiveFromHub(h.List, nil),
		EndLive: func(name string) { h.Kick(name, true) },
	})
	m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t)
	if m["live"] != true || m["started_at"] == nil || m["viewers"].(map[string]any)["total"] != float64(1) {
		t.Errorf("status %v", m)
	}
	if r := e.do("", "GET", "/api/v1/channels?live=true", nil); !strings.Contains(string(r.body), `"viewers":1`) {
		t.Errorf("directory %s", r.body)
	}
	if r := e.do("root", "POST", "/api/v1/admin/channels/demo/takedown", nil); r.code != 204 {
		t.Fatalf("takedown: %d %s", r.code, r.body)
	}
	select {
	case <-pub.Done():
	default:
		t.Error("takedown left the publisher running")
	}
	if m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t); m["live"] != false {
		t.Errorf("after takedown: live %v", m["live"])
	}
}
