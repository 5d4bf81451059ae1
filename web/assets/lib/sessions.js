// sessions.js — how a booking looks and what can be done with it, shared by the dashboard,
// Upcoming and Coach pages.
//
//   sessionSummary(b, tz, { viewerIsCoach }) -> <div> with date, time + zone, type, other
//     party and focus (the text part of a session card).
//   joinVideo(b, button, statusEl) — mints a join token (POST /api/rooms/{room}/token) and
//     opens /r/{room}#token=… ; failures are said in words in statusEl.
//   joinButton(b, statusEl) / callLink(b) / calendarLink(b) — the action controls.
//   roomOf(b) — the room name from the booking's join_url.
//   statusLabel(status) — words for a booking status.

import { api, humanError } from "./api.js";
import { say } from "./shell.js";
import { h, sentence } from "./dom.js";
import { fmtDate, fmtRange, zoneName } from "./time.js";

const STATUS = { scheduled: "Scheduled", completed: "Completed", cancelled: "Cancelled", no_show: "Missed" };
export const statusLabel = (s) => STATUS[s] || s;

export function roomOf(b) {
  if (!b.join_url) return null;
  try {
    const parts = new URL(b.join_url, location.origin).pathname.split("/");
    return decodeURIComponent(parts[parts.length - 1]);
  } catch {
    return null;
  }
}

export function sessionSummary(b, tz, { viewerIsCoach = false } = {}) {
  const other = viewerIsCoach ? b.client.name : b.coach.name;
  const type = b.session_type === "video" ? "Video call" : "Phone call";
  return h("div", { class: "session-summary" },
    h("p", { class: "eyebrow" }, type, b.status !== "scheduled" ? h("span", { class: "badge", text: statusLabel(b.status) }) : null),
    h("h3", { class: "session-when" }, fmtDate(b.starts_at, tz)),
    h("p", { class: "session-time" }, h("strong", { text: fmtRange(b.starts_at, b.ends_at, tz) }), " ", h("span", { class: "muted small", text: zoneName(tz) })),
    h("p", { class: "muted" }, viewerIsCoach ? "Client: " : "With ", h("span", { class: "session-party", text: other })),
    b.focus_area ? h("p", { class: "session-focus" }, h("span", { class: "muted", text: "Focus: " }), b.focus_area) : null,
  );
}

export async function joinVideo(b, button, statusEl) {
  const room = roomOf(b);
  if (!room) {
    say(statusEl, "This session has no video room.", "error");
    return;
  }
  button.disabled = true;
  say(statusEl, "Opening the video room…", "busy");
  try {
    const t = await api("POST", `/api/rooms/${encodeURIComponent(room)}/token`);
    say(statusEl, "");
    location.assign(`/r/${encodeURIComponent(room)}#token=${encodeURIComponent(t.token)}`);
  } catch (e) {
    say(statusEl, `Could not open the video room. ${sentence(humanError(e))}`, "error");
  } finally {
    button.disabled = false;
  }
}

export function joinButton(b, statusEl) {
  if (b.session_type !== "video" || b.status !== "scheduled") return null;
  const btn = h("button", { type: "button", class: "btn btn-primary join-video", text: "Join video call" });
  btn.addEventListener("click", () => joinVideo(b, btn, statusEl));
  return btn;
}

export function callLink(b) {
  if (b.session_type !== "phone" || !b.phone_url || b.status !== "scheduled") return null;
  return h("a", { class: "btn btn-primary call-now", href: b.phone_url, text: "Call now" });
}

export function calendarLink(b) {
  return h("a", {
    class: "btn add-to-calendar",
    href: `/api/bookings/${encodeURIComponent(b.id)}/invite.ics`,
    attrs: { download: "parlor-session.ics" },
    text: "Add to calendar",
  });
}
