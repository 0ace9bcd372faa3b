package tlsconf

import (
	"crypto/tls"
	"net/http"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACME obtains and renews certificates for a fixed list of host names from
// an ACME certificate authority (Let's Encrypt unless another directory is
// given), with golang.org/x/crypto/acme/autocert. The CA checks control of
// a name by connecting to it on port 443 (tls-alpn-01, answered by
// GetCertificate on the HTTPS listener) or on port 80 (http-01, answered by
// HTTPHandler on the plain-HTTP listener). Certificates and the account key
// are kept in a cache directory and renewed 30 days before they expire.
type ACME struct {
	m *autocert.Manager
}

// NewACME returns a manager for hosts that caches in cacheDir (created
// with mode 0700 when first needed). email, if set, is the account's
// contact for expiry notices; directoryURL "" means Let's Encrypt.
// Using it accepts the CA's terms of service.
func NewACME(hosts []string, email, directoryURL, cacheDir string) *ACME {
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cacheDir),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Email:      email,
	}
	if directoryURL != "" {
		m.Client = &acme.Client{DirectoryURL: directoryURL}
	}
	return &ACME{m: m}
}

// GetCertificate is for tls.Config.GetCertificate: the certificate for the
// name the client asked for (obtained on first use), or the tls-alpn-01
// challenge answer.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.m.GetCertificate(hello)
}

// HTTPHandler answers http-01 challenges on plain HTTP and passes every
// other request to fallback.
func (a *ACME) HTTPHandler(fallback http.Handler) http.Handler {
	return a.m.HTTPHandler(fallback)
}
