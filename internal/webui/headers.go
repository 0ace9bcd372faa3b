package webui

import (
	"net/http"
	"strings"
)

// CSP is the Content-Security-Policy of every HTML page: nothing inline,
// nothing from elsewhere, and no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// CSPEmbed is CSP for the embeddable player (/embed/NAME), which any site
// may frame.
var CSPEmbed = strings.Replace(CSP, "frame-ancestors 'none'", "frame-ancestors *", 1)

// HSTS is the Strict-Transport-Security value of responses served over
// HTTPS: browsers use only HTTPS for the site for the next two years.
const HSTS = "max-age=63072000; includeSubDomains"

// SetSecurityHeaders sets the headers every HTML response carries;
// frameable allows other sites to frame the page (the embed player only).
func SetSecurityHeaders(w http.ResponseWriter, r *http.Request, frameable bool) {
	h := w.Header()
	if frameable {
		h.Set("Content-Security-Policy", CSPEmbed)
	} else {
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", HSTS)
	}
}

// isEmbed reports whether path is the embeddable player.
func isEmbed(path string) bool { return strings.HasPrefix(path, "/embed/") }
