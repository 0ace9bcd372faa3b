package webui

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/huabian-live/huabian/internal/i18n"
)

// shellAssets are the files the service worker keeps for offline start:
// the layout's styles and scripts, the icons and the offline page. Never
// channel pages, /live/, /api/ or /media/.
var shellAssets = []string{
	"css/site.css",
	"js/app.js",
	"js/lib.js",
	"icons/icon.svg",
	"icons/icon-192.png",
	"icons/icon-512.png",
	"offline.html",
}

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose,omitempty"`
}

type webManifest struct {
	Name            string         `json:"name"`
	ShortName       string         `json:"short_name"`
	Lang            string         `json:"lang"`
	StartURL        string         `json:"start_url"`
	Scope           string         `json:"scope"`
	Display         string         `json:"display"`
	BackgroundColor string         `json:"background_color"`
	ThemeColor      string         `json:"theme_color"`
	Icons           []manifestIcon `json:"icons"`
}

// ThemeColor is the browser chrome colour of the app.
const ThemeColor = "#c2185b"

func (u *UI) manifest(w http.ResponseWriter, r *http.Request) {
	lz := i18n.FromContext(r.Context())
	name := u.site(r.Context()).SiteName
	if name == "" {
		name = lz.T("core.site_name")
	}
	short := name
	if r := []rune(short); len(r) > 12 {
		short = string(r[:12])
	}
	m := webManifest{
		Name: name, ShortName: short, Lang: lz.Lang().Tag(),
		StartURL: "/", Scope: "/", Display: "standalone",
		BackgroundColor: "#ffffff", ThemeColor: ThemeColor,
		Icons: []manifestIcon{
			{Src: u.assetURL("icons/icon-192.png"), Sizes: "192x192", Type: "image/png", Purpose: "any"},
			{Src: u.assetURL("icons/icon-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "any"},
			{Src: u.assetURL("icons/maskable-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "maskable"},
			{Src: u.assetURL("icons/icon.svg"), Sizes: "any", Type: "image/svg+xml", Purpose: "any"},
		},
	}
	h := w.Header()
	h.Set("Content-Type", "application/manifest+json")
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(m)
}

// serviceWorker serves /sw.js from the root so it controls every page. Its
// cache name carries a hash of the shell files, so a new release installs
// a new cache and removes the old one.
func (u *UI) serviceWorker(w http.ResponseWriter, r *http.Request) {
	a, ok := u.assets["sw.js"]
	if !ok {
		u.notFound(w, r)
		return
	}
	urls := make([]string, 0, len(shellAssets))
	sum := sha256.New()
	for _, name := range shellAssets {
		urls = append(urls, u.assetURL(name))
		if strings.HasSuffix(name, ".js") {
			// ES modules import each other by plain relative URLs
			// (./lib.js): keep those too, so an offline start finds
			// them. The versioned URLs above change the worker's version
			// whenever a file does, so both are refreshed together.
			urls = append(urls, "/static/"+name)
		}
	}
	sort.Strings(urls)
	sum.Write([]byte(strings.Join(urls, "\n")))
	sum.Write([]byte(a.hash))
	list, _ := json.Marshal(urls)
	offline, _ := json.Marshal(u.assetURL("offline.html"))
	body := strings.NewReplacer(
		`"__VERSION__"`, `"`+hex.EncodeToString(sum.Sum(nil))[:12]+`"`,
		`"__SHELL__"`, string(list),
		`"__OFFLINE__"`, string(offline),
	).Replace(string(a.body))
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Service-Worker-Allowed", "/")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(body))
}
