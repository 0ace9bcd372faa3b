package llhls

import (
	"bytes"
	"net/http"
	"sync"
)

// maxCachedParts bounds the complete parts kept per muxer instance. Viewers
// at the live edge all ask for the newest one or two; a few more cover
// players that start a little behind. At 2.5 Mbit/s a part of 200 ms is
// about 70 KB.
const maxCachedParts = 8

// partCache holds complete parts as rendered once by gohlslib, so that the
// viewers released by one new part share one copy of its bytes. Serving
// from it also writes each response with a Content-Length from a shallow
// stack: forwarded through gohlslib, the first write of a part (and with it
// net/http's header writer) ran deep enough to grow every handler
// goroutine's stack past 8 KiB, and those stacks stayed that size while
// the connection waited for its next blocking request.
type partCache struct {
	mu    sync.Mutex
	parts map[string]*cachedPart
}

// cachedPart is one complete part; done is closed once header and body are
// set (ok false if gohlslib did not serve it).
type cachedPart struct {
	id     int64
	done   chan struct{}
	ok     bool
	header http.Header
	body   []byte
}

// servePart answers a GET or HEAD of the complete part file (numbered id)
// of in, rendering it through gohlslib on first use. It reports whether it
// served the part; if not, nothing was written.
func (in *instance) servePart(w http.ResponseWriter, file string, id int64) bool {
	c := in.partCached(file, id)
	if !c.ok {
		return false
	}
	writeCached(w, c.header, c.body)
	return true
}

// partCached returns the cache entry of file, rendering it if it is new.
// Concurrent first requests wait for the one rendering: that is an
// in-memory copy of a part that already exists, so the wait is short.
func (in *instance) partCached(file string, id int64) *cachedPart {
	p := &in.partCache
	p.mu.Lock()
	if c, ok := p.parts[file]; ok {
		p.mu.Unlock()
		<-c.done
		return c
	}
	c := &cachedPart{id: id, done: make(chan struct{})}
	if p.parts == nil {
		p.parts = map[string]*cachedPart{}
	}
	if len(p.parts) >= maxCachedParts {
		p.evictOldestLocked()
	}
	p.parts[file] = c
	p.mu.Unlock()

	defer close(c.done)
	r, err := http.NewRequest(http.MethodGet, "/"+file, nil)
	if err != nil {
		return c
	}
	mw := &memWriter{h: http.Header{}}
	in.m.Handle(mw, r)
	if (mw.code != 0 && mw.code != http.StatusOK) || mw.buf.Len() == 0 {
		return c
	}
	c.header, c.body, c.ok = mw.h, bytes.Clone(mw.buf.Bytes()), true
	return c
}

// evictOldestLocked drops the entry with the lowest part number.
func (p *partCache) evictOldestLocked() {
	var oldest string
	var min int64 = -1
	for f, c := range p.parts {
		if min < 0 || c.id < min {
			oldest, min = f, c.id
		}
	}
	delete(p.parts, oldest)
}

// writeCached writes a cached response. It is kept small and called close
// to ServeHTTP so that net/http's header writing runs on a shallow stack.
func writeCached(w http.ResponseWriter, header http.Header, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
