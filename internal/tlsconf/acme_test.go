package tlsconf

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
)

// The ACME exchange itself needs a CA on the network and is not tested
// here; these check the wiring that needs none.

func TestACMEServerConfig(t *testing.T) {
	t.Parallel()
	a := NewACME([]string{"live.example.com"}, "", "", filepath.Join(t.TempDir(), "acme"))
	if got := ServerConfig(a).NextProtos; !slices.Contains(got, "acme-tls/1") {
		t.Errorf("ACME listener NextProtos = %q, want acme-tls/1 (tls-alpn-01 challenges)", got)
	}
	if got := ServerConfig(&Certificate{}).NextProtos; len(got) != 0 {
		t.Errorf("certificate-file listener NextProtos = %q, want none", got)
	}
}

func TestACMERefusesOtherNames(t *testing.T) {
	t.Parallel()
	a := NewACME([]string{"live.example.com"}, "", "", filepath.Join(t.TempDir(), "acme"))
	for _, name := range []string{"", "other.example.com"} {
		if _, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: name}); err == nil {
			t.Errorf("GetCertificate(%q) succeeded; want a refusal before any CA is asked", name)
		}
	}
}

func TestACMEHTTPHandler(t *testing.T) {
	t.Parallel()
	a := NewACME([]string{"live.example.com"}, "", "", filepath.Join(t.TempDir(), "acme"))
	h := a.HTTPHandler(Redirect("", "443"))
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"live.example.com", "/c/demo", http.StatusMovedPermanently},
		{"other.example.com", "/.well-known/acme-challenge/token", http.StatusForbidden},
		{"live.example.com", "/.well-known/acme-challenge/unknown", http.StatusNotFound},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("GET http://%s%s: %d, want %d", tc.host, tc.path, w.Code, tc.want)
		}
	}
}
