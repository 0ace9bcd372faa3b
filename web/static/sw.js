// Service worker: keeps only the app shell (styles, scripts, icons, the
// offline page) so the app starts offline. Live media, the API, uploaded
// media and page HTML always go to the network.
const VERSION = "__VERSION__";
const SHELL = "__SHELL__";
const OFFLINE = "__OFFLINE__";
const PREFIX = "hb-shell-";
const CACHE = PREFIX + VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate") {
    // Pages are never cached; the offline page stands in when the network fails.
    event.respondWith(fetch(req).catch(() => caches.match(OFFLINE)));
    return;
  }
  if (!url.pathname.startsWith("/static/")) return;
  event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
});
