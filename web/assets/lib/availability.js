// availability.js — the coach's availability editor: weekly opening hours (several windows
// per weekday) and date overrides (closed all day, or other hours), in the coach's zone.
//
//   const editor = availabilityEditor(availability)  // {time_zone, weekly, overrides}
//   editor.el      — the form contents to insert
//   editor.value() — {ok: true, value: Availability} or {ok: false, message, field}
// Times go to the server as "HH:MM:00".

import { h } from "./dom.js";
import { allZones } from "./time.js";

const DAYS = [["Mon", "Monday"], ["Tue", "Tuesday"], ["Wed", "Wednesday"], ["Thu", "Thursday"], ["Fri", "Friday"], ["Sat", "Saturday"], ["Sun", "Sunday"]];
let uid = 0;
const hm = (t) => String(t || "").slice(0, 5);

function windowRow(start, end, label, onRemove) {
  const id = `w${++uid}`;
  const s = h("input", { type: "time", id: `${id}-s`, value: hm(start), class: "win-start", attrs: { "aria-label": `${label}: from` } });
  const e = h("input", { type: "time", id: `${id}-e`, value: hm(end), class: "win-end", attrs: { "aria-label": `${label}: until` } });
  const rm = h("button", { type: "button", class: "btn btn-quiet icon-btn", text: "×", attrs: { "aria-label": `Remove these hours (${label})` } });
  const row = h("div", { class: "window" }, s, h("span", { attrs: { "aria-hidden": "true" }, text: "to" }), e, rm);
  rm.addEventListener("click", () => { row.remove(); onRemove(); });
  return row;
}

function windowsList(windows, label) {
  const list = h("div", { class: "windows" });
  const add = h("button", { type: "button", class: "btn btn-quiet add-hours", text: "Add hours", attrs: { "aria-label": `Add hours (${label})` } });
  const changed = () => {};
  const push = (a, b) => list.insertBefore(windowRow(a, b, label, changed), add);
  add.addEventListener("click", () => {
    const last = [...list.querySelectorAll(".win-end")].pop();
    const from = last && last.value ? last.value : "09:00";
    push(from, from < "22:00" ? `${String(Math.min(23, Number(from.slice(0, 2)) + 2)).padStart(2, "0")}:00` : "23:59");
  });
  list.append(add);
  for (const [a, b] of windows) push(a, b);
  return list;
}

function readWindows(list, what) {
  const out = [];
  for (const row of list.querySelectorAll(".window")) {
    const s = row.querySelector(".win-start");
    const e = row.querySelector(".win-end");
    if (!s.value || !e.value) return { message: `${what}: please fill in both times, or remove the row.`, field: s.value ? e : s };
    if (e.value <= s.value) return { message: `${what}: the end (${e.value}) must be after the start (${s.value}).`, field: e };
    out.push([`${s.value}:00`, `${e.value}:00`]);
  }
  return { windows: out };
}

export function availabilityEditor(av) {
  const zone = h("select", { id: "av-zone" });
  const zones = allZones();
  if (!zones.includes(av.time_zone)) zones.unshift(av.time_zone);
  zone.append(...zones.map((z) => h("option", { value: z, text: z, selected: z === av.time_zone })));
  const week = h("div", { class: "weekly" });
  for (const [code, name] of DAYS) {
    const rules = av.weekly.filter((r) => r.weekday === code).map((r) => [r.start, r.end]);
    const open = h("input", { type: "checkbox", class: "day-open", checked: rules.length > 0, id: `open-${code}` });
    const list = windowsList(rules.length ? rules : [["09:00", "17:00"]], name);
    list.hidden = !rules.length;
    open.addEventListener("change", () => { list.hidden = !open.checked; });
    week.append(h("div", { class: "hours-row", attrs: { "data-day": code } },
      h("label", { class: "day-toggle", for: open.id }, open, name), list));
  }
  const overrides = h("div", { class: "overrides stack" });
  const overrideRow = (o) => {
    const date = h("input", { type: "date", class: "ov-date", value: o.date || "", id: `ov${++uid}`, attrs: { "aria-label": "Date" } });
    const closed = h("input", { type: "checkbox", class: "ov-closed", checked: !o.windows.length, id: `ovc${uid}` });
    // Windows arrive as {start, end} (older servers: [start, end]).
    const pairs = o.windows.map((w) => (Array.isArray(w) ? w : [w.start, w.end]));
    const list = windowsList(pairs.length ? pairs : [["09:00", "12:00"]], "this date");
    list.hidden = !o.windows.length;
    closed.addEventListener("change", () => { list.hidden = closed.checked; });
    const rm = h("button", { type: "button", class: "btn btn-quiet", text: "Remove date" });
    const row = h("div", { class: "override card card-quiet" },
      h("div", { class: "row" }, date, h("label", { class: "day-toggle", for: closed.id }, closed, "Closed all day"), h("span", { class: "spacer" }), rm), list);
    rm.addEventListener("click", () => row.remove());
    overrides.insertBefore(row, addOverride);
  };
  const addOverride = h("button", { type: "button", class: "btn add-override", text: "Add a date override" });
  addOverride.addEventListener("click", () => { overrideRow({ date: "", windows: [] }); overrides.querySelector(".override:last-of-type .ov-date")?.focus(); });
  overrides.append(addOverride);
  for (const o of av.overrides) overrideRow(o);

  const el = h("div", { class: "availability-editor" },
    h("div", { class: "field" }, h("label", { for: "av-zone", text: "Time zone of these hours" }), zone),
    h("fieldset", {}, h("legend", { text: "Weekly hours" }), week),
    h("fieldset", {}, h("legend", { text: "Date overrides" }),
      h("p", { class: "hint", text: "A date here replaces that weekday's hours: close for a holiday, or open other hours." }), overrides));

  function value() {
    const weekly = [];
    for (const row of week.querySelectorAll(".hours-row")) {
      if (!row.querySelector(".day-open").checked) continue;
      const name = DAYS.find((d) => d[0] === row.dataset.day)[1];
      const r = readWindows(row.querySelector(".windows"), name);
      if (r.message) return { ok: false, ...r };
      for (const [start, end] of r.windows) weekly.push({ weekday: row.dataset.day, start, end });
    }
    const ovs = [];
    const seen = new Set();
    for (const row of overrides.querySelectorAll(".override")) {
      const date = row.querySelector(".ov-date");
      if (!date.value) return { ok: false, message: "Each date override needs a date, or remove it.", field: date };
      if (seen.has(date.value)) return { ok: false, message: `${date.value} appears twice in the date overrides.`, field: date };
      seen.add(date.value);
      let windows = [];
      if (!row.querySelector(".ov-closed").checked) {
        const r = readWindows(row.querySelector(".windows"), date.value);
        if (r.message) return { ok: false, ...r };
        windows = r.windows.map(([start, end]) => ({ start, end }));
      }
      ovs.push({ date: date.value, windows });
    }
    return { ok: true, value: { time_zone: zone.value, weekly, overrides: ovs } };
  }
  return { el, value };
}
