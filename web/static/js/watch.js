// Watch page (/c/NAME) and embed player (/embed/NAME).
import { createPlayer, MODES } from './player.js';
import { createChat, api } from './chat.js';
import { initShare } from './share.js';

const $ = (id) => document.getElementById(id);
const lang = document.documentElement.lang || 'en';

// Catalogue strings handed over by the page ({name} placeholders).
export function translator() {
  let cat = {};
  try { cat = JSON.parse($('hb-i18n')?.textContent || '{}'); } catch { /* keep the keys */ }
  return (key, vars = {}) => (cat[key] ?? key).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}
const t = translator();

const plural = new Intl.PluralRules(lang);
const num = new Intl.NumberFormat(lang);
export function countText(base, n) {
  return t(`${base}.${plural.select(n) === 'one' ? 'one' : 'other'}`, { count: num.format(n) });
}

export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function relativeTime(date, now = Date.now()) {
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const diff = (date.getTime() - now) / 1000;
  const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, secs] of units) {
    if (Math.abs(diff) >= secs) return rtf.format(Math.round(diff / secs), unit);
  }
  return rtf.format(0, 'minute');
}

function bitrateText(bps) {
  return bps >= 1e6 ? t('watch.quality.mbps', { n: (bps / 1e6).toFixed(1) }) : t('watch.quality.kbps', { n: Math.round(bps / 1e3) });
}

function setupControls(video, announce) {
  const play = $('play-toggle');
  const mute = $('mute-toggle');
  const unmute = $('unmute');
  const volume = $('volume');
  const full = $('fullscreen');
  const player = $('player');
  const sync = () => {
    play.textContent = t(video.paused ? 'watch.player.play' : 'watch.player.pause');
    play.setAttribute('aria-pressed', String(!video.paused));
    mute.textContent = t(video.muted ? 'watch.player.unmute' : 'watch.player.mute');
    mute.setAttribute('aria-pressed', String(video.muted));
    unmute.hidden = !video.muted;
    volume.value = String(video.muted ? 0 : video.volume);
  };
  play.addEventListener('click', () => (video.paused ? video.play().catch(() => {}) : video.pause()));
  const toggleMute = () => {
    video.muted = !video.muted;
    if (!video.muted && video.volume === 0) video.volume = 0.5;
    if (!video.muted && video.paused) video.play().catch(() => {});
    announce(t(video.muted ? 'watch.player.muted' : 'watch.player.unmuted'));
  };
  mute.addEventListener('click', toggleMute);
  unmute.addEventListener('click', () => { toggleMute(); mute.focus(); });
  volume.addEventListener('input', () => {
    video.volume = Number(volume.value);
    video.muted = video.volume === 0;
  });
  full.hidden = !(document.fullscreenEnabled || video.webkitEnterFullscreen);
  full.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (player.requestFullscreen) player.requestFullscreen().catch(() => {});
    else video.webkitEnterFullscreen?.();
  });
  document.addEventListener('fullscreenchange', () => {
    full.textContent = t(document.fullscreenElement ? 'watch.player.exit_fullscreen' : 'watch.player.fullscreen');
  });
  player.addEventListener('keydown', (e) => {
    if (e.target.closest('input, textarea, button, select')) return;
    if (e.key === 'k' || e.key === ' ') { e.preventDefault(); play.click(); }
    if (e.key === 'm') mute.click();
    if (e.key === 'f') full.click();
  });
  for (const ev of ['play', 'pause', 'volumechange']) video.addEventListener(ev, sync);
  sync();
}

// renderProfile shows the category breadcrumbs and tags (text only).
function renderProfile(st) {
  const nav = $('category-nav');
  if (nav && st.category !== undefined) {
    const path = [...(st.category?.path || [])];
    if (st.category && !path.some((p) => p.slug === st.category.slug)) path.push(st.category);
    const items = path.map((p, i) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `/category/${encodeURIComponent(p.slug)}`;
      a.textContent = p.name;
      if (i === path.length - 1) a.setAttribute('aria-current', 'page');
      li.append(a);
      return li;
    });
    $('category').replaceChildren(...items);
    nav.hidden = !items.length;
  }
  const tags = $('tags');
  if (tags && Array.isArray(st.tags)) {
    tags.replaceChildren(...st.tags.map((tag) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `/search?q=${encodeURIComponent(tag)}`;
      a.textContent = tag;
      li.append(a);
      return li;
    }));
  }
  const owner = $('channel-owner');
  if (owner && st.owner) owner.textContent = t('watch.by', { name: st.owner.display_name || st.owner.name });
}

function main() {
  const root = $('watch');
  if (!root) return;
  const name = root.dataset.channel;
  const video = document.querySelector('#player video');
  const status = $('player-status');
  const announce = (msg) => { status.textContent = msg; };
  const liveState = $('live-state');
  const viewers = $('viewer-count');
  const duration = $('live-duration');
  const latency = $('latency');
  const offline = $('offline');
  const banner = $('offline-banner');
  const lastLive = $('last-live');
  const quality = $('quality');
  let startedAt = null;
  let lastLiveAt = root.dataset.lastLive ? new Date(root.dataset.lastLive) : null;
  let wasLive = null;

  setupControls(video, announce);

  const tick = () => {
    duration.textContent = startedAt ? clock(Date.now() - startedAt.getTime()) : '';
    if (startedAt) duration.dateTime = `PT${Math.floor((Date.now() - startedAt.getTime()) / 1000)}S`;
    lastLive.textContent = lastLiveAt ? t('watch.last_live', { when: relativeTime(lastLiveAt) }) : t('watch.never_live');
  };
  setInterval(tick, 1000);

  const setFollow = (following, count) => {
    const follow = $('follow');
    if (follow) {
      follow.setAttribute('aria-pressed', String(!!following));
      follow.textContent = t(following ? 'watch.unfollow' : 'watch.follow');
    }
    if (count !== undefined) $('followers').textContent = countText('watch.followers', count);
  };

  const onStatus = (st) => {
    const live = !!st.live;
    startedAt = live && st.started_at ? new Date(st.started_at) : null;
    if (st.last_live_at) lastLiveAt = new Date(st.last_live_at);
    else if (wasLive && !live) lastLiveAt = new Date(); // just ended; the record may lag
    liveState.textContent = t(live ? 'watch.state.live' : 'watch.state.offline');
    liveState.dataset.live = live ? '1' : '0';
    root.dataset.live = live ? '1' : '0';
    offline.hidden = live;
    if (!live) banner.src = st.banner_url || root.dataset.defaultBanner;
    if (wasLive !== null && wasLive !== live) announce(t(live ? 'watch.went_live' : 'watch.went_offline'));
    wasLive = live;
    const total = st.viewers?.total ?? 0;
    viewers.textContent = live ? countText('web.count.viewers', total) : '';
    viewers.dataset.count = String(total);
    const parts = [];
    if (live && st.video) {
      if (st.video.width) parts.push(`${st.video.width}×${st.video.height}`);
      if (st.video.fps) parts.push(t('watch.quality.fps', { n: Math.round(st.video.fps) }));
      if (st.video.codec) parts.push(st.video.codec);
    }
    if (live && st.audio?.codec) parts.push(st.audio.codec);
    if (live && st.ingest_bitrate) parts.push(bitrateText(st.ingest_bitrate));
    quality.textContent = parts.join(' · ');
    quality.hidden = !parts.length;
    setFollow(st.following, st.followers);
    if (st.title !== undefined) $('channel-title').textContent = st.title || name;
    renderProfile(st);
    tick();
  };

  // Latency mode: Real-time (WebRTC), Low (FLV), Normal (LL-HLS);
  // remembered in this browser.
  const modeKey = 'hb_latency_mode';
  const modeSelect = $('latency-mode');
  let mode = 'realtime';
  try { mode = localStorage.getItem(modeKey) || mode; } catch { /* storage disabled */ }
  // ?latency=realtime|low|normal in a shared link picks the mode for this
  // visit without changing the viewer's remembered choice.
  const asked = new URLSearchParams(location.search).get('latency');
  if (asked && asked in MODES) mode = asked;
  if (!(mode in MODES)) mode = 'realtime';
  if (modeSelect) modeSelect.value = mode;

  const player = createPlayer(video, {
    name,
    mode,
    onStatus,
    onState(state, method) {
      root.dataset.playerState = state;
      announce(t(`watch.player.state.${state}`, { method: method || '' }));
      $('player-method').textContent = state === 'playing' ? method : '';
      if (state === 'offline') latency.textContent = '';
    },
    onLatency(l) {
      latency.textContent = l == null ? '' : t('watch.latency', { seconds: l.toFixed(1) });
      latency.dataset.seconds = l == null ? '' : l.toFixed(2);
    },
  });

  modeSelect?.addEventListener('change', () => {
    const m = modeSelect.value;
    try { localStorage.setItem(modeKey, m); } catch { /* this page only */ }
    player.setMode(m);
  });
  // A debug handle for tests and troubleshooting, only with ?debug.
  if (new URLSearchParams(location.search).has('debug')) window.__hbPlayer = player;

  const follow = $('follow');
  follow?.addEventListener('click', async () => {
    const on = follow.getAttribute('aria-pressed') !== 'true';
    follow.disabled = true;
    try {
      const r = await api(on ? 'PUT' : 'DELETE', `/api/v1/channels/${encodeURIComponent(name)}/follow`);
      setFollow(r.following, r.followers);
    } catch (err) {
      announce(err.message);
    } finally {
      follow.disabled = false;
    }
  });

  const share = $('share');
  if (share) initShare(share, t);
  const chat = $('chat');
  if (chat) createChat(chat, { name, t, onReconnect: () => player.refresh() });
}

main();
