package chat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/huabian-live/huabian/internal/bus"
)

// newDemo starts one node with channel "demo".
func newDemo(t *testing.T, tweak func(*Options)) node {
	t.Helper()
	st := openStore(t, t.TempDir())
	createChannel(t, st, "demo")
	return startNode(t, st, openBus(t, bus.Options{}), tweak)
}

func TestHistoryOnJoin(t *testing.T) {
	n := newDemo(t, nil)
	bob := dial(t, n.url("demo"), "bob")
	if bob.hello.Me == nil || bob.hello.Me.Name != "bob" || !bob.hello.Me.CanWrite || bob.hello.Me.CanModerate {
		t.Fatalf("bob's hello me = %+v", bob.hello.Me)
	}
	if len(bob.hello.History) != 0 {
		t.Fatalf("history of an empty room = %+v", bob.hello.History)
	}
	texts := []string{"one", "two", "<b>three</b> & \"four\""}
	for _, s := range texts {
		bob.sendOK(s)
	}
	alice := dial(t, n.url("demo"), "alice")
	if !alice.hello.Me.CanModerate {
		t.Fatalf("owner cannot moderate: %+v", alice.hello.Me)
	}
	alice.sendOK("from the owner")
	anon := dial(t, n.url("demo"), "")
	if anon.hello.Me != nil {
		t.Fatalf("anonymous hello me = %+v, want null", anon.hello.Me)
	}
	h := anon.hello.History
	if len(h) != 4 {
		t.Fatalf("history has %d messages, want 4: %+v", len(h), h)
	}
	for i, s := range texts {
		if h[i].Text != s || h[i].User.Name != "bob" || h[i].User.DisplayName != "Bob" || h[i].User.Badge != "" {
			t.Errorf("history[%d] = %+v, want %q by bob", i, h[i], s)
		}
	}
	if h[3].User.Badge != BadgeOwner {
		t.Errorf("owner's badge = %q", h[3].User.Badge)
	}
	// The history API agrees with the hello.
	got, err := n.svc.History(t.Context(), "demo")
	if err != nil || len(got) != 4 || got[0].ID != h[0].ID {
		t.Fatalf("History = %+v, %v", got, err)
	}
}

func TestHistoryKeepsTheLast(t *testing.T) {
	n := newDemo(t, func(o *Options) { o.History = 3 })
	bob := dial(t, n.url("demo"), "bob")
	for i := range 5 {
		bob.sendOK(fmt.Sprint(i))
	}
	h := dial(t, n.url("demo"), "").hello.History
	var got []string
	for _, m := range h {
		got = append(got, m.Text)
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Fatalf("history = %v, want 2,3,4", got)
	}
}

func TestWriteRequiresLogin(t *testing.T) {
	n := newDemo(t, nil)
	anon := dial(t, n.url("demo"), "")
	anon.sendErr("hello", CodeLoginRequired)
	bob := dial(t, n.url("demo"), "bob")
	bob.sendOK("hi")
	// The anonymous reader still reads.
	if m := anon.expect("message").msg(t); m.Text != "hi" {
		t.Fatalf("anonymous reader got %+v", m)
	}
	if h := dial(t, n.url("demo"), "").hello.History; len(h) != 1 {
		t.Fatalf("history = %+v, want only bob's message", h)
	}
}

func TestTextLimits(t *testing.T) {
	n := newDemo(t, nil)
	bob := dial(t, n.url("demo"), "bob")
	tests := []struct {
		name, text, want, code string
	}{
		{name: "plain", text: "hello", want: "hello"},
		{name: "html kept as given", text: `<script>alert(1)</script>`, want: `<script>alert(1)</script>`},
		{name: "controls stripped", text: "a\x00b\x07c\nd\te\u0085f\x7f", want: "abcdef"},
		{name: "trimmed", text: "  hi  ", want: "hi"},
		{name: "empty", text: "", code: CodeMessageEmpty},
		{name: "only controls and spaces", text: " \n\t\x01 ", code: CodeMessageEmpty},
		{name: "500 characters", text: strings.Repeat("字", 500), want: strings.Repeat("字", 500)},
		{name: "501 characters", text: strings.Repeat("a", 501), code: CodeMessageTooLong},
		// 1000 code points decomposed, 500 once composed (NFC).
		{name: "NFC counted", text: strings.Repeat("e\u0301", 500), want: strings.Repeat("\u00e9", 500)},
		{name: "NFC over", text: strings.Repeat("e\u0301", 501), code: CodeMessageTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bob.t = t
			if tc.code != "" {
				bob.sendErr(tc.text, tc.code)
				return
			}
			if got := bob.sendOK(tc.text); got.Text != tc.want {
				t.Fatalf("stored %q, want %q", got.Text, tc.want)
			}
		})
	}
}

func TestBadFrames(t *testing.T) {
	n := newDemo(t, nil)
	bob := dial(t, n.url("demo"), "bob")
	for _, raw := range []string{`{"type":"shout","text":"x"}`, `{"type":"send","text":"x","extra":1}`, `not json`, `{"type":"send"} {}`} {
		bob.raw(raw)
		if f := bob.expect("error"); f.Error != CodeBadFrame {
			t.Errorf("%s: error %q, want bad_frame", raw, f.Error)
		}
	}
	// Oversized frames end the socket (read limit, close 1009).
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_ = bob.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"`+strings.Repeat("a", 8000)+`"}`))
	_, _, err := bob.conn.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("after an 8 KB frame: %v (status %d), want close 1009", err, got)
	}
}

func TestRateLimit(t *testing.T) {
	n := newDemo(t, func(o *Options) { o.RateBurst, o.RatePer = 3, time.Hour })
	bob := dial(t, n.url("demo"), "bob")
	for i := range 3 {
		bob.sendOK(fmt.Sprint(i))
	}
	bob.sendErr("one too many", CodeRateLimited)
	// The bucket is per user, not per socket.
	bob2 := dial(t, n.url("demo"), "bob")
	bob2.sendErr("from another tab", CodeRateLimited)
	carol := dial(t, n.url("demo"), "carol")
	carol.sendOK("others are not limited")
}

func TestSlowMode(t *testing.T) {
	n := newDemo(t, nil)
	if _, err := n.svc.PutSettings(t.Context(), user("alice"), "demo", Settings{SlowModeSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	bob := dial(t, n.url("demo"), "bob")
	if bob.hello.Settings == nil || bob.hello.Settings.SlowModeSeconds != 60 {
		t.Fatalf("hello settings = %+v", bob.hello.Settings)
	}
	bob.sendOK("first")
	bob.sendErr("second", CodeSlowMode)
	alice := dial(t, n.url("demo"), "alice")
	alice.sendOK("moderators are exempt")
	alice.sendOK("really")
	// Turning it off is announced and takes effect.
	if _, err := n.svc.PutSettings(t.Context(), user("alice"), "demo", Settings{}); err != nil {
		t.Fatal(err)
	}
	for {
		f := bob.next()
		if f.Type == "settings" {
			if f.Settings.SlowModeSeconds != 0 {
				t.Fatalf("settings frame %+v", f)
			}
			break
		}
	}
	bob.sendOK("second, now allowed")
}

func TestBlockedWords(t *testing.T) {
	n := newDemo(t, nil)
	got, err := n.svc.PutSettings(t.Context(), user("alice"), "demo", Settings{BlockedWords: []string{"Spam", "café", "spam"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.BlockedWords, ",") != "spam,café" {
		t.Fatalf("stored words %q", got.BlockedWords)
	}
	bob := dial(t, n.url("demo"), "bob")
	tests := []struct{ text, code string }{
		{"buy SPAM now", CodeBlockedWord},
		{"CAFE\u0301 au lait", CodeBlockedWord}, // decomposed, upper case
		{"sp am", ""},
		{"coffee", ""},
	}
	for _, tc := range tests {
		if tc.code != "" {
			bob.sendErr(tc.text, tc.code)
		} else {
			bob.sendOK(tc.text)
		}
	}
	for _, bad := range [][]string{{""}, {strings.Repeat("x", 65)}, make([]string, 201)} {
		if _, err := n.svc.PutSettings(t.Context(), user("alice"), "demo", Settings{BlockedWords: bad}); !isCode(err, CodeBadSettings) {
			t.Errorf("words of len %d: err %v, want invalid_settings", len(bad), err)
		}
	}
	if _, err := n.svc.PutSettings(t.Context(), user("alice"), "demo", Settings{SlowModeSeconds: 3601}); !isCode(err, CodeBadSettings) {
		t.Errorf("slow mode 3601: %v", err)
	}
}

func TestModerationVisibleToOthers(t *testing.T) {
	n := newDemo(t, nil)
	ctx := t.Context()
	bob := dial(t, n.url("demo"), "bob")
	carol := dial(t, n.url("demo"), "carol")
	dave := dial(t, n.url("demo"), "dave")
	m := bob.sendOK("rude")
	carol.expect("message")
	dave.expect("message")

	t.Run("delete", func(t *testing.T) {
		if err := n.svc.DeleteMessage(ctx, user("carol"), "demo", m.ID); !isCode(err, CodeForbidden) {
			t.Fatalf("non-moderator delete: %v", err)
		}
		if err := n.svc.DeleteMessage(ctx, nil, "demo", m.ID); !isCode(err, CodeLoginRequired) {
			t.Fatalf("anonymous delete: %v", err)
		}
		if err := n.svc.DeleteMessage(ctx, user("alice"), "demo", m.ID); err != nil {
			t.Fatal(err)
		}
		if f := carol.expect("delete"); f.ID != m.ID {
			t.Fatalf("delete frame %+v, want id %s", f, m.ID)
		}
		bob.expect("delete")
		dave.expect("delete")
		if err := n.svc.DeleteMessage(ctx, user("alice"), "demo", m.ID); !isCode(err, CodeMessageNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if h := dial(t, n.url("demo"), "").hello.History; len(h) != 0 {
			t.Fatalf("history after delete: %+v", h)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		bob.sendOK("again")
		carol.expect("message")
		dave.expect("message")
		b, err := n.svc.BanUser(ctx, user("alice"), "demo", "bob", 10*time.Minute)
		if err != nil || b.Until == nil {
			t.Fatalf("timeout: %+v, %v", b, err)
		}
		if f := carol.expect("purge"); f.UserID != user("bob").ID {
			t.Fatalf("purge frame %+v", f)
		}
		bob.expect("purge")
		dave.expect("purge")
		bob.sendErr("let me speak", CodeTimedOut)
		if h := dial(t, n.url("demo"), "").hello.History; len(h) != 0 {
			t.Fatalf("history after purge: %+v", h)
		}
		if me := dial(t, n.url("demo"), "bob").hello.Me; me.CanWrite {
			t.Fatalf("timed-out user's hello: %+v", me)
		}
	})
	t.Run("ban and unban", func(t *testing.T) {
		if _, err := n.svc.BanUser(ctx, user("alice"), "demo", "dave", 0); err != nil {
			t.Fatal(err)
		}
		carol.expect("purge")
		bob.expect("purge")
		dave.expect("purge")
		dave.sendErr("hey", CodeBanned)
		bans, err := n.svc.Bans(ctx, user("alice"), "demo")
		if err != nil || len(bans) != 2 {
			t.Fatalf("Bans = %+v, %v", bans, err)
		}
		if err := n.svc.Unban(ctx, user("alice"), "demo", "dave"); err != nil {
			t.Fatal(err)
		}
		if err := n.svc.Unban(ctx, user("alice"), "demo", "dave"); !isCode(err, CodeNotBanned) {
			t.Fatalf("second unban: %v", err)
		}
		dave.sendOK("thanks")
	})
	t.Run("who cannot be banned", func(t *testing.T) {
		for _, tc := range []struct{ actor, target, code string }{
			{"alice", "alice", CodeCannotBan},
			{"root", "alice", CodeCannotBan},
			{"alice", "root", CodeCannotBan},
			{"alice", "nobody", CodeUserNotFound},
			{"carol", "bob", CodeForbidden},
		} {
			if _, err := n.svc.BanUser(ctx, user(tc.actor), "demo", tc.target, 0); !isCode(err, tc.code) {
				t.Errorf("%s bans %s: %v, want %s", tc.actor, tc.target, err, tc.code)
			}
		}
		if _, err := n.svc.BanUser(ctx, user("alice"), "demo", "bob", MaxTimeout+time.Second); !isCode(err, CodeBadDuration) {
			t.Errorf("too long a timeout: %v", err)
		}
	})
}

func TestModeratorGrant(t *testing.T) {
	n := newDemo(t, nil)
	ctx := t.Context()
	bob := dial(t, n.url("demo"), "bob")
	m := bob.sendOK("hello")
	tests := []struct {
		name  string
		actor string
		grant string
		code  string
	}{
		{name: "anonymous", actor: "", grant: "carol", code: CodeLoginRequired},
		{name: "viewer", actor: "bob", grant: "carol", code: CodeForbidden},
		{name: "unknown user", actor: "alice", grant: "nobody", code: CodeUserNotFound},
		{name: "owner", actor: "alice", grant: "carol"},
		{name: "twice", actor: "alice", grant: "carol", code: CodeAlreadyGranted},
		{name: "granted moderator cannot grant", actor: "carol", grant: "dave", code: CodeForbidden},
		{name: "admin", actor: "root", grant: "dave"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.svc.Grant(ctx, user(tc.actor), "demo", tc.grant)
			if tc.code == "" && err != nil || tc.code != "" && !isCode(err, tc.code) {
				t.Fatalf("Grant: %v, want %q", err, tc.code)
			}
		})
	}
	mods, err := n.svc.Moderators(ctx, user("carol"), "demo")
	if err != nil || len(mods) != 2 || mods[0].User.Name != "carol" || mods[1].User.Name != "dave" {
		t.Fatalf("Moderators = %+v, %v", mods, err)
	}
	if _, err := n.svc.Moderators(ctx, user("bob"), "demo"); !isCode(err, CodeForbidden) {
		t.Fatalf("viewer lists moderators: %v", err)
	}
	carol := dial(t, n.url("demo"), "carol")
	if !carol.hello.Me.CanModerate {
		t.Fatalf("granted moderator's hello: %+v", carol.hello.Me)
	}
	if got := carol.sendOK("mod here"); got.User.Badge != BadgeModerator {
		t.Fatalf("moderator badge = %q", got.User.Badge)
	}
	if err := n.svc.DeleteMessage(ctx, user("carol"), "demo", m.ID); err != nil {
		t.Fatalf("granted moderator deletes: %v", err)
	}
	if err := n.svc.Revoke(ctx, user("carol"), "demo", "dave"); !isCode(err, CodeForbidden) {
		t.Fatalf("moderator revokes: %v", err)
	}
	if err := n.svc.Revoke(ctx, user("alice"), "demo", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Revoke(ctx, user("alice"), "demo", "carol"); !isCode(err, CodeNotModerator) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := n.svc.Settings(ctx, user("carol"), "demo"); !isCode(err, CodeForbidden) {
		t.Fatalf("revoked moderator reads settings: %v", err)
	}
}

func TestOriginChecked(t *testing.T) {
	n := newDemo(t, nil)
	host := strings.TrimPrefix(n.srv.URL, "http://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{origin: "", ok: true},
		{origin: "http://" + host, ok: true},
		{origin: "HTTP://" + strings.ToUpper(host), ok: true},
		{origin: "https://" + host},
		{origin: "http://evil.example"},
		{origin: "http://" + host + ".evil.example"},
		{origin: "http://127.0.0.1:1"},
		{origin: "http://localhost" + host[strings.LastIndex(host, ":"):]},
		{origin: "null"},
		{origin: "http://" + host + "/path"},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.Dial(ctx, n.url("demo"), &websocket.DialOptions{HTTPHeader: h})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.CloseNow()
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("cross-origin upgrade accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, want 403", resp)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name, host, origin, proto string
		tls, trust, want          bool
	}{
		{name: "default port", host: "example.com", origin: "http://example.com:80", want: true},
		{name: "tls", host: "example.com", origin: "https://example.com", tls: true, want: true},
		{name: "tls wrong scheme", host: "example.com", origin: "http://example.com", tls: true},
		{name: "proxy untrusted", host: "example.com", origin: "https://example.com", proto: "https"},
		{name: "proxy trusted", host: "example.com", origin: "https://example.com", proto: "https", trust: true, want: true},
		{name: "other port", host: "example.com:8080", origin: "http://example.com:8081"},
		{name: "ipv6", host: "[::1]:8080", origin: "http://[::1]:8080", want: true},
		{name: "userinfo", host: "example.com", origin: "http://x@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://"+tc.host+"/", nil)
			r.Host = tc.host
			r.Header.Set("Origin", tc.origin)
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				r.TLS = new(tlsState)
			}
			if got := SameOrigin(r, tc.trust); got != tc.want {
				t.Fatalf("SameOrigin = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnknownChannel(t *testing.T) {
	n := newDemo(t, nil)
	_, resp, err := websocket.Dial(t.Context(), n.url("nope"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial unknown channel: %v %v", resp, err)
	}
}

// TestSlowClientDropped: a client that never reads is cut when its queue
// fills, and meanwhile the others get every event. Writes have a 10-minute
// timeout here, so if fan-out waited for the stuck client the good one
// would miss the deadline.
func TestSlowClientDropped(t *testing.T) {
	n := newDemo(t, func(o *Options) { o.SendQueue = 8; o.WriteTimeout = 10 * time.Minute })
	stuck := dial(t, n.url("demo"), "")
	good := dial(t, n.url("demo"), "")
	big := `{"type":"message","message":{"text":"` + strings.Repeat("x", 60<<10) + `"}}`
	const events = 600 // 36 MB: more than loopback socket buffers hold
	for i := range events {
		if err := n.svc.o.Conn.Publish(subject("demo"), []byte(big)); err != nil {
			t.Fatal(err)
		}
		if f := good.next(); f.Type != "message" {
			t.Fatalf("event %d: %+v", i, f)
		}
		if n.svc.Stats().Dropped > 0 && i > 0 {
			break
		}
	}
	eventually(t, "the stuck client to be dropped", func() bool { return n.svc.Stats().Dropped == 1 })
	eventually(t, "one client left", func() bool { return n.svc.Stats().Clients == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := stuck.conn.Read(ctx); err != nil {
			if s := websocket.CloseStatus(err); s != -1 && s != websocket.StatusPolicyViolation {
				t.Fatalf("stuck client closed with %d", s)
			}
			break
		}
	}
	// The room carries on.
	bob := dial(t, n.url("demo"), "bob")
	bob.sendOK("still here")
	if m := good.expect("message").msg(t); m.Text != "still here" {
		t.Fatalf("good client got %+v", m)
	}
}

// TestTwoNodes: two services on one NATS cluster form one room.
func TestTwoNodes(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	createChannel(t, st, "demo")
	addr := freePort(t)
	busA := openBus(t, bus.Options{Listen: addr, Name: "a"})
	busB := openBus(t, bus.Options{URL: "nats://" + addr, Name: "b"})
	a := startNode(t, st, busA, nil)
	b := startNode(t, openStore(t, dir), busB, nil)

	bobA := dial(t, a.url("demo"), "bob")
	carolB := dial(t, b.url("demo"), "carol")
	m := bobA.sendOK("from node a")
	if got := carolB.expect("message").msg(t); got.ID != m.ID || got.Text != "from node a" {
		t.Fatalf("node b got %+v, want %+v", got, m)
	}
	carolB.sendOK("from node b")
	if got := bobA.expect("message").msg(t); got.Text != "from node b" {
		t.Fatalf("node a got %+v", got)
	}
	if err := b.svc.DeleteMessage(t.Context(), user("alice"), "demo", m.ID); err != nil {
		t.Fatal(err)
	}
	if f := bobA.expect("delete"); f.ID != m.ID {
		t.Fatalf("delete on node a: %+v", f)
	}
	if _, err := a.svc.BanUser(t.Context(), user("alice"), "demo", "carol", time.Minute); err != nil {
		t.Fatal(err)
	}
	carolB.expect("delete")
	if f := carolB.expect("purge"); f.UserID != user("carol").ID {
		t.Fatalf("purge on node b: %+v", f)
	}
	carolB.sendErr("hi", CodeTimedOut)
}

// TestOneSubscriptionPerRoom: clients share their room's subscription,
// which goes when the last one leaves.
func TestOneSubscriptionPerRoom(t *testing.T) {
	st := openStore(t, t.TempDir())
	createChannel(t, st, "demo")
	createChannel(t, st, "other")
	b := openBus(t, bus.Options{})
	n := startNode(t, st, b, nil)
	subs := func() int { return b.Conn.NumSubscriptions() }
	var peers []*peer
	for range 3 {
		peers = append(peers, dial(t, n.url("demo"), ""))
	}
	if got := subs(); got != 1 {
		t.Fatalf("%d subscriptions for one room, want 1", got)
	}
	peers = append(peers, dial(t, n.url("other"), ""))
	if got := subs(); got != 2 {
		t.Fatalf("%d subscriptions for two rooms, want 2", got)
	}
	for _, p := range peers {
		p.conn.Close(websocket.StatusNormalClosure, "")
	}
	eventually(t, "rooms to unsubscribe", func() bool { return subs() == 0 && n.svc.Stats().Rooms == 0 })
}

func TestCloseDisconnectsSockets(t *testing.T) {
	n := newDemo(t, nil)
	var peers []*peer
	for _, u := range []string{"", "bob", "carol"} {
		peers = append(peers, dial(t, n.url("demo"), u))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range peers {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _, err := p.conn.Read(ctx)
			cancel()
			// Usually the close frame (1001) arrives; a socket whose
			// handshake finished first may see the connection end.
			if s := websocket.CloseStatus(err); err == nil || errors.Is(err, context.DeadlineExceeded) ||
				s != -1 && s != websocket.StatusGoingAway {
				t.Errorf("read after Close: %v, want close 1001", err)
			}
		}
	}()
	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if st := n.svc.Stats(); st.Clients != 0 || st.Rooms != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	// New sockets are refused.
	if _, _, err := websocket.Dial(t.Context(), n.url("demo"), nil); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

// TestPingTimeout: a peer that never answers pings (it never reads, so its
// library never sends pongs) is disconnected; one that reads stays.
func TestPingTimeout(t *testing.T) {
	n := newDemo(t, func(o *Options) { o.PingInterval, o.PongTimeout = 20*time.Millisecond, 50*time.Millisecond })
	dial(t, n.url("demo"), "") // never reads again
	live := dial(t, n.url("demo"), "")
	readErr := make(chan error, 1)
	go func() {
		_, _, err := live.conn.Read(context.Background())
		readErr <- err
	}()
	eventually(t, "the silent peer to be cut", func() bool { return n.svc.Stats().Clients == 1 })
	bob := dial(t, n.url("demo"), "bob")
	bob.sendOK("still connected?")
	select {
	case err := <-readErr:
		if err != nil {
			t.Fatalf("the reading peer was cut: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reading peer got nothing")
	}
}
