package e2e

import (
	"strconv"
	"testing"
	"time"
)

// TestBrowserWHEP plays a channel in Chromium over WebRTC (WHEP): the
// watch page's player picks WebRTC first, decodes 1280×720 video, and the
// latency switch moves it to FLV ("Low") and back.
func TestBrowserWHEP(t *testing.T) {
	requireTools(t)
	b := startBrowser(t)
	s := startServer(t, "--webrtc-udp", freeUDPAddr(t))
	key := s.createChannel(t, "rtc")
	pub := startPublisher(t, s.publishURL(key))
	s.waitLive(t, "rtc", pub.proc, true)

	p := b.newPerson(t, "viewer")
	p.open(s, "/c/rtc?debug")
	opened := eval[float64](p, `performance.now()`)
	p.waitFor("a decoded WebRTC frame", `(() => { const v = document.querySelector('#player video');
		return v && v.srcObject && v.videoWidth > 0 && v.readyState >= 2 })()`, 20*time.Second)
	first := eval[float64](p, `performance.now()`) - opened
	p.waitFor("player method WebRTC", `document.querySelector('#player-method').textContent === 'WebRTC'`, 10*time.Second)
	p.waitFor("videoWidth 1280", `document.querySelector('#player video').videoWidth === 1280`, 10*time.Second)
	t0 := eval[float64](p, `document.querySelector('#player video').currentTime`)
	p.waitFor("currentTime advancing", `document.querySelector('#player video').currentTime > `+strconv.FormatFloat(t0+1, 'f', 3, 64), 15*time.Second)

	stats := eval[map[string]float64](p, `(async () => {
		const pc = window.__hbPlayer && window.__hbPlayer.pc;
		if (!pc) throw new Error('no RTCPeerConnection on the debug handle');
		const out = {framesDecoded: 0, framesReceived: 0, framesDropped: 0, jitter: -1, processing: -1, rtt: -1, audioPackets: 0};
		(await pc.getStats()).forEach((s) => {
			if (s.type === 'inbound-rtp' && s.kind === 'video') {
				out.framesDecoded = s.framesDecoded || 0;
				out.framesReceived = s.framesReceived || 0;
				out.framesDropped = s.framesDropped || 0;
				if (s.jitterBufferEmittedCount) out.jitter = s.jitterBufferDelay / s.jitterBufferEmittedCount;
				if (s.framesDecoded && s.totalProcessingDelay !== undefined) out.processing = s.totalProcessingDelay / s.framesDecoded;
			} else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
				out.audioPackets = s.packetsReceived || 0;
			} else if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) {
				out.rtt = s.currentRoundTripTime;
			}
		});
		return out;
	})()`)
	if stats["framesDecoded"] <= 0 {
		t.Fatalf("getStats: inbound-rtp video framesDecoded = %v", stats["framesDecoded"])
	}
	p.waitFor("latency readout", `document.querySelector('#latency').dataset.seconds !== ''`, 10*time.Second)
	readout := eval[string](p, `new Promise((r) => { const seen = []; const iv = setInterval(() => {
		seen.push(document.querySelector('#latency').dataset.seconds); if (seen.length === 6) { clearInterval(iv); r(seen.join(' ')); } }, 500); })`)
	t.Logf("WebRTC: first decoded frame %.0f ms after the page opened; frames received %.0f, decoded %.0f, dropped %.0f, audio packets %.0f, jitter buffer avg %.0f ms, packet-to-decoded avg %.0f ms, RTT %.1f ms; latency readout %s s",
		first, stats["framesReceived"], stats["framesDecoded"], stats["framesDropped"], stats["audioPackets"], stats["jitter"]*1000, stats["processing"]*1000, stats["rtt"]*1000, readout)

	// Low latency: FLV. The choice is remembered.
	chooseMode(p, "low")
	p.waitFor("player method FLV", `/FLV/.test(document.querySelector('#player-method').textContent)`, 20*time.Second)
	p.waitFor("FLV video", `(() => { const v = document.querySelector('#player video'); return !v.srcObject && v.videoWidth === 1280 })()`, 20*time.Second)
	if got := eval[string](p, `localStorage.getItem('hb_latency_mode') || ''`); got != "low" {
		t.Errorf("latency mode stored as %q, want low", got)
	}
	p.open(s, "/c/rtc")
	p.waitFor("FLV after reload", `/FLV/.test(document.querySelector('#player-method').textContent) && document.querySelector('#latency-mode').value === 'low'`, 20*time.Second)

	// Back to Real-time.
	chooseMode(p, "realtime")
	p.waitFor("WebRTC again", `document.querySelector('#player-method').textContent === 'WebRTC'`, 20*time.Second)
}

// chooseMode picks a latency mode in the switch the way a keyboard does:
// focus, then the value changes and "change" fires.
func chooseMode(p *person, mode string) {
	p.t.Helper()
	eval[bool](p, `(() => { const s = document.querySelector('#latency-mode'); s.focus();
		s.value = `+jsString(mode)+`; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value === `+jsString(mode)+` })()`)
}

// TestBrowserWHEPFallback: with WebRTC off on the server, the player's
// WHEP attempt is refused and it moves on to FLV without a backoff wait.
func TestBrowserWHEPFallback(t *testing.T) {
	requireTools(t)
	b := startBrowser(t)
	s := startServer(t) // --webrtc-udp off
	key := s.createChannel(t, "nortc")
	pub := startPublisher(t, s.publishURL(key))
	s.waitLive(t, "nortc", pub.proc, true)

	p := b.newPerson(t, "viewer")
	p.open(s, "/c/nortc")
	opened := eval[float64](p, `performance.now()`)
	p.waitFor("FLV playing", `/FLV/.test(document.querySelector('#player-method').textContent) && document.querySelector('#player video').videoWidth === 1280`, 20*time.Second)
	took := eval[float64](p, `performance.now()`) - opened
	t.Logf("WebRTC refused, FLV playing %.0f ms after the page opened", took)
	if took > 4000 {
		t.Errorf("fallback from WHEP to FLV took %.0f ms, want < 4 s", took)
	}
}
