// Admin page: site settings, users (disable, role) and channels (disable,
// end a live broadcast).
import { announce, api, formJSON, h, status, t } from "./lib.js";

const settings = document.getElementById("settings-form");
settings.addEventListener("submit", async (e) => {
  e.preventDefault();
  const v = formJSON(settings);
  const res = await api("PUT", "/admin/settings", {
    site_name: v.site_name.trim(),
    signup_open: v.signup_open,
    footer: { operator: v.operator, copyright: v.copyright, licence: v.licence, registration: v.registration },
  });
  status(settings, res.ok ? t("web.admin.saved") : res.message, !res.ok);
});

async function loadSettings() {
  const res = await api("GET", "/admin/settings");
  if (!res.ok) return;
  const s = res.data;
  settings.elements.site_name.value = s.site_name ?? "";
  settings.elements.signup_open.checked = !!s.signup_open;
  for (const k of ["operator", "copyright", "licence", "registration"]) settings.elements[k].value = s.footer?.[k] ?? "";
}

async function patch(path, body, statusEl) {
  const res = await api("PATCH", path, body);
  statusEl.textContent = res.ok ? t("web.admin.updated") : res.message;
  announce(statusEl.textContent);
  return res.ok;
}

const usersBody = document.querySelector("#user-list tbody");
const usersStatus = document.getElementById("users-status");

function userRow(u) {
  const roleSelect = h(
    "select",
    { "aria-label": t("web.admin.role") + " " + u.name },
    ...["viewer", "streamer", "admin"].map((r) => h("option", { value: r, selected: u.role === r, text: t("web.admin.role." + r) })),
  );
  roleSelect.addEventListener("change", () => patch("/admin/users/" + encodeURIComponent(u.id), { role: roleSelect.value }, usersStatus));
  const state = h("span", { text: u.disabled ? t("web.admin.disabled") : t("web.admin.active") });
  const toggle = h("button", { type: "button", class: "secondary", text: u.disabled ? t("web.admin.enable") : t("web.admin.disable") });
  toggle.addEventListener("click", async () => {
    if (await patch("/admin/users/" + encodeURIComponent(u.id), { disabled: !u.disabled }, usersStatus)) {
      u.disabled = !u.disabled;
      state.textContent = u.disabled ? t("web.admin.disabled") : t("web.admin.active");
      toggle.textContent = u.disabled ? t("web.admin.enable") : t("web.admin.disable");
    }
  });
  return h(
    "tr",
    { "data-user": u.name },
    h("td", {}, h("span", { text: u.display_name || u.name }), h("span", { class: "hint", text: " @" + u.name })),
    h("td", {}, roleSelect),
    h("td", {}, state),
    h("td", {}, toggle),
  );
}

async function loadUsers(q = "") {
  const res = await api("GET", "/admin/users?q=" + encodeURIComponent(q));
  if (!res.ok) {
    usersStatus.textContent = res.message;
    return;
  }
  const users = res.data?.users ?? [];
  usersBody.replaceChildren(...users.map(userRow));
  usersStatus.textContent = users.length ? "" : t("web.admin.empty");
}

document.getElementById("user-search").addEventListener("submit", (e) => {
  e.preventDefault();
  loadUsers(document.getElementById("user-q").value.trim());
});

const channelsBody = document.querySelector("#channel-list tbody");
const channelsStatus = document.getElementById("channels-status");

function channelRow(c) {
  const name = encodeURIComponent(c.name);
  const state = h("span", { text: c.disabled ? t("web.admin.disabled") : c.live ? t("core.live") : t("core.offline") });
  const toggle = h("button", { type: "button", class: "secondary", text: c.disabled ? t("web.admin.enable") : t("web.admin.disable") });
  toggle.addEventListener("click", async () => {
    if (await patch("/admin/channels/" + name, { disabled: !c.disabled }, channelsStatus)) {
      c.disabled = !c.disabled;
      toggle.textContent = c.disabled ? t("web.admin.enable") : t("web.admin.disable");
      state.textContent = c.disabled ? t("web.admin.disabled") : t("web.admin.active");
    }
  });
  const actions = h("td", { class: "actions" }, toggle);
  if (c.live) {
    const end = h("button", { type: "button", class: "danger", text: t("web.admin.takedown") });
    end.addEventListener("click", async () => {
      if (!window.confirm(t("web.admin.takedown_confirm", { name: c.name }))) return;
      const res = await api("POST", "/admin/channels/" + name + "/takedown");
      channelsStatus.textContent = res.ok ? t("web.admin.updated") : res.message;
      if (res.ok) end.remove();
    });
    actions.append(end);
  }
  return h(
    "tr",
    { "data-channel": c.name },
    h("td", {}, h("a", { href: "/c/" + name, text: c.title || c.name }), h("span", { class: "hint", text: " " + c.name })),
    h("td", {}, state),
    actions,
  );
}

async function loadChannels() {
  const res = await api("GET", "/admin/channels");
  if (!res.ok) {
    channelsStatus.textContent = res.message;
    return;
  }
  const channels = res.data?.channels ?? [];
  channelsBody.replaceChildren(...channels.map(channelRow));
  channelsStatus.textContent = channels.length ? "" : t("web.admin.empty");
}

loadSettings();
loadUsers();
loadChannels();
