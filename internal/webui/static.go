package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// asset is one embedded static file with its content hash, which versions
// its URL so browsers may cache it for a year.
type asset struct {
	body  []byte
	gz    []byte // gzip of body for text types, when smaller; else nil
	hash  string
	ctype string
}

// compressible reports whether a content type is text that gzip shrinks.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// gzipper compresses the static files at start-up with one reused writer:
// a gzip writer at BestCompression holds about a megabyte of tables, and a
// new one per file left tens of megabytes of garbage in a fresh process.
type gzipper struct {
	zw  *gzip.Writer
	buf bytes.Buffer
}

func (g *gzipper) compress(b []byte) []byte {
	g.buf.Reset()
	if g.zw == nil {
		zw, err := gzip.NewWriterLevel(&g.buf, gzip.BestCompression)
		if err != nil {
			return nil
		}
		g.zw = zw
	} else {
		g.zw.Reset(&g.buf)
	}
	if _, err := g.zw.Write(b); err != nil {
		return nil
	}
	if err := g.zw.Close(); err != nil {
		return nil
	}
	return bytes.Clone(g.buf.Bytes())
}

func loadAssets(fsys fs.FS) (map[string]*asset, error) {
	out := map[string]*asset{}
	var gz gzipper
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js", ".mjs":
			ctype = "text/javascript; charset=utf-8"
		case ".webmanifest":
			ctype = "application/manifest+json"
		case ".svg":
			ctype = "image/svg+xml"
		case ".md", ".txt", "":
			ctype = "text/plain; charset=utf-8"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a := &asset{body: body, hash: hex.EncodeToString(sum[:])[:12], ctype: ctype}
		if compressible(ctype) {
			if z := gz.compress(body); z != nil && len(z) < len(body) {
				a.gz = z
			}
		}
		out[p] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	return out, nil
}

// assetURL returns the versioned URL of a static file, e.g.
// "/static/css/site.css?v=0123abcd4567".
func (u *UI) assetURL(name string) string {
	name = strings.TrimPrefix(name, "/")
	if a, ok := u.assets[name]; ok {
		return "/static/" + name + "?v=" + a.hash
	}
	return "/static/" + name
}

// serveStatic serves /static/NAME. A URL carrying the current version is
// immutable; any other is revalidated with its ETag.
func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	a, ok := u.assets[name]
	if !ok {
		u.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, `"`+a.hash+`"`
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = a.gz, `"`+a.hash+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
