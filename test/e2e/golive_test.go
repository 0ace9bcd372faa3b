package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A streamer goes live from the browser (Chromium's fake camera and
// microphone, published over WHIP from the dashboard's go-live page);
// another person watches it on the watch page (WebRTC: H.264 and Opus
// passed through), and ffprobe reads the same stream over LL-HLS (fMP4
// carries Opus; FLV viewers of a browser stream get no audio they can
// decode, see docs/webrtc.md).
func TestBrowserGoLive(t *testing.T) {
	requireTools(t)
	b := startBrowser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true))
	s := startServer(t, "--webrtc-udp", freeUDPAddr(t))
	token := setupToken(t, s)
	const password = "correct horse battery staple"

	alice := b.newPerson(t, "alice")
	alice.open(s, "/setup?token="+token)
	alice.fill("#signup-name", "alice")
	alice.fill("#signup-password", password)
	alice.click("#setup-form button[type=submit]")
	alice.waitFor("signed in", `!!document.querySelector('[data-testid=nav-admin]')`, 15*time.Second)
	alice.open(s, "/dashboard")
	alice.fill("#create-name", "cam")
	alice.click("#create-channel-form button[type=submit]")
	alice.waitFor("the go-live link", `document.querySelector('#go-live-link').getAttribute('href') === '/dashboard/go-live/cam'`, 15*time.Second)
	alice.click("#go-live-link")
	alice.waitFor("the go-live page", `location.pathname === '/dashboard/go-live/cam'`, 10*time.Second)
	alice.fill("#golive-password", password)
	start := time.Now()
	alice.click("#golive-start")
	alice.waitFor("live over WHIP", `document.querySelector('#golive-status').dataset.state === 'live'`, 20*time.Second)
	if !poll(15*time.Second, 100*time.Millisecond, func() bool {
		code, body, err := s.get("/api/v1/channels/cam")
		return err == nil && code == 200 && regexp.MustCompile(`"live":\s*true`).Match(body) && regexp.MustCompile(`"codec":\s*"h264"`).Match(body)
	}) {
		_, body, _ := s.get("/api/v1/channels/cam")
		t.Fatalf("channel not live with H.264 15 s after the browser connected: %s", body)
	}
	t.Logf("browser publish live %.1fs after the click", time.Since(start).Seconds())

	bob := b.newPerson(t, "bob")
	bob.open(s, "/c/cam")
	bob.waitFor("the browser's stream playing", `(() => { const v = document.querySelector('#player video');
		return v && !v.error && v.videoWidth > 0 && v.currentTime > 1 })()`, 30*time.Second)
	method := eval[string](bob, `(document.querySelector('#player-method') || {}).textContent || ''`)
	width := eval[int](bob, `document.querySelector('#player video').videoWidth`)
	t.Logf("viewer plays the browser's stream over %s at %d px wide", method, width)

	for _, tc := range []struct{ name, url string }{
		{"llhls", s.url("/live/cam/index.m3u8")},
	} {
		res, _ := ffprobe(t, tc.url, 3)
		video := 0
		for _, st := range res.Streams {
			if st.CodecType == "video" && st.CodecName != "h264" {
				t.Errorf("%s: video codec %q", tc.name, st.CodecName)
			}
		}
		for _, f := range res.Frames {
			if f.MediaType == "video" {
				video++
			}
		}
		t.Logf("%s: ffprobe decoded %d video frames of the browser's stream", tc.name, video)
		if video < 20 {
			t.Errorf("%s: only %d video frames in 3 s", tc.name, video)
		}
	}
	alice.click("#golive-stop")
}
