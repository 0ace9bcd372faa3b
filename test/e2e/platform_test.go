package e2e

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPlatform walks the platform as people use it, in real headless
// chromium with real ffmpeg: the first admin signs up through the setup
// link, creates a channel, reveals its key and goes live; a second person
// signs up and watches; they chat; the owner deletes a message; the page is
// switched through the four editions; the dashboard's health chart moves;
// the app installs (manifest + service worker); a phone-sized viewport has
// no horizontal scroll. Screenshots for the README are saved on the way.
func TestBrowserPlatform(t *testing.T) {
	requireTools(t)
	b := startBrowser(t)
	s := startServer(t)

	token := setupToken(t, s)
	const password = "correct horse battery staple"

	// The first admin, through the one-time setup link.
	alice := b.newPerson(t, "alice")
	alice.open(s, "/setup?token="+token)
	alice.fill("#signup-name", "alice")
	alice.fill("#signup-password", password)
	alice.click("#setup-form button[type=submit]")
	alice.waitFor("signed in as admin", `!!document.querySelector('[data-testid=nav-admin]')`, 15*time.Second)

	// A channel from the dashboard, and its key behind the password.
	alice.open(s, "/dashboard")
	alice.fill("#create-name", "demo")
	alice.fill("#create-title", "Huabian demo stream")
	alice.click("#create-channel-form button[type=submit]")
	alice.waitFor("the channel panel", `(() => { const p = document.querySelector('#channel-panel'); return p && !p.hidden && p.offsetParent !== null })()`, 15*time.Second)
	alice.fill("#key-password", password)
	alice.click("#key-reveal")
	alice.waitFor("the stream key", `document.querySelector('#key-value').value.startsWith('sk_')`, 15*time.Second)
	key := eval[string](alice, `document.querySelector('#key-value').value`)
	// The OBS settings also give the SRT and WHIP ways in.
	srtURL := eval[string](alice, `document.querySelector('#obs-srt').value`)
	whipURL := eval[string](alice, `document.querySelector('#obs-whip').value`)
	if want := "srt://127.0.0.1:" + s.srtAddr[strings.LastIndexByte(s.srtAddr, ':')+1:] + "?streamid=publish:" + key; srtURL != want {
		t.Errorf("dashboard SRT URL %q, want %q", srtURL, want)
	}
	if want := "http://" + s.httpAddr + "/whip"; whipURL != want {
		t.Errorf("dashboard WHIP URL %q, want %q", whipURL, want)
	}

	pub := startPublisher(t, "rtmp://"+s.rtmpAddr+"/live/"+key)
	if !poll(20*time.Second, 200*time.Millisecond, func() bool {
		code, body, err := s.get("/api/v1/channels/demo")
		return err == nil && code == 200 && regexp.MustCompile(`"live":\s*true`).Match(body)
	}) {
		t.Fatalf("channel not live 20 s after ffmpeg started; ffmpeg:\n%s", lastLines(pub.stderr.String(), 20))
	}

	// A second person signs up and watches.
	bob := b.newPerson(t, "bob")
	bob.open(s, "/signup")
	bob.fill("#signup-name", "bob")
	bob.fill("#signup-password", password)
	bob.click("#signup-form button[type=submit]")
	bob.waitFor("signed in", `!!document.querySelector('[data-testid=nav-logout], #logout-button')`, 15*time.Second)
	bob.open(s, "/c/demo")
	alice.open(s, "/c/demo")
	for _, p := range []*person{bob, alice} {
		p.waitFor("video playing at 1280 px", `(() => { const v = document.querySelector('#player video');
			return v && !v.error && v.videoWidth === 1280 && v.currentTime > 1 })()`, 30*time.Second)
		t0 := eval[float64](p, `document.querySelector('#player video').currentTime`)
		p.waitFor("currentTime advancing", `document.querySelector('#player video').currentTime > `+strconv.FormatFloat(t0+1, 'f', 3, 64), 15*time.Second)
		method := eval[string](p, `(document.querySelector('#player-method') || {}).textContent || ''`)
		t.Logf("%s: playing %s, videoWidth 1280, currentTime %.1f s", p.name, method, t0)
	}

	// Chat both ways; each message is timed from the send click to its
	// appearance in the other person's page (one browser, one clock).
	for _, p := range []*person{alice, bob} {
		p.waitFor("chat ready", `(() => { const i = document.querySelector('#chat-input'); return i && !i.disabled })()`, 15*time.Second)
		eval[bool](p, `(() => { window.__seen = {}; new MutationObserver(() => {
			for (const li of document.querySelectorAll('#chat-log li')) {
				const t = li.textContent; for (const k of ['hello from bob', 'hi bob']) if (t.includes(k) && !window.__seen[k]) window.__seen[k] = Date.now();
			} }).observe(document.querySelector('#chat-log'), {childList: true, subtree: true, characterData: true}); return true })()`)
	}
	chat := func(from, to *person, text string) {
		t.Helper()
		from.fill("#chat-input", text)
		sent := eval[float64](from, `Date.now()`)
		from.click("#chat-send")
		to.waitFor("chat message "+text, `!!window.__seen[`+jsString(text)+`]`, 10*time.Second)
		from.waitFor("own message "+text, `!!window.__seen[`+jsString(text)+`]`, 10*time.Second)
		took := eval[float64](to, `window.__seen[`+jsString(text)+`]`) - sent
		t.Logf("chat %s → %s: %.0f ms", from.name, to.name, took)
		if took > 1000 {
			t.Errorf("chat message from %s took %.0f ms to appear for %s, want ≤ 1 s", from.name, took, to.name)
		}
	}
	chat(bob, alice, "hello from bob")
	chat(alice, bob, "hi bob")

	// Hostile chat text stays text: no element, no script run, in either
	// page.
	const xss = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
	bob.fill("#chat-input", xss)
	bob.click("#chat-send")
	for _, p := range []*person{alice, bob} {
		p.waitFor("hostile message shown as text", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('onerror="window.__xss=1"'))`, 10*time.Second)
		if n := eval[int](p, `document.querySelectorAll('#chat-log img, #chat-log script').length + (window.__xss ? 100 : 0)`); n != 0 {
			t.Errorf("%s: hostile chat text became markup or ran (%d)", p.name, n)
		}
	}
	alice.screenshot("watch")

	// A first visit with a cold cache: time to first contentful paint and
	// the JS+CSS the watch page loads (figures for docs/performance.md).
	carol := b.newPerson(t, "carol")
	carol.open(s, "/c/demo")
	carol.waitFor("video playing", `(() => { const v = document.querySelector('#player video'); return v && v.currentTime > 0.5 })()`, 30*time.Second)
	perf := eval[map[string]float64](carol, `(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const fcp = performance.getEntriesByName('first-contentful-paint')[0];
		let js = 0, css = 0;
		for (const r of performance.getEntriesByType('resource')) {
			if (/\.js(\?|$)/.test(r.name)) js += r.decodedBodySize;
			else if (/\.css(\?|$)/.test(r.name)) css += r.decodedBodySize;
		}
		return {fcp: fcp ? fcp.startTime : -1, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, js, css};
	})()`)
	t.Logf("watch page, cold cache: first contentful paint %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms; JS %.1f KiB + CSS %.1f KiB decoded (including the player library)",
		perf["fcp"], perf["dcl"], perf["load"], perf["js"]/1024, perf["css"]/1024)
	if perf["js"]+perf["css"] > 400*1024 {
		t.Errorf("watch page loaded %.0f KiB of JS+CSS, budget 400 KiB", (perf["js"]+perf["css"])/1024)
	}

	// The owner (a moderator of her channel) deletes Bob's message; it
	// leaves Bob's page too.
	eval[bool](alice, `(() => { for (const li of document.querySelectorAll('#chat-log li'))
		if (li.textContent.includes('hello from bob')) { li.querySelector('.chat-delete').click(); return true }
		throw new Error('no delete button on the message') })()`)
	bob.waitFor("deleted message gone", `![...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('hello from bob'))`, 10*time.Second)

	// The dashboard's health chart grows while live.
	alice.open(s, "/dashboard")
	alice.waitFor("health samples", `+(document.querySelector('#health-chart').dataset.points || 0) >= 3`, 20*time.Second)
	n0 := eval[int](alice, `+document.querySelector('#health-chart').dataset.points`)
	alice.waitFor("health chart updating", `+document.querySelector('#health-chart').dataset.points > `+strconv.Itoa(n0), 15*time.Second)
	alice.screenshot("dashboard")

	// The language editions, switched from the header.
	nav := navLabels(t)
	for _, lang := range []string{"zh-Hans", "zh-Hant", "fr", "en"} {
		alice.open(s, "/")
		alice.click(`#edition-bar a[data-lang="` + lang + `"]`)
		alice.waitFor(lang+" edition", `document.documentElement.lang === `+jsString(lang)+
			` && document.querySelector('[data-testid=nav-directory]').textContent.trim() === `+jsString(nav[lang]), 10*time.Second)
	}

	// The directory lists the live channel, and the 24-hour ranking counts
	// the people who watched it (sessions are stored once 5 s long; the
	// ranking is cached for 30 s).
	alice.open(s, "/")
	alice.waitFor("live channel listed", `!!document.querySelector('#directory-live li[data-channel="demo"][data-live="true"]')`, 15*time.Second)
	if !poll(60*time.Second, 2*time.Second, func() bool {
		alice.open(s, "/")
		return eval[bool](alice, `new Promise(r => setTimeout(() => r(!!document.querySelector('#ranking-24h li[data-channel="demo"]')), 500))`)
	}) {
		_, body, _ := s.get("/api/v1/rankings/viewers-24h")
		t.Fatalf("demo not in the 24-hour ranking after 60 s; API says %s", body)
	}
	alice.screenshot("directory")

	// The app: manifest with icons, and the service worker active.
	icons := eval[int](alice, `fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json()).then(m => m.icons.length)`)
	if icons < 2 {
		t.Errorf("manifest has %d icons", icons)
	}
	state := eval[string](alice, `navigator.serviceWorker.ready.then(r => r.active ? r.active.state : '')`)
	if state != "activated" && state != "activating" {
		t.Errorf("service worker state %q", state)
	}
	alice.open(s, "/download")
	alice.screenshot("download")

	// Phone-sized: nothing wider than the screen.
	alice.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, path := range []string{"/", "/c/demo", "/dashboard", "/download"} {
		alice.open(s, path)
		alice.waitFor("layout on "+path, `document.readyState === 'complete'`, 10*time.Second)
		w := eval[[]int](alice, `new Promise(r => setTimeout(() => r([document.documentElement.scrollWidth, window.innerWidth]), 300))`)
		if w[0] > w[1] {
			t.Errorf("%s at 390×844: page is %d px wide, viewport %d px (horizontal scroll)", path, w[0], w[1])
		}
	}
	alice.open(s, "/c/demo")
	alice.waitFor("video playing on the phone", `(() => { const v = document.querySelector('#player video'); return v && v.currentTime > 0.5 })()`, 30*time.Second)
	alice.screenshot("watch-mobile")

	// The encoder switches to B-frames (a new publish within the grace
	// window): the dashboard warns the streamer that WebRTC cannot play it.
	alice.do("desktop viewport", chromedp.EmulateReset())
	alice.open(s, "/dashboard")
	alice.waitFor("dashboard live, no B-frames warning", `document.querySelector('#panel-live').dataset.live === '1' && document.querySelector('#bframes-warning').hidden`, 20*time.Second)
	pub.kill(t)
	startProc(t, io.Discard, "ffmpeg",
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p",
		"-f", "flv", "rtmp://"+s.rtmpAddr+"/live/"+key)
	alice.waitFor("B-frames warning shown", `!document.querySelector('#bframes-warning').hidden && document.querySelector('#bframes-warning').textContent.includes('B-frames')`, 30*time.Second)
}

// setupToken reads the one-time setup link from the server log.
func setupToken(t *testing.T, s *server) string {
	t.Helper()
	re := regexp.MustCompile(`/setup\?token=([A-Za-z0-9_-]+)`)
	var m []string
	if !poll(10*time.Second, 100*time.Millisecond, func() bool {
		m = re.FindStringSubmatch(s.log.String())
		return m != nil
	}) {
		t.Fatalf("no setup link in the server log:\n%s", lastLines(s.log.String(), 30))
	}
	return m[1]
}

// navLabels is the "Directory" navigation label in each edition, from the
// catalogues.
func navLabels(t *testing.T) map[string]string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, lang := range []string{"en", "zh-Hans", "zh-Hant", "fr"} {
		b, err := os.ReadFile(filepath.Join(root, "internal", "i18n", "locales", lang, "web.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s/web.json: %v", lang, err)
		}
		out[lang] = m["web.nav.directory"]
	}
	return out
}
