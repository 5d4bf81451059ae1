// admin.js — "/admin": the admin console. Live rooms and voice sessions (from the server's
// own registry, refreshed every 5 s), accounts (search, role, disable/enable, a generated
// password shown once, a coach profile from an account), coaches (activate/deactivate, a link
// to edit profile, hours and policy), failed email and webhook deliveries (retry) and the audit log (by actor, event and dates, newest
// first, paged). Everything here is an API call an integration can make as well.
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence, toast } from "../lib/dom.js";

const $ = (id) => document.getElementById(id);
const ROLES = ["client", "coach", "admin"];
let me = null;
let coachesByUser = new Map();
let auditBefore = null;

function duration(secs) {
  if (secs < 60) return `${secs} s`;
  const m = Math.floor(secs / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

async function loadLive() {
  try {
    const live = await api("GET", "/api/admin/live");
    const calls = live.rooms.filter((r) => !r.name.startsWith("voice-")).length;
    const people = live.rooms.reduce((n, r) => n + r.participants.length, 0);
    $("live-summary").textContent =
      `${calls} video ${calls === 1 ? "room" : "rooms"}, ${live.voice_sessions} AI voice ${live.voice_sessions === 1 ? "session" : "sessions"}, ${people} ${people === 1 ? "participant" : "participants"}` +
      (live.draining ? ". The server is restarting: no new calls are admitted." : ".");
    $("live-rooms").replaceChildren(...live.rooms.map((r) => h("li", { class: "list-item live-room" },
      h("div", { class: "row" },
        h("strong", { text: r.name.startsWith("voice-") ? "AI voice session" : `Room ${r.name}` }),
        h("span", { class: "muted small", text: `open ${duration(r.open_secs)}, ${r.tracks.length} ${r.tracks.length === 1 ? "track" : "tracks"}` })),
      h("p", { class: "small", text: r.participants.map((p) => `${p.name} (${p.role})`).join(", ") || "Nobody" }))));
  } catch (e) {
    $("live-summary").textContent = `Could not load what is live. ${sentence(humanError(e))}`;
  }
}

function userItem(u) {
  const status = h("p", { hidden: true });
  const role = h("select", { id: `role-${u.id}`, "aria-label": `Role of ${u.name}` },
    ROLES.map((r) => h("option", { value: r, text: r, selected: r === u.role })));
  const self = me && me.user.id === u.id;
  role.disabled = self;
  role.addEventListener("change", async () => {
    const want = role.value;
    try {
      const changed = await api("PUT", `/api/admin/users/${encodeURIComponent(u.id)}/role`, { role: want });
      toast(`${changed.name} is now ${changed.role}.`);
      Object.assign(u, changed);
    } catch (e) {
      role.value = u.role;
      say(status, `The role was not changed. ${sentence(humanError(e))}`, "error");
    }
  });
  const toggle = h("button", { type: "button", class: "btn toggle-disabled", text: u.disabled ? "Enable" : "Disable", disabled: self });
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      const changed = await api("POST", `/api/admin/users/${encodeURIComponent(u.id)}/${u.disabled ? "enable" : "disable"}`);
      toast(changed.disabled ? `${changed.name} can no longer sign in.` : `${changed.name} can sign in again.`);
      await loadUsers();
    } catch (e) {
      toggle.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
  const reset = h("button", { type: "button", class: "btn reset-password", text: "Reset password" });
  reset.addEventListener("click", async () => {
    reset.disabled = true;
    try {
      const r = await api("POST", `/api/admin/users/${encodeURIComponent(u.id)}/password`);
      say(status, `New password for ${u.email}, shown once: ${r.password} — give it to them in person or by phone; their sessions have ended.`, "ok");
      status.dataset.password = r.password;
    } catch (e) {
      say(status, `The password was not reset. ${sentence(humanError(e))}`, "error");
    } finally {
      reset.disabled = false;
    }
  });
  const actions = [toggle, reset];
  if (!coachesByUser.has(u.id)) {
    const make = h("button", { type: "button", class: "btn make-coach", text: "Make coach profile" });
    make.addEventListener("click", async () => {
      make.disabled = true;
      try {
        if (u.role !== "coach") await api("PUT", `/api/admin/users/${encodeURIComponent(u.id)}/role`, { role: "coach" });
        await api("POST", "/api/coaches", { user_id: u.id, name: u.name, time_zone: u.time_zone });
        toast(`${u.name} has a coach profile.`);
        await loadCoaches();
        await loadUsers();
      } catch (e) {
        make.disabled = false;
        say(status, `No coach profile was made. ${sentence(humanError(e))}`, "error");
      }
    });
    actions.push(make);
  }
  return h("li", { class: "list-item user", attrs: { "data-id": u.id } },
    h("div", { class: "row" },
      h("strong", { text: u.name }),
      h("span", { class: "muted small", text: u.email }),
      u.disabled ? h("span", { class: "badge badge-dark", text: "disabled" }) : null,
      self ? h("span", { class: "badge", text: "you" }) : null),
    h("div", { class: "row" }, h("label", { for: role.id, class: "small", text: "Role" }), role, ...actions),
    status);
}

async function loadUsers() {
  const q = $("user-q").value.trim();
  try {
    const users = await api("GET", `/api/admin/users${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    say($("users-status"), users.length ? "" : "No account matches.");
    $("users").replaceChildren(...users.map(userItem));
  } catch (e) {
    say($("users-status"), `Could not load the accounts. ${sentence(humanError(e))}`, "error");
  }
}

function coachItem(c) {
  const status = h("p", { hidden: true });
  const toggle = h("button", { type: "button", class: "btn toggle-active", text: c.active ? "Deactivate" : "Activate" });
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      const q = c.active ? "?cancel_sessions=true" : "";
      await api("PATCH", `/api/coaches/${encodeURIComponent(c.id)}${q}`, { active: !c.active });
      toast(c.active ? `${c.name} can no longer be booked; their future sessions were cancelled.` : `${c.name} can be booked again.`);
      await loadCoaches();
    } catch (e) {
      toggle.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
  return h("li", { class: "list-item coach", attrs: { "data-id": c.id } },
    h("div", { class: "row" },
      h("strong", { text: c.name }),
      c.title ? h("span", { class: "muted small", text: c.title }) : null,
      c.active ? null : h("span", { class: "badge badge-dark", text: "inactive" })),
    h("div", { class: "row" }, h("a", { class: "btn", href: `/coach?coach=${encodeURIComponent(c.id)}`, text: "Edit profile and hours" }), toggle),
    status);
}

async function loadCoaches() {
  try {
    const coaches = await api("GET", "/api/coaches?include_inactive=true");
    coachesByUser = new Map(coaches.filter((c) => c.user_id).map((c) => [c.user_id, c]));
    say($("coaches-status"), coaches.length ? "" : "No coaches yet.");
    $("coaches").replaceChildren(...coaches.map(coachItem));
  } catch (e) {
    say($("coaches-status"), `Could not load the coaches. ${sentence(humanError(e))}`, "error");
  }
}

function deliveryItem(d) {
  const status = h("p", { hidden: true });
  const retry = h("button", { type: "button", class: "btn retry-delivery", text: "Retry" });
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await api("POST", `/api/admin/deliveries/${encodeURIComponent(d.id)}/retry`);
      toast(`The ${d.channel === "webhook" ? "webhook" : "email"} to ${d.recipient} is queued again.`);
      await loadDeliveries();
    } catch (e) {
      retry.disabled = false;
      say(status, sentence(humanError(e)), "error");
    }
  });
  return h("li", { class: "list-item delivery", attrs: { "data-id": d.id } },
    h("div", { class: "row" },
      h("strong", { text: `${d.channel}: ${d.kind.replaceAll("_", " ")}` }),
      h("span", { class: "muted small", text: `to ${d.recipient}, ${d.attempts} ${d.attempts === 1 ? "attempt" : "attempts"}, last ${new Date(d.updated_at).toLocaleString()}` })),
    h("p", { class: "small mono", text: d.last_error || "—" }),
    h("div", { class: "row" }, retry),
    status);
}

async function loadDeliveries() {
  try {
    const failed = await api("GET", "/api/admin/deliveries?status=failed&limit=100");
    say($("deliveries-status"), failed.length ? "" : "Nothing has failed.");
    $("deliveries").replaceChildren(...failed.map(deliveryItem));
  } catch (e) {
    say($("deliveries-status"), `Could not load the deliveries. ${sentence(humanError(e))}`, "error");
  }
}

function auditQuery() {
  const p = new URLSearchParams({ limit: "50" });
  const actor = $("audit-actor").value.trim();
  const event = $("audit-event").value.trim();
  if (actor) p.set("actor", actor);
  if (event) p.set("event", event);
  if ($("audit-since").value) p.set("since", new Date(`${$("audit-since").value}T00:00:00`).toISOString());
  if ($("audit-until").value) {
    const end = new Date(`${$("audit-until").value}T00:00:00`);
    end.setDate(end.getDate() + 1);
    p.set("until", end.toISOString());
  }
  if (auditBefore !== null) p.set("before", String(auditBefore));
  return p.toString();
}

async function loadAudit(more = false) {
  if (!more) auditBefore = null;
  try {
    const entries = await api("GET", `/api/admin/audit?${auditQuery()}`);
    const items = entries.map((e) => h("li", { class: "list-item audit-entry" },
      h("div", { class: "row" },
        h("strong", { class: "mono", text: e.event }),
        h("span", { class: "muted small", text: new Date(e.at).toLocaleString() })),
      h("p", { class: "small mono", text: [e.actor_id && `by ${e.actor_id}`, e.target && `on ${e.target}`, e.detail].filter(Boolean).join(" · ") || "—" })));
    if (more) $("audit").append(...items); else $("audit").replaceChildren(...items);
    say($("audit-status"), !more && !entries.length ? "No entries match." : "");
    if (entries.length) auditBefore = entries[entries.length - 1].id;
    $("audit-more").hidden = entries.length < 50;
  } catch (e) {
    say($("audit-status"), `Could not load the audit log. ${sentence(humanError(e))}`, "error");
  }
}

async function main() {
  me = await shell({ title: "Admin" });
  if (me.user.role !== "admin") {
    say($("app-status"), "This page is for administrators.", "error");
    for (const s of document.querySelectorAll("main section")) s.hidden = true;
    markReady();
    return;
  }
  $("live-refresh").addEventListener("click", loadLive);
  $("user-search").addEventListener("submit", (e) => { e.preventDefault(); loadUsers(); });
  $("audit-filter").addEventListener("submit", (e) => { e.preventDefault(); loadAudit(); });
  $("audit-more").addEventListener("click", () => loadAudit(true));
  $("deliveries-refresh").addEventListener("click", loadDeliveries);
  await Promise.all([loadLive(), loadCoaches().then(loadUsers), loadDeliveries(), loadAudit()]);
  setInterval(loadLive, 5000);
  markReady();
}

main();
