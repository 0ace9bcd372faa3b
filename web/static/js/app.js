// Layout behaviour on every page: service worker, back-to-top, logout and
// the install button of /download.
import { api, localNext } from "./lib.js";

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

const top = document.getElementById("back-to-top");
if (top) {
  const update = () => {
    top.hidden = window.scrollY < 600;
  };
  window.addEventListener("scroll", update, { passive: true });
  update();
  top.addEventListener("click", () => {
    const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    window.scrollTo({ top: 0, behavior: reduce ? "auto" : "smooth" });
    document.getElementById("main")?.focus({ preventScroll: true });
  });
}

const logout = document.getElementById("logout-button");
logout?.addEventListener("click", async () => {
  logout.disabled = true;
  await api("POST", "/logout");
  location.assign(localNext("/"));
});

const install = document.getElementById("install-button");
if (install) {
  let deferred = null;
  window.addEventListener("beforeinstallprompt", (e) => {
    e.preventDefault();
    deferred = e;
    install.hidden = false;
  });
  install.addEventListener("click", async () => {
    if (!deferred) return;
    deferred.prompt();
    await deferred.userChoice.catch(() => {});
    deferred = null;
    install.hidden = true;
  });
}
