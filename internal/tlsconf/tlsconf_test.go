package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/testkit"
)

// keyPair is a self-signed certificate for localhost and 127.0.0.1.
type keyPair struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

func newKeyPair(t *testing.T, serial int64) keyPair {
	t.Helper()
	c := testkit.NewTestCert(t, serial)
	return keyPair{certPEM: c.CertPEM, keyPEM: c.KeyPEM, cert: c.Cert}
}

// write replaces the files and moves their modification time forward by
// step, so that a change is seen even on file systems with coarse times.
func (k keyPair) write(t *testing.T, certFile, keyFile string, step int) {
	t.Helper()
	mod := time.Now().Add(time.Duration(step) * time.Minute)
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, k.certPEM}, {keyFile, k.keyPEM}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

// logBuf records log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func files(t *testing.T) (certFile, keyFile string) {
	dir := t.TempDir()
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func serial(t *testing.T, c *Certificate) int64 {
	t.Helper()
	got, err := c.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return got.Leaf.SerialNumber.Int64()
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	certFile, keyFile := files(t)
	a, b := newKeyPair(t, 1), newKeyPair(t, 2)
	if _, err := Load(certFile, keyFile, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Load of missing files succeeded")
	}
	a.write(t, certFile, keyFile, 0)
	if err := os.WriteFile(keyFile, b.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(certFile, keyFile, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Load of a mismatched pair: err = %v, want a mismatch", err)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	certFile, keyFile := files(t)
	var logs logBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	newKeyPair(t, 1).write(t, certFile, keyFile, 0)
	c, err := Load(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, c); got != 1 {
		t.Fatalf("serial = %d, want 1", got)
	}

	// A renewal: both files replaced.
	newKeyPair(t, 2).write(t, certFile, keyFile, 1)
	if got := serial(t, c); got != 2 {
		t.Fatalf("after replacing the files: serial = %d, want 2", got)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("no reload logged:\n%s", logs.String())
	}

	// Half-written renewal (new certificate, old key): keep serving the
	// previous pair, warn once, and pick the pair up once the key follows.
	three := newKeyPair(t, 3)
	mod := time.Now().Add(2 * time.Minute)
	if err := os.WriteFile(certFile, three.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(certFile, mod, mod); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := serial(t, c); got != 2 {
			t.Fatalf("with a mismatched pair on disk: serial = %d, want the previous 2", got)
		}
	}
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("mismatched pair warned %d times, want once:\n%s", n, logs.String())
	}
	three.write(t, certFile, keyFile, 3)
	if got := serial(t, c); got != 3 {
		t.Fatalf("after the key followed: serial = %d, want 3", got)
	}

	// Files gone for a moment: keep serving.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, c); got != 3 {
		t.Fatalf("with the key missing: serial = %d, want 3", got)
	}
}

// TestHandshake serves ServerConfig on a real listener and checks what a
// verifying client sees before and after a reload, with HTTP/2 offered.
func TestHandshake(t *testing.T) {
	t.Parallel()
	certFile, keyFile := files(t)
	one, two := newKeyPair(t, 1), newKeyPair(t, 2)
	one.write(t, certFile, keyFile, 0)
	c, err := Load(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto))
	}))
	srv.TLS = ServerConfig(c)
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(one.cert)
	roots.AddCert(two.cert)
	get := func() (proto string, serial int64) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.Proto, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if proto, s := get(); proto != "HTTP/2.0" || s != 1 {
		t.Errorf("got %s with serial %d, want HTTP/2.0 with serial 1", proto, s)
	}
	two.write(t, certFile, keyFile, 1)
	if _, s := get(); s != 2 {
		t.Errorf("after renewal: serial %d, want 2", s)
	}

	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

func TestHSTS(t *testing.T) {
	t.Parallel()
	h := HSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "max-age=1")
	for _, secure := range []bool{false, true} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.TLS = nil
		if secure {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("Strict-Transport-Security")
		if want := map[bool]string{false: "", true: "max-age=1"}[secure]; got != want {
			t.Errorf("TLS %v: Strict-Transport-Security = %q, want %q", secure, got, want)
		}
	}
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, public, port, host, target, want string
	}{
		{"same host, port", "", "8443", "example.com:8080", "/c/demo?x=1", "https://example.com:8443/c/demo?x=1"},
		{"default port", "", "443", "example.com", "/", "https://example.com/"},
		{"IPv6", "", "8443", "[::1]:8080", "/a", "https://[::1]:8443/a"},
		{"public URL", "https://live.example.com/", "8443", "10.0.0.1", "/live/demo.flv", "https://live.example.com/live/demo.flv"},
		{"double slash stays a path", "", "443", "example.com", "//evil.example/x", "https://example.com//evil.example/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "http://placeholder"+tc.target, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			Redirect(tc.public, tc.port).ServeHTTP(w, r)
			if got := w.Header().Get("Location"); w.Code != http.StatusMovedPermanently || got != tc.want {
				t.Errorf("got %d %q, want 301 %q", w.Code, got, tc.want)
			}
		})
	}
}
