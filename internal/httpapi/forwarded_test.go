package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestNormalizeForwarded(t *testing.T) {
	mk := func() *http.Request {
		r := httptest.NewRequest("GET", "http://site.example/c/demo", nil)
		r.RemoteAddr = "192.0.2.9:4000"
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "live.example")
		return r
	}
	// From an untrusted peer the headers are dropped and nothing else
	// changes.
	orig := mk()
	got := normalizeForwarded(orig, false, netip.MustParseAddr("192.0.2.9"), "site.example")
	for _, h := range forwardedHeaders {
		if got.Header.Get(h) != "" {
			t.Errorf("untrusted peer: %s kept", h)
		}
	}
	if got.RemoteAddr != "192.0.2.9:4000" || got.Host != "site.example" {
		t.Errorf("untrusted peer: RemoteAddr %q Host %q changed", got.RemoteAddr, got.Host)
	}
	if orig.Header.Get("X-Forwarded-Proto") == "" {
		t.Error("the original request was modified")
	}
	// From a trusted proxy the request takes the client's address and host.
	got = normalizeForwarded(mk(), true, netip.MustParseAddr("203.0.113.7"), "live.example")
	if got.RemoteAddr != "203.0.113.7:0" || got.Host != "live.example" || got.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("trusted proxy: RemoteAddr %q Host %q proto %q", got.RemoteAddr, got.Host, got.Header.Get("X-Forwarded-Proto"))
	}
}
