// Package webui serves the HTML pages: server-rendered shells in a shared
// layout, translated per edition, whose small ES modules call /api/v1.
package webui

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/i18n"
	"github.com/huabian-live/huabian/web"
)

// SiteSettings mirrors GET /api/v1/site: what the operator sets in the
// admin page and every page shows.
type SiteSettings struct {
	SiteName   string `json:"site_name"`
	SignupOpen bool   `json:"signup_open"`
	Footer     Footer `json:"footer"`
}

// Footer is the legal footer.
type Footer struct {
	Operator     string `json:"operator"`
	Copyright    string `json:"copyright"`
	Licence      string `json:"licence"`
	Registration string `json:"registration"` // e.g. an ICP filing number
}

// Deps are what the pages need from the rest of the program.
type Deps struct {
	Log *slog.Logger
	// Site returns the current site settings; nil means defaults.
	Site func(ctx context.Context) (SiteSettings, error)
	// CSRFToken returns the token scripts send as X-CSRF-Token.
	CSRFToken func(r *http.Request) string
	// PublicURL is this site's origin ("https://live.example.com") for QR
	// codes; empty means the origin of each request.
	PublicURL string
	// Watch serves the watch, embed and dashboard pages (watch.go).
	Watch WatchDeps
}

// UI serves the pages.
type UI struct {
	d      Deps
	log    *slog.Logger
	pages  map[string]*template.Template
	assets map[string]*asset
	mux    *http.ServeMux
	h      http.Handler
}

// New parses the templates and registers every page route.
func New(d Deps) (*UI, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	u := &UI{d: d, log: d.Log.With("component", "webui")}
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	if u.assets, err = loadAssets(static); err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	if err := u.parseTemplates(); err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	u.mux = http.NewServeMux()
	u.routes(u.mux)
	for _, register := range routeHooks {
		register(u, u.mux)
	}
	u.h = i18n.Middleware(u.mux)
	return u, nil
}

// routeHooks lets page files of this package add their routes (watch,
// embed and dashboard pages register themselves from an init func).
var routeHooks []func(*UI, *http.ServeMux)

// ServeHTTP serves the pages, /static/…, the PWA files and the 404 page.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.h.ServeHTTP(w, r) }

func (u *UI) parseTemplates() error {
	funcs := template.FuncMap{
		"asset": u.assetURL,
		"join":  strings.Join,
		"dict":  dict,
	}
	// The layout and the partials (files starting with "_") are shared by
	// every page.
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(web.FS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(web.FS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	u.pages = map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(web.FS, f)
		if err != nil {
			return fmt.Errorf("parse %s: %w", f, err)
		}
		u.pages[name] = t
	}
	return nil
}

// Edition is one entry of the edition bar.
type Edition struct {
	Lang    i18n.Lang
	Name    string
	URL     string
	Current bool
}

// Page is what every template receives. Page templates define "title" and
// "content", and optionally "head" (extra module scripts and styles);
// a template defining "document" replaces the whole layout (the embed
// player). Page-specific values are in Data.
type Page struct {
	Name     string
	Lang     i18n.Lang
	User     *account.User
	CSRF     string
	Site     SiteSettings
	Path     string // current path and query, for the edition bar
	Editions []Edition
	Strings  map[string]string // catalogue entries for the page's scripts
	Data     any
	lz       *i18n.Localizer
}

// T translates key for the page's edition: {{.T "web.nav.login"}}.
func (p *Page) T(key string, kv ...any) string { return p.lz.T(key, kv...) }

// SiteName is the operator's site name, or the product name.
func (p *Page) SiteName() string {
	if p.Site.SiteName != "" {
		return p.Site.SiteName
	}
	return p.lz.T("core.site_name")
}

// IsAdmin reports whether the visitor runs the site.
func (p *Page) IsAdmin() bool { return p.User.IsAdmin() }

// I18nPrefixer lets a page's Data choose which catalogue keys its scripts
// receive, beyond the defaults for its name.
type I18nPrefixer interface{ I18nPrefixes() []string }

// scriptPrefixes are the catalogue entries every page's scripts get.
var scriptPrefixes = []string{"core.", "web.error.", "web.count.", "web.duration.", "web.loading"}

// pagePrefixes adds the entries some pages need beyond "<page>." and
// "web.<page>.".
var pagePrefixes = map[string][]string{
	"directory": {"web.directory.", "web.breadcrumb", "web.search.", "web.category."},
	"login":     {"error."},
	"signup":    {"error."},
	"setup":     {"error.", "web.signup."},
	"account":   {"error."},
	"admin":     {"error."},
	"watch":     {"chat.", "channels.", "stats.", "error."},
	"embed":     {"chat."},
	"dashboard": {"channels.", "chat.", "stats.", "error."},
}

// Render writes page (templates/<page>.html inside the layout) with status
// 200 and the security headers.
func (u *UI) Render(w http.ResponseWriter, r *http.Request, page string, data any) {
	u.RenderStatus(w, r, http.StatusOK, page, data)
}

// RenderStatus is Render with another status code.
func (u *UI) RenderStatus(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := u.pages[page]
	if !ok {
		u.log.Error("unknown page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := u.newPage(r, page, data)
	root := "layout"
	if t.Lookup("document") != nil {
		root = "document"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, root, p); err != nil {
		u.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	SetSecurityHeaders(w, r, isEmbed(r.URL.Path))
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang.Tag())
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) newPage(r *http.Request, page string, data any) *Page {
	lz := i18n.FromContext(r.Context())
	p := &Page{
		Name: page,
		Lang: lz.Lang(),
		User: account.FromContext(r.Context()),
		Site: u.site(r.Context()),
		Path: r.URL.RequestURI(),
		Data: data,
		lz:   lz,
	}
	if u.d.CSRFToken != nil {
		p.CSRF = u.d.CSRFToken(r)
	}
	for _, l := range i18n.Editions {
		p.Editions = append(p.Editions, Edition{
			Lang:    l,
			Name:    l.Name(),
			URL:     "/lang/" + string(l) + "?next=" + urlQueryEscape(p.Path),
			Current: l == p.Lang,
		})
	}
	prefixes := append([]string{page + ".", "web." + page + "."}, scriptPrefixes...)
	prefixes = append(prefixes, pagePrefixes[page]...)
	if x, ok := data.(I18nPrefixer); ok {
		prefixes = append(prefixes, x.I18nPrefixes()...)
	}
	p.Strings = lz.Strings(prefixes...)
	return p
}

// site returns the site settings, falling back to defaults (and logging)
// when they cannot be read, so a database hiccup still renders pages.
func (u *UI) site(ctx context.Context) SiteSettings {
	if u.d.Site == nil {
		return SiteSettings{}
	}
	s, err := u.d.Site(ctx)
	if err != nil {
		u.log.Warn("site settings unavailable", "err", err)
		return SiteSettings{}
	}
	return s
}

// dict builds a map from alternating keys and values, for passing several
// values to a partial template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
