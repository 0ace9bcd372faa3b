package chat

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/bus"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

var discard = slog.New(slog.DiscardHandler)

// Test users; alice owns channel "demo".
var testUsers = map[string]*account.User{
	"alice": {ID: 1, Name: "alice", DisplayName: "Alice", Role: account.RoleStreamer},
	"bob":   {ID: 2, Name: "bob", DisplayName: "Bob", Role: account.RoleViewer},
	"carol": {ID: 3, Name: "carol", DisplayName: "Carol", Role: account.RoleViewer},
	"root":  {ID: 4, Name: "root", DisplayName: "Root", Role: account.RoleAdmin},
	"dave":  {ID: 5, Name: "dave", DisplayName: "Dave", Role: account.RoleViewer},
}

func openStore(t testing.TB, dir string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func createChannel(t testing.TB, st *sqlstore.Store, name string) {
	t.Helper()
	h := make([]byte, 32)
	copy(h, name)
	if _, err := st.CreateChannel(context.Background(), name, store.ChannelKey{Hash: h, Sealed: []byte{1}}); err != nil {
		t.Fatalf("create channel: %v", err)
	}
}

func openBus(t testing.TB, o bus.Options) *bus.Bus {
	t.Helper()
	b, err := bus.Open(o, discard)
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// node is one chat.Service served over httptest.
type node struct {
	svc *Service
	srv *httptest.Server
}

func (n node) url(channel string) string {
	return "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/chat/" + channel
}

// startNode serves svc at /chat/{name}; the X-Test-User header names the
// signed-in user, standing in for the session middleware.
func startNode(t testing.TB, st *sqlstore.Store, b *bus.Bus, tweak func(*Options)) node {
	t.Helper()
	o := Options{
		Store: st,
		Conn:  b.Conn,
		Channels: func(ctx context.Context, name string) (ChannelInfo, error) {
			c, err := st.ChannelByName(ctx, name)
			if err != nil {
				return ChannelInfo{}, err
			}
			owner := int64(0)
			if name == "demo" {
				owner = testUsers["alice"].ID
			}
			return ChannelInfo{ID: c.ID, OwnerID: owner}, nil
		},
		UserByName: func(_ context.Context, name string) (UserInfo, error) {
			u, ok := testUsers[name]
			if !ok {
				return UserInfo{}, ErrUserNotFound
			}
			return UserInfo{ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, IsAdmin: u.IsAdmin()}, nil
		},
		Log:       discard,
		RateBurst: 100,
		RatePer:   time.Second,
	}
	if tweak != nil {
		tweak(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat/{name}", func(w http.ResponseWriter, r *http.Request) {
		if u := testUsers[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(account.WithUser(r.Context(), u))
		}
		if err := svc.ServeSocket(w, r, r.PathValue("name")); err != nil {
			status := http.StatusInternalServerError
			switch CodeOf(err) {
			case CodeCrossOrigin:
				status = http.StatusForbidden
			case CodeChannelNotFound:
				status = http.StatusNotFound
			}
			http.Error(w, err.Error(), status)
		}
	})
	srv := httptest.NewServer(mux)
	// Cleanups run last-in first-out: the service closes its sockets,
	// then the HTTP server stops.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { svc.Close() })
	return node{svc: svc, srv: srv}
}

// frame is any server frame.
type frame struct {
	Type     string          `json:"type"`
	History  []Message       `json:"history"`
	Me       *Me             `json:"me"`
	Settings *PublicSettings `json:"settings"`
	Message  json.RawMessage `json:"message"`
	ID       string          `json:"id"`
	UserID   int64           `json:"user_id"`
	Error    string          `json:"error"`
}

func (f frame) msg(t testing.TB) Message {
	t.Helper()
	var m Message
	if err := json.Unmarshal(f.Message, &m); err != nil {
		t.Fatalf("message frame %s: %v", f.Message, err)
	}
	return m
}

type peer struct {
	t     testing.TB
	conn  *websocket.Conn
	hello frame
}

// dial connects as user ("" = anonymous) and reads the hello.
func dial(t testing.TB, url, user string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if user != "" {
		h.Set("X-Test-User", user)
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s as %q: %v", url, user, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	p := &peer{t: t, conn: c}
	p.hello = p.next()
	if p.hello.Type != "hello" {
		t.Fatalf("first frame %+v, want hello", p.hello)
	}
	return p
}

func (p *peer) next() frame {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := p.conn.Read(ctx)
	if err != nil {
		p.t.Fatalf("read frame: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		p.t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// expect reads the next frame and checks its type.
func (p *peer) expect(typ string) frame {
	p.t.Helper()
	f := p.next()
	if f.Type != typ {
		p.t.Fatalf("got frame %+v, want type %q", f, typ)
	}
	return f
}

func (p *peer) send(text string) {
	p.t.Helper()
	b, err := json.Marshal(clientFrame{Type: "send", Text: text})
	if err != nil {
		p.t.Fatal(err)
	}
	p.raw(string(b))
}

func (p *peer) raw(s string) {
	p.t.Helper()
	b := []byte(s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.conn.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// sendOK sends text and returns the message as echoed back to the sender.
func (p *peer) sendOK(text string) Message {
	p.t.Helper()
	p.send(text)
	f := p.next()
	if f.Type != "message" {
		p.t.Fatalf("sending %q: got %+v, want the message back", text, f)
	}
	return f.msg(p.t)
}

// sendErr sends text and checks that the reply is an error with code.
func (p *peer) sendErr(text, code string) {
	p.t.Helper()
	p.send(text)
	f := p.expect("error")
	if f.Error != code {
		p.t.Fatalf("sending %q: error %q, want %q", text, f.Error, code)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func user(name string) *account.User { return testUsers[name] }

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

type tlsState = tls.ConnectionState
