package webui

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/account"
)

// newWatchUI serves the pages with the channels in chans; "broken" fails
// the look-up with an unexpected error.
func newWatchUI(t *testing.T, chans map[string]WatchChannel) *UI {
	t.Helper()
	u, err := New(Deps{
		CSRFToken: func(*http.Request) string { return "csrf" },
		Watch: WatchDeps{
			Channel: func(_ context.Context, name string) (WatchChannel, error) {
				if name == "broken" {
					return WatchChannel{}, errors.New("database on fire")
				}
				c, ok := chans[name]
				if !ok {
					return WatchChannel{}, ErrChannelNotFound
				}
				return c, nil
			},
			RTMPPort: 19350,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func serve(u *UI, path string, user *account.User) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://live.example"+path, nil)
	if user != nil {
		r = r.WithContext(account.WithUser(r.Context(), user))
	}
	w := httptest.NewRecorder()
	u.ServeHTTP(w, r)
	return w
}

var (
	quoted       = regexp.MustCompile(`"[^"]*"`)
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	// a tag (escaped text has no "<") with a style or event attribute
	inlineStyle = regexp.MustCompile(`(?i)<style|<[a-z][^<>]*\s(?:style|on[a-z]+)=`)
)

// checkWatchHeaders checks the security headers of an HTML page.
func checkWatchHeaders(t *testing.T, h http.Header, frameable bool) {
	t.Helper()
	want := CSP
	if frameable {
		want = CSPEmbed
	}
	if got := h.Get("Content-Security-Policy"); got != want {
		t.Errorf("CSP = %q, want %q", got, want)
	}
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
		"Content-Type":           "text/html; charset=utf-8",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// checkNoInline fails on inline scripts, inline styles and event handler
// attributes: the CSP would block them.
func checkNoInline(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inlineScript.FindAllString(body, -1) {
		if strings.Contains(tag, ` src="/static/`) && strings.Contains(tag, `type="module"`) {
			continue
		}
		if tag == `<script type="application/json" id="hb-i18n">` {
			continue
		}
		t.Errorf("inline script element %s", tag)
	}
	// Attribute values are quoted and escaped: drop them so only markup is left.
	if m := inlineStyle.FindString(quoted.ReplaceAllString(body, `""`)); m != "" {
		t.Errorf("inline style or handler %q", m)
	}
}

func TestWatchPages(t *testing.T) {
	viewer := &account.User{ID: 7, Name: "vera", DisplayName: "Vera", Role: account.RoleViewer}
	u := newWatchUI(t, map[string]WatchChannel{
		"demo": {Name: "demo", Title: "Demo stream", Description: "All about demos", OwnerName: "ann", OwnerDisplayName: "Ann",
			Live: true, LastLiveAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)},
		"quiet": {Name: "quiet"},
	})
	tests := []struct {
		name      string
		path      string
		user      *account.User
		status    int
		frameable bool
		want      []string
		notWant   []string
	}{
		{name: "watch anonymous", path: "/c/demo", status: 200, want: []string{
			`<title>Demo stream · `, `id="player"`, `<video id="video" muted autoplay playsinline`,
			`id="live-state" data-live="1"`, `id="viewer-count"`, `id="live-duration"`, `id="latency"`,
			`id="chat-log"`, `id="chat-input"`, `id="chat-send"`, `id="share-copy"`, `id="share-qr"`,
			`src="/qr.png?path=/c/demo"`, `id="embed-code"`, `&lt;iframe src=&#34;http://live.example/embed/demo&#34; width=&#34;640&#34;`,
			`<meta property="og:title" content="Demo stream">`, `<meta property="og:description" content="All about demos">`,
			`<meta property="og:url" content="http://live.example/c/demo">`, `data-last-live="2026-11-01T12:00:00Z"`,
			`id="follow-login"`, `id="chat-login"><a href="/login?next=/c/demo">`, `js/watch.js?v=`, `css/watch.css?v=`,
			`by Ann`,
		}, notWant: []string{`id="follow"`, "/static/vendor/"}},
		{name: "watch signed in", path: "/c/demo", user: viewer, status: 200,
			want: []string{`id="follow" aria-pressed="false"`, `id="chat-login" hidden`}},
		{name: "untitled channel uses its name", path: "/c/quiet", status: 200,
			want: []string{`<title>quiet · `, `id="offline">`, `id="live-state" data-live="0"`}},
		{name: "embed", path: "/embed/demo", status: 200, frameable: true,
			want:    []string{`id="player"`, `<video id="video"`, `id="latency"`, `href="http://live.example/c/demo"`, `js/watch.js?v=`, `"watch.player.play":"Play"`},
			notWant: []string{`id="chat-log"`, `site-header`, "/static/vendor/"}},
		{name: "unknown channel", path: "/c/nobody", status: 404},
		{name: "unknown embed", path: "/embed/nobody", status: 404},
		{name: "invalid name", path: "/c/Not.A.Name", status: 404},
		{name: "look-up failure", path: "/c/broken", status: 500, notWant: []string{"database on fire"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(u, tc.path, tc.user)
			body := w.Body.String()
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			checkNoInline(t, body)
			if tc.status == 200 {
				checkWatchHeaders(t, w.Header(), tc.frameable)
			}
			if tc.status != 200 {
				return
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("CSP %q", csp)
			}
			wantFA := "frame-ancestors 'none'"
			if tc.frameable {
				wantFA = "frame-ancestors *"
			}
			if !strings.Contains(csp, wantFA) {
				t.Errorf("CSP %q lacks %s", csp, wantFA)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %s", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(body, s) {
					t.Errorf("body contains %s", s)
				}
			}
		})
	}
}

// Channel titles and descriptions are written by users: every one of these
// must come out as text, never as markup.
func TestWatchEscapesChannelText(t *testing.T) {
	corpus := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`'><svg onload=alert(1)>`,
		`</title><script>alert(1)</script>`,
		`</textarea><script>alert(1)</script>`,
		`javascript:alert(1)`,
		`{{.CSRF}} ${alert(1)}`,
		"\u2028</script>\u003cscript\u003e",
	}
	for i, evil := range corpus {
		for _, page := range []string{"/c/x", "/embed/x"} {
			t.Run(page+"/"+string(rune('a'+i)), func(t *testing.T) {
				u := newWatchUI(t, map[string]WatchChannel{"x": {
					Name: "x", Title: evil, Description: evil + "\n" + evil, OwnerName: "o", OwnerDisplayName: evil,
				}})
				w := serve(u, page, nil)
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				body := w.Body.String()
				checkNoInline(t, body)
				for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "</textarea><script"} {
					if strings.Contains(body, bad) {
						t.Errorf("%q rendered unescaped", bad)
					}
				}
				// The snippet, once pasted elsewhere, must keep the title inside its attribute.
				if page == "/c/x" && !strings.Contains(body, html.EscapeString(`title="`+html.EscapeString(evil)+`"></iframe>`)) && strings.ContainsAny(evil, `"'<>&`) {
					t.Error("embed snippet title not escaped as an attribute")
				}
				if strings.Contains(evil, "<") && !strings.Contains(body, html.EscapeString("<")) {
					t.Error("no escaped text at all")
				}
			})
		}
	}
}

func TestDashboard(t *testing.T) {
	u := newWatchUI(t, nil)
	t.Run("anonymous goes to login", func(t *testing.T) {
		w := serve(u, "/dashboard", nil)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("status %d", w.Code)
		}
		if got := w.Header().Get("Location"); got != "/login?next=%2Fdashboard" {
			t.Errorf("Location %q", got)
		}
	})
	t.Run("signed in", func(t *testing.T) {
		w := serve(u, "/dashboard", &account.User{ID: 3, Name: "sam", Role: account.RoleStreamer})
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		checkWatchHeaders(t, w.Header(), false)
		checkNoInline(t, body)
		for _, s := range []string{
			`id="create-channel-form"`, `id="key-reveal"`, `id="key-value"`, `id="health-chart" data-points="0"`,
			`id="viewers-chart"`, `id="channel-edit-form"`, `data-rtmp-port="19350"`, `js/dashboard.js?v=`,
			`id="mod-list"`, `id="ban-list"`, `id="chat-settings-form"`, `id="preview-video"`,
		} {
			if !strings.Contains(body, s) {
				t.Errorf("body lacks %s", s)
			}
		}
	})
}
