package webui

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"html"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/i18n"
)

const testCSRF = "csrf-token-for-tests"

// newTestServer serves the pages behind a stand-in for the accounts
// middleware: the X-Test-User header ("viewer", "admin") signs in.
func newTestServer(t *testing.T, site SiteSettings) *httptest.Server {
	t.Helper()
	u, err := New(Deps{
		Site:      func(context.Context) (SiteSettings, error) { return site, nil },
		CSRFToken: func(*http.Request) string { return testCSRF },
		Watch: WatchDeps{
			Channel: func(_ context.Context, name string) (WatchChannel, error) {
				if name == "missing" {
					return WatchChannel{}, ErrChannelNotFound
				}
				return WatchChannel{Name: name, Title: "Title of " + name}, nil
			},
			RTMPPort: 1935,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Test-User") {
		case "viewer":
			r = r.WithContext(account.WithUser(r.Context(), &account.User{ID: 2, Name: "vera", DisplayName: "Vera", Role: account.RoleViewer}))
		case "admin":
			r = r.WithContext(account.WithUser(r.Context(), &account.User{ID: 1, Name: "root", DisplayName: "Root", Role: account.RoleAdmin}))
		}
		u.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func defaultSite() SiteSettings {
	return SiteSettings{SiteName: "Test Live", SignupOpen: true, Footer: Footer{
		Operator: "Example Ltd", Copyright: "© 2026 Example", Licence: "CC BY 4.0", Registration: "京ICP备00000000号",
	}}
}

func checkHTMLHeaders(t *testing.T, r response, frameable bool) {
	t.Helper()
	want := CSP
	if frameable {
		want = CSPEmbed
	}
	if got := r.header.Get("Content-Security-Policy"); got != want {
		t.Errorf("CSP = %q, want %q", got, want)
	}
	if strings.Contains(r.header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("CSP allows unsafe-inline")
	}
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
		"Content-Type":           "text/html; charset=utf-8",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestPagesRender(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	tests := []struct {
		path, user string
		status     int
		testID     string // an element the page must contain
	}{
		{"/", "", 200, `id="directory-live"`},
		{"/", "viewer", 200, `id="tab-followed"`},
		{"/category/strategy", "", 200, `id="breadcrumbs"`},
		{"/search?q=chess", "", 200, `value="chess"`},
		{"/login", "", 200, `id="login-form"`},
		{"/signup", "", 200, `id="signup-form"`},
		{"/setup?token=abc", "", 200, `id="setup-form"`},
		{"/setup", "", 200, `id="setup-no-token"`},
		{"/account", "viewer", 200, `id="token-form"`},
		{"/admin", "admin", 200, `id="settings-form"`},
		{"/admin", "viewer", 403, `id="not-found"`},
		{"/download", "", 200, `id="download-qr"`},
		{"/c/somechannel", "", 200, `data-channel="somechannel"`},
		{"/c/missing", "", 404, `id="not-found"`},
		{"/embed/somechannel", "", 200, `data-channel="somechannel"`},
		{"/dashboard", "viewer", 200, "<main"},
		{"/no/such/page", "", 404, `id="not-found"`},
		{"/category/BAD%20SLUG", "", 404, `id="not-found"`},
	}
	for _, tc := range tests {
		t.Run(tc.user+tc.path, func(t *testing.T) {
			r := get(t, srv, tc.path, map[string]string{"X-Test-User": tc.user})
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d", r.status, tc.status)
			}
			checkHTMLHeaders(t, r, strings.HasPrefix(tc.path, "/embed/"))
			if !strings.Contains(r.body, tc.testID) {
				t.Errorf("body lacks %s", tc.testID)
			}
			if !strings.Contains(r.body, `<html lang="en">`) {
				t.Error("html lang is not en")
			}
			if strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
				t.Error("page carries inline style")
			}
			if tc.path != "/embed/somechannel" {
				for _, id := range []string{`id="edition-bar"`, `id="footer-legal"`, `id="back-to-top"`, `id="hb-i18n"`, testCSRF} {
					if !strings.Contains(r.body, id) {
						t.Errorf("layout lacks %s", id)
					}
				}
			}
			checkScripts(t, r.body)
		})
	}
}

var scriptTag = regexp.MustCompile(`(?i)<script[^>]*>`)

// checkScripts fails on any script element that is not an external module
// from /static/ or the JSON string block.
func checkScripts(t *testing.T, body string) {
	t.Helper()
	for _, tag := range scriptTag.FindAllString(body, -1) {
		if strings.HasPrefix(tag, `<script type="module" src="/static/`) || tag == `<script type="application/json" id="hb-i18n">` {
			continue
		}
		t.Errorf("unexpected script element %s", tag)
	}
}

func TestSignedOutPagesRedirectToLogin(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	for _, p := range []string{"/account", "/admin", "/dashboard"} {
		r := get(t, srv, p, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next="+url.QueryEscape(p) {
			t.Errorf("%s: %d %q", p, r.status, r.header.Get("Location"))
		}
	}
}

func TestNavByRole(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	tests := []struct {
		user      string
		want, not []string
	}{
		{"", []string{"nav-login", "nav-signup"}, []string{"nav-dashboard", "nav-admin", "nav-logout"}},
		{"viewer", []string{"nav-dashboard", "nav-logout"}, []string{"nav-admin", "nav-login"}},
		{"admin", []string{"nav-dashboard", "nav-admin", "nav-logout"}, []string{"nav-login"}},
	}
	for _, tc := range tests {
		r := get(t, srv, "/", map[string]string{"X-Test-User": tc.user})
		for _, id := range tc.want {
			if !strings.Contains(r.body, `data-testid="`+id+`"`) {
				t.Errorf("user %q: nav lacks %s", tc.user, id)
			}
		}
		for _, id := range tc.not {
			if strings.Contains(r.body, `data-testid="`+id+`"`) {
				t.Errorf("user %q: nav shows %s", tc.user, id)
			}
		}
	}
}

func TestEditionSwitch(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	for _, l := range i18n.Editions {
		t.Run(string(l), func(t *testing.T) {
			r := get(t, srv, "/lang/"+string(l)+"?next="+url.QueryEscape("/login?next=/account"), nil)
			if r.status != http.StatusSeeOther {
				t.Fatalf("status %d", r.status)
			}
			if loc := r.header.Get("Location"); loc != "/login?next=/account" {
				t.Errorf("Location = %q", loc)
			}
			checkHTMLHeaders(t, r, false)
			res := http.Response{Header: r.header}
			var c *http.Cookie
			for _, ck := range res.Cookies() {
				if ck.Name == i18n.CookieName {
					c = ck
				}
			}
			if c == nil {
				t.Fatal("no hb_lang cookie")
			}
			if c.Value != string(l) || c.Path != "/" || c.MaxAge != 365*24*3600 || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie = %+v", c)
			}
			page := get(t, srv, "/login", map[string]string{"Cookie": c.Name + "=" + c.Value, "Accept-Language": "fr"})
			if !strings.Contains(page.body, `<html lang="`+string(l)+`">`) {
				t.Errorf("html lang is not %s", l)
			}
			title := html.EscapeString(i18n.For(l).T("web.login.title"))
			if !strings.Contains(page.body, "<h1>"+title+"</h1>") {
				t.Errorf("login heading %q missing", title)
			}
			if !strings.Contains(page.body, `data-lang="`+string(l)+`" aria-current="true"`) {
				t.Error("edition bar does not mark the current edition")
			}
		})
	}
}

func TestAcceptLanguageDefault(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	tests := []struct{ accept, want string }{
		{"", "en"},
		{"de-DE", "en"},
		{"zh-CN,zh;q=0.9", "zh-Hans"},
		{"zh-TW", "zh-Hant"},
		{"fr-CA", "fr"},
	}
	for _, tc := range tests {
		r := get(t, srv, "/", map[string]string{"Accept-Language": tc.accept})
		if !strings.Contains(r.body, `<html lang="`+tc.want+`">`) {
			t.Errorf("Accept-Language %q: want lang %s", tc.accept, tc.want)
		}
		if r.header.Get("Content-Language") != tc.want {
			t.Errorf("Accept-Language %q: Content-Language %q", tc.accept, r.header.Get("Content-Language"))
		}
	}
}

func TestLangRefusesOpenRedirect(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	for _, next := range []string{
		"//evil.com", "https://evil", "/\\evil", "\\\\evil", "http:evil", "javascript:alert(1)",
		"/\t/evil.com", "", "evil.com", "///evil.com", "/%0d%0aSet-Cookie:x=1",
	} {
		t.Run(next, func(t *testing.T) {
			r := get(t, srv, "/lang/fr?next="+url.QueryEscape(next), nil)
			if r.status != http.StatusSeeOther {
				t.Fatalf("status %d", r.status)
			}
			loc := r.header.Get("Location")
			if next == "/%0d%0aSet-Cookie:x=1" {
				// Percent-escapes stay escaped: still a local path.
				if loc != next {
					t.Errorf("Location = %q", loc)
				}
				return
			}
			if loc != "/" {
				t.Errorf("next %q redirected to %q, want /", next, loc)
			}
		})
	}
	if r := get(t, srv, "/lang/de?next=/", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown edition: status %d", r.status)
	}
}

func TestQR(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	for _, p := range []string{"/", "/c/somechannel", "/search?q=x"} {
		r := get(t, srv, "/qr.png?path="+url.QueryEscape(p), nil)
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") {
			t.Errorf("%s: %d %v", p, r.status, r.header)
			continue
		}
		if _, err := png.Decode(strings.NewReader(r.body)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"//evil.com", "/\\evil", "https://evil", "evil", "/a\nb", strings.Repeat("/a", 300)} {
		if r := get(t, srv, "/qr.png?path="+url.QueryEscape(p), nil); r.status != http.StatusBadRequest {
			t.Errorf("path %q: status %d, want 400", p, r.status)
		}
	}
}

var xssCorpus = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`javascript:alert(1)`,
	`</title><script>alert(1)</script>`,
	`{{.CSRF}}`,
	"\u202egnp.exe<iframe src=//evil>",
}

var eventAttr = regexp.MustCompile(`<[a-zA-Z][^>]*\son[a-z]+\s*=`)

func TestSiteTextIsEscaped(t *testing.T) {
	baseline := newTestServer(t, defaultSite())
	for i, payload := range xssCorpus {
		srv := newTestServer(t, SiteSettings{SiteName: payload, SignupOpen: true, Footer: Footer{
			Operator: payload, Copyright: payload, Licence: payload, Registration: payload,
		}})
		for _, p := range []string{"/", "/download", "/login", "/no-such-page"} {
			r := get(t, srv, p, map[string]string{"X-Test-User": "admin"})
			if strings.Contains(r.body, payload) && strings.ContainsAny(payload, `<>"'`) {
				t.Errorf("payload %d appears unescaped on %s", i, p)
			}
			base := get(t, baseline, p, map[string]string{"X-Test-User": "admin"})
			for _, tag := range []string{"<img", "<svg", "<iframe", "<script"} {
				if got, want := strings.Count(r.body, tag), strings.Count(base.body, tag); got != want {
					t.Errorf("payload %d: %s: %d %s elements, want %d", i, p, got, tag, want)
				}
			}
			if eventAttr.MatchString(r.body) {
				t.Errorf("payload %d: %s: event handler attribute in page", i, p)
			}
			checkScripts(t, r.body)
		}
		r := get(t, srv, "/admin", map[string]string{"X-Test-User": "admin"})
		if strings.Contains(r.body, `value="`+payload) && strings.Contains(payload, `"`) {
			t.Errorf("payload %d breaks out of an admin input value", i)
		}
	}
}

func TestI18nBlockIsJSON(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	r := get(t, srv, "/", map[string]string{"Accept-Language": "zh-TW"})
	m := regexp.MustCompile(`(?s)<script type="application/json" id="hb-i18n">(.*?)</script>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no hb-i18n block")
	}
	var s map[string]string
	if err := json.Unmarshal([]byte(m[1]), &s); err != nil {
		t.Fatalf("hb-i18n is not JSON: %v", err)
	}
	if s["web.directory.ranking"] != i18n.For(i18n.TraditionalChinese).T("web.directory.ranking") {
		t.Errorf("hb-i18n lacks the directory strings: %v", s["web.directory.ranking"])
	}
	if _, ok := s["web.admin.title"]; ok {
		t.Error("hb-i18n carries another page's strings")
	}
}

func TestManifest(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	r := get(t, srv, "/manifest.webmanifest", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("%d %q", r.status, r.header.Get("Content-Type"))
	}
	var m webManifest
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "Test Live" || m.StartURL != "/" || m.Display != "standalone" || m.ThemeColor == "" || m.ShortName == "" {
		t.Errorf("manifest = %+v", m)
	}
	seen := map[string]bool{}
	for _, ic := range m.Icons {
		res := get(t, srv, ic.Src, nil)
		if res.status != 200 || res.header.Get("Content-Type") != ic.Type {
			t.Errorf("icon %s: %d %q", ic.Src, res.status, res.header.Get("Content-Type"))
			continue
		}
		seen[ic.Sizes+"/"+ic.Purpose+"/"+ic.Type] = true
		if ic.Type == "image/png" {
			cfg, err := png.DecodeConfig(strings.NewReader(res.body))
			if err != nil {
				t.Errorf("icon %s: %v", ic.Src, err)
				continue
			}
			if got := strings.Join([]string{itoa(cfg.Width), itoa(cfg.Height)}, "x"); got != ic.Sizes {
				t.Errorf("icon %s is %s, manifest says %s", ic.Src, got, ic.Sizes)
			}
		}
	}
	for _, want := range []string{"192x192/any/image/png", "512x512/any/image/png", "512x512/maskable/image/png", "any/any/image/svg+xml"} {
		if !seen[want] {
			t.Errorf("manifest lacks icon %s", want)
		}
	}
	page := get(t, srv, "/", nil)
	for _, want := range []string{`rel="manifest"`, `rel="apple-touch-icon"`, `name="theme-color"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("layout lacks %s", want)
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNum(n)) }

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestServiceWorker(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	r := get(t, srv, "/sw.js", nil)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	for k, v := range map[string]string{
		"Service-Worker-Allowed": "/",
		"Cache-Control":          "no-cache",
		"Content-Type":           "text/javascript; charset=utf-8",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if strings.Contains(r.body, "__") {
		t.Error("placeholders left in sw.js")
	}
	m := regexp.MustCompile(`const SHELL = (\[.*?\]);`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no shell list")
	}
	var shell []string
	if err := json.Unmarshal([]byte(m[1]), &shell); err != nil {
		t.Fatal(err)
	}
	for _, s := range shell {
		if !strings.HasPrefix(s, "/static/") {
			t.Errorf("shell caches %s", s)
		}
		if res := get(t, srv, s, nil); res.status != 200 {
			t.Errorf("shell file %s: %d", s, res.status)
		}
	}
	if !regexp.MustCompile(`const VERSION = "[0-9a-f]{12}";`).MatchString(r.body) {
		t.Error("cache name is not versioned")
	}
}

func TestStaticCaching(t *testing.T) {
	srv := newTestServer(t, defaultSite())
	u, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	versioned := u.assetURL("css/site.css")
	r := get(t, srv, versioned, nil)
	if r.status != 200 || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("versioned: %d %v", r.status, r.header)
	}
	r = get(t, srv, "/static/css/site.css", nil)
	if r.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned Cache-Control %q", r.header.Get("Cache-Control"))
	}
	r = get(t, srv, "/static/css/site.css", map[string]string{"If-None-Match": r.header.Get("ETag")})
	if r.status != http.StatusNotModified {
		t.Errorf("revalidation: %d", r.status)
	}
	gz := get(t, srv, versioned, map[string]string{"Accept-Encoding": "gzip"})
	if gz.header.Get("Content-Encoding") != "gzip" || gz.header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("gzip: %v", gz.header)
	} else if zr, err := gzip.NewReader(strings.NewReader(gz.body)); err != nil {
		t.Error(err)
	} else if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, u.assets["css/site.css"].body) {
		t.Errorf("gzip body does not decode to the file: %v", err)
	}
	if r := get(t, srv, "/static/../webui.go", nil); r.status == http.StatusOK {
		t.Errorf("traversal: %d", r.status)
	}
}

// The directory's first render stays light: its CSS and scripts, the
// modules they import included, total well under the watch page's budget.
func TestPageWeight(t *testing.T) {
	u, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range []string{"css/site.css", "js/app.js", "js/lib.js", "js/directory.js"} {
		a, ok := u.assets[f]
		if !ok {
			t.Fatalf("missing %s", f)
		}
		total += len(a.body)
	}
	if total > 64<<10 {
		t.Errorf("directory page loads %d bytes of CSS and JS", total)
	}
}

func TestNoInnerHTMLInScripts(t *testing.T) {
	u, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"js/app.js", "js/lib.js", "js/directory.js", "js/auth.js", "js/account.js", "js/admin.js", "sw.js"} {
		a, ok := u.assets[f]
		if !ok {
			t.Fatalf("missing %s", f)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if bytes.Contains(a.body, []byte(bad)) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/", true}, {"/c/abc", true}, {"/search?q=a%20b", true},
		{"", false}, {"//evil.com", false}, {"/\\evil", false}, {"https://evil", false},
		{"evil", false}, {"/a\\b", false}, {"/a\x00", false}, {" /a", false},
	}
	for _, tc := range tests {
		if got := LocalPath(tc.in); got != tc.want {
			t.Errorf("LocalPath(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSiteErrorFallsBack(t *testing.T) {
	u, err := New(Deps{Site: func(context.Context) (SiteSettings, error) { return SiteSettings{}, errors.New("db down") }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Huabian Live") {
		t.Errorf("%d; default site name missing", rec.Code)
	}
}

func TestCSPIsExact(t *testing.T) {
	const want = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	if CSP != want {
		t.Errorf("CSP = %q\nwant  %q", CSP, want)
	}
	if CSPEmbed != strings.TrimSuffix(want, "'none'")+"*" {
		t.Errorf("CSPEmbed = %q", CSPEmbed)
	}
}
