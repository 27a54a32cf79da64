import * as api from "../api.js";
import { h, clear, field, input, logo } from "../ui.js";

export default function render(root) {
  const user = input({ name: "id", id: "login-id", autocomplete: "username", required: true,
    autofocus: true, placeholder: "user id" });
  const pass = input({ name: "passphrase", id: "login-passphrase", type: "password",
    autocomplete: "current-password", required: true, placeholder: "passphrase" });
  const error = h("p.form-error#login-error", { role: "alert" });
  const submit = h("button.btn.btn-primary.btn-block#login-submit", { type: "submit" }, "Log in");

  const form = h("form.login-card", {
    async onsubmit(e) {
      e.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      submit.textContent = "Logging in…";
      try {
        await api.login(user.value.trim(), pass.value);
        const target = location.hash && !location.hash.startsWith("#/login")
          ? location.hash : "#/clusters";
        if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
        else location.hash = target;
      } catch (err) {
        error.textContent = err.status === 401 || err.status === 400
          ? "User id or passphrase is incorrect."
          : err.message;
        submit.disabled = false;
        submit.textContent = "Log in";
        pass.select();
      }
    },
  },
  h("div.login-brand", logo(44), h("div", h("h1", "Hanami"), h("p", "Growing neural networks as a service"))),
  field("User id", user),
  field("Passphrase", pass),
  error,
  submit,
  h("p.login-foot", h("a", { href: "/docs", target: "_blank", rel: "noopener" }, "API documentation")));

  clear(root, h("div.login-page", form));
  user.focus();
}
