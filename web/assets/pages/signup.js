// signup.js — create a client account (name, email, password, time zone), then sign in.
import { api, humanError } from "../lib/api.js";
import { shell, say, safeNext } from "../lib/shell.js";
import { h, markReady, sentence } from "../lib/dom.js";
import { allZones, browserZone } from "../lib/time.js";

async function main() {
  let me = null;
  try { me = await shell({ title: "Sign up", requireLogin: false }); } catch { markReady(); return; }
  if (me) { location.replace(safeNext()); return; }
  const form = document.getElementById("signup-form");
  const status = document.getElementById("form-status");
  document.getElementById("login-link").href = `/login${location.search}`;
  const here = browserZone();
  const zones = allZones();
  if (!zones.includes(here)) zones.unshift(here);
  form.time_zone.append(...zones.map((z) => h("option", { value: z, text: z, selected: z === here })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      name: form.name.value.trim(),
      email: form.email.value.trim(),
      password: form.password.value,
      time_zone: form.time_zone.value,
    };
    for (const el of [form.name, form.email, form.password]) el.removeAttribute("aria-invalid");
    let problem = null;
    if (!body.name) problem = [form.name, "Please enter your name."];
    else if (!body.email || !body.email.includes("@")) problem = [form.email, "Please enter a valid email address."];
    else if (body.password.length < 10) problem = [form.password, "The password needs at least 10 characters."];
    if (problem) {
      problem[0].setAttribute("aria-invalid", "true");
      problem[0].focus();
      say(status, problem[1], "error");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(status, "Creating your account…", "busy");
    try {
      // Sign-up answers alike for new and taken addresses; signing in tells which it was.
      await api("POST", "/api/auth/signup", body);
      await api("POST", "/api/auth/login", { email: body.email, password: body.password });
      location.assign(safeNext());
    } catch (e) {
      button.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
  markReady();
}

main();
