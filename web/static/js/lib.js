// Shared helpers for the page scripts: translated strings from the page's
// #hb-i18n block, Intl formatting in the page's language, API calls with
// the CSRF token, and element building that only ever uses textContent.

const strings = (() => {
  const el = document.getElementById("hb-i18n");
  try {
    return el ? JSON.parse(el.textContent) : {};
  } catch {
    return {};
  }
})();

export const lang = document.documentElement.lang || "en";

// t translates key, replacing {name} placeholders from vars.
export function t(key, vars = {}) {
  const s = strings[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

const plural = new Intl.PluralRules(lang);
const numberFmt = new Intl.NumberFormat(lang);

export function fmtNumber(n) {
  return numberFmt.format(n);
}

// tn picks key.one / key.other by count and fills {count}.
export function tn(key, count, vars = {}) {
  const form = plural.select(count) === "one" ? "one" : "other";
  return t(`${key}.${form}`, { ...vars, count: fmtNumber(count) });
}

export function fmtDate(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium" }).format(d);
}

export function fmtDateTime(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

// fmtDuration formats milliseconds as hours and minutes.
export function fmtDuration(ms) {
  const mins = Math.max(0, Math.floor(ms / 60000));
  const h = Math.floor(mins / 60);
  const m = mins % 60;
  return h > 0 ? t("web.duration.hm", { h: fmtNumber(h), m }) : t("web.duration.m", { m });
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

export function setCSRFToken(token) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && token) meta.content = token;
}

const unsafe = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// refreshCSRFToken asks the server for the token of the current (pre-)
// session, for pages rendered before it existed or a token that changed.
async function refreshCSRFToken() {
  try {
    const res = await fetch("/api/v1/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (res.ok) setCSRFToken((await res.json())?.csrf_token);
  } catch {
    // The request that needed it reports the network error.
  }
}

// api calls /api/v1 and resolves to {ok, status, data, message}; it never
// throws, so callers show message on failure. An unsafe request refused for
// its CSRF token is retried once with a fresh token.
export async function api(method, path, body, retried = false) {
  const headers = { Accept: "application/json" };
  if (unsafe.has(method)) {
    if (!csrfToken()) await refreshCSRFToken();
    headers["X-CSRF-Token"] = csrfToken();
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch("/api/v1" + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: null, message: t("web.error.network") };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!retried && res.status === 403 && data?.error === "csrf_failed" && unsafe.has(method)) {
    await refreshCSRFToken();
    return api(method, path, body, true);
  }
  const message = res.ok ? "" : (data && typeof data.message === "string" && data.message) || t("web.error.generic");
  return { ok: res.ok, status: res.status, data, message };
}

// h builds an element; text children become text nodes, never markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "href" || k === "src") el.setAttribute(k, safeURL(v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// safeURL keeps same-site paths and http(s) URLs; anything else (javascript:,
// data:) becomes "#".
export function safeURL(v) {
  const s = String(v);
  if (s.startsWith("/") && !s.startsWith("//") && !s.startsWith("/\\")) return s;
  try {
    const u = new URL(s, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : "#";
  } catch {
    return "#";
  }
}

// localNext returns next when it is a path on this site, else "/".
export function localNext(next) {
  return typeof next === "string" && /^\/(?![/\\])/.test(next) && !/[\\\u0000-\u001f]/.test(next) ? next : "/";
}

export function announce(msg) {
  const el = document.getElementById("hb-announcer");
  if (el) {
    el.textContent = "";
    el.textContent = msg;
  }
}

// status writes msg into a form's [data-status] (an aria-live region).
export function status(form, msg, isError = false) {
  const el = form.querySelector("[data-status]") ?? form.querySelector(".status");
  if (!el) return;
  el.textContent = msg;
  el.classList.toggle("error", isError);
}

// formJSON reads a form's named fields into an object.
export function formJSON(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}
