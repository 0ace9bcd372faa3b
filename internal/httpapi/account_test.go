package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/i18n"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

// acctFastHash keeps tests quick; production uses account.DefaultHashParams.
var acctFastHash = account.HashParams{Memory: 64, Time: 1, Threads: 1}

const acctPassword = "correct horse battery"

type acctEnv struct {
	t   *testing.T
	srv *httptest.Server
	svc *account.Service
}

type acctEnvOptions struct {
	accountFailures, ipFailures int
	trusted                     []netip.Prefix
}

func newAcctEnv(t *testing.T, o acctEnvOptions) *acctEnv {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st, account.Options{
		Hash: acctFastHash, AccountFailures: o.accountFailures, IPFailures: o.ipFailures, SignupsPerIP: -1,
	})
	srv := httptest.NewServer(New(Deps{
		Log:            slog.New(slog.DiscardHandler),
		Registry:       prometheus.NewRegistry(),
		ValidName:      channel.ValidateName,
		Accounts:       svc,
		TrustedProxies: o.trusted,
	}))
	t.Cleanup(srv.Close)
	return &acctEnv{t: t, srv: srv, svc: svc}
}

// acctClient is a browser: a cookie jar and the CSRF token it was last given.
type acctClient struct {
	e    *acctEnv
	http *http.Client
	csrf string
	hdr  http.Header // extra headers on every request
}

func (e *acctEnv) client() *acctClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &acctClient{e: e, http: &http.Client{Jar: jar}, hdr: http.Header{}}
	c.refresh()
	return c
}

type acctResp struct {
	status int
	header http.Header
	body   []byte
}

func (r acctResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (r acctResp) code() string {
	var m struct{ Error string }
	_ = json.Unmarshal(r.body, &m)
	return m.Error
}

func (c *acctClient) do(method, path string, body any) acctResp {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(c.e.t.Context(), method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, vs := range c.hdr {
		req.Header[k] = vs
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if strings.HasPrefix(path, "/api/") {
		spec, err := chanSpec()
		if err != nil {
			c.e.t.Fatal(err)
		}
		if _, err := spec.Validate(method, path, res.StatusCode, res.Header.Get("Content-Type"), b); err != nil {
			c.e.t.Errorf("%s %s: response does not match docs/openapi.yaml: %v", method, path, err)
		}
	}
	// Keep the token the server hands out, as the pages do.
	var m struct {
		CSRF *string `json:"csrf_token"`
	}
	if json.Unmarshal(b, &m) == nil && m.CSRF != nil && *m.CSRF != "" {
		c.csrf = *m.CSRF
	}
	return acctResp{res.StatusCode, res.Header, b}
}

func (c *acctClient) refresh() acctResp {
	c.e.t.Helper()
	r := c.do("GET", "/api/v1/session", nil)
	if r.status != 200 {
		c.e.t.Fatalf("GET /session: %d %s", r.status, r.body)
	}
	return r
}

// sessionUser returns the name GET /session reports, or "" when anonymous.
func (c *acctClient) sessionUser() string {
	c.e.t.Helper()
	u, _ := c.refresh().json(c.e.t)["user"].(map[string]any)
	if u == nil {
		return ""
	}
	return u["name"].(string)
}

func (c *acctClient) cookie() string {
	u := c.e.srv.URL + "/"
	req, _ := http.NewRequest("GET", u, nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	return ""
}

func (c *acctClient) setCookie(v string) {
	req, _ := http.NewRequest("GET", c.e.srv.URL+"/", nil)
	c.http.Jar.SetCookies(req.URL, []*http.Cookie{{Name: sessionCookie, Value: v, Path: "/"}})
}

func (c *acctClient) mustStatus(r acctResp, want int, what string) {
	c.e.t.Helper()
	if r.status != want {
		c.e.t.Fatalf("%s: status %d (%s), want %d", what, r.status, r.body, want)
	}
}

func (e *acctEnv) signup(name string) *acctClient {
	e.t.Helper()
	c := e.client()
	c.mustStatus(c.do("POST", "/api/v1/signup", map[string]string{"name": name, "password": acctPassword}), 201, "signup "+name)
	return c
}

func (c *acctClient) login(name, password string) acctResp {
	return c.do("POST", "/api/v1/login", map[string]string{"name": name, "password": password})
}

// newAdmin creates an admin through the setup link and returns its client.
func (e *acctEnv) newAdmin(name string) *acctClient {
	e.t.Helper()
	token, err := e.svc.EnsureSetupToken(e.t.Context())
	if err != nil || token == "" {
		e.t.Fatalf("EnsureSetupToken = %q, %v", token, err)
	}
	c := e.client()
	c.mustStatus(c.do("POST", "/api/v1/signup", map[string]string{"name": name, "password": acctPassword, "setup_token": token}), 201, "setup signup")
	return c
}

func TestAccountAuthPolicy(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	anon := e.client()
	viewer := e.signup("viewer1")
	admin := e.newAdmin("admin1")

	routes := []struct {
		method, path string
		body         any
		adminOnly    bool
	}{
		{"PATCH", "/api/v1/account", map[string]string{"display_name": "x"}, false},
		{"DELETE", "/api/v1/account", map[string]string{"password": acctPassword + "x"}, false},
		{"PUT", "/api/v1/account/password", map[string]string{"current_password": "x", "new_password": "yyyyyyyyyyyyyy"}, false},
		{"GET", "/api/v1/account/tokens", nil, false},
		{"POST", "/api/v1/account/tokens", map[string]string{"name": "ci"}, false},
		{"DELETE", "/api/v1/account/tokens/999", nil, false},
		{"GET", "/api/v1/admin/users", nil, true},
		{"PATCH", "/api/v1/admin/users/1", map[string]any{"disabled": false}, true},
		{"GET", "/api/v1/admin/settings", nil, true},
		{"PUT", "/api/v1/admin/settings", map[string]any{"site_name": "x", "signup_open": true, "footer": map[string]string{}}, true},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := anon.do(rt.method, rt.path, rt.body)
			if r.status != 401 || r.code() != "unauthorized" {
				t.Errorf("anonymous: %d %s, want 401 unauthorized", r.status, r.body)
			}
			if !rt.adminOnly {
				return
			}
			if r := viewer.do(rt.method, rt.path, rt.body); r.status != 403 || r.code() != "forbidden" {
				t.Errorf("viewer: %d %s, want 403 forbidden", r.status, r.body)
			}
			if r := admin.do(rt.method, rt.path, rt.body); r.status >= 400 {
				t.Errorf("admin: %d %s, want success", r.status, r.body)
			}
		})
	}
	for _, path := range []string{"/api/v1/session", "/api/v1/site"} {
		if r := anon.do("GET", path, nil); r.status != 200 {
			t.Errorf("anonymous GET %s: %d %s, want 200", path, r.status, r.body)
		}
	}
}

func TestAccountSignupValidation(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	e.signup("taken")
	c := e.client()
	tests := []struct {
		name     string
		body     any
		status   int
		wantCode string
	}{
		{"short name", map[string]string{"name": "ab", "password": acctPassword}, 400, "invalid_name"},
		{"bad characters", map[string]string{"name": "a/b.c", "password": acctPassword}, 400, "invalid_name"},
		{"long name", map[string]string{"name": strings.Repeat("a", 33), "password": acctPassword}, 400, "invalid_name"},
		{"short password", map[string]string{"name": "alice", "password": "elevenchars"}, 400, "invalid_password"},
		{"long password", map[string]string{"name": "alice", "password": strings.Repeat("p", 1025)}, 400, "invalid_password"},
		{"long display name", map[string]string{"name": "alice", "password": acctPassword, "display_name": strings.Repeat("名", 65)}, 400, "invalid_display_name"},
		{"bidi override", map[string]string{"name": "alice", "password": acctPassword, "display_name": "a\u202eb"}, 400, "invalid_display_name"},
		{"unknown field", map[string]string{"name": "alice", "password": acctPassword, "role": "admin"}, 400, "invalid_request"},
		{"not json", "name=alice", 400, "invalid_request"},
		{"trailing data", `{"name":"alice","password":"correct horse battery"} {}`, 400, "invalid_request"},
		{"taken", map[string]string{"name": "TAKEN", "password": acctPassword}, 409, "name_taken"},
		{"bad setup token", map[string]string{"name": "alice", "password": acctPassword, "setup_token": "nope"}, 403, "invalid_setup_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/v1/signup", tc.body)
			if r.status != tc.status || r.code() != tc.wantCode {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.wantCode)
			}
			if m := r.json(t); m["message"] == "" {
				t.Errorf("no message in %s", r.body)
			}
		})
	}
	// Exactly 12 characters, 1024 characters and a mixed-case name are fine.
	c.mustStatus(c.do("POST", "/api/v1/signup", map[string]string{"name": "Bob_1", "password": "twelve chars"}), 201, "12 characters")
	d := e.client()
	r := d.do("POST", "/api/v1/signup", map[string]string{"name": "carol", "password": strings.Repeat("p", 1024), "display_name": " Carol "})
	d.mustStatus(r, 201, "1024 characters")
	if u := r.json(t)["user"].(map[string]any); u["name"] != "carol" || u["display_name"] != "Carol" || u["role"] != "viewer" {
		t.Errorf("user = %v", u)
	}
}

func TestAccountSignupClosed(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	admin := e.newAdmin("root")
	admin.mustStatus(admin.do("PUT", "/api/v1/admin/settings", map[string]any{
		"site_name": "花辨", "signup_open": false, "footer": map[string]string{"registration": "ICP 1"},
	}), 200, "close signup")
	c := e.client()
	if got := c.refresh().json(t)["signup_open"]; got != false {
		t.Errorf("session signup_open = %v, want false", got)
	}
	if r := c.do("POST", "/api/v1/signup", map[string]string{"name": "late", "password": acctPassword}); r.status != 403 || r.code() != "signup_closed" {
		t.Errorf("signup while closed: %d %s", r.status, r.body)
	}
	site := c.do("GET", "/api/v1/site", nil).json(t)
	if site["site_name"] != "花辨" || site["footer"].(map[string]any)["registration"] != "ICP 1" {
		t.Errorf("site = %v", site)
	}
}

func TestAccountSetupToken(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	ctx := t.Context()
	first, err := e.svc.EnsureSetupToken(ctx)
	if err != nil || len(first) < 40 {
		t.Fatalf("EnsureSetupToken = %q, %v", first, err)
	}
	token, err := e.svc.EnsureSetupToken(ctx) // a restart replaces it
	if err != nil || token == first {
		t.Fatalf("second EnsureSetupToken = %q, %v", token, err)
	}
	// Signup closed: the setup token still works.
	if _, err := e.svc.PutSettings(ctx, account.Settings{SiteName: "x", SignupOpen: false}); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	if r := c.do("POST", "/api/v1/signup", map[string]string{"name": "first", "password": acctPassword, "setup_token": first}); r.status != 403 || r.code() != "invalid_setup_token" {
		t.Errorf("replaced token: %d %s", r.status, r.body)
	}
	r := c.do("POST", "/api/v1/signup", map[string]string{"name": "first", "password": acctPassword, "setup_token": token})
	c.mustStatus(r, 201, "setup signup")
	if role := r.json(t)["user"].(map[string]any)["role"]; role != "admin" {
		t.Errorf("role = %v, want admin", role)
	}
	d := e.client()
	if r := d.do("POST", "/api/v1/signup", map[string]string{"name": "second", "password": acctPassword, "setup_token": token}); r.status != 403 || r.code() != "invalid_setup_token" {
		t.Errorf("reused token: %d %s", r.status, r.body)
	}
	if again, err := e.svc.EnsureSetupToken(ctx); err != nil || again != "" {
		t.Errorf("EnsureSetupToken with an admin = %q, %v; want none", again, err)
	}
}

func TestAccountSessionFixationAndLogout(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	e.signup("alice")
	c := e.client()
	pre := c.cookie()
	if !account.ValidSessionID(pre) {
		t.Fatalf("pre-session cookie %q", pre)
	}
	c.mustStatus(c.login("alice", acctPassword), 200, "login")
	post := c.cookie()
	if post == pre || post == "" {
		t.Fatalf("session ID not renewed at login: %q", post)
	}
	if got := c.sessionUser(); got != "alice" {
		t.Fatalf("signed in as %q", got)
	}

	// The pre-login value is worth nothing.
	attacker := e.client()
	attacker.setCookie(pre)
	if got := attacker.sessionUser(); got != "" {
		t.Errorf("pre-login cookie signs in as %q", got)
	}

	// After logout the old cookie is dead server-side.
	c.mustStatus(c.do("POST", "/api/v1/logout", nil), 200, "logout")
	if c.cookie() == post {
		t.Error("logout kept the session cookie")
	}
	stale := e.client()
	stale.setCookie(post)
	stale.csrf = account.CSRFToken(post)
	if r := stale.do("PATCH", "/api/v1/account", map[string]string{"display_name": "x"}); r.status != 401 {
		t.Errorf("old cookie after logout: %d %s, want 401", r.status, r.body)
	}
}

func TestAccountCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		tls      bool
		wantName string
	}{
		{"plain", false, "hb_session"},
		{"tls", true, "__Host-hb_session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := accountRequest{secure: tc.tls}
			w := httptest.NewRecorder()
			setSessionCookie(w, st, account.NewSessionID(), 0)
			c := w.Result().Cookies()[0]
			if c.Name != tc.wantName || !c.HttpOnly || c.Secure != tc.tls || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("cookie = %+v", c)
			}
		})
	}
}

func TestAccountCSRF(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	c := e.signup("alice")
	patch := map[string]string{"display_name": "Alice"}
	good := c.csrf
	// A token one character off (never the good one, whatever it starts with).
	wrong := "x" + good[1:]
	if good[0] == 'x' {
		wrong = "y" + good[1:]
	}

	tests := []struct {
		name   string
		token  string
		origin string
		want   int
	}{
		{"missing token", "", "", 403},
		{"wrong token", wrong, "", 403},
		{"foreign origin", good, "https://evil.example", 403},
		{"null origin", good, "null", 403},
		{"origin prefix", good, e.srv.URL + ".evil.example", 403},
		{"same origin", good, e.srv.URL, 200},
		{"no origin", good, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.csrf = tc.token
			c.hdr = http.Header{}
			if tc.origin != "" {
				c.hdr.Set("Origin", tc.origin)
			}
			r := c.do("PATCH", "/api/v1/account", patch)
			if r.status != tc.want || (tc.want == 403 && r.code() != "csrf_failed") {
				t.Errorf("got %d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	c.csrf, c.hdr = good, http.Header{}

	// Login is protected too: no pre-session token, no login.
	anon := e.client()
	anon.csrf = ""
	if r := anon.login("alice", acctPassword); r.status != 403 || r.code() != "csrf_failed" {
		t.Errorf("login without CSRF token: %d %s", r.status, r.body)
	}
	// Without any cookie there is nothing to bind a token to.
	bare := &acctClient{e: e, http: &http.Client{}, hdr: http.Header{}, csrf: good}
	if r := bare.login("alice", acctPassword); r.status != 403 {
		t.Errorf("login without cookie: %d %s", r.status, r.body)
	}
	// Playback paths are exempt from the check.
	if r := bare.do("POST", "/live/x.flv", nil); r.status == 403 {
		t.Errorf("POST /live/x.flv refused by CSRF: %s", r.body)
	}
}

func TestAccountLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{accountFailures: 3, ipFailures: 100})
	e.signup("alice")
	c := e.client()
	for i := range 3 {
		if r := c.login("alice", "wrong password!"); r.status != 401 || r.code() != "invalid_credentials" {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	r := c.login("alice", acctPassword) // even the right password waits
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("after 3 failures: %d %s, want 429", r.status, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 15*60 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// Another account from the same address is not locked.
	e.signup("bob")
	if r := c.login("bob", acctPassword); r.status != 200 {
		t.Errorf("other account: %d %s", r.status, r.body)
	}
}

func TestAccountLoginIPLimitIgnoresSpoofedXFF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want429 bool
	}{
		{"untrusted peer", nil, true},
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAcctEnv(t, acctEnvOptions{accountFailures: 1000, ipFailures: 3, trusted: tc.trusted})
			c := e.client()
			for i := range 3 {
				c.hdr.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1))
				if r := c.login("user"+strconv.Itoa(i), "wrong password!"); r.status != 401 {
					t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
				}
			}
			c.hdr.Set("X-Forwarded-For", "198.51.100.99")
			r := c.login("someone", "wrong password!")
			if got := r.status == 429; got != tc.want429 {
				t.Errorf("4th attempt with a new X-Forwarded-For: %d %s, want 429 = %v", r.status, r.body, tc.want429)
			}
		})
	}
}

func TestAccountForwardedFor(t *testing.T) {
	t.Parallel()
	trusted := func(ip netip.Addr) bool { return netip.MustParsePrefix("10.0.0.0/8").Contains(ip) }
	peer := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, "10.0.0.1"},
		{"one client", []string{"203.0.113.7"}, "203.0.113.7"},
		{"client spoofs left", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"chain of proxies", []string{"203.0.113.7, 10.0.0.5"}, "203.0.113.7"},
		{"two headers", []string{"1.2.3.4", "203.0.113.7"}, "203.0.113.7"},
		{"garbage", []string{"not-an-ip"}, "10.0.0.1"},
		{"all trusted", []string{"10.0.0.9"}, "10.0.0.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := forwardedFor(tc.headers, peer, trusted).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAccountNoEnumeration(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	e.signup("alice")
	c := e.client()
	unknown := c.login("nobody", "wrong password!")
	wrong := c.login("alice", "wrong password!")
	if unknown.status != 401 || wrong.status != 401 || !bytes.Equal(unknown.body, wrong.body) {
		t.Errorf("unknown user %d %s; wrong password %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}
}

func TestAccountPasswordChange(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	a := e.signup("alice")
	b := e.client()
	b.mustStatus(b.login("alice", acctPassword), 200, "second login")

	newPassword := "a much better passphrase"
	if r := a.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "wrong password!", "new_password": newPassword}); r.status != 403 || r.code() != "wrong_password" {
		t.Errorf("wrong current password: %d %s", r.status, r.body)
	}
	if r := a.do("PUT", "/api/v1/account/password", map[string]string{"current_password": acctPassword, "new_password": "short"}); r.status != 400 || r.code() != "invalid_password" {
		t.Errorf("short new password: %d %s", r.status, r.body)
	}
	a.mustStatus(a.do("PUT", "/api/v1/account/password", map[string]string{"current_password": acctPassword, "new_password": newPassword}), 204, "change")
	if got := a.sessionUser(); got != "alice" {
		t.Errorf("changing session signed out: %q", got)
	}
	if got := b.sessionUser(); got != "" {
		t.Errorf("other session still signed in as %q", got)
	}
	c := e.client()
	if r := c.login("alice", acctPassword); r.status != 401 {
		t.Errorf("old password: %d", r.status)
	}
	c.mustStatus(c.login("alice", newPassword), 200, "new password")
}

func TestAccountDisabledUser(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	admin := e.newAdmin("root")
	bob := e.signup("bob")
	r := bob.do("POST", "/api/v1/account/tokens", map[string]string{"name": "script"})
	bob.mustStatus(r, 201, "create token")
	token := r.json(t)["token"].(string)
	bobID := bob.refresh().json(t)["user"].(map[string]any)["id"].(float64)
	path := "/api/v1/admin/users/" + strconv.Itoa(int(bobID))

	r = admin.do("PATCH", path, map[string]any{"disabled": true})
	admin.mustStatus(r, 200, "disable")
	if d := r.json(t)["user"].(map[string]any)["disabled"]; d != true {
		t.Errorf("disabled = %v", d)
	}
	if got := bob.sessionUser(); got != "" {
		t.Errorf("disabled user's session still works: %q", got)
	}
	tc := &acctClient{e: e, http: &http.Client{}, hdr: http.Header{"Authorization": {"Bearer " + token}}}
	if r := tc.do("GET", "/api/v1/account/tokens", nil); r.status != 401 || r.code() != "invalid_token" {
		t.Errorf("disabled user's token: %d %s", r.status, r.body)
	}
	c := e.client()
	if r := c.login("bob", acctPassword); r.status != 403 || r.code() != "account_disabled" {
		t.Errorf("disabled login: %d %s", r.status, r.body)
	}
	admin.mustStatus(admin.do("PATCH", path, map[string]any{"disabled": false}), 200, "enable")
	c.mustStatus(c.login("bob", acctPassword), 200, "login after enable")
	if r := tc.do("GET", "/api/v1/account/tokens", nil); r.status != 200 {
		t.Errorf("token after enable: %d %s", r.status, r.body)
	}
}

func TestAccountAdminUsers(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	admin := e.newAdmin("root")
	for _, n := range []string{"anna", "annie", "bert"} {
		e.signup(n)
	}
	r := admin.do("GET", "/api/v1/admin/users?q=ann", nil)
	admin.mustStatus(r, 200, "search")
	m := r.json(t)
	if users := m["users"].([]any); len(users) != 2 || m["total"] != float64(2) {
		t.Errorf("search ann = %s", r.body)
	}
	r = admin.do("GET", "/api/v1/admin/users?limit=1&offset=1", nil)
	if m := r.json(t); len(m["users"].([]any)) != 1 || m["total"] != float64(4) {
		t.Errorf("page = %s", r.body)
	}
	for _, q := range []string{"limit=0", "limit=201", "offset=-1", "limit=x"} {
		if r := admin.do("GET", "/api/v1/admin/users?"+q, nil); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
	rootID := int(admin.refresh().json(t)["user"].(map[string]any)["id"].(float64))
	self := "/api/v1/admin/users/" + strconv.Itoa(rootID)
	for _, body := range []map[string]any{{"role": "viewer"}, {"disabled": true}} {
		if r := admin.do("PATCH", self, body); r.status != 409 || r.code() != "last_admin" {
			t.Errorf("last admin %v: %d %s", body, r.status, r.body)
		}
	}
	for _, tc := range []struct {
		path string
		body any
		want int
		code string
	}{
		{"/api/v1/admin/users/9999", map[string]any{"role": "admin"}, 404, "not_found"},
		{"/api/v1/admin/users/abc", map[string]any{"role": "admin"}, 404, "not_found"},
		{self, map[string]any{"role": "king"}, 400, "invalid_role"},
		{self, map[string]any{}, 400, "invalid_request"},
	} {
		if r := admin.do("PATCH", tc.path, tc.body); r.status != tc.want || r.code() != tc.code {
			t.Errorf("PATCH %s %v: %d %s", tc.path, tc.body, r.status, r.body)
		}
	}
	// With a second admin, the first may step down.
	anna, _ := e.svc.UserByName(t.Context(), "anna")
	admin.mustStatus(admin.do("PATCH", "/api/v1/admin/users/"+strconv.Itoa(int(anna.ID)), map[string]any{"role": "admin"}), 200, "promote")
	admin.mustStatus(admin.do("PATCH", self, map[string]any{"role": "streamer"}), 200, "step down")
	if r := admin.do("GET", "/api/v1/admin/users", nil); r.status != 403 {
		t.Errorf("former admin: %d", r.status)
	}
}

func TestAccountAdminSettingsValidation(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	admin := e.newAdmin("root")
	long := strings.Repeat("x", 201)
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"empty site name", map[string]any{"site_name": " ", "signup_open": true, "footer": map[string]string{}}, "invalid_setting"},
		{"long site name", map[string]any{"site_name": strings.Repeat("n", 81), "signup_open": true, "footer": map[string]string{}}, "invalid_setting"},
		{"long footer", map[string]any{"site_name": "n", "signup_open": true, "footer": map[string]string{"licence": long}}, "invalid_setting"},
		{"missing field", map[string]any{"site_name": "n", "footer": map[string]string{}}, "invalid_request"},
		{"unknown footer field", map[string]any{"site_name": "n", "signup_open": true, "footer": map[string]string{"x": "y"}}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := admin.do("PUT", "/api/v1/admin/settings", tc.body); r.status != 400 || r.code() != tc.code {
				t.Errorf("got %d %s, want 400 %s", r.status, r.body, tc.code)
			}
		})
	}
	r := admin.do("GET", "/api/v1/admin/settings", nil)
	if m := r.json(t); m["site_name"] != account.DefaultSiteName || m["signup_open"] != true {
		t.Errorf("defaults = %s", r.body)
	}
}

func TestAccountAPITokens(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	c := e.signup("alice")
	for _, name := range []string{"", strings.Repeat("t", 65)} {
		if r := c.do("POST", "/api/v1/account/tokens", map[string]string{"name": name}); r.status != 400 || r.code() != "invalid_token_name" {
			t.Errorf("name %q: %d %s", name, r.status, r.body)
		}
	}
	r := c.do("POST", "/api/v1/account/tokens", map[string]string{"name": "ci"})
	c.mustStatus(r, 201, "create")
	m := r.json(t)
	token := m["token"].(string)
	if !strings.HasPrefix(token, "hbt_") || len(token) < 4+22 {
		t.Fatalf("token %q", token)
	}
	id := strconv.Itoa(int(m["id"].(float64)))

	// Bearer requests need no CSRF token and no cookie.
	bearer := &acctClient{e: e, http: &http.Client{}, hdr: http.Header{"Authorization": {"Bearer " + token}}}
	bearer.hdr.Set("Origin", "https://elsewhere.example")
	r = bearer.do("PATCH", "/api/v1/account", map[string]string{"display_name": "Alice A."})
	bearer.mustStatus(r, 200, "bearer patch")
	if dn := r.json(t)["user"].(map[string]any)["display_name"]; dn != "Alice A." {
		t.Errorf("display_name = %v", dn)
	}

	r = c.do("GET", "/api/v1/account/tokens", nil)
	c.mustStatus(r, 200, "list")
	if strings.Contains(string(r.body), token) || strings.Contains(string(r.body), `"token"`) {
		t.Errorf("list shows the secret: %s", r.body)
	}
	list := r.json(t)["tokens"].([]any)
	if len(list) != 1 {
		t.Fatalf("tokens = %s", r.body)
	}
	item := list[0].(map[string]any)
	if item["name"] != "ci" || item["hint"] != "…"+token[len(token)-4:] || item["last_used_at"] == nil {
		t.Errorf("token item = %v", item)
	}

	other := e.signup("mallory")
	if r := other.do("DELETE", "/api/v1/account/tokens/"+id, nil); r.status != 404 {
		t.Errorf("someone else's token: %d", r.status)
	}
	c.mustStatus(c.do("DELETE", "/api/v1/account/tokens/"+id, nil), 204, "delete")
	if r := bearer.do("GET", "/api/v1/account/tokens", nil); r.status != 401 || r.code() != "invalid_token" {
		t.Errorf("revoked token: %d %s", r.status, r.body)
	}
	wrong := &acctClient{e: e, http: &http.Client{}, hdr: http.Header{"Authorization": {"Bearer hbt_nope"}}}
	if r := wrong.do("GET", "/api/v1/session", nil); r.status != 401 {
		t.Errorf("unknown token: %d", r.status)
	}
}

func TestAccountDelete(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, acctEnvOptions{})
	c := e.signup("alice")
	c.mustStatus(c.do("POST", "/api/v1/account/tokens", map[string]string{"name": "ci"}), 201, "token")
	if r := c.do("DELETE", "/api/v1/account", map[string]string{"password": "wrong password!"}); r.status != 403 || r.code() != "wrong_password" {
		t.Errorf("wrong password: %d %s", r.status, r.body)
	}
	c.mustStatus(c.do("DELETE", "/api/v1/account", map[string]string{"password": acctPassword}), 200, "delete")
	if got := c.sessionUser(); got != "" {
		t.Errorf("still signed in as %q", got)
	}
	if r := c.login("alice", acctPassword); r.status != 401 {
		t.Errorf("login after deletion: %d", r.status)
	}
	// The name is free again.
	e.signup("alice")
}

// acctCodes are the error codes the account routes and middleware answer
// with; each needs a catalogue entry in every edition.
var acctCodes = []string{
	"invalid_request", "unauthorized", "forbidden", "csrf_failed", "invalid_token",
	"invalid_credentials", "rate_limited", "account_disabled", "signup_closed",
	"invalid_setup_token", "invalid_password", "invalid_display_name", "name_taken",
	"wrong_password", "last_admin", "invalid_role", "invalid_setting",
	"invalid_token_name", "too_many_tokens", "invalid_name", "not_found",
}

func TestAccountErrorCodesLocalised(t *testing.T) {
	t.Parallel()
	if err := i18n.Err(); err != nil {
		t.Fatalf("catalogues: %v", err)
	}
	for _, l := range i18n.Editions {
		keys := map[string]bool{}
		for _, k := range i18n.Default().Keys(l) {
			keys[k] = true
		}
		for _, code := range acctCodes {
			if !keys["error."+code] {
				t.Errorf("%s: no error.%s", l, code)
			}
		}
	}
}
