package llhls

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Complete parts are served from the shared cache: the same bytes for every
// request, with a Content-Length, gohlslib's headers, and at most
// maxCachedParts kept per muxer.
func TestPartsServedFromCache(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	e.startPublish("demo", 2, 0, nil)
	mv := e.mustGet("/live/demo/index.m3u8")
	m := mediaURIRe.FindStringSubmatch(mv.body)
	if m == nil {
		t.Fatalf("no media playlist URI in:\n%s", mv.body)
	}
	mediaURI := "/live/demo/" + m[1]

	// Wait until the playlist lists more parts than the cache keeps.
	var pl = parseMedia(t, e.mustGet(mediaURI).body)
	waitFor(t, 20*time.Second, "enough parts", func() bool {
		pl = parseMedia(t, e.mustGet(mediaURI).body)
		n := len(pl.Parts)
		for _, s := range pl.Segments {
			n += len(s.Parts)
		}
		return n > maxCachedParts+2
	})
	var uris []string
	for _, s := range pl.Segments {
		for _, p := range s.Parts {
			uris = append(uris, p.URI)
		}
	}
	for _, p := range pl.Parts {
		uris = append(uris, p.URI)
	}
	for _, uri := range uris {
		a := e.mustGet("/live/demo/" + uri)
		b := e.mustGet("/live/demo/" + uri)
		if a.body != b.body || len(a.body) == 0 {
			t.Fatalf("%s: two fetches differ (%d vs %d bytes)", uri, len(a.body), len(b.body))
		}
		if cl := a.header.Get("Content-Length"); cl != strconv.Itoa(len(a.body)) {
			t.Errorf("%s: Content-Length %q for %d bytes", uri, cl, len(a.body))
		}
		if ct := a.header.Get("Content-Type"); ct != "video/mp4" {
			t.Errorf("%s: Content-Type %q", uri, ct)
		}
		if a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header", uri)
		}
	}
	if r := e.do(http.MethodHead, "/live/demo/"+uris[len(uris)-1]); r.status != http.StatusOK || r.body != "" {
		t.Errorf("HEAD part: %d, %d bytes", r.status, len(r.body))
	}

	e.srv.mu.Lock()
	c := e.srv.sessions["demo"]
	e.srv.mu.Unlock()
	in, _ := c.current()
	in.partCache.mu.Lock()
	n := len(in.partCache.parts)
	in.partCache.mu.Unlock()
	if n == 0 || n > maxCachedParts {
		t.Errorf("part cache holds %d entries after %d parts; want 1..%d", n, len(uris), maxCachedParts)
	}
}
