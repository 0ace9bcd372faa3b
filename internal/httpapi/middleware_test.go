package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

// TestAccountBehindProxy checks what a TLS-terminating reverse proxy
// changes: only a trusted peer's X-Forwarded-Proto/-Host make cookies
// __Host- and Secure and set the origin that unsafe requests must match.
func TestAccountBehindProxy(t *testing.T) {
	t.Parallel()
	st, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st, account.Options{Hash: acctFastHash})
	for _, tc := range []struct {
		name         string
		trusted      []netip.Prefix
		wantCookie   string
		wantSecure   bool
		originPasses bool
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "__Host-hb_session", true, true},
		{"untrusted peer", nil, "hb_session", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := New(Deps{
				Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), ValidName: channel.ValidateName,
				Accounts: svc, TrustedProxies: tc.trusted,
			})
			req := func(method, path, body string) *http.Request {
				r := httptest.NewRequest(method, "http://10.0.0.2:8080"+path, strings.NewReader(body))
				r.RemoteAddr = "10.0.0.1:5555"
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("X-Forwarded-Host", "live.example")
				return r
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req("GET", "/api/v1/session", ""))
			cs := rec.Result().Cookies()
			if len(cs) != 1 || cs[0].Name != tc.wantCookie || cs[0].Secure != tc.wantSecure || !cs[0].HttpOnly {
				t.Fatalf("cookies = %+v", cs)
			}
			id := cs[0].Value

			r := req("POST", "/api/v1/login", `{"name":"nobody","password":"wrong password!"}`)
			r.AddCookie(&http.Cookie{Name: tc.wantCookie, Value: id})
			r.Header.Set("X-CSRF-Token", account.CSRFToken(id))
			r.Header.Set("Origin", "https://live.example")
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			passed := rec.Code == http.StatusUnauthorized
			if passed != tc.originPasses || (!passed && rec.Code != http.StatusForbidden) {
				t.Errorf("login with Origin https://live.example: %d %s; want the origin accepted = %v", rec.Code, rec.Body, tc.originPasses)
			}
		})
	}
}
