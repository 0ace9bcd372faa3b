package glass

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
)

// BrowserFlags are the switches Chromium runs with here and in the browser
// tests: headless, nothing that phones home, no sandbox (the tool may run
// as root), and autoplay allowed so a muted live video starts without a
// gesture.
var BrowserFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	chromedp.Flag("mute-audio", true),
	// A hidden or occluded page may be throttled; this one must not be.
	chromedp.Flag("disable-background-timer-throttling", true),
	chromedp.Flag("disable-renderer-backgrounding", true),
	chromedp.WindowSize(1366, 900),
}

// FindChromium returns the first Chromium-family browser on PATH ("" if none).
func FindChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// samplerJS installs, once per page, a sampler on the first playing video
// element matching the selector: for every picture the browser presents
// (requestVideoFrameCallback; a 10 ms poll where that is missing) it draws
// the top of the picture to a canvas and records the presentation time and
// the brightness at the centre of each time-code block. The page keeps the
// samples until the tool collects them; the decision which value a sample
// holds is made by the tool (decodeCode), not in the page.
const samplerJS = `(() => {
  if (window.__glass) return true;
  const sel = %s;
  const g = window.__glass = {samples: [], video: null, rvfc: 'requestVideoFrameCallback' in HTMLVideoElement.prototype};
  const canvas = document.createElement('canvas');
  const c2d = canvas.getContext('2d', {willReadFrequently: true});
  const sample = (v, when) => {
    const w = v.videoWidth, h = v.videoHeight;
    if (!w || !h) return;
    const rows = Math.max(8, Math.floor(h * 40 / 720));
    if (canvas.width !== w || canvas.height !== 2 * rows) { canvas.width = w; canvas.height = 2 * rows; }
    c2d.drawImage(v, 0, 0, w, 2 * rows, 0, 0, w, 2 * rows);
    const px = c2d.getImageData(0, 0, w, 2 * rows).data;
    const bw = Math.floor(w / 32), out = [when];
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < 32; i++) {
        const cx = Math.floor(i * bw + bw / 2), cy = Math.floor(r * rows + rows / 2);
        let s = 0;
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
          const o = ((cy + dy) * w + cx + dx) * 4;
          s += (px[o] + px[o + 1] + px[o + 2]) / 3;
        }
        out.push(Math.round(s / 25));
      }
    }
    if (g.samples.length < 20000) g.samples.push(out);
  };
  const watch = (v) => {
    g.video = v;
    if (g.rvfc) {
      const onFrame = (now, meta) => {
        if (g.video !== v) return;
        const when = meta && meta.expectedDisplayTime ? performance.timeOrigin + meta.expectedDisplayTime : Date.now();
        sample(v, when);
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }
  };
  setInterval(() => {
    const v = [...document.querySelectorAll(sel)].find((e) => e.videoWidth > 0 && !e.paused);
    if (v && v !== g.video) watch(v);
    if (!g.rvfc && g.video) sample(g.video, Date.now());
  }, 10);
  return true;
})()`

// collectJS hands the page's samples over and empties its list.
const collectJS = `(() => window.__glass ? window.__glass.samples.splice(0) : [])()`

// viewer is one headless Chromium tab showing the page under test.
type viewer struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func startViewer(ctx context.Context, chromium, userDataDir string) (*viewer, error) {
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(userDataDir),
	}, BrowserFlags...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, tabCancel := chromedp.NewContext(allocCtx)
	v := &viewer{ctx: tabCtx, cancel: func() { tabCancel(); allocCancel() }}
	// The first action on the tab's own context starts the browser; a
	// shorter-lived child context here would take the browser down with it.
	if err := chromedp.Do(tabCtx, chromedp.Navigate("about:blank")); err != nil {
		v.cancel()
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	return v, nil
}

// open navigates to the page and installs the sampler.
func (v *viewer) open(page, selector string) error {
	ctx, cancel := context.WithTimeout(v.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		return fmt.Errorf("open %s: %w", page, err)
	}
	return v.install(selector)
}

func (v *viewer) install(selector string) error {
	ctx, cancel := context.WithTimeout(v.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(samplerJS, strconv.Quote(selector)))); err != nil {
		return fmt.Errorf("install the sampler: %w", err)
	}
	return nil
}

// collect takes the samples the page recorded since the last call. Each
// is the presentation time (Unix ms) followed by 64 block brightnesses.
func (v *viewer) collect() ([][]float64, error) {
	ctx, cancel := context.WithTimeout(v.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[[][]float64](collectJS))
}

// state describes the page for error messages: its URL and video elements.
func (v *viewer) state() string {
	ctx, cancel := context.WithTimeout(v.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ': ' + [...document.querySelectorAll('video')].map((v) =>
		'video ' + v.videoWidth + 'x' + v.videoHeight + ' readyState ' + v.readyState + (v.paused ? ' paused' : '') + (v.error ? ' error ' + v.error.code : '')).join(', ')
		+ '; page text: ' + JSON.stringify((document.body ? document.body.innerText : '').trim().slice(0, 160))`))
	if err != nil {
		return "page state unavailable: " + err.Error()
	}
	return s
}

func (v *viewer) close() { v.cancel() }
