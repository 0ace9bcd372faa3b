// Login, sign-up and first-administrator forms.
import { api, formJSON, localNext, setCSRFToken } from "./lib.js";

function bind(id, path, build) {
  const form = document.getElementById(id);
  if (!form) return;
  const out = form.querySelector("#form-status");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    out.textContent = "";
    const res = await api("POST", path, build(formJSON(form), form));
    button.disabled = false;
    if (!res.ok) {
      out.textContent = res.message;
      form.querySelector("input:not([hidden])")?.focus();
      return;
    }
    setCSRFToken(res.data?.csrf_token);
    location.assign(localNext(form.dataset.next));
  });
}

bind("login-form", "/login", (v) => ({ name: v.name.trim(), password: v.password }));

function signup(v, form) {
  const body = { name: v.name.trim(), password: v.password };
  if (v.display_name.trim()) body.display_name = v.display_name.trim();
  if (form.dataset.setupToken) body.setup_token = form.dataset.setupToken;
  return body;
}
bind("signup-form", "/signup", signup);
bind("setup-form", "/signup", signup);
