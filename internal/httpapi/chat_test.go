package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/bus"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/chat"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
	"github.com/huabian-live/huabian/internal/testkit"
)

// chatUsers: alice owns "demo", root is an admin.
var chatUsers = map[string]*account.User{
	"alice": {ID: 1, Name: "alice", Role: account.RoleStreamer},
	"bob":   {ID: 2, Name: "bob", Role: account.RoleViewer},
	"carol": {ID: 3, Name: "carol", Role: account.RoleViewer},
	"root":  {ID: 4, Name: "root", Role: account.RoleAdmin},
}

// chatSpec is docs/openapi.yaml: every chat API response must match it.
var chatSpec = sync.OnceValues(func() (*testkit.Spec, error) {
	return testkit.LoadSpec(filepath.Join("..", "..", "docs", "openapi.yaml"))
})

type chatEnv struct {
	srv *httptest.Server
	svc *chat.Service
}

// newChatEnv serves the API with chat only; X-Test-User stands in for the
// session middleware.
func newChatEnv(t *testing.T) *chatEnv {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateChannel(t.Context(), "demo", store.ChannelKey{Hash: bytes.Repeat([]byte{1}, 32), Sealed: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	b, err := bus.Open(bus.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	svc, err := chat.New(chat.Options{
		Store: st,
		Conn:  b.Conn,
		Channels: func(ctx context.Context, name string) (chat.ChannelInfo, error) {
			c, err := st.ChannelByName(ctx, name)
			if err != nil {
				return chat.ChannelInfo{}, err
			}
			return chat.ChannelInfo{ID: c.ID, OwnerID: 1}, nil
		},
		UserByName: func(_ context.Context, name string) (chat.UserInfo, error) {
			u, ok := chatUsers[name]
			if !ok {
				return chat.UserInfo{}, chat.ErrUserNotFound
			}
			return chat.UserInfo{ID: u.ID, Name: u.Name, IsAdmin: u.IsAdmin()}, nil
		},
		Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{Log: log, Registry: prometheus.NewRegistry(), ValidName: channel.ValidateName, Chat: svc})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := chatUsers[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(account.WithUser(r.Context(), u))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { svc.Close() })
	return &chatEnv{srv: srv, svc: svc}
}

func (e *chatEnv) do(t *testing.T, user, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := chatSpec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Validate(method, path, resp.StatusCode, resp.Header.Get("Content-Type"), data); err != nil {
		t.Errorf("%s %s: response does not match docs/openapi.yaml: %v", method, path, err)
	}
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func TestChatRoutesAuthorisation(t *testing.T) {
	e := newChatEnv(t)
	const base = "/api/v1/channels/demo"
	tests := []struct {
		name, user, method, path, body string
		status                         int
		code                           string
	}{
		{"history is public", "", "GET", base + "/chat/messages", "", 200, ""},
		{"unknown channel", "", "GET", "/api/v1/channels/nope/chat/messages", "", 404, "channel_not_found"},
		{"invalid channel name", "", "GET", "/api/v1/channels/NOPE/chat/messages", "", 404, "channel_not_found"},
		{"settings anonymous", "", "GET", base + "/chat/settings", "", 401, "login_required"},
		{"settings viewer", "bob", "GET", base + "/chat/settings", "", 403, "forbidden"},
		{"settings owner", "alice", "GET", base + "/chat/settings", "", 200, ""},
		{"put settings viewer", "bob", "PUT", base + "/chat/settings", `{"slow_mode_seconds":5,"blocked_words":[]}`, 403, "forbidden"},
		{"put settings invalid", "alice", "PUT", base + "/chat/settings", `{"slow_mode_seconds":-1,"blocked_words":[]}`, 400, "invalid_settings"},
		{"put settings unknown field", "alice", "PUT", base + "/chat/settings", `{"slow":1}`, 400, "invalid_json"},
		{"put settings owner", "alice", "PUT", base + "/chat/settings", `{"slow_mode_seconds":5,"blocked_words":["Spam"]}`, 200, ""},
		{"ban anonymous", "", "POST", base + "/chat/bans", `{"user":"bob","duration_seconds":0}`, 401, "login_required"},
		{"ban viewer", "carol", "POST", base + "/chat/bans", `{"user":"bob","duration_seconds":0}`, 403, "forbidden"},
		{"ban bad duration", "alice", "POST", base + "/chat/bans", `{"user":"bob","duration_seconds":-5}`, 400, "invalid_duration"},
		{"ban unknown user", "alice", "POST", base + "/chat/bans", `{"user":"zed","duration_seconds":60}`, 404, "user_not_found"},
		{"timeout", "alice", "POST", base + "/chat/bans", `{"user":"bob","duration_seconds":60}`, 201, ""},
		{"bans list viewer", "carol", "GET", base + "/chat/bans", "", 403, "forbidden"},
		{"bans list", "root", "GET", base + "/chat/bans", "", 200, ""},
		{"unban", "alice", "DELETE", base + "/chat/bans/bob", "", 204, ""},
		{"unban again", "alice", "DELETE", base + "/chat/bans/bob", "", 404, "not_banned"},
		{"delete viewer", "bob", "DELETE", base + "/chat/messages/1", "", 403, "forbidden"},
		{"delete unknown", "alice", "DELETE", base + "/chat/messages/999", "", 404, "message_not_found"},
		{"grant anonymous", "", "PUT", base + "/moderators/carol", "", 401, "login_required"},
		{"grant viewer", "bob", "PUT", base + "/moderators/carol", "", 403, "forbidden"},
		{"grant owner", "alice", "PUT", base + "/moderators/carol", "", 200, ""},
		{"grant twice", "alice", "PUT", base + "/moderators/carol", "", 409, "already_moderator"},
		{"moderator cannot grant", "carol", "PUT", base + "/moderators/bob", "", 403, "forbidden"},
		{"moderator lists", "carol", "GET", base + "/moderators", "", 200, ""},
		{"moderator reads settings", "carol", "GET", base + "/chat/settings", "", 200, ""},
		{"moderator cannot revoke", "carol", "DELETE", base + "/moderators/carol", "", 403, "forbidden"},
		{"admin revokes", "root", "DELETE", base + "/moderators/carol", "", 204, ""},
		{"revoke again", "alice", "DELETE", base + "/moderators/carol", "", 404, "not_moderator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, tc.user, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, body, tc.status)
			}
			if tc.code != "" && (body["error"] != tc.code || body["message"] == "") {
				t.Fatalf("body %v, want error %q with a message", body, tc.code)
			}
		})
	}
	_, body := e.do(t, "alice", "GET", base+"/chat/settings", "")
	if body["slow_mode_seconds"] != 5.0 || len(body["blocked_words"].([]any)) != 1 {
		t.Fatalf("settings = %v", body)
	}
}

func TestChatSocketRoute(t *testing.T) {
	e := newChatEnv(t)
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/v1/channels/demo/chat"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Cross-site upgrade: refused before the handshake, with a JSON error.
	_, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site dial: %v, %v", resp, err)
	}
	var refusal map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&refusal); err != nil || refusal["error"] != chat.CodeCrossOrigin {
		t.Fatalf("cross-site refusal body %v, %v", refusal, err)
	}

	h := http.Header{"Origin": {e.srv.URL}, "X-Test-User": {"bob"}}
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() map[string]any {
		t.Helper()
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := read(); f["type"] != "hello" || f["me"].(map[string]any)["name"] != "bob" {
		t.Fatalf("hello = %v", f)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	f := read()
	m, _ := f["message"].(map[string]any)
	if f["type"] != "message" || m["text"] != "hi" {
		t.Fatalf("message = %v", f)
	}
	status, body := e.do(t, "", "GET", "/api/v1/channels/demo/chat/messages", "")
	if ms, _ := body["messages"].([]any); status != 200 || len(ms) != 1 {
		t.Fatalf("history = %d %v", status, body)
	}
	if status, _ := e.do(t, "alice", "DELETE", "/api/v1/channels/demo/chat/messages/"+m["id"].(string), ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if f := read(); f["type"] != "delete" || f["id"] != m["id"] {
		t.Fatalf("delete frame = %v", f)
	}
}
