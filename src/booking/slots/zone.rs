//! Wall-clock arithmetic in a coach's IANA zone: local dates and times of an instant, and
//! the resolution of a local time that a DST change skipped (gap) or repeated (fall-back) to
//! one instant. Pure functions; no clock is read.

use chrono::{
    DateTime, Days, NaiveDate, NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

/// Which end of a window a wall-clock time is; decides how an ambiguous
/// (fall-back) time resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edge {
    /// The start of a window.
    Start,
    /// The end of a window.
    End,
}

/// Formats an instant as local wall-clock time in `zone`, RFC 3339 with
/// offset (e.g. "2026-03-29T09:00:00+01:00"); fractional seconds appear only
/// when non-zero. At the very edge of the representable calendar, where the
/// local time cannot be represented, the instant is shown in UTC.
pub fn display_in(zone: Tz, t: DateTime<Utc>) -> String {
    if local_naive(zone, t).is_some() {
        t.with_timezone(&zone)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    } else {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
}

pub(super) fn add_minutes(t: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::try_minutes(minutes)?)
}

pub(super) fn checked_shift_days(date: NaiveDate, delta: i64) -> Option<NaiveDate> {
    let days = Days::new(delta.unsigned_abs());
    if delta >= 0 {
        date.checked_add_days(days)
    } else {
        date.checked_sub_days(days)
    }
}

/// Shifts a date, stopping at the calendar's edge instead of failing.
pub(super) fn shift_days(date: NaiveDate, delta: i64) -> NaiveDate {
    (0..=delta.abs())
        .rev()
        .find_map(|n| checked_shift_days(date, n * delta.signum()))
        .unwrap_or(date)
}

/// Local wall-clock time of `t` in `zone`, if representable.
pub(super) fn local_naive(zone: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    utc.checked_add_offset(zone.offset_from_utc_datetime(&utc).fix())
}

/// Local calendar date of `t` in `zone` (the UTC date at the calendar's very
/// edge, where the local time is not representable).
pub(super) fn local_date(zone: Tz, t: DateTime<Utc>) -> NaiveDate {
    local_naive(zone, t).map_or_else(|| t.date_naive(), |l| l.date())
}

/// Resolves a local wall-clock time to an instant: a time in a DST gap goes
/// to the first instant after the gap; an ambiguous time goes to the earlier
/// instant for a window start and the later one for a window end.
pub(super) fn resolve(zone: Tz, local: NaiveDateTime, edge: Edge) -> Option<DateTime<Utc>> {
    use chrono::LocalResult;
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            Some(match edge {
                Edge::Start => a.min(b),
                Edge::End => a.max(b),
            })
        }
        LocalResult::None => first_instant_at_or_after(zone, local),
    }
}

/// The first whole-second instant whose local time is at or after `local`;
/// for a time inside a DST gap that is the transition instant (the first
/// instant after the gap). Offsets in the tz database stay well within 26
/// hours, so the answer lies within 26 hours of `local` read as UTC.
pub(super) fn first_instant_at_or_after(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    const SPAN: i64 = 26 * 3600;
    let reached = |secs: i64| -> Option<bool> {
        let t = DateTime::<Utc>::from_timestamp(secs, 0)?;
        Some(local_naive(zone, t)? >= local)
    };
    let base = local.and_utc().timestamp();
    let (mut lo, mut hi) = (base.checked_sub(SPAN)?, base.checked_add(SPAN)?);
    if reached(lo)? || !reached(hi)? {
        return None;
    }
    // Invariant: not reached at `lo`, reached at `hi`.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0)
}
