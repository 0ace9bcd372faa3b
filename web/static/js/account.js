// Account page: display name, password, personal API tokens, deletion.
import { api, fmtDate, formJSON, h, status, t } from "./lib.js";

function onSubmit(id, handler) {
  const form = document.getElementById(id);
  form?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    status(form, t("web.loading"));
    try {
      await handler(form, formJSON(form));
    } finally {
      button.disabled = false;
    }
  });
}

onSubmit("profile-form", async (form, v) => {
  const res = await api("PATCH", "/account", { display_name: v.display_name.trim() });
  status(form, res.ok ? t("web.account.saved") : res.message, !res.ok);
});

onSubmit("password-form", async (form, v) => {
  const res = await api("PUT", "/account/password", { current_password: v.current_password, new_password: v.new_password });
  status(form, res.ok ? t("web.account.password_changed") : res.message, !res.ok);
  if (res.ok) form.reset();
});

const tokenList = document.getElementById("token-list");

function tokenItem(tok) {
  const li = h(
    "li",
    { "data-token-id": tok.id },
    h("span", { class: "token-name", text: tok.name }),
    tok.hint ? h("code", { text: tok.hint }) : null,
    h("span", { class: "hint", text: t("web.account.token_created_at", { date: fmtDate(tok.created_at) }) }),
  );
  const revoke = h("button", { type: "button", class: "secondary", text: t("web.account.token_revoke") });
  revoke.addEventListener("click", async () => {
    revoke.disabled = true;
    const res = await api("DELETE", "/account/tokens/" + encodeURIComponent(tok.id));
    if (res.ok) li.remove();
    else revoke.disabled = false;
    if (!tokenList.children.length) tokenList.append(h("li", { class: "hint", text: t("web.account.tokens_empty") }));
  });
  li.append(revoke);
  return li;
}

async function loadTokens() {
  const res = await api("GET", "/account/tokens");
  if (!res.ok) {
    tokenList.replaceChildren(h("li", { class: "status error", text: res.message }));
    return;
  }
  const tokens = res.data?.tokens ?? [];
  tokenList.replaceChildren(...(tokens.length ? tokens.map(tokenItem) : [h("li", { class: "hint", text: t("web.account.tokens_empty") })]));
}

onSubmit("token-form", async (form, v) => {
  const res = await api("POST", "/account/tokens", { name: v.name.trim() });
  if (!res.ok) {
    status(form, res.message, true);
    return;
  }
  status(form, "");
  form.reset();
  document.getElementById("token-value").textContent = res.data.token;
  document.getElementById("token-created").hidden = false;
  await loadTokens();
});

onSubmit("delete-form", async (form, v) => {
  if (!window.confirm(t("web.account.delete_confirm"))) {
    status(form, "");
    return;
  }
  const res = await api("DELETE", "/account", { password: v.password });
  if (res.ok) location.assign("/");
  else status(form, res.message, true);
});

loadTokens();
