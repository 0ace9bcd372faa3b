// Live player: picks the lowest-latency path the browser supports, keeps
// close to the live edge and recovers by itself while the channel is live.
// The third-party players are loaded only when their path is tried.

const HLS_SRC = '/static/vendor/hls.js/hls.light.min.js';
const MPEGTS_SRC = '/static/vendor/mpegts.js/mpegts.js';
const STATUS_EVERY_MS = 5000;
const STALL_MS = 8000;
// FLV keeps this much buffered ahead of the picture: enough for a few
// frames of network jitter, little enough to stay well under a second.
const FLV_TARGET_S = 0.5;
const CHASE_AFTER_S = 0.8; // FLV: play at 1.1× when further behind than this
const JUMP_AFTER_S = 3; // FLV: jump to the target when further behind than this
// A new FLV viewer starts on the last keyframe the server kept, up to a
// GOP behind live: it jumps to the target once, before anyone notices.
const START_JUMP_AFTER_S = 1;

const loaded = new Map();

// loadScript inserts a vendored script once (CSP script-src 'self' allows it).
export function loadScript(src) {
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onload = resolve;
      s.onerror = () => { loaded.delete(src); s.remove(); reject(new Error(`load ${src}`)); };
      document.head.append(s);
    }));
  }
  return loaded.get(src);
}

// viewerID is a random id kept in localStorage so viewer statistics can
// count one browser once across reconnects and protocols.
export function viewerID() {
  const key = 'hb_vid';
  let id = null;
  try { id = localStorage.getItem(key); } catch { /* storage disabled */ }
  if (!id || !/^[A-Za-z0-9-]{8,64}$/.test(id)) {
    id = crypto.randomUUID ? crypto.randomUUID()
      : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
    try { localStorage.setItem(key, id); } catch { /* keep it for this page only */ }
  }
  return id;
}

function mseType() {
  const MS = window.ManagedMediaSource || window.MediaSource;
  return MS && MS.isTypeSupported && MS.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"');
}

function playURL(path, vid) {
  const u = new URL(path, location.href);
  u.searchParams.set('vid', vid);
  return u;
}

const FIRST_FRAME_MS = 5000; // WebRTC: fall back when no frame is decoded by then
const ICE_GATHER_MS = 1000; // WebRTC: send the offer with what was gathered by then

// waitGathered resolves once ICE gathering is complete or after ms (the
// server is reachable through its own host candidate, so ours are a bonus:
// no trickle ICE).
function waitGathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// Latency modes offered on the watch page, each the method tried first.
export const MODES = { realtime: 'webrtc', low: 'flv', normal: 'llhls' };

// Each method: supported() is cheap and synchronous; start() returns a
// session {stop(), latency()} or throws when the browser cannot use it.
const methods = [
  {
    id: 'webrtc',
    label: 'WebRTC',
    supported: () => typeof window.RTCPeerConnection === 'function',
    async start(video, { name, vid }, fail) {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
      const stream = new MediaStream();
      let resource = '';
      let closed = false;
      // DELETE ends the server session; keepalive lets it outlive the page.
      const release = () => {
        if (!resource) return;
        fetch(resource, { method: 'DELETE', keepalive: true, credentials: 'same-origin' }).catch(() => {});
        resource = '';
      };
      const close = () => {
        if (closed) return;
        closed = true;
        window.removeEventListener('pagehide', release);
        clearTimeout(firstFrame);
        release();
        try { pc.close(); } catch { /* closed already */ }
      };
      let firstFrame = 0;
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addEventListener('track', (e) => { if (!stream.getTrackById(e.track.id)) stream.addTrack(e.track); });
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') fail(`webrtc ${pc.connectionState}`);
      });
      window.addEventListener('pagehide', release);
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await waitGathered(pc, ICE_GATHER_MS);
        const r = await fetch(playURL(`/live/${encodeURIComponent(name)}/whep`, vid).href, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp' },
          body: pc.localDescription.sdp,
          credentials: 'same-origin',
        });
        if (r.status !== 201) throw new Error(`whep: HTTP ${r.status}`);
        const loc = r.headers.get('Location');
        if (loc) resource = new URL(loc, r.url).href;
        await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
      } catch (err) {
        close();
        throw err;
      }
      video.srcObject = stream;
      // No decoded frame in time (UDP blocked, no usable video): next path.
      firstFrame = setTimeout(() => {
        if (video.readyState < 2 || !video.videoWidth) fail('webrtc: no frame', true);
      }, FIRST_FRAME_MS);
      // Latency readout, refreshed from getStats() in the background: the
      // receiver's share of the delay over the last interval, i.e. the
      // one-way network time (half the ICE round trip) plus the time from a
      // frame's first packet to its decoded picture (totalProcessingDelay /
      // framesDecoded; where missing, the jitter buffer wait,
      // jitterBufferDelay / jitterBufferEmittedCount). Capture, encoder and
      // server time are not included: the sender's clock is unknown here.
      let lat = NaN;
      let prev = null;
      let pending = false;
      const sample = async () => {
        if (pending || closed) return;
        pending = true;
        try {
          const stats = await pc.getStats();
          let rtt = 0;
          let jb = null;
          stats.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') jb = s;
            else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.currentRoundTripTime) rtt = s.currentRoundTripTime;
          });
          if (jb) {
            const proc = jb.totalProcessingDelay !== undefined && jb.framesDecoded;
            const cur = proc ? { delay: jb.totalProcessingDelay, count: jb.framesDecoded }
              : { delay: jb.jitterBufferDelay || 0, count: jb.jitterBufferEmittedCount || 0 };
            const dn = cur.count - (prev ? prev.count : 0);
            if (dn > 0) lat = (cur.delay - (prev ? prev.delay : 0)) / dn + rtt / 2;
            prev = cur;
          }
        } catch { /* closing */ }
        pending = false;
      };
      return {
        pc,
        latency() { sample(); return lat; },
        chase() {},
        stop() {
          close();
          video.srcObject = null;
        },
      };
    },
  },
  {
    id: 'flv',
    label: 'WS-FLV',
    supported: () => mseType() && 'WebSocket' in window,
    async start(video, { name, vid }, fail) {
      await loadScript(MPEGTS_SRC);
      const mpegts = window.mpegts;
      if (!mpegts || !mpegts.isSupported()) throw new Error('mpegts unsupported');
      const u = playURL(`/live/${encodeURIComponent(name)}.flv`, vid);
      u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      mpegts.LoggingControl.enableAll = false;
      const p = mpegts.createPlayer({ type: 'flv', isLive: true, url: u.href, hasAudio: true, hasVideo: true }, {
        enableWorker: false,
        enableStashBuffer: false,
        lazyLoad: false,
        autoCleanupSourceBuffer: true,
        autoCleanupMaxBackwardDuration: 20,
        autoCleanupMinBackwardDuration: 10,
        liveBufferLatencyChasing: false, // chased below, gently
      });
      p.on(mpegts.Events.ERROR, (type, detail) => fail(`${type}: ${detail}`));
      p.on(mpegts.Events.LOADING_COMPLETE, () => fail('ended'));
      p.attachMediaElement(video);
      p.load();
      const latency = () => {
        const b = video.buffered;
        return b.length ? Math.max(0, b.end(b.length - 1) - video.currentTime) : NaN;
      };
      let started = false;
      return {
        latency,
        chase() {
          const l = latency();
          if (!(l >= 0) || video.paused) return;
          const edge = video.buffered.end(video.buffered.length - 1);
          if (l > JUMP_AFTER_S || (!started && l > START_JUMP_AFTER_S)) {
            video.currentTime = edge - FLV_TARGET_S;
          } else if (l > CHASE_AFTER_S) {
            video.playbackRate = 1.1;
          } else if (l <= FLV_TARGET_S && video.playbackRate !== 1) {
            video.playbackRate = 1;
          }
          started = true;
        },
        stop() {
          try { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } catch { /* already torn down */ }
          video.playbackRate = 1;
        },
      };
    },
  },
  {
    id: 'llhls',
    label: 'LL-HLS',
    supported: () => mseType(),
    async start(video, { name, vid }, fail) {
      await loadScript(HLS_SRC);
      const Hls = window.Hls;
      if (!Hls || !Hls.isSupported()) throw new Error('hls.js unsupported');
      const hls = new Hls({
        lowLatencyMode: true,
        backBufferLength: 30,
        maxLiveSyncPlaybackRate: 1.5,
        // Segment and part URLs do not inherit the playlist's query.
        xhrSetup(xhr, url) {
          xhr.open('GET', playURL(url, vid).href, true);
        },
      });
      hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) fail(`${data.type}: ${data.details}`); });
      hls.loadSource(playURL(`/live/${encodeURIComponent(name)}/index.m3u8`, vid).href);
      hls.attachMedia(video);
      return {
        latency: () => hls.latency,
        chase() {},
        stop() { hls.destroy(); },
      };
    },
  },
  {
    id: 'native',
    label: 'HLS',
    supported: () => !!document.createElement('video').canPlayType('application/vnd.apple.mpegurl'),
    async start(video, { name, vid }, fail) {
      const onError = () => fail('media error');
      video.addEventListener('error', onError);
      video.src = playURL(`/live/${encodeURIComponent(name)}/index.m3u8`, vid).href;
      return {
        latency() {
          const s = video.seekable;
          return s.length ? Math.max(0, s.end(s.length - 1) - video.currentTime) : NaN;
        },
        chase() {},
        stop() {
          video.removeEventListener('error', onError);
          video.removeAttribute('src');
          video.load();
        },
      };
    },
  },
];

// createPlayer plays channel `name` in `video`. States passed to onState:
// 'loading', 'playing', 'buffering', 'reconnecting', 'offline', 'unsupported'.
// onStatus receives each channel status JSON it polls; refresh() polls now.
// mode (a MODES key) picks the method tried first; setMode() changes it.
export function createPlayer(video, { name, vid = viewerID(), mode = 'realtime', onState = () => {}, onLatency = () => {}, onStatus = () => {} } = {}) {
  const usable = methods.filter((m) => m.supported());
  // first is the index in usable of the mode's method (LL-HLS falls back
  // to native HLS where only that exists).
  const firstFor = (m) => {
    for (const id of [MODES[m], m === 'normal' ? 'native' : '']) {
      const i = usable.findIndex((u) => u.id === id);
      if (i >= 0) return i;
    }
    return 0;
  };
  let first = firstFor(mode);
  let index = first;
  let session = null;
  let live = false;
  let state = '';
  let attempt = 0;
  let retryTimer = 0;
  let statusTimer = 0;
  let generation = 0; // bumps on every teardown so stale callbacks are ignored
  let played = false;
  let lastTime = 0;
  let lastProgress = 0;
  let closed = false;

  const setState = (s) => { if (s !== state) { state = s; onState(s, session?.method); } };

  function teardown() {
    generation++;
    clearTimeout(retryTimer);
    if (session) { session.stop(); session = null; }
  }

  async function start() {
    teardown();
    if (closed || !live) return;
    if (!usable.length) { setState('unsupported'); return; }
    const gen = generation;
    const method = usable[index % usable.length];
    played = false;
    setState(attempt ? 'reconnecting' : 'loading');
    const fail = (why, unusable = false) => { if (gen === generation) failed(why, unusable); };
    try {
      const s = await method.start(video, { name, vid }, fail);
      if (gen !== generation) { s.stop(); return; }
      session = { ...s, method: method.label };
      lastProgress = performance.now();
      video.play().catch(() => { /* autoplay refused: controls stay usable */ });
    } catch (err) {
      if (gen === generation) failed(err.message, true);
    }
  }

  // failed tears the session down and tries again with backoff; a method
  // that never played moves on to the next one.
  function failed(why, unusable = false) {
    teardown();
    if (unusable || !played) index++;
    attempt++;
    if (!live) { setState('offline'); return; }
    setState('reconnecting');
    // A path refused outright hands over to the next one at once, until
    // every path has been tried; then the backoff applies.
    const quick = unusable && attempt < usable.length;
    const delay = quick ? 0 : Math.min(15000, 1000 * 2 ** Math.min(attempt - 1, 4));
    retryTimer = setTimeout(async () => {
      await poll();
      if (live && !session) start();
    }, delay);
    console.debug('player: retry', why);
  }

  function setLive(now) {
    if (now === live) return;
    live = now;
    if (live) {
      attempt = 0;
      index = first;
      start();
    } else {
      teardown();
      setState('offline');
    }
  }

  async function poll() {
    clearTimeout(statusTimer);
    try {
      const r = await fetch(`/api/v1/channels/${encodeURIComponent(name)}`, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (r.ok) {
        const st = await r.json();
        onStatus(st);
        setLive(!!st.live);
      } else if (r.status === 404) {
        setLive(false);
      }
    } catch { /* network trouble: keep the current state, try again later */ }
    if (!closed) statusTimer = setTimeout(poll, STATUS_EVERY_MS);
  }

  const onPlaying = () => { if (session) { played = true; attempt = 0; setState('playing'); } };
  const onWaiting = () => { if (session && state === 'playing') setState('buffering'); };
  const onEnded = () => { if (session) failed('ended'); };
  video.addEventListener('playing', onPlaying);
  video.addEventListener('waiting', onWaiting);
  video.addEventListener('ended', onEnded);

  const tick = setInterval(() => {
    if (!session) return;
    const now = performance.now();
    if (video.currentTime !== lastTime || video.paused) {
      lastTime = video.currentTime;
      lastProgress = now;
      if (state === 'buffering' && !video.paused) setState('playing');
    } else if (now - lastProgress > STALL_MS) {
      failed('stalled');
      return;
    }
    session.chase();
    const l = session.latency();
    onLatency(Number.isFinite(l) ? l : null);
  }, 500);

  poll();

  return {
    get state() { return state; },
    get method() { return session?.method || ''; },
    get mode() { return mode; },
    // pc is the RTCPeerConnection while playing over WebRTC (for tests).
    get pc() { return session?.pc || null; },
    refresh: poll,
    setMode(m) {
      if (!(m in MODES) || m === mode) return;
      mode = m;
      first = firstFor(m);
      index = first;
      attempt = 0;
      if (live && !closed) start();
    },
    destroy() {
      closed = true;
      clearInterval(tick);
      clearTimeout(statusTimer);
      teardown();
      video.removeEventListener('playing', onPlaying);
      video.removeEventListener('waiting', onWaiting);
      video.removeEventListener('ended', onEnded);
    },
  };
}
