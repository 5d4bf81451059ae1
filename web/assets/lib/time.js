// time.js — dates and times in the viewer's time zone.
//
//   viewerZone(me) — the profile's IANA zone, else the browser's, else "UTC".
//   fmtDate(iso, tz) "Wednesday 2 December" · fmtShortDate(iso, tz) "Wed 2 Dec"
//   fmtTime(iso, tz) "14:00" · fmtRange(startIso, endIso, tz) "14:00–15:00"
//   zoneName(tz) "Europe/London (GMT)" — shown next to times so nobody guesses.
//   dayKey(iso, tz) "2026-12-02" — the local calendar date of an instant.
//   addDaysKey(key, n) — calendar arithmetic on "YYYY-MM-DD" keys.
//   fmtKey(key, opts) — format a date key (as a calendar date, zone-independent).

export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch { return "UTC"; }
}

export function viewerZone(me) {
  const tz = me && me.user && me.user.time_zone;
  return tz || browserZone();
}

function fmt(iso, tz, opts) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, ...opts }).format(new Date(iso));
}

export const fmtDate = (iso, tz) => fmt(iso, tz, { weekday: "long", day: "numeric", month: "long" });
export const fmtShortDate = (iso, tz) => fmt(iso, tz, { weekday: "short", day: "numeric", month: "short" });
export const fmtTime = (iso, tz) => fmt(iso, tz, { hour: "2-digit", minute: "2-digit", hour12: false });
export const fmtRange = (a, b, tz) => `${fmtTime(a, tz)}–${fmtTime(b, tz)}`;
export const fmtDateTime = (iso, tz) => `${fmtShortDate(iso, tz)}, ${fmtTime(iso, tz)}`;

export function zoneName(tz) {
  try {
    const part = new Intl.DateTimeFormat("en-GB", { timeZone: tz, timeZoneName: "short" })
      .formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    return part && part.value !== tz ? `${tz} (${part.value})` : tz;
  } catch {
    return tz;
  }
}

export function dayKey(iso, tz) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

export function addDaysKey(key, n) {
  const d = new Date(`${key}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function fmtKey(key, opts = { weekday: "short", day: "numeric", month: "short" }) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", ...opts }).format(new Date(`${key}T12:00:00Z`));
}

export function allZones() {
  try { return Intl.supportedValuesOf("timeZone"); } catch { return ["UTC"]; }
}
