// coachprofile.js — the coach's public profile and booking policy form (the coach edits their
// own, admins any coach's). Saved with PATCH /api/coaches/{id}; the server checks every range
// and answers in words, which are shown as they come.
//
//   coachProfileForm(coach) -> <form>
import { api, humanError } from "./api.js";
import { say } from "./shell.js";
import { h, sentence } from "./dom.js";
import { allZones } from "./time.js";

// The policy fields, their labels and ranges (the server's `CoachPolicy::validate`).
const POLICY = [
  ["session_minutes", "Session length (minutes)", 5, 480, "How long one session lasts."],
  ["buffer_minutes", "Buffer (minutes)", 0, 240, "Free time kept before and after every session."],
  ["slot_step_minutes", "Start-time step (minutes)", 5, 480, "Sessions can start every this many minutes."],
  ["min_notice_minutes", "Minimum notice (minutes)", 0, 43200, "How long before its start a session can still be booked."],
  ["booking_window_days", "Booking window (days)", 1, 365, "How far ahead clients can book."],
  ["cancel_notice_minutes", "Cancel until (minutes before)", 0, 43200, "Clients can cancel until this long before the start."],
  ["reschedule_notice_minutes", "Reschedule until (minutes before)", 0, 43200, "Clients can move a session until this long before the start."],
];

function field(id, label, input, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
    hint ? h("span", { id: hintId, class: "hint", text: hint }) : null);
}

export function coachProfileForm(coach) {
  const status = h("p", { id: "profile-status", hidden: true });
  const text = (id, value, max, extra = {}) => h("input", { id, value: value || "", maxLength: max, ...extra });
  const name = text("coach-name", coach.name, 100, { required: true, autocomplete: "off" });
  const title = text("coach-title", coach.title, 120);
  const specialties = text("coach-specialties", (coach.specialties || []).join(", "), 500);
  const years = h("input", { id: "coach-years", type: "number", min: 0, max: 80, value: String(coach.experience_years ?? 0) });
  const bio = h("textarea", { id: "coach-bio", value: coach.bio || "", maxLength: 5000, rows: 5 });
  const photo = text("coach-photo", coach.photo_url, 500, { type: "url" });
  const phone = text("coach-phone", coach.phone, 40, { type: "tel", autocomplete: "off" });
  const zone = h("select", { id: "coach-zone" });
  const zones = allZones();
  if (!zones.includes(coach.time_zone)) zones.unshift(coach.time_zone);
  zone.append(...zones.map((z) => h("option", { value: z, text: z, selected: z === coach.time_zone })));
  const policy = Object.fromEntries(POLICY.map(([key, , lo, hi]) =>
    [key, h("input", { id: `policy-${key}`, type: "number", min: lo, max: hi, step: 1, value: String(coach.policy[key]) })]));

  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-profile", text: "Save profile and policy" });
  const form = h("form", { class: "card stack", id: "coach-profile", attrs: { "aria-labelledby": "profile-h", novalidate: true } },
    h("h2", { id: "profile-h", text: "Profile and booking policy" }),
    field("coach-name", "Name", name),
    field("coach-title", "Title", title, "Shown under the name, e.g. Career coach."),
    field("coach-specialties", "Specialties", specialties, "Separated by commas."),
    field("coach-years", "Years of experience", years),
    field("coach-bio", "About", bio),
    field("coach-photo", "Photo URL", photo, "An https:// address; empty for none."),
    field("coach-phone", "Phone for phone sessions", phone, "International format, e.g. +44 20 7183 8750. Empty: no phone sessions. Only clients with a phone booking see it."),
    field("coach-zone", "Time zone", zone),
    h("h3", { text: "Booking policy" }),
    h("div", { class: "policy-grid" }, POLICY.map(([key, label, lo, hi, hint]) =>
      field(`policy-${key}`, label, policy[key], `${hint} ${lo}–${hi}.`))),
    status, h("div", { class: "row" }, save));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) { say(status, "Please enter a name.", "error"); name.focus(); return; }
    const values = {};
    for (const [key, label, lo, hi] of POLICY) {
      const v = Number(policy[key].value);
      if (!Number.isInteger(v) || v < lo || v > hi) {
        say(status, `${label.replace(/ \(.*\)$/, "")} must be a whole number from ${lo} to ${hi}.`, "error");
        policy[key].focus();
        return;
      }
      values[key] = v;
    }
    const yearsValue = Number(years.value);
    if (!Number.isInteger(yearsValue) || yearsValue < 0) { say(status, "Years of experience must be a whole number.", "error"); years.focus(); return; }
    save.disabled = true;
    say(status, "Saving…", "busy");
    try {
      const saved = await api("PATCH", `/api/coaches/${encodeURIComponent(coach.id)}`, {
        name: name.value.trim(),
        title: title.value.trim(),
        specialties: specialties.value.split(",").map((s) => s.trim()).filter(Boolean),
        experience_years: yearsValue,
        bio: bio.value,
        photo_url: photo.value.trim(),
        phone: phone.value.trim(),
        time_zone: zone.value,
        policy: values,
      });
      phone.value = saved.phone || "";
      say(status, "Profile and policy saved. New bookings follow the new policy.", "ok");
    } catch (e) {
      say(status, `Not saved. ${sentence(humanError(e))}`, "error");
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
