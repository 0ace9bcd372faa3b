package webui

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/i18n"
	"github.com/huabian-live/huabian/web"
)

var (
	pageAsset    = regexp.MustCompile(`(?:<script type="module" src|<link rel="stylesheet" href)="/static/([^"?]+)`)
	staticImport = regexp.MustCompile(`(?m)^import\s(?:[^;]*?from\s+)?['"]\./([a-z0-9_-]+\.js)['"]`)
)

// initialAssets returns the static files a page loads before any script
// runs code: its stylesheets and modules, and the modules they import.
func initialAssets(t *testing.T, u *UI, body string) []string {
	t.Helper()
	var out []string
	var add func(name string)
	add = func(name string) {
		if slices.Contains(out, name) {
			return
		}
		a, ok := u.assets[name]
		if !ok {
			t.Fatalf("page loads missing asset %s", name)
		}
		out = append(out, name)
		if strings.HasSuffix(name, ".js") {
			for _, m := range staticImport.FindAllStringSubmatch(string(a.body), -1) {
				add(path.Join(path.Dir(name), m[1]))
			}
		}
	}
	for _, m := range pageAsset.FindAllStringSubmatch(body, -1) {
		add(m[1])
	}
	return out
}

// The watch page stays light: the players (hundreds of KiB) are fetched by
// player.js only when a path needs them.
func TestWatchPageWeight(t *testing.T) {
	u := newWatchUI(t, map[string]WatchChannel{"demo": {Name: "demo", Title: "Demo"}})
	const budget = 400 << 10
	for _, tc := range []struct {
		path string
		user *account.User
		must []string
	}{
		{"/c/demo", nil, []string{"js/watch.js", "js/player.js", "js/chat.js", "js/share.js", "css/watch.css"}},
		{"/embed/demo", nil, []string{"js/watch.js", "js/player.js", "css/watch.css"}},
		{"/dashboard", &account.User{ID: 1, Name: "sam"}, []string{"js/dashboard.js", "js/chart.js", "js/player.js"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := serve(u, tc.path, tc.user)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			files := initialAssets(t, u, w.Body.String())
			total := 0
			for _, f := range files {
				if strings.HasPrefix(f, "vendor/") {
					t.Errorf("%s loaded on first render", f)
				}
				total += len(u.assets[f].body)
			}
			for _, f := range tc.must {
				if !slices.Contains(files, f) {
					t.Errorf("%s not loaded (loaded: %v)", f, files)
				}
			}
			if total > budget {
				t.Errorf("%s loads %d bytes of JS and CSS, budget %d", tc.path, total, budget)
			}
			t.Logf("%s: %d bytes in %v", tc.path, total, files)
		})
	}
	// The players are referenced from player.js alone, and are there.
	for _, f := range []string{"vendor/hls.js/hls.light.min.js", "vendor/mpegts.js/mpegts.js", "vendor/hls.js/LICENSE", "vendor/mpegts.js/LICENSE"} {
		if _, ok := u.assets[f]; !ok {
			t.Errorf("missing %s", f)
		}
		for name, a := range u.assets {
			if strings.HasSuffix(name, ".js") && name != "js/player.js" && !strings.HasPrefix(name, "vendor/") &&
				bytes.Contains(a.body, []byte("vendor/")) {
				t.Errorf("%s refers to the vendored players", name)
			}
		}
		if strings.HasSuffix(f, ".js") && !bytes.Contains(u.assets["js/player.js"].body, []byte("/static/"+f)) {
			t.Errorf("player.js does not load %s", f)
		}
	}
}

// User text reaches the DOM through textContent only.
func TestWatchScriptsAvoidHTMLSinks(t *testing.T) {
	u := newWatchUI(t, nil)
	for _, f := range []string{"js/player.js", "js/watch.js", "js/chat.js", "js/share.js", "js/chart.js", "js/dashboard.js"} {
		a, ok := u.assets[f]
		if !ok {
			t.Fatalf("missing %s", f)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "//cdn", "https://"} {
			if bytes.Contains(a.body, []byte(bad)) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}

var (
	jsKey   = regexp.MustCompile(`\bt\(\s*'(watch\.[a-z0-9_.]+[a-z0-9_])'`)
	tmplKey = regexp.MustCompile(`\.T "(watch\.[a-z0-9_.]+)"`)
)

// Every string the watch pages show exists in every edition, and every
// edition has exactly the English keys.
func TestWatchCatalogues(t *testing.T) {
	b := i18n.Default()
	en := b.Keys(i18n.English)
	var used []string
	for _, f := range []string{"templates/watch.html", "templates/embed.html", "templates/_player.html", "templates/dashboard.html",
		"static/js/watch.js", "static/js/chat.js", "static/js/share.js", "static/js/dashboard.js", "static/js/player.js"} {
		src, err := fs.ReadFile(web.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{jsKey, tmplKey} {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				used = append(used, m[1])
			}
		}
	}
	// Keys built from values at run time.
	for _, s := range []string{"loading", "playing", "buffering", "reconnecting", "offline", "unsupported"} {
		used = append(used, "watch.player.state."+s)
	}
	for _, s := range []string{"owner", "moderator", "admin"} {
		used = append(used, "watch.chat.badge."+s)
	}
	for _, s := range []string{"delete", "timeout", "ban"} {
		used = append(used, "watch.chat."+s, "watch.chat."+s+"_label")
	}
	used = append(used, "watch.followers.one", "watch.followers.other")
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use; the scan is broken", len(used))
	}
	for _, k := range used {
		if !slices.Contains(en, k) {
			t.Errorf("key %s is used but not in the English catalogue", k)
		}
	}
	for _, l := range i18n.Editions[1:] {
		for _, k := range en {
			if strings.HasPrefix(k, "watch.") && !slices.Contains(b.Keys(l), k) {
				t.Errorf("%s lacks %s", l, k)
			}
		}
	}
	for _, l := range i18n.Editions {
		raw, err := os.ReadFile(filepath.Join("..", "i18n", "locales", string(l), "watch.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s/watch.json: %v", l, err)
		}
		for k, v := range m {
			if !strings.HasPrefix(k, "watch.") || strings.TrimSpace(v) == "" {
				t.Errorf("%s/watch.json: bad entry %q = %q", l, k, v)
			}
		}
	}
}
