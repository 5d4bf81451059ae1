// verify.js — "/verify-email": with the token from the emailed link (in the fragment, which
// browsers never send to a server), confirm the address at once; without one, or when the
// link no longer works, ask for a new link by email.
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { markReady, sentence } from "../lib/dom.js";

function tokenFromLink() {
  const m = /(?:^|&)token=([A-Za-z0-9_-]+)/.exec(location.hash.slice(1));
  return m ? m[1] : null;
}

function resend(form, email) {
  const status = document.getElementById("resend-status");
  form.hidden = false;
  if (email) form.email.value = email;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const address = form.email.value.trim();
    if (!address || !address.includes("@")) {
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
      const r = await api("POST", "/api/auth/verify-email/resend", { email: address });
      say(status, r.message, "ok");
    } catch (e) {
      button.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
}

async function main() {
  try { await shell({ title: "Confirm your email address", requireLogin: false }); } catch { markReady(); return; }
  const status = document.getElementById("verify-status");
  const form = document.getElementById("resend-form");
  const token = tokenFromLink();
  const email = new URLSearchParams(location.search).get("email");
  if (!token) {
    resend(form, email);
    markReady();
    return;
  }
  // The token has done its job in the address bar: keep it out of history and screenshots.
  history.replaceState(null, "", location.pathname);
  say(status, "Confirming…", "busy");
  try {
    await api("POST", "/api/auth/verify-email", { token });
    say(status, "Your email address is confirmed. Thank you.", "ok");
  } catch (e) {
    say(status, sentence(humanError(e)), "error");
    resend(form, email);
  }
  markReady();
}

main();
