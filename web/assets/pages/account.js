// account.js — "/account": name, time zone, reminder emails and (when the server sends SMS) a
// mobile number with SMS reminders, notifications on this device (Web Push), change password (other sign-ins end),
// download my data (JSON), delete my account (typed confirmation; future sessions are
// cancelled and the session ends).
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence } from "../lib/dom.js";
import { allZones, browserZone } from "../lib/time.js";

function profileForm(me) {
  const status = h("p", { id: "profile-status", hidden: true });
  const name = h("input", { id: "name", value: me.user.name, autocomplete: "name", maxLength: 100, required: true });
  const zone = h("select", { id: "time-zone", attrs: { "aria-describedby": "tz-hint" } });
  const zones = allZones();
  if (!zones.includes(me.user.time_zone)) zones.unshift(me.user.time_zone);
  zone.append(...zones.map((z) => h("option", { value: z, text: z, selected: z === me.user.time_zone })));
  const here = browserZone();
  const useHere = here !== me.user.time_zone ? h("button", { type: "button", class: "btn btn-quiet", text: `Use this device's zone (${here})` }) : null;
  useHere?.addEventListener("click", () => { zone.value = here; });
  const reminders = h("input", { id: "email-reminders", type: "checkbox", checked: me.user.email_reminders, attrs: { "aria-describedby": "reminders-hint" } });
  const save = h("button", { type: "submit", class: "btn btn-primary", text: "Save profile" });
  // SMS reminders: only offered when this server sends SMS.
  const phone = h("input", { id: "phone", type: "tel", value: me.user.phone || "", autocomplete: "tel", maxLength: 32,
    placeholder: "+44 7911 123456", attrs: { "aria-describedby": "phone-hint" } });
  const sms = h("input", { id: "sms-reminders", type: "checkbox", checked: me.user.sms_reminders });
  const smsFields = me.sms_available ? [
    h("div", { class: "field" }, h("label", { for: "phone", text: "Mobile number" }), phone,
      h("span", { id: "phone-hint", class: "hint", text: "With the country code, e.g. +44 7911 123456." })),
    h("div", { class: "field" }, h("label", { for: "sms-reminders", class: "choice" }, sms, " Text me a reminder before each session")),
  ] : [];
  const form = h("form", { class: "card", attrs: { "aria-labelledby": "profile-h", novalidate: true } },
    h("h2", { id: "profile-h", text: "Profile" }),
    h("dl", { class: "facts" }, h("dt", { text: "Email" }), h("dd", { text: me.user.email }), h("dt", { text: "Account" }), h("dd", { text: me.user.role })),
    h("hr"),
    h("div", { class: "field" }, h("label", { for: "name", text: "Name" }), name),
    h("div", { class: "field" }, h("label", { for: "time-zone", text: "Time zone" }), zone,
      h("span", { id: "tz-hint", class: "hint", text: "Session times and free slots are shown in this zone." }), useHere),
    h("div", { class: "field" }, h("label", { for: "email-reminders", class: "choice" }, reminders, " Email me a reminder before each session"),
      h("span", { id: "reminders-hint", class: "hint", text: "Confirmations, changes and cancellations are always sent." })),
    ...smsFields,
    status, save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) { say(status, "Please enter your name.", "error"); name.focus(); return; }
    save.disabled = true;
    try {
      const body = { name: name.value.trim(), time_zone: zone.value, email_reminders: reminders.checked };
      if (me.sms_available) Object.assign(body, { phone: phone.value.trim(), sms_reminders: sms.checked });
      const saved = await api("PATCH", "/api/me", body);
      if (me.sms_available) { phone.value = saved.user.phone || ""; sms.checked = saved.user.sms_reminders; }
      say(status, "Profile saved.", "ok");
    } catch (e) {
      if (e.code === "invalid_phone" || e.code === "phone_required") phone.focus();
      say(status, `The profile was not saved. ${sentence(humanError(e))}`, "error");
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function passwordForm() {
  const status = h("p", { id: "password-status", hidden: true });
  const current = h("input", { id: "current-password", type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { id: "new-password", type: "password", autocomplete: "new-password", minLength: 10, required: true, attrs: { "aria-describedby": "pw-hint" } });
  const save = h("button", { type: "submit", class: "btn", id: "password-save", text: "Change password" });
  const form = h("form", { class: "card", attrs: { "aria-labelledby": "password-h", novalidate: true } },
    h("h2", { id: "password-h", text: "Password" }),
    h("div", { class: "field" }, h("label", { for: "current-password", text: "Current password" }), current),
    h("div", { class: "field" }, h("label", { for: "new-password", text: "New password" }), next,
      h("span", { id: "pw-hint", class: "hint", text: "At least 10 characters. You stay signed in here; every other sign-in ends." })),
    status, save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current.value) { say(status, "Please enter your current password.", "error"); current.focus(); return; }
    if (next.value.length < 10) { say(status, "The new password needs at least 10 characters.", "error"); next.focus(); return; }
    save.disabled = true;
    try {
      await api("PUT", "/api/me/password", { current_password: current.value, new_password: next.value });
      current.value = "";
      next.value = "";
      say(status, "Password changed. Other sign-ins have ended.", "ok");
    } catch (e) {
      say(status, `The password was not changed. ${sentence(humanError(e))}`, "error");
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function exportCard() {
  return h("section", { class: "card", attrs: { "aria-labelledby": "export-h" } },
    h("h2", { id: "export-h", text: "Your data" }),
    h("p", { class: "muted", text: "Download everything this server holds about you: profile, sessions, commitments, AI coach transcripts and sign-in history, as a JSON file." }),
    h("a", { class: "btn", id: "export", href: "/api/me/export", attrs: { download: "parlor-export.json" }, text: "Download my data" }));
}

function deleteCard() {
  const status = h("p", { id: "delete-status", hidden: true });
  const start = h("button", { type: "button", class: "btn btn-danger", id: "delete-start", text: "Delete my account…" });
  const card = h("section", { class: "card danger-zone", attrs: { "aria-labelledby": "delete-h" } },
    h("h2", { id: "delete-h", text: "Delete my account" }),
    h("p", { text: "This removes your personal data, cancels your future sessions and signs you out everywhere. It cannot be undone." }),
    start, status);
  start.addEventListener("click", () => {
    start.hidden = true;
    const typed = h("input", { id: "delete-confirm", autocomplete: "off", attrs: { "aria-describedby": "delete-hint" } });
    const go = h("button", { type: "button", class: "btn btn-danger", id: "delete-go", text: "Delete my account now" });
    const keep = h("button", { type: "button", class: "btn btn-quiet", text: "Keep my account" });
    const panel = h("div", { class: "panel" },
      h("div", { class: "field" }, h("label", { for: "delete-confirm", text: "Type DELETE to confirm" }), typed,
        h("span", { id: "delete-hint", class: "hint", text: "In capital letters." })),
      h("div", { class: "row" }, go, keep));
    keep.addEventListener("click", () => { panel.remove(); start.hidden = false; say(status, ""); start.focus(); });
    go.addEventListener("click", async () => {
      if (typed.value.trim() !== "DELETE") {
        say(status, "To delete your account, type DELETE in the box first.", "error");
        typed.focus();
        return;
      }
      go.disabled = true;
      say(status, "Deleting your account…", "busy");
      try {
        await api("DELETE", "/api/me");
        location.assign("/?deleted=1");
      } catch (e) {
        go.disabled = false;
        say(status, `Your account was not deleted. ${sentence(humanError(e))}`, "error");
      }
    });
    card.insertBefore(panel, status);
    typed.focus();
  });
  return card;
}

// Shown while the address is not confirmed on a server that asks for it.
function confirmCard(me) {
  if (me.email_verification === "off" || me.user.email_verified) return null;
  const status = h("p", { id: "confirm-status", hidden: true });
  const send = h("button", { type: "button", class: "btn", id: "confirm-send", text: "Send me a new link" });
  send.addEventListener("click", async () => {
    send.disabled = true;
    say(status, "Sending…", "busy");
    try {
      const r = await api("POST", "/api/auth/verify-email/resend", { email: me.user.email });
      say(status, r.message, "ok");
    } catch (e) {
      send.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
  return h("section", { class: "card", id: "confirm-card", attrs: { "aria-labelledby": "confirm-h" } },
    h("h2", { id: "confirm-h", text: "Confirm your email address" }),
    h("p", { text: `We sent a link to ${me.user.email}. Follow it to confirm that the address is yours.` }),
    status, send);
}

// The server's key as the bytes pushManager.subscribe wants.
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// "Notifications on this device": Web Push through the service worker at /sw.js.
async function pushCard() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return null;
  let key;
  try { key = await api("GET", "/api/push/key"); } catch { return null; }
  if (!key.enabled) return null;
  const status = h("p", { id: "push-status", hidden: true });
  const toggle = h("button", { type: "button", class: "btn", id: "push-toggle", text: "Turn on notifications" });
  const card = h("section", { class: "card", id: "push-card", attrs: { "aria-labelledby": "push-h" } },
    h("h2", { id: "push-h", text: "Notifications on this device" }),
    h("p", { text: "A reminder before each session, and a note when your coach has joined the room." }),
    status, toggle);
  let registration = null;
  let current = null;
  const show = () => {
    toggle.textContent = current ? "Turn off notifications" : "Turn on notifications";
    toggle.dataset.on = current ? "true" : "false";
  };
  try {
    registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    current = await registration.pushManager.getSubscription();
  } catch (e) {
    say(status, `This browser cannot show notifications from this site (${e.message}).`, "error");
    toggle.disabled = true;
  }
  show();
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      if (current) {
        const mine = await api("GET", "/api/push/subscriptions");
        const stored = mine.find((m) => m.endpoint === current.endpoint);
        if (stored) await api("DELETE", `/api/push/subscriptions/${encodeURIComponent(stored.id)}`);
        await current.unsubscribe();
        current = null;
        say(status, "Notifications are off for this device.", "ok");
      } else {
        const permission = await Notification.requestPermission();
        if (permission !== "granted") {
          say(status, "Notifications are blocked for this site; allow them in the browser's site settings.", "error");
          return;
        }
        say(status, "Turning notifications on…", "busy");
        current = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key.public_key) });
        await api("POST", "/api/push/subscriptions", current.toJSON());
        say(status, "Notifications are on for this device.", "ok");
      }
    } catch (e) {
      say(status, `Notifications could not be changed. ${sentence(e.status !== undefined ? humanError(e) : e.message)}`, "error");
    } finally {
      toggle.disabled = false;
      show();
    }
  });
  return card;
}

async function main() {
  const view = document.getElementById("view");
  let me;
  try { me = await shell({ title: "Account" }); } catch { view.replaceChildren(); markReady(); return; }
  const push = await pushCard();
  view.replaceChildren(...[confirmCard(me), profileForm(me), push, passwordForm(), exportCard(), deleteCard()].filter(Boolean));
  markReady();
}

main();
