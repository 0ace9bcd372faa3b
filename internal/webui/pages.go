package webui

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/huabian-live/huabian/internal/account"
)

func (u *UI) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", u.directory)
	mux.HandleFunc("GET /category/{slug}", u.category)
	mux.HandleFunc("GET /search", u.search)
	mux.HandleFunc("GET /login", u.simple("login"))
	mux.HandleFunc("GET /signup", u.simple("signup"))
	mux.HandleFunc("GET /setup", u.setup)
	mux.HandleFunc("GET /account", u.signedIn("account"))
	mux.HandleFunc("GET /admin", u.admin)
	mux.HandleFunc("GET /download", u.simple("download"))
	mux.HandleFunc("GET /lang/{code}", u.lang)
	mux.HandleFunc("GET /qr.png", u.qr)
	mux.HandleFunc("GET /manifest.webmanifest", u.manifest)
	mux.HandleFunc("GET /sw.js", u.serviceWorker)
	mux.HandleFunc("GET /static/", u.serveStatic)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, u.assetURL("icons/icon-192.png"), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/", u.notFound)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// DirectoryData is the page data of /, /category/SLUG and /search.
type DirectoryData struct {
	Mode     string // "all", "category" or "search"
	Category string // slug
	Query    string
}

func (u *UI) directory(w http.ResponseWriter, r *http.Request) {
	u.Render(w, r, "directory", DirectoryData{Mode: "all"})
}

func (u *UI) category(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if !validSlug(slug) {
		u.notFound(w, r)
		return
	}
	u.Render(w, r, "directory", DirectoryData{Mode: "category", Category: slug})
}

func (u *UI) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	u.Render(w, r, "directory", DirectoryData{Mode: "search", Query: q})
}

func validSlug(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// FormData is the page data of /login, /signup and /setup.
type FormData struct {
	Next       string // where to go after success; always a local path
	SetupToken string
}

func (u *UI) simple(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u.Render(w, r, page, FormData{Next: SafeNext(r.URL.Query().Get("next"))})
	}
}

func (u *UI) setup(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if len(tok) > 256 {
		tok = ""
	}
	u.Render(w, r, "setup", FormData{Next: "/admin", SetupToken: tok})
}

// signedIn renders page for a signed-in visitor and sends anyone else to
// the login page, back here afterwards.
func (u *UI) signedIn(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if account.FromContext(r.Context()) == nil {
			u.toLogin(w, r)
			return
		}
		u.Render(w, r, page, nil)
	}
}

func (u *UI) toLogin(w http.ResponseWriter, r *http.Request) {
	SetSecurityHeaders(w, r, false)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

func (u *UI) admin(w http.ResponseWriter, r *http.Request) {
	usr := account.FromContext(r.Context())
	switch {
	case usr == nil:
		u.toLogin(w, r)
	case !usr.IsAdmin():
		u.RenderStatus(w, r, http.StatusForbidden, "notfound", nil)
	default:
		u.Render(w, r, "admin", nil)
	}
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	u.RenderStatus(w, r, http.StatusNotFound, "notfound", nil)
}

// SafeNext returns next when it is a path on this site, else "/". It
// refuses scheme-relative ("//host"), backslash ("/\host") and absolute
// URLs, and control characters, so redirects never leave the site.
func SafeNext(next string) string {
	if !LocalPath(next) {
		return "/"
	}
	return next
}

// LocalPath reports whether p is a path (with optional query) on this
// site: it starts with one "/" and names no other host.
func LocalPath(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, c := range p {
		if unicode.IsControl(c) || c == '\\' {
			return false
		}
	}
	pu, err := url.Parse(p)
	return err == nil && pu.Scheme == "" && pu.Host == "" && pu.User == nil && strings.HasPrefix(pu.Path, "/") &&
		!strings.HasPrefix(pu.Path, "//")
}
