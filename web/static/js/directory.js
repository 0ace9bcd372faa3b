// Directory: live channels first, categories, search, the Followed tab and
// the 24-hour ranking.
import { api, fmtDate, fmtDuration, h, t, tn } from "./lib.js";

const root = document.getElementById("directory-root");
const list = document.getElementById("directory-live");
const statusEl = document.getElementById("directory-status");
const more = document.getElementById("directory-more");
const PAGE = 24;

const state = {
  mode: root.dataset.mode,
  category: root.dataset.category,
  q: root.dataset.q,
  followed: false,
  offset: 0,
};

function card(c) {
  const title = c.title || c.name;
  const meta = [];
  if (c.live) {
    meta.push(h("span", { class: "viewers", text: tn("web.count.viewers", c.viewers ?? 0) }));
    if (c.started_at) {
      meta.push(h("span", { class: "duration", text: t("web.directory.live_for", { duration: fmtDuration(Date.now() - Date.parse(c.started_at)) }) }));
    }
  } else if (c.last_live_at) {
    meta.push(h("span", { text: t("web.directory.last_live", { date: fmtDate(c.last_live_at) }) }));
  } else {
    meta.push(h("span", { text: t("web.directory.never_live") }));
  }
  const owner = c.owner ? c.owner.display_name || c.owner.name : c.name;
  return h(
    "li",
    { class: "card", "data-channel": c.name, "data-live": c.live ? "true" : "false" },
    h(
      "a",
      { href: "/c/" + encodeURIComponent(c.name), class: "card-link" },
      h(
        "div",
        { class: "preview" },
        h("img", { src: c.preview_url || "/static/img/preview.svg", alt: t("web.directory.preview_alt", { title }), loading: "lazy", width: 320, height: 180 }),
        c.live ? h("span", { class: "badge-live", text: t("web.directory.live_badge") }) : null,
      ),
      h("span", { class: "card-title", text: title }),
    ),
    h("span", { class: "card-owner", text: owner }),
    c.category ? h("a", { class: "card-category", href: "/category/" + encodeURIComponent(c.category.slug), text: c.category.name }) : null,
    h("span", { class: "card-meta" }, ...meta),
  );
}

async function load(reset) {
  if (reset) {
    state.offset = 0;
    list.replaceChildren();
  }
  statusEl.textContent = t("web.loading");
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
  if (state.mode === "category" && state.category) params.set("category", state.category);
  if (state.mode === "search" && state.q) params.set("q", state.q);
  if (state.followed) params.set("followed", "true");
  const res = await api("GET", "/channels?" + params);
  if (!res.ok) {
    statusEl.textContent = res.message;
    return;
  }
  const channels = res.data?.channels ?? [];
  list.append(...channels.map(card));
  state.offset += channels.length;
  const total = res.data?.total ?? state.offset;
  more.hidden = state.offset >= total || channels.length === 0;
  if (state.offset === 0) {
    statusEl.textContent = state.followed
      ? t("web.directory.followed_empty")
      : state.mode === "search"
        ? t("web.search.empty")
        : t("web.directory.empty");
  } else {
    statusEl.textContent = "";
  }
}

function findPath(cats, slug) {
  for (const c of cats) {
    if (c.slug === slug) return c.path?.length ? c.path : [{ slug: c.slug, name: c.name }];
    const sub = findPath(c.children ?? [], slug);
    if (sub) return sub;
  }
  return null;
}

async function categories() {
  const res = await api("GET", "/categories");
  if (!res.ok) return;
  const cats = res.data?.categories ?? [];
  const ul = document.getElementById("category-list");
  ul.replaceChildren(
    ...cats.map((c) =>
      h("li", {}, h("a", { href: "/category/" + encodeURIComponent(c.slug), class: "chip", "aria-current": c.slug === state.category ? "page" : null, text: c.name })),
    ),
  );
  if (state.mode !== "category") return;
  const path = findPath(cats, state.category);
  const crumbs = document.querySelector("#breadcrumbs ol");
  if (!path || !crumbs) return;
  const items = [h("li", {}, h("a", { href: "/", text: t("web.breadcrumb.home") }))];
  path.forEach((p, i) => {
    const last = i === path.length - 1;
    items.push(last ? h("li", { "aria-current": "page", text: p.name }) : h("li", {}, h("a", { href: "/category/" + encodeURIComponent(p.slug), text: p.name })));
  });
  crumbs.replaceChildren(...items);
  const heading = document.getElementById("directory-heading");
  heading.textContent = path[path.length - 1].name;
  document.title = path[path.length - 1].name + " · " + document.title.split(" · ").slice(1).join(" · ");
}

async function ranking() {
  const ol = document.getElementById("ranking-24h");
  if (!ol) return;
  const out = document.getElementById("ranking-status");
  const res = await api("GET", "/rankings/viewers-24h?limit=10");
  if (!res.ok) {
    out.textContent = res.message;
    return;
  }
  const rows = res.data?.channels ?? [];
  ol.replaceChildren(
    ...rows.map((c) =>
      h(
        "li",
        { "data-channel": c.name },
        h("a", { href: "/c/" + encodeURIComponent(c.name), text: c.title || c.name }),
        c.live ? h("span", { class: "badge-live small", text: t("web.directory.live_badge") }) : null,
        h("span", { class: "count", text: tn("web.count.unique", c.unique_viewers ?? 0) }),
      ),
    ),
  );
  out.textContent = rows.length ? "" : t("web.directory.ranking_empty");
}

function tabs() {
  const all = document.getElementById("tab-all");
  const followed = document.getElementById("tab-followed");
  if (!all || !followed) return;
  const select = (tab) => {
    const isFollowed = tab === followed;
    all.setAttribute("aria-selected", String(!isFollowed));
    followed.setAttribute("aria-selected", String(isFollowed));
    all.tabIndex = isFollowed ? -1 : 0;
    followed.tabIndex = isFollowed ? 0 : -1;
    tab.focus();
    if (state.followed !== isFollowed) {
      state.followed = isFollowed;
      load(true);
    }
  };
  all.addEventListener("click", () => select(all));
  followed.addEventListener("click", () => select(followed));
  for (const tab of [all, followed]) {
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        select(tab === all ? followed : all);
      }
    });
  }
}

more.addEventListener("click", () => load(false));
tabs();
load(true);
categories();
ranking();
