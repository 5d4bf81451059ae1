// book.js — "/book": choose a coach, video or phone, a free time (viewer's zone), an
// optional focus; review and confirm. A time taken meanwhile is explained and the nearest
// free time offered instead. "?coach=<id>" starts with that coach chosen.
import { api, ApiError, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence } from "../lib/dom.js";
import { fmtDate, fmtRange, fmtTime, viewerZone, zoneName } from "../lib/time.js";
import { slotPicker } from "../lib/slotpicker.js";
import { calendarLink } from "../lib/sessions.js";

const TAKEN = new Set(["slot_taken", "not_a_slot", "slot_too_soon", "slot_in_past", "slot_beyond_window"]);

export function avatar(c, large = false) {
  const cls = large ? "avatar avatar-lg" : "avatar";
  if (c.photo_url) return h("img", { class: cls, src: c.photo_url, alt: `Photo of ${c.name}`, attrs: { width: large ? 88 : 56, height: large ? 88 : 56 } });
  const initials = c.name.split(/\s+/).map((p) => p[0]).join("").slice(0, 2).toUpperCase();
  return h("span", { class: cls, attrs: { "aria-hidden": "true" }, text: initials });
}

function facts(c) {
  const held = `${c.sessions_held} session${c.sessions_held === 1 ? "" : "s"} held`;
  return `${c.experience_years} year${c.experience_years === 1 ? "" : "s"}' experience · ${held}`;
}

function coachCard(c, onChoose) {
  const choose = h("button", { type: "button", class: "btn btn-primary btn-block choose-coach", text: "Choose", attrs: { "aria-label": `Choose ${c.name}`, "data-coach": c.id } });
  choose.addEventListener("click", () => onChoose(c));
  return h("li", { class: "card coach-card" },
    avatar(c),
    h("div", {},
      h("h2", { text: c.name }),
      h("p", { class: "muted", text: c.title }),
      h("p", { class: "coach-facts", text: facts(c) }),
      c.specialties.length ? h("ul", { class: "chips", attrs: { "aria-label": "Specialties" } }, c.specialties.map((s) => h("li", { class: "chip", text: s }))) : null),
    h("div", { class: "coach-actions" }, choose));
}

function bookingForm(view, coach, me, back) {
  const tz = viewerZone(me);
  const status = h("p", { id: "book-status", hidden: true });
  const summary = h("div", { class: "summary", attrs: { "aria-live": "polite" } });
  const confirm = h("button", { type: "button", class: "btn btn-primary btn-block", id: "confirm", text: "Confirm booking", disabled: true });
  const focus = h("textarea", { id: "focus", name: "focus", maxLength: 500, attrs: { "aria-describedby": "focus-hint" } });
  const typeInput = (value, text, disabled) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "session_type", value, checked: value === "video", disabled }), text);
  let key = null;
  const picker = slotPicker({ coachId: coach.id, tz, onChange: () => { key = null; update(); } });
  const type = () => view.querySelector("input[name=session_type]:checked").value;

  function update() {
    const s = picker.selected();
    confirm.disabled = !s;
    summary.replaceChildren(h("div", {},
      h("p", { class: "eyebrow", text: "Summary" }),
      h("p", {}, h("strong", { text: coach.name }), ` · ${type() === "video" ? "Video call" : "Phone call"} · ${coach.policy.session_minutes} minutes`),
      s ? h("p", { class: "summary-when" }, `${fmtDate(s.starts_at, tz)}, ${fmtRange(s.starts_at, s.ends_at, tz)} `, h("span", { class: "muted small", text: zoneName(tz) }))
        : h("p", { class: "muted", text: "Pick a day and a time above." }),
      focus.value.trim() ? h("p", {}, h("span", { class: "muted", text: "Focus: " }), focus.value.trim()) : null,
      h("p", { class: "policy-note", text: `Free cancellation up to ${hours(coach.policy.cancel_notice_minutes)} before the start.` })));
  }

  async function submit() {
    const s = picker.selected();
    if (!s) return;
    key = key || (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    confirm.disabled = true;
    say(status, "Booking…", "busy");
    try {
      const b = await api("POST", "/api/bookings", {
        coach_id: coach.id, starts_at: s.starts_at, session_type: type(),
        focus_area: focus.value.trim() || null,
      }, { "Idempotency-Key": key });
      done(b);
    } catch (e) {
      key = null;
      if (e instanceof ApiError && e.status === 401) { location.assign(`/login?next=${encodeURIComponent("/book?coach=" + coach.id)}`); return; }
      if (e instanceof ApiError && TAKEN.has(e.code)) {
        const lost = `${fmtTime(s.starts_at, tz)} on ${fmtDate(s.starts_at, tz)}`;
        const other = await picker.refresh(s.starts_at);
        const offer = other
          ? ` We have selected the nearest free time instead: ${fmtTime(other.starts_at, tz)} on ${fmtDate(other.starts_at, tz)}. Confirm it, or pick another time.`
          : " Please pick another day.";
        say(status, `Sorry, ${lost} is no longer free: someone else booked it a moment ago.${offer}`, "error");
        status.dataset.code = "slot_taken";
        update();
        status.scrollIntoView({ block: "center" });
      } else {
        say(status, `The booking did not go through. ${sentence(humanError(e))}`, "error");
        status.scrollIntoView({ block: "center" });
        confirm.disabled = false;
      }
    }
  }

  function done(b) {
    view.replaceChildren(h("section", { class: "card stack booked", attrs: { "aria-labelledby": "booked-h" } },
      h("h2", { id: "booked-h", text: "You're booked" }),
      h("p", { class: "lead" }, `${fmtDate(b.starts_at, tz)}, ${fmtRange(b.starts_at, b.ends_at, tz)} `, h("span", { class: "muted small", text: zoneName(tz) })),
      h("p", {}, `${b.session_type === "video" ? "Video call" : "Phone call"} with ${b.coach.name}.`),
      h("div", { class: "row" },
        h("a", { class: "btn btn-primary", href: "/upcoming", text: "See upcoming sessions" }),
        calendarLink(b),
        h("a", { class: "btn btn-quiet", href: "/book", text: "Book another" }))));
    view.querySelector("h2").setAttribute("tabindex", "-1");
    view.querySelector("h2").focus();
  }

  const change = h("button", { type: "button", class: "btn btn-quiet", text: "Change coach" });
  change.addEventListener("click", back);
  confirm.addEventListener("click", submit);
  focus.addEventListener("input", update);
  view.replaceChildren(
    h("section", { class: "card coach-profile", attrs: { "aria-labelledby": "coach-h" } },
      h("div", { class: "coach-card" }, avatar(coach, true),
        h("div", {}, h("h2", { id: "coach-h", text: coach.name }), h("p", { class: "muted", text: coach.title }),
          h("p", { class: "coach-facts", text: facts(coach) }),
          h("ul", { class: "chips", attrs: { "aria-label": "Specialties" } }, coach.specialties.map((s) => h("li", { class: "chip", text: s }))))),
      coach.bio ? h("p", { class: "bio", text: coach.bio }) : null,
      change),
    h("section", { class: "card", attrs: { "aria-labelledby": "how-h" } },
      h("fieldset", {}, h("legend", { id: "how-h", text: "How would you like to meet?" }),
        h("div", { class: "type-choices" }, typeInput("video", "Video", false), typeInput("phone", "Phone", !coach.offers_phone)),
        !coach.offers_phone ? h("p", { class: "hint", text: `${coach.name} offers video sessions only.` }) : null)),
    h("section", { class: "card", attrs: { "aria-labelledby": "when-h" } }, h("h2", { id: "when-h", text: "Pick a time" }), picker.el),
    h("section", { class: "card", attrs: { "aria-labelledby": "focus-h" } },
      h("div", { class: "field" }, h("label", { for: "focus", id: "focus-h", text: "Focus area (optional)" }), focus,
        h("span", { id: "focus-hint", class: "hint", text: "What would you like to work on? Only your coach sees this." })),
      summary, status, confirm));
  for (const r of view.querySelectorAll("input[name=session_type]")) r.addEventListener("change", update);
  update();
  return picker.load();
}

function hours(min) {
  if (min % 1440 === 0 && min >= 1440) return `${min / 1440} day${min === 1440 ? "" : "s"}`;
  if (min % 60 === 0) return `${min / 60} hour${min === 60 ? "" : "s"}`;
  return `${min} minutes`;
}

async function main() {
  const view = document.getElementById("view");
  let me;
  try { me = await shell({ title: "Book a coach" }); } catch { view.replaceChildren(); markReady(); return; }
  let coaches;
  try {
    coaches = await api("GET", "/api/coaches");
  } catch (e) {
    view.replaceChildren();
    say(document.getElementById("app-status"), `The coaches could not be loaded. ${sentence(humanError(e))}`, "error");
    markReady();
    return;
  }
  const list = () => {
    history.replaceState(null, "", "/book");
    view.replaceChildren(coaches.length
      ? h("ul", { class: "coach-list", attrs: { "aria-label": "Coaches" } }, coaches.map((c) => coachCard(c, choose)))
      : h("p", { class: "empty card", text: "No coaches are taking bookings right now. Please check back later." }));
  };
  const choose = async (c) => {
    history.replaceState(null, "", `/book?coach=${encodeURIComponent(c.id)}`);
    await bookingForm(view, c, me, list);
    document.getElementById("coach-h").setAttribute("tabindex", "-1");
  };
  const wanted = new URLSearchParams(location.search).get("coach");
  const pre = coaches.find((c) => c.id === wanted);
  if (pre) await choose(pre);
  else {
    list();
    if (wanted) say(document.getElementById("app-status"), "That coach is not taking bookings right now. Please choose another coach.", "info");
  }
  markReady();
}

main();
