// Streamer dashboard: my channels, creation, stream key, profile, images,
// live preview, stream health and viewer charts, chat moderation.
import { createPlayer } from './player.js';
import { api } from './chat.js';
import { createChart } from './chart.js';
import { translator } from './watch.js';
import { copyText } from './share.js';

const $ = (id) => document.getElementById(id);
const t = translator();
const root = $('dashboard');
const lang = document.documentElement.lang || 'en';
const num = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
const HEALTH_EVERY_MS = 2000;
const HEALTH_SECONDS = 300;

let channels = [];
let current = null; // name of the channel shown
let preview = null;
let healthTimer = 0;
let healthChart = null;
let viewersChart = null;
let liveViewers = []; // live viewer samples of the current channel

const say = (id, msg) => { $(id).textContent = msg; };
const fail = (id) => (err) => say(id, err.code && t(`error.${err.code}`) !== `error.${err.code}` ? t(`error.${err.code}`) : err.message);
const chanPath = (name) => `/api/v1/channels/${encodeURIComponent(name)}`;

function li(text, buttonLabel, onClick, buttonText) {
  const item = document.createElement('li');
  const span = document.createElement('span');
  span.textContent = text;
  item.append(span);
  if (onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = buttonText;
    b.setAttribute('aria-label', buttonLabel);
    b.addEventListener('click', onClick);
    item.append(b);
  }
  return item;
}

function profileBody(prefix) {
  const v = (f) => $(`${prefix}-${f}`).value;
  return {
    title: v('title').trim(),
    description: v('description'),
    category: v('category'),
    tags: v('tags').split(',').map((s) => s.trim()).filter(Boolean),
    language: v('language').trim(),
    visibility: v('visibility'),
  };
}

function fillProfile(prefix, ch) {
  $(`${prefix}-title`).value = ch.title || '';
  $(`${prefix}-description`).value = ch.description || '';
  $(`${prefix}-category`).value = ch.category?.slug || '';
  $(`${prefix}-tags`).value = (ch.tags || []).join(', ');
  $(`${prefix}-language`).value = ch.language || '';
  $(`${prefix}-visibility`).value = ch.visibility || 'public';
}

async function loadCategories() {
  try {
    const { categories } = await api('GET', '/api/v1/categories');
    const options = [];
    const walk = (cats, depth) => {
      for (const c of cats || []) {
        const o = document.createElement('option');
        o.value = c.slug;
        o.textContent = `${'— '.repeat(depth)}${c.name}`;
        options.push(o);
        walk(c.children, depth + 1);
      }
    };
    walk(categories, 0);
    for (const sel of document.querySelectorAll('.category-select')) {
      sel.append(...options.map((o) => o.cloneNode(true)));
    }
  } catch { /* categories are optional */ }
}

async function loadChannels(select) {
  const { channels: list } = await api('GET', '/api/v1/me/channels');
  channels = list || [];
  const picker = $('channel-select');
  picker.replaceChildren(...channels.map((c) => {
    const o = document.createElement('option');
    o.value = c.name;
    o.textContent = c.title ? `${c.title} (${c.name})` : c.name;
    return o;
  }));
  $('channel-picker').hidden = channels.length < 2;
  $('channels-empty').hidden = channels.length > 0;
  say('dash-status', '');
  const next = select || current || channels[0]?.name;
  if (next && channels.some((c) => c.name === next)) show(next);
  else $('channel-panel').hidden = true;
}

function show(name) {
  const ch = channels.find((c) => c.name === name);
  if (!ch) return;
  const switched = name !== current;
  current = name;
  $('go-live-link').href = `/dashboard/go-live/${encodeURIComponent(name)}`;
  $('channel-select').value = name;
  $('channel-panel').hidden = false;
  $('panel-link').textContent = ch.title || ch.name;
  $('panel-link').href = `/c/${encodeURIComponent(ch.name)}`;
  $('key-hint').textContent = ch.key_hint || '';
  fillProfile('edit', ch);
  if (!switched) return;
  hideKey();
  $('bframes-warning').hidden = true;
  preview?.destroy();
  preview = createPlayer($('preview-video'), {
    name,
    onState: (s, method) => say('preview-status', t(`watch.player.state.${s}`, { method: method || '' })),
    onStatus: (st) => {
      const live = $('panel-live');
      live.dataset.live = st.live ? '1' : '0';
      live.textContent = t(st.live ? 'watch.state.live' : 'watch.state.offline');
      // B-frames make the stream unplayable over WebRTC: tell the streamer.
      $('bframes-warning').hidden = !(st.live && st.b_frames);
    },
  });
  liveViewers = [];
  $('broadcast-select').value = '';
  loadBroadcasts();
  loadModeration();
  clearTimeout(healthTimer);
  pollHealth();
}

// Stream key: revealed only after the password is checked again.
function showKey(key) {
  $('key-value').value = key;
  const port = root.dataset.rtmpPort || '1935';
  $('obs-server').value = `rtmp://${location.hostname}:${port}/live`;
  // SRT carries the key in the streamid; WHIP sends it as a Bearer token.
  const srtPort = root.dataset.srtPort;
  $('obs-srt-row').hidden = !srtPort;
  $('obs-srt').value = srtPort ? `srt://${location.hostname}:${srtPort}?streamid=publish:${key}` : '';
  $('obs-whip').value = `${location.origin}/whip`;
  $('key-box').hidden = false;
}
function hideKey() {
  $('key-value').value = '';
  $('key-box').hidden = true;
  $('key-password').value = '';
  say('key-status', '');
}
async function keyAction(rotate) {
  const password = $('key-password').value;
  if (!password) { $('key-password').focus(); return; }
  if (rotate && !confirm(t('watch.dash.key_rotate_confirm'))) return;
  try {
    const r = await api('POST', `${chanPath(current)}/key${rotate ? '/rotate' : ''}`, { password });
    $('key-password').value = '';
    showKey(r.stream_key);
    say('key-status', t(rotate ? 'watch.dash.key_rotated' : 'watch.dash.key_shown'));
    if (rotate) loadChannels(current);
  } catch (err) {
    fail('key-status')(err);
  }
}

function healthPoints(samples) {
  return samples.map((s) => ({
    at: new Date(s.at),
    values: [s.bitrate / 1000, s.fps, s.keyframe_interval_ms / 1000],
  }));
}

async function pollHealth() {
  const name = current;
  try {
    const { samples = [] } = await api('GET', `${chanPath(name)}/health?seconds=${HEALTH_SECONDS}`);
    if (name !== current) return;
    healthChart.update(healthPoints(samples));
    liveViewers = samples.map((s) => ({ at: new Date(s.at), values: [s.viewers] }));
    if (!$('broadcast-select').value) viewersChart.update(liveViewers);
  } catch { /* shown as an empty chart; try again */ }
  if (name === current) healthTimer = setTimeout(pollHealth, HEALTH_EVERY_MS);
}

async function loadBroadcasts() {
  const sel = $('broadcast-select');
  const fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  try {
    const { broadcasts = [] } = await api('GET', `${chanPath(current)}/broadcasts`);
    const first = sel.options[0];
    sel.replaceChildren(first, ...broadcasts.map((b) => {
      const o = document.createElement('option');
      o.value = b.id;
      o.textContent = t('watch.dash.broadcast_item', { when: fmt.format(new Date(b.started_at)), peak: b.peak_viewers, unique: b.unique_viewers });
      return o;
    }));
  } catch { /* no past broadcasts */ }
}

async function showBroadcast() {
  const id = $('broadcast-select').value;
  if (!id) { viewersChart.update(liveViewers); return; }
  try {
    const { samples = [] } = await api('GET', `${chanPath(current)}/broadcasts/${encodeURIComponent(id)}/viewers`);
    viewersChart.update(samples.map((s) => ({ at: new Date(s.at), values: [s.viewers] })));
  } catch (err) {
    fail('dash-status')(err);
  }
}

async function loadModeration() {
  const name = current;
  const base = `${chanPath(name)}`;
  const status = fail('mod-status');
  try {
    const s = await api('GET', `${base}/chat/settings`);
    $('slow-mode').value = s.slow_mode_seconds || 0;
    $('blocked-words').value = (s.blocked_words || []).join('\n');
  } catch (err) { status(err); }
  try {
    const { moderators = [] } = await api('GET', `${base}/moderators`);
    $('mod-list').replaceChildren(...moderators.map((m) => {
      const user = m.name ?? m.user?.name ?? String(m);
      return li(user, t('watch.dash.remove_label', { name: user }), async () => {
        try { await api('DELETE', `${base}/moderators/${encodeURIComponent(user)}`); loadModeration(); } catch (err) { status(err); }
      }, t('watch.dash.remove'));
    }));
  } catch (err) { status(err); }
  try {
    const { bans = [] } = await api('GET', `${base}/chat/bans`);
    const fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'short' });
    $('ban-list').replaceChildren(...bans.map((b) => {
      const user = b.user?.name ?? '';
      const label = b.until ? t('watch.dash.timed_out_until', { name: user, until: fmt.format(new Date(b.until)) }) : t('watch.dash.banned', { name: user });
      return li(label, t('watch.dash.unban_label', { name: user }), async () => {
        try { await api('DELETE', `${base}/chat/bans/${encodeURIComponent(user)}`); loadModeration(); } catch (err) { status(err); }
      }, t('watch.dash.unban'));
    }));
  } catch (err) { status(err); }
}

function wire() {
  $('channel-select').addEventListener('change', (e) => show(e.target.value));
  $('key-form').addEventListener('submit', (e) => { e.preventDefault(); keyAction(false); });
  $('key-rotate').addEventListener('click', () => keyAction(true));
  $('key-hide').addEventListener('click', hideKey);
  for (const [btn, field] of [['key-copy', 'key-value'], ['obs-server-copy', 'obs-server'], ['obs-srt-copy', 'obs-srt'], ['obs-whip-copy', 'obs-whip']]) {
    $(btn).addEventListener('click', async () => say('key-status', t(await copyText($(field).value, $(field)) ? 'watch.share.copied' : 'watch.share.copy_failed')));
  }
  $('create-channel-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: $('create-name').value.trim(), ...profileBody('create') };
    try {
      const ch = await api('POST', '/api/v1/channels', body);
      e.target.reset();
      say('create-status', t('watch.dash.created', { name: ch.name }));
      await loadChannels(ch.name);
    } catch (err) { fail('create-status')(err); }
  });
  $('channel-edit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('PATCH', chanPath(current), profileBody('edit'));
      say('edit-status', t('watch.dash.saved'));
      await loadChannels(current);
    } catch (err) { fail('edit-status')(err); }
  });
  for (const form of document.querySelectorAll('form.upload')) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const file = form.querySelector('input[type=file]').files[0];
      if (!file) return;
      try {
        const r = await fetch(`${chanPath(current)}/${form.dataset.kind}`, {
          method: 'PUT', body: file, credentials: 'same-origin',
          headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]')?.content || '' },
        });
        const data = await r.json().catch(() => ({}));
        if (!r.ok) throw Object.assign(new Error(data.message || `HTTP ${r.status}`), { code: data.error });
        say('upload-status', t('watch.dash.uploaded'));
        form.reset();
      } catch (err) { fail('upload-status')(err); }
    });
  }
  $('chat-settings-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const words = $('blocked-words').value.split('\n').map((s) => s.trim()).filter(Boolean);
    try {
      await api('PUT', `${chanPath(current)}/chat/settings`, { slow_mode_seconds: Number($('slow-mode').value) || 0, blocked_words: words });
      say('mod-status', t('watch.dash.saved'));
    } catch (err) { fail('mod-status')(err); }
  });
  $('mod-add-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('mod-user').value.trim();
    try {
      await api('PUT', `${chanPath(current)}/moderators/${encodeURIComponent(user)}`);
      $('mod-user').value = '';
      say('mod-status', t('watch.dash.moderator_added', { name: user }));
      loadModeration();
    } catch (err) { fail('mod-status')(err); }
  });
  $('broadcast-select').addEventListener('change', showBroadcast);
}

async function main() {
  if (!root) return;
  healthChart = createChart($('health-chart'), {
    title: t('watch.dash.health'),
    series: [
      { label: t('watch.dash.series.bitrate'), format: (v) => t('watch.quality.kbps', { n: num.format(Math.round(v)) }) },
      { label: t('watch.dash.series.fps'), format: (v) => t('watch.quality.fps', { n: num.format(v) }) },
      { label: t('watch.dash.series.keyframe'), format: (v) => t('watch.dash.seconds', { n: num.format(v) }) },
    ],
  });
  viewersChart = createChart($('viewers-chart'), {
    title: t('watch.dash.viewers'),
    series: [{ label: t('watch.dash.series.viewers'), format: (v) => num.format(v) }],
  });
  wire();
  await loadCategories();
  try {
    await loadChannels();
  } catch (err) {
    fail('dash-status')(err);
  }
}

main();
