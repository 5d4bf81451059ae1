// upcoming.js — "/upcoming": the client's sessions. Upcoming ones can be joined (video),
// called (phone, tel: link), added to a calendar (.ics), rescheduled or cancelled within
// the coach's cut-offs (explained when closed). Past ones can be rated. Also the private
// calendar feed link.
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence, toast } from "../lib/dom.js";
import { fmtDateTime, fmtTime, fmtDate, viewerZone } from "../lib/time.js";
import { sessionSummary, joinButton, callLink, calendarLink } from "../lib/sessions.js";
import { slotPicker } from "../lib/slotpicker.js";

let tz = "UTC";
let me = null;

function cutoffNote(b) {
  const now = Date.now();
  const cancelOk = now < new Date(b.cancel_until).getTime();
  const moveOk = now < new Date(b.reschedule_until).getTime();
  if (cancelOk && moveOk) return `You can reschedule or cancel until ${fmtDateTime(b.cancel_until < b.reschedule_until ? b.cancel_until : b.reschedule_until, tz)}.`;
  const parts = [];
  if (!moveOk) parts.push(`Rescheduling closed at ${fmtDateTime(b.reschedule_until, tz)}`);
  if (!cancelOk) parts.push(`cancelling closed at ${fmtDateTime(b.cancel_until, tz)}`);
  const s = parts.join("; ");
  return `${s[0].toUpperCase()}${s.slice(1)}: your coach needs that much notice. Please contact your coach directly if you cannot make it.`;
}

function cancelPanel(b, card, status) {
  const reason = h("textarea", { id: `reason-${b.id}`, maxLength: 500, placeholder: "For example: I have a clash at work." });
  const yes = h("button", { type: "button", class: "btn btn-danger confirm-cancel", text: "Yes, cancel this session" });
  const no = h("button", { type: "button", class: "btn btn-quiet", text: "Keep it" });
  const panel = h("div", { class: "panel cancel-panel" },
    h("div", { class: "field" }, h("label", { for: reason.id, text: "Reason (optional, shared with your coach)" }), reason),
    h("div", { class: "row" }, yes, no));
  no.addEventListener("click", () => panel.remove());
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    say(status, "Cancelling…", "busy");
    try {
      await api("POST", `/api/bookings/${encodeURIComponent(b.id)}/cancel`, { reason: reason.value.trim() || "Cancelled by the client" });
      say(status, "");
      toast(`Cancelled your session on ${fmtDate(b.starts_at, tz)}.`);
      await loadAll();
    } catch (e) {
      yes.disabled = false;
      say(status, `The session was not cancelled. ${sentence(humanError(e))}`, "error");
    }
  });
  return panel;
}

function reschedulePanel(b, status) {
  const move = h("button", { type: "button", class: "btn btn-primary confirm-move", text: "Move to this time", disabled: true });
  const picker = slotPicker({ coachId: b.coach.id, tz, onChange: (s) => { move.disabled = !s; } });
  const close = h("button", { type: "button", class: "btn btn-quiet", text: "Keep the current time" });
  const panel = h("div", { class: "panel reschedule-panel" }, h("h4", { text: "Choose a new time" }), picker.el, h("div", { class: "row" }, move, close));
  close.addEventListener("click", () => panel.remove());
  move.addEventListener("click", async () => {
    const s = picker.selected();
    move.disabled = true;
    say(status, "Moving your session…", "busy");
    try {
      await api("POST", `/api/bookings/${encodeURIComponent(b.id)}/reschedule`, { starts_at: s.starts_at });
      say(status, "");
      toast(`Moved to ${fmtDate(s.starts_at, tz)}, ${fmtTime(s.starts_at, tz)}.`);
      await loadAll();
    } catch (e) {
      say(status, `The session was not moved. ${sentence(humanError(e))}`, "error");
      await picker.refresh(s.starts_at);
    }
  });
  picker.load();
  return panel;
}

function upcomingCard(b) {
  const status = h("p", { class: "card-status", hidden: true });
  const now = Date.now();
  const card = h("li", { class: "card session-card", attrs: { "data-booking": b.id } });
  const actions = h("div", { class: "session-actions" }, joinButton(b, status), callLink(b), calendarLink(b));
  const togglePanel = (cls, make) => {
    const open = card.querySelector(".panel");
    if (open) { const same = open.classList.contains(cls); open.remove(); if (same) return; }
    card.append(make());
  };
  if (now < new Date(b.reschedule_until).getTime()) {
    const r = h("button", { type: "button", class: "btn reschedule", text: "Reschedule" });
    r.addEventListener("click", () => togglePanel("reschedule-panel", () => reschedulePanel(b, status)));
    actions.append(r);
  }
  if (now < new Date(b.cancel_until).getTime()) {
    const c = h("button", { type: "button", class: "btn btn-quiet cancel", text: "Cancel" });
    c.addEventListener("click", () => togglePanel("cancel-panel", () => cancelPanel(b, card, status)));
    actions.append(c);
  }
  card.append(sessionSummary(b, tz, { viewerIsCoach: b.coach.id === me.coach_id }), actions, h("p", { class: "policy-note", text: cutoffNote(b) }), status);
  return card;
}

function ratingForm(b) {
  const status = h("p", { hidden: true });
  const name = `rating-${b.id}`;
  const stars = [1, 2, 3, 4, 5].map((n) => h("label", { class: "choice" }, h("input", { type: "radio", name, value: String(n) }), String(n)));
  const comment = h("textarea", { id: `comment-${b.id}`, maxLength: 1000 });
  const send = h("button", { type: "submit", class: "btn btn-primary", text: "Send rating" });
  const form = h("form", { class: "panel rate-form" },
    h("fieldset", {}, h("legend", { text: "How was it? (1 = poor, 5 = excellent)" }), h("div", { class: "rating" }, stars)),
    h("div", { class: "field" }, h("label", { for: comment.id, text: "Comment (optional)" }), comment),
    status, send);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const picked = form.querySelector(`input[name="${name}"]:checked`);
    if (!picked) { say(status, "Please choose a rating from 1 to 5.", "error"); return; }
    send.disabled = true;
    try {
      await api("POST", `/api/bookings/${encodeURIComponent(b.id)}/rating`, { rating: Number(picked.value), comment: comment.value.trim() || null });
      form.replaceWith(h("p", { class: "muted", text: `Thank you: you rated this session ${picked.value} of 5.` }));
    } catch (e) {
      send.disabled = false;
      say(status, `The rating was not saved. ${sentence(humanError(e))}`, "error");
    }
  });
  return form;
}

function pastCard(b) {
  const rateable = b.client.id === me.user.id && !b.rating && ["scheduled", "completed"].includes(b.status);
  return h("li", { class: "card session-card", attrs: { "data-booking": b.id } },
    sessionSummary(b, tz, { viewerIsCoach: b.coach.id === me.coach_id }),
    b.status === "cancelled" && b.cancel_reason ? h("p", { class: "muted small", text: `Reason: ${b.cancel_reason}` }) : null,
    b.rating ? h("p", { class: "muted", text: `You rated this session ${b.rating} of 5.` }) : null,
    rateable ? ratingForm(b) : null,
    h("div", { class: "session-actions" }, h("a", { class: "btn", href: `/book?coach=${encodeURIComponent(b.coach.id)}`, text: `Book ${b.coach.name} again` })));
}

async function loadAll() {
  const up = document.getElementById("upcoming-list");
  const past = document.getElementById("past-list");
  const [u, c, ended] = await Promise.all([api("GET", "/api/bookings?scope=upcoming"), api("GET", "/api/bookings?scope=cancelled"), api("GET", "/api/bookings?scope=past")]);
  // Cancelled sessions whose time is still to come are listed first, with the past ones.
  const p = [...c, ...ended];
  up.replaceChildren(u.length
    ? h("ul", { class: "list stack", attrs: { "aria-label": "Upcoming sessions" } }, u.map(upcomingCard))
    : h("div", { class: "card empty" }, h("p", { text: "No upcoming sessions." }), h("a", { class: "btn btn-primary", href: "/book", text: "Book a coach" })));
  past.replaceChildren(p.length
    ? h("ul", { class: "list stack", attrs: { "aria-label": "Past sessions" } }, p.slice(0, 30).map(pastCard))
    : h("p", { class: "empty", text: "No past sessions yet." }));
}

function feedSection() {
  const box = document.getElementById("feed");
  const status = h("p", { hidden: true });
  const get = h("button", { type: "button", class: "btn", id: "feed-link", text: "Show my calendar feed link" });
  get.addEventListener("click", async () => {
    get.disabled = true;
    try {
      const r = await api("POST", "/api/me/calendar-feed");
      const input = h("input", { id: "feed-url", class: "feed-url", readOnly: true, value: r.feed_url, attrs: { "aria-label": "Private calendar feed link" } });
      const copy = h("button", { type: "button", class: "btn", text: "Copy link" });
      copy.addEventListener("click", async () => {
        input.select();
        try { await navigator.clipboard.writeText(r.feed_url); say(status, "Copied.", "ok"); } catch { say(status, "Select the link and copy it.", "info"); }
      });
      get.textContent = "Make a new link";
      box.replaceChildren(h("div", { class: "row" }, input, copy, get), status);
      say(status, "This is a new link; any earlier link has stopped working.", "info");
    } catch (e) {
      say(status, `No link was made. ${sentence(humanError(e))}`, "error");
    } finally {
      get.disabled = false;
    }
  });
  box.replaceChildren(get, status);
}

async function main() {
  try { me = await shell({ title: "Upcoming sessions" }); } catch { markReady(); clearLoading(); return; }
  tz = viewerZone(me);
  feedSection();
  try {
    await loadAll();
  } catch (e) {
    clearLoading();
    say(document.getElementById("app-status"), `Your sessions could not be loaded. ${sentence(humanError(e))}`, "error");
  }
  markReady();
}

function clearLoading() {
  for (const id of ["upcoming-list", "past-list"]) document.getElementById(id).replaceChildren();
}

main();
