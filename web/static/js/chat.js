// Chat panel: one WebSocket per page (see the chat protocol in
// docs/openapi.yaml). User text is hostile: it only ever reaches the page
// as textContent, never parsed as markup.

const MAX_CHARS = 500;
const TIMEOUT_SECONDS = 600;

const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
};

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || '';
}

// api calls a JSON route with the CSRF header; it returns the parsed body or
// throws an Error whose code/message come from the error body.
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!r.ok) {
    const err = new Error(data?.message || `HTTP ${r.status}`);
    err.code = data?.error || 'http_' + r.status;
    err.status = r.status;
    throw err;
  }
  return data;
}

// createChat runs the chat of channel `name` inside root. t translates
// catalogue keys; onEvent is told about reconnects so the page can refresh
// the channel status.
export function createChat(root, { name, t, loginURL, onReconnect = () => {} }) {
  const log = root.querySelector('#chat-log');
  const form = root.querySelector('#chat-form');
  const input = root.querySelector('#chat-input');
  const send = root.querySelector('#chat-send');
  const counter = root.querySelector('#chat-count');
  const pill = root.querySelector('#chat-new');
  const status = root.querySelector('#chat-status');
  const errorBox = root.querySelector('#chat-error');
  const login = root.querySelector('#chat-login');
  const slow = root.querySelector('#chat-slow');
  const base = `/api/v1/channels/${encodeURIComponent(name)}`;
  const timeFmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit' });

  let ws = null;
  let me = null;
  let attempt = 0;
  let timer = 0;
  let closed = false;
  let stick = true; // follow new messages while the reader is at the bottom

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  log.addEventListener('scroll', () => {
    stick = atBottom();
    if (stick) pill.hidden = true;
  });
  pill.addEventListener('click', () => {
    log.scrollTop = log.scrollHeight;
    pill.hidden = true;
    stick = true;
  });

  function showError(code, message) {
    const key = `error.${code}`;
    const txt = t(key);
    errorBox.textContent = txt !== key ? txt : (message || t('watch.chat.error'));
    errorBox.hidden = false;
  }
  function clearError() { errorBox.hidden = true; errorBox.textContent = ''; }

  async function moderate(action, m) {
    clearError();
    try {
      if (action === 'delete') {
        await api('DELETE', `${base}/chat/messages/${encodeURIComponent(m.id)}`);
      } else {
        if (action === 'ban' && !confirm(t('watch.chat.ban_confirm', { name: m.user.name }))) return;
        await api('POST', `${base}/chat/bans`, { user: m.user.name, duration_seconds: action === 'ban' ? 0 : TIMEOUT_SECONDS });
      }
    } catch (err) {
      showError(err.code, err.message);
    }
  }

  function render(m) {
    const who = m.user.display_name || m.user.name;
    const li = el('li', { className: 'chat-msg', dataset: { id: m.id, userId: String(m.user.id) } });
    const at = new Date(m.at);
    li.append(el('time', { className: 'chat-time', dateTime: at.toISOString(), textContent: timeFmt.format(at) }), ' ');
    if (m.user.badge) {
      li.append(el('span', { className: `chat-badge chat-badge-${m.user.badge}`, textContent: t(`watch.chat.badge.${m.user.badge}`) }), ' ');
    }
    li.append(el('span', { className: 'chat-user', title: m.user.name, textContent: who }), ': ',
      el('span', { className: 'chat-text', textContent: m.text }));
    if (me?.can_moderate && m.user.id !== me.id) {
      const tools = el('span', { className: 'chat-tools' });
      for (const action of ['delete', 'timeout', 'ban']) {
        const b = el('button', {
          type: 'button', className: `chat-${action}`, textContent: t(`watch.chat.${action}`),
          'aria-label': t(`watch.chat.${action}_label`, { name: who }),
        });
        b.addEventListener('click', () => moderate(action, m));
        tools.append(b);
      }
      li.append(' ', tools);
    }
    return li;
  }

  function add(messages) {
    const follow = stick || atBottom();
    log.append(...messages.map(render));
    while (log.children.length > 300) log.firstElementChild.remove();
    if (follow) log.scrollTop = log.scrollHeight;
    else pill.hidden = false;
  }

  function setSettings(s) {
    const n = s?.slow_mode_seconds || 0;
    slow.hidden = n <= 0;
    slow.textContent = n > 0 ? t('watch.chat.slow_mode', { seconds: n }) : '';
  }

  function setMe(who) {
    me = who;
    const canWrite = !!who?.can_write;
    form.hidden = !who;
    login.hidden = !!who;
    input.disabled = !canWrite;
    send.disabled = !canWrite;
    if (who && !canWrite) input.placeholder = t('watch.chat.cannot_write');
  }

  function onFrame(f) {
    switch (f.type) {
      case 'hello':
        log.replaceChildren();
        setMe(f.me);
        setSettings(f.settings);
        stick = true;
        add(f.history || []);
        break;
      case 'message':
        add([f.message]);
        break;
      case 'delete':
        log.querySelector(`li[data-id="${CSS.escape(String(f.id))}"]`)?.remove();
        break;
      case 'purge':
        log.querySelectorAll(`li[data-user-id="${CSS.escape(String(f.user_id))}"]`).forEach((li) => li.remove());
        break;
      case 'settings':
        setSettings(f.settings);
        break;
      case 'error':
        showError(f.error, f.message);
        break;
    }
  }

  function connect() {
    if (closed) return;
    const u = new URL(`${base}/chat`, location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    status.textContent = t(attempt ? 'watch.chat.reconnecting' : 'watch.chat.connecting');
    ws = new WebSocket(u);
    ws.addEventListener('open', () => {
      if (attempt) onReconnect();
      attempt = 0;
      status.textContent = t('watch.chat.connected');
    });
    ws.addEventListener('message', (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      onFrame(f);
    });
    ws.addEventListener('close', () => {
      ws = null;
      if (closed) return;
      send.disabled = true;
      attempt++;
      status.textContent = t('watch.chat.reconnecting');
      const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() / 2);
      timer = setTimeout(connect, delay);
    });
  }

  function updateCount() {
    const n = [...input.value].length;
    counter.textContent = t('watch.chat.count', { count: n, max: MAX_CHARS });
    counter.classList.toggle('over', n > MAX_CHARS);
    if (me?.can_write) send.disabled = n === 0 || n > MAX_CHARS || !ws;
  }
  input.addEventListener('input', updateCount);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || [...text].length > MAX_CHARS || !ws || ws.readyState !== WebSocket.OPEN) return;
    clearError();
    ws.send(JSON.stringify({ type: 'send', text }));
    input.value = '';
    updateCount();
  });
  if (loginURL) login.querySelector('a')?.setAttribute('href', loginURL);
  updateCount();
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    },
  };
}
