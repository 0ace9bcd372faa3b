package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/testkit"
)

// needsCert reports whether a field can only be set along with a
// certificate.
func needsCert(path string) bool {
	return strings.HasPrefix(path, "rtmps.") || strings.HasPrefix(path, "http.tls_") || path == "http.redirect_listen"
}

// writeKeyPair writes a self-signed ECDSA certificate and its key as PEM
// files and returns their paths.
func writeKeyPair(t *testing.T) (cert, key string) {
	t.Helper()
	c := testkit.NewTestCert(t, 1)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestTLSSettings(t *testing.T) {
	t.Parallel()
	cert, key := writeKeyPair(t)
	cert2, key2 := writeKeyPair(t)
	tests := []struct {
		name      string
		args      []string
		wantErr   string // substring; "" = valid
		wantRTMPS string
		wantCert  string
	}{
		{"no TLS", nil, "", "off", ""},
		{"http cert turns RTMPS on", []string{"--http.tls_cert", cert, "--http.tls_key", key}, "", ":1936", cert},
		{"explicit RTMPS address", []string{"--http.tls_cert", cert, "--http.tls_key", key, "--rtmps", "127.0.0.1:4443"}, "", "127.0.0.1:4443", cert},
		{"RTMPS off with a cert", []string{"--http.tls_cert", cert, "--http.tls_key", key, "--rtmps", "off"}, "", "off", cert},
		{"own RTMPS cert", []string{"--rtmps.tls_cert", cert2, "--rtmps.tls_key", key2}, "", ":1936", cert2},
		{"RTMPS without cert", []string{"--rtmps", ":1936"}, "rtmps.listen: needs a certificate", "", ""},
		{"cert without key", []string{"--http.tls_cert", cert}, "http.tls_key: empty", "", ""},
		{"key without cert", []string{"--rtmps.tls_key", key}, "rtmps.tls_cert: empty", "", ""},
		{"mismatched pair", []string{"--http.tls_cert", cert, "--http.tls_key", key2}, "private key does not match", "", ""},
		{"missing file", []string{"--http.tls_cert", cert + ".missing", "--http.tls_key", key}, "no such file", "", ""},
		{"redirect without TLS", []string{"--http.redirect_listen", ":80"}, "http.redirect_listen: redirects to HTTPS", "", ""},
		{"ACME turns RTMPS on", []string{"--http.acme_host", "live.example.com, b.example.com"}, "", ":1936", ""},
		{"ACME and files", []string{"--http.acme_host", "live.example.com", "--http.tls_cert", cert, "--http.tls_key", key}, "not both", "", ""},
		{"ACME IP address", []string{"--http.acme_host", "192.0.2.1"}, "want public DNS names", "", ""},
		{"ACME email alone", []string{"--http.acme_email", "a@example.com"}, "only used with http.acme_host", "", ""},
		{"ACME plain directory", []string{"--http.acme_host", "live.example.com", "--http.acme_directory", "http://ca.example/dir"}, "want an https:// URL", "", ""},
		{"bad RTMPS address", []string{"--http.tls_cert", cert, "--http.tls_key", key, "--rtmps", "nope"}, "rtmps.listen", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, _, err := Load(tc.args, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.RTMPSListen(); got != tc.wantRTMPS {
				t.Errorf("RTMPSListen() = %q, want %q", got, tc.wantRTMPS)
			}
			if got, _ := cfg.RTMPSCert(); got != tc.wantCert {
				t.Errorf("RTMPSCert() = %q, want %q", got, tc.wantCert)
			}
		})
	}
}
