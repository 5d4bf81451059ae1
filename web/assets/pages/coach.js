// coach.js — "/coach": a coach's today and coming sessions (join, private notes, the client's
// commitments, mark the outcome of past ones), their profile and booking policy, and the
// availability editor (weekly hours, date overrides). Admins get the list of coaches and edit
// any coach's profile, policy and availability at "/coach?coach=<id>".
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence, toast } from "../lib/dom.js";
import { dayKey, viewerZone } from "../lib/time.js";
import { sessionSummary, joinButton } from "../lib/sessions.js";
import { availabilityEditor } from "../lib/availability.js";
import { commitmentsPanel } from "../lib/commitments.js";
import { coachProfileForm } from "../lib/coachprofile.js";

let tz = "UTC";

function notesEditor(b, status) {
  const id = `notes-${b.id}`;
  const area = h("textarea", { id, class: "notes", value: b.coach_notes || "", maxLength: 10000 });
  const save = h("button", { type: "button", class: "btn save-notes", text: "Save notes" });
  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      await api("PUT", `/api/bookings/${encodeURIComponent(b.id)}/notes`, { notes: area.value });
      say(status, "Notes saved.", "ok");
    } catch (e) {
      say(status, `The notes were not saved. ${sentence(humanError(e))}`, "error");
    } finally {
      save.disabled = false;
    }
  });
  return h("div", { class: "field notes-field" }, h("label", { for: id, text: "Private notes" }), area,
    h("span", { class: "hint", text: "Only you and administrators can read these." }), h("div", { class: "row" }, save));
}

function outcomeButtons(b, status, reload) {
  if (b.status !== "scheduled" || new Date(b.starts_at) > new Date()) return null;
  const mark = (value, text) => {
    const btn = h("button", { type: "button", class: "btn", text });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await api("PUT", `/api/bookings/${encodeURIComponent(b.id)}/status`, { status: value });
        toast("Saved.");
        await reload();
      } catch (e) {
        btn.disabled = false;
        say(status, sentence(humanError(e)), "error");
      }
    });
    return btn;
  };
  return h("div", { class: "row" }, mark("completed", "Mark as held"), mark("no_show", "Client did not come"));
}

// The client's commitments, loaded when opened: what they agreed to do, and a form to add one.
function clientCommitments(b) {
  const panel = commitmentsPanel({ idPrefix: `cm-${b.id}`, clientId: b.client.id, owner: false,
    emptyText: `${b.client.name} has no commitments yet.` });
  const box = h("details", { class: "client-commitments" },
    h("summary", { text: `${b.client.name}'s commitments` }), panel.el);
  let loaded = false;
  box.addEventListener("toggle", () => {
    if (box.open && !loaded) { loaded = true; panel.load(); }
  });
  return box;
}

function sessionCard(b, reload) {
  const status = h("p", { hidden: true });
  return h("li", { class: "card session-card", attrs: { "data-booking": b.id } },
    sessionSummary(b, tz, { viewerIsCoach: true }),
    h("div", { class: "session-actions" }, joinButton(b, status)),
    outcomeButtons(b, status, reload),
    notesEditor(b, status), clientCommitments(b), status);
}

function list(items, empty, reload, label) {
  return items.length
    ? h("ul", { class: "list stack", attrs: { "aria-label": label } }, items.map((b) => sessionCard(b, reload)))
    : h("p", { class: "empty", text: empty });
}

async function sessions(box, me) {
  const reload = () => sessions(box, me);
  const [up, past] = await Promise.all([api("GET", "/api/bookings?scope=upcoming"), api("GET", "/api/bookings?scope=past")]);
  const today = dayKey(new Date().toISOString(), tz);
  const mine = (b) => b.coach.id === me.coach_id;
  const todays = [...past.filter((b) => mine(b) && dayKey(b.starts_at, tz) === today).reverse(), ...up.filter((b) => mine(b) && dayKey(b.starts_at, tz) === today)];
  const later = up.filter((b) => mine(b) && dayKey(b.starts_at, tz) !== today).slice(0, 20);
  box.replaceChildren(
    h("section", { class: "stack", attrs: { "aria-labelledby": "today-h" } }, h("h2", { id: "today-h", text: "Today" }),
      list(todays, "No sessions today.", reload, "Today's sessions")),
    h("section", { class: "stack", attrs: { "aria-labelledby": "later-h" } }, h("h2", { id: "later-h", text: "Coming up" }),
      list(later, "Nothing else booked yet.", reload, "Coming sessions")));
}

function availabilityCard(coach) {
  const editor = availabilityEditor(coach.availability);
  const status = h("p", { id: "av-status", hidden: true });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-availability", text: "Save availability" });
  const form = h("form", { class: "card", attrs: { "aria-labelledby": "av-h", novalidate: true } },
    h("h2", { id: "av-h", text: "Availability" }), editor.el, status, save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = editor.value();
    if (!v.ok) {
      say(status, v.message, "error");
      v.field?.focus();
      return;
    }
    save.disabled = true;
    say(status, "Saving…", "busy");
    try {
      await api("PUT", `/api/coaches/${encodeURIComponent(coach.id)}/availability`, v.value);
      say(status, "Availability saved. Clients see the new times right away.", "ok");
    } catch (e) {
      say(status, `Availability was not saved. ${sentence(humanError(e))}`, "error");
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// Admins: every active coach, each with a link to edit them.
async function coachList(view) {
  const coaches = await api("GET", "/api/coaches");
  view.replaceChildren(h("section", { class: "card", attrs: { "aria-labelledby": "coaches-h" } },
    h("h2", { id: "coaches-h", text: "Coaches" }),
    coaches.length
      ? h("ul", { class: "list", attrs: { "aria-label": "Coaches" } }, coaches.map((c) => h("li", { class: "list-item row" },
        h("span", { class: "spacer" }, h("strong", { text: c.name }), c.title ? ` · ${c.title}` : ""),
        h("a", { class: "btn", href: `/coach?coach=${encodeURIComponent(c.id)}`, text: "Edit profile and hours", attrs: { "aria-label": `Edit ${c.name}` } }))))
      : h("p", { class: "empty", text: "No coaches yet. Add one with: parlor coach add" })));
}

async function main() {
  const view = document.getElementById("view");
  let me;
  try { me = await shell({ title: "Coach" }); } catch { view.replaceChildren(); markReady(); return; }
  tz = viewerZone(me);
  const isAdmin = me.user.role === "admin";
  const wanted = new URLSearchParams(location.search).get("coach");
  const target = wanted && (isAdmin || wanted === me.coach_id) ? wanted : me.coach_id;
  try {
    if (!target) {
      if (isAdmin) await coachList(view);
      else {
        view.replaceChildren(h("div", { class: "card" },
          h("p", { text: "This page is for coaches. Your account is not linked to a coach profile." }),
          h("a", { class: "btn", href: "/", text: "Back to the dashboard" })));
      }
      markReady();
      return;
    }
    const coach = await api("GET", `/api/coaches/${encodeURIComponent(target)}`);
    if (target !== me.coach_id) {
      document.querySelector("h1").textContent = `Coach: ${coach.name}`;
      view.replaceChildren(h("a", { href: "/coach", text: "All coaches" }), coachProfileForm(coach), availabilityCard(coach));
    } else {
      const box = h("div", { class: "stack" });
      view.replaceChildren(box, coachProfileForm(coach), availabilityCard(coach));
      await sessions(box, me);
    }
  } catch (e) {
    view.replaceChildren();
    say(document.getElementById("app-status"), `The coach page could not be loaded. ${sentence(humanError(e))}`, "error");
  }
  markReady();
}

main();
