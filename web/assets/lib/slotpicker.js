// slotpicker.js — pick a free time of one coach, shown in the viewer's time zone.
//
//   const picker = slotPicker({ coachId, tz, onChange(slot|null) })
//   picker.el            — the element to insert (week navigation, day strip, time buttons)
//   picker.load()        — loads the first week that has free times (up to 8 weeks ahead)
//   picker.refresh(near) — reloads the shown week after a slot was taken and selects the
//                          free slot closest to `near` (an ISO instant); returns that slot
//                          or null. Slots are {starts_at, ends_at, local_starts_at, …}.
//   picker.selected()    — the chosen slot or null.
// Data: GET /api/coaches/{id}/slots?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=Zone.

import { api, humanError } from "./api.js";
import { say } from "./shell.js";
import { h, sentence } from "./dom.js";
import { addDaysKey, dayKey, fmtDate, fmtKey, fmtTime, zoneName } from "./time.js";

export function slotPicker({ coachId, tz, onChange = () => {} }) {
  const today = dayKey(new Date().toISOString(), tz);
  let weekStart = today;
  let byDay = new Map();
  let day = null;
  let chosen = null;

  const prev = h("button", { type: "button", class: "btn icon-btn week-prev", attrs: { "aria-label": "Previous week" }, text: "‹" });
  const next = h("button", { type: "button", class: "btn icon-btn week-next", attrs: { "aria-label": "Next week" }, text: "›" });
  const label = h("span", { class: "week-label", attrs: { "aria-live": "polite" } });
  const strip = h("div", { class: "day-strip", attrs: { role: "group", "aria-label": "Days" } });
  const timesHeading = h("h3", { class: "times-heading" });
  const times = h("ul", { class: "slot-grid", attrs: { "aria-label": "Free times" } });
  const status = h("p", { class: "slot-status", hidden: true });
  const el = h("div", { class: "slot-picker" },
    h("div", { class: "week-nav" }, prev, label, next),
    strip, timesHeading, times, status,
    h("p", { class: "hint", text: `Times are shown in ${zoneName(tz)}. You can change your time zone under Account.` }));

  function choose(slot) {
    chosen = slot;
    for (const b of times.querySelectorAll("button")) b.setAttribute("aria-pressed", String(!!slot && b.dataset.start === slot.starts_at));
    onChange(slot);
  }

  function renderTimes() {
    times.replaceChildren();
    const list = day ? byDay.get(day) || [] : [];
    timesHeading.textContent = day ? fmtKey(day, { weekday: "long", day: "numeric", month: "long" }) : "";
    timesHeading.hidden = !day;
    for (const s of list) {
      const b = h("button", {
        type: "button", class: "btn slot-btn", text: fmtTime(s.starts_at, tz),
        attrs: { "aria-pressed": String(!!chosen && chosen.starts_at === s.starts_at), "data-start": s.starts_at, "aria-label": `${fmtTime(s.starts_at, tz)}, ${fmtDate(s.starts_at, tz)}` },
      });
      b.addEventListener("click", () => choose(s));
      times.append(h("li", {}, b));
    }
  }

  function renderWeek() {
    const end = addDaysKey(weekStart, 6);
    label.textContent = `${fmtKey(weekStart, { day: "numeric", month: "short" })} – ${fmtKey(end, { day: "numeric", month: "short" })}`;
    prev.disabled = weekStart <= today;
    strip.replaceChildren();
    for (let i = 0; i < 7; i++) {
      const key = addDaysKey(weekStart, i);
      const n = (byDay.get(key) || []).length;
      const b = h("button", {
        type: "button", class: "day-btn", disabled: n === 0,
        attrs: { "aria-pressed": String(key === day), "data-day": key, "aria-label": `${fmtKey(key, { weekday: "long", day: "numeric", month: "long" })}: ${n ? `${n} free time${n === 1 ? "" : "s"}` : "no free times"}` },
      },
      h("span", { class: "dow", text: fmtKey(key, { weekday: "short" }) }),
      h("span", { class: "dom", text: fmtKey(key, { day: "numeric" }) }),
      h("span", { class: "count", text: n ? `${n}` : "–", attrs: { "aria-hidden": "true" } }));
      b.addEventListener("click", () => { day = key; renderWeek(); renderTimes(); });
      strip.append(b);
    }
    if (![...byDay.values()].some((l) => l.length)) say(status, "No free times this week. Try the next week.", "info");
    else say(status, "");
  }

  async function fetchWeek(start) {
    const q = new URLSearchParams({ from: start, to: addDaysKey(start, 7), tz });
    const r = await api("GET", `/api/coaches/${encodeURIComponent(coachId)}/slots?${q}`);
    const map = new Map();
    for (const s of r.slots) {
      const k = s.local_starts_at.slice(0, 10);
      if (!map.has(k)) map.set(k, []);
      map.get(k).push(s);
    }
    return map;
  }

  async function show(start, { keepDay = false } = {}) {
    say(status, "Loading free times…", "busy");
    try {
      byDay = await fetchWeek(start);
    } catch (e) {
      say(status, `Free times could not be loaded. ${sentence(humanError(e))}`, "error");
      return false;
    }
    weekStart = start;
    if (!keepDay || !byDay.get(day)) day = [...byDay.keys()].sort()[0] || null;
    if (chosen && !(byDay.get(dayKey(chosen.starts_at, tz)) || []).some((s) => s.starts_at === chosen.starts_at)) choose(null);
    renderWeek();
    renderTimes();
    return true;
  }

  prev.addEventListener("click", () => show(addDaysKey(weekStart, -7) < today ? today : addDaysKey(weekStart, -7)));
  next.addEventListener("click", () => show(addDaysKey(weekStart, 7)));

  return {
    el,
    selected: () => chosen,
    async load() {
      for (let i = 0; i < 8; i++) {
        const start = addDaysKey(today, 7 * i);
        if (!(await show(start))) return;
        if (byDay.size) return;
      }
      await show(today);
      say(status, "This coach has no free times in the next eight weeks. Please choose another coach.", "info");
    },
    async refresh(near) {
      chosen = null;
      onChange(null);
      if (!(await show(weekStart, { keepDay: true }))) return null;
      const all = [...byDay.values()].flat();
      if (!all.length) return null;
      const t = new Date(near).getTime();
      const best = all.reduce((a, b) => (Math.abs(new Date(b.starts_at) - t) < Math.abs(new Date(a.starts_at) - t) ? b : a));
      day = dayKey(best.starts_at, tz);
      renderWeek();
      renderTimes();
      choose(best);
      return best;
    },
  };
}
