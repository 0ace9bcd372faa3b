package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/huabian-live/huabian/internal/bench/glass"
)

// Browser tests drive Debian's chromium, headless, through the DevTools
// protocol (chromedp). Each test gets a fresh user-data-dir; separate
// browser contexts inside it stand for separate people (own cookies).

// chromiumPath finds the browser binary ("" if none); the flags it runs
// with are the latency tool's (glass.BrowserFlags), so the tests see the
// browser the figures were measured in.
func chromiumPath() string { return glass.FindChromium() }

// browser is one headless chromium process.
type browser struct {
	ctx    context.Context // the first tab's context
	cancel context.CancelFunc
}

// startBrowser starts chromium with a fresh profile and glass.BrowserFlags plus
// extra; it is stopped when the test ends. The test is skipped when
// chromium is missing.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("browser tests need chromium on PATH (`make deps` or apt-get install chromium)")
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
	}, glass.BrowserFlags...)
	opts = append(opts, extra...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Start the browser now, so failures show here.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		allocCancel()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: ctx, cancel: func() { cancel(); allocCancel() }}
	t.Cleanup(b.cancel)
	return b
}

// person is a tab in its own browser context: its own cookies and storage.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newPerson opens a tab in a new browser context.
func (b *browser) newPerson(t *testing.T, name string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	return &person{t: t, name: name, ctx: ctx}
}

// do runs actions with a deadline and fails the test on error.
func (p *person) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v%s", p.name, what, err, p.pageState())
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](p *person, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %q: %v%s", p.name, expr, err, p.pageState())
	}
	return v
}

// waitFor evaluates a JavaScript predicate every 100 ms until it is
// truthy or d passes. Errors while the page navigates count as "not yet".
func (p *person) waitFor(what, predicate string, d time.Duration) {
	p.t.Helper()
	var lastErr error
	ok := poll(d, 100*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")", chromedp.EvalAwaitPromise))
		lastErr = err
		return err == nil && v
	})
	if !ok {
		p.t.Fatalf("%s: waiting for %s (%s): not true after %s (last error: %v)%s", p.name, what, predicate, d, lastErr, p.pageState())
	}
}

// pageState describes the page for failure messages.
func (p *person) pageState() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText.slice(0, 1500) : "")`))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "\n(page state unavailable: timed out)"
		}
		return "\n(page state unavailable: " + err.Error() + ")"
	}
	return "\npage: " + s
}

// screenshot saves a PNG of the viewport to docs/screenshots/NAME.png in
// the repository, for the README.
func (p *person) screenshot(name string) {
	p.t.Helper()
	root, err := moduleRoot()
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	eval[bool](p, `(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); return true })()`)
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot %s: %v", p.name, name, err)
	}
	dir := filepath.Join(root, "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`, "<", `\x3c`)
	return `"` + r.Replace(s) + `"`
}

// fill types text into the input matched by a CSS selector, replacing its
// value, like a person would.
func (p *person) fill(sel, text string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	eval[bool](p, `(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = ""; e.focus(); return true })()`)
	p.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks the element matched by a CSS selector once it is visible.
func (p *person) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// open navigates to a path of the server.
func (p *person) open(s *server, path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate("http://"+s.httpAddr+path))
}
