// Package tlsconf builds the tls.Config of the HTTPS and RTMPS listeners
// from certificate files or from an ACME CA. Certificate files are re-read
// when they change, so a renewed certificate (certbot, acme.sh, a secret
// mount) is served from the next connection on, without a restart.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// Certificate is a certificate chain and private key read from two PEM
// files. Its GetCertificate checks the files' modification times and sizes
// on every TLS handshake and loads them again when either changed. A pair
// that does not load (e.g. the certificate is written before its new key)
// is not used: the previous certificate is kept and the files are tried
// again on the next handshake.
type Certificate struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   stamp // of the files cert was loaded from
	badSeen stamp // files that failed to load, logged once
}

// stamp identifies one version of the two files.
type stamp struct {
	certMod, keyMod   int64 // modification times, Unix ns
	certSize, keySize int64
}

// Load reads the certificate chain (leaf first) and key from PEM files.
func Load(certFile, keyFile string, log *slog.Logger) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, log: log}
	st, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp = cert, st
	c.log.Info("TLS certificate loaded", certAttrs(cert, certFile)...)
	return c, nil
}

// GetCertificate is for tls.Config.GetCertificate: the current
// certificate, re-read first if its files changed.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.stat()
	if err != nil || st == c.stamp {
		// Files missing for a moment (being replaced): keep serving.
		return c.cert, nil
	}
	cert, err := c.load()
	if err != nil {
		if st != c.badSeen {
			c.badSeen = st
			c.log.Warn("TLS certificate files changed but do not load; still serving the previous certificate",
				"cert", c.certFile, "key", c.keyFile, "err", err)
		}
		return c.cert, nil
	}
	c.cert, c.stamp = cert, st
	c.log.Info("TLS certificate reloaded", certAttrs(cert, c.certFile)...)
	return c.cert, nil
}

func (c *Certificate) stat() (stamp, error) {
	cf, err := os.Stat(c.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls certificate: %w", err)
	}
	kf, err := os.Stat(c.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls key: %w", err)
	}
	return stamp{certMod: cf.ModTime().UnixNano(), keyMod: kf.ModTime().UnixNano(), certSize: cf.Size(), keySize: kf.Size()}, nil
}

func (c *Certificate) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls certificate %s: %w", c.certFile, err)
		}
	}
	return &cert, nil
}

func certAttrs(cert *tls.Certificate, file string) []any {
	names := cert.Leaf.DNSNames
	for _, ip := range cert.Leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return []any{"file", file, "names", names, "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339)}
}

// Source is where a listener's certificates come from: files
// (*Certificate) or an ACME CA (*ACME).
type Source interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ServerConfig is the tls.Config of a listener serving the certificates
// of src: TLS 1.2 or newer, and the ACME tls-alpn-01 protocol when src is
// an *ACME. net/http adds "h2" and "http/1.1" to NextProtos itself
// (http.Server.ServeTLS).
func ServerConfig(src Source) *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: src.GetCertificate,
	}
	if _, ok := src.(*ACME); ok {
		c.NextProtos = []string{acme.ALPNProto}
	}
	return c
}

// HSTS adds Strict-Transport-Security with value to every response served
// over TLS that does not set its own, so browsers that once reached the
// site over HTTPS never fall back to plain HTTP (RFC 6797).
func HSTS(next http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", value)
		}
		next.ServeHTTP(w, r)
	})
}

// Redirect answers every request with a permanent redirect to the same
// path on https://: to publicURL (an https:// origin) when set, else to the
// host the client asked for on httpsPort (omitted when 443).
func Redirect(publicURL, httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := publicURL
		if target == "" {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if host == "" {
				http.Error(w, "use https", http.StatusBadRequest)
				return
			}
			if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
				host = "[" + host + "]"
			}
			target = "https://" + host
			if httpsPort != "443" && httpsPort != "" {
				target += ":" + httpsPort
			}
		}
		// RequestURI keeps the query; it is always absolute-path form here
		// except for CONNECT and OPTIONS *, which get the site root.
		uri := r.URL.RequestURI()
		if len(uri) == 0 || uri[0] != '/' {
			uri = "/"
		}
		http.Redirect(w, r, trimSlash(target)+uri, http.StatusMovedPermanently)
	})
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
