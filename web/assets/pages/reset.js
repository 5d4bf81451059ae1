// reset.js — password reset: without a token, ask for a link by email; with the token from
// the emailed link (in the fragment, which browsers never send to a server), choose a new
// password, then go to log in.
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { markReady, sentence } from "../lib/dom.js";

function tokenFromLink() {
  const m = /(?:^|&)token=([A-Za-z0-9_-]+)/.exec(location.hash.slice(1));
  return m ? m[1] : null;
}

async function ask(form) {
  const status = document.getElementById("ask-status");
  form.hidden = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const email = form.email.value.trim();
    if (!email || !email.includes("@")) {
      form.email.setAttribute("aria-invalid", "true");
      form.email.focus();
      say(status, "Please enter a valid email address.", "error");
      return;
    }
    form.email.removeAttribute("aria-invalid");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(status, "Sending…", "busy");
    try {
      const r = await api("POST", "/api/auth/password-reset", { email });
      say(status, r.message, "ok");
    } catch (e) {
      button.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
}

async function choose(form, token) {
  const status = document.getElementById("set-status");
  // The token has done its job in the address bar: keep it out of history and screenshots.
  history.replaceState(null, "", location.pathname);
  form.hidden = false;
  form.password.focus();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const password = form.password.value;
    if (password.length < 10) {
      form.password.setAttribute("aria-invalid", "true");
      say(status, "The password needs at least 10 characters.", "error");
      return;
    }
    form.password.removeAttribute("aria-invalid");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(status, "Saving…", "busy");
    try {
      await api("POST", "/api/auth/password-reset/confirm", { token, new_password: password });
      say(status, "Your password is changed. You can log in with it now.", "ok");
      setTimeout(() => location.assign("/login"), 1500);
    } catch (e) {
      button.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
}

async function main() {
  try { await shell({ title: "Reset your password", requireLogin: false }); } catch { markReady(); return; }
  const token = tokenFromLink();
  if (token) await choose(document.getElementById("set-form"), token);
  else await ask(document.getElementById("ask-form"));
  markReady();
}

main();
