// login.js — the log-in form; on success goes to ?next= (same-site paths only) or "/"; an
// unconfirmed address gets a way to a new confirmation link.
import { api, humanError } from "../lib/api.js";
import { shell, say, safeNext } from "../lib/shell.js";
import { markReady, sentence } from "../lib/dom.js";

async function main() {
  let me = null;
  try { me = await shell({ title: "Log in", requireLogin: false }); } catch { markReady(); return; }
  if (me) { location.replace(safeNext()); return; }
  const form = document.getElementById("login-form");
  const status = document.getElementById("form-status");
  const link = document.getElementById("signup-link");
  link.href = `/signup${location.search}`;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const email = form.email.value.trim();
    const password = form.password.value;
    if (!email || !password) {
      say(status, "Please enter your email and password.", "error");
      (email ? form.password : form.email).focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(status, "Logging in…", "busy");
    try {
      await api("POST", "/api/auth/login", { email, password });
      location.assign(safeNext());
    } catch (e) {
      button.disabled = false;
      say(status, sentence(humanError(e)), "error");
      // An unconfirmed address: offer a new link right here.
      if (e.code === "email_unverified" && !document.getElementById("verify-link")) {
        const again = document.createElement("a");
        again.id = "verify-link";
        again.className = "btn btn-block";
        again.href = `/verify-email?email=${encodeURIComponent(email)}`;
        again.textContent = "Send me a new confirmation link";
        status.after(again);
      }
    }
  });
  markReady();
}

main();
