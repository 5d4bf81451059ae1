//! Slot computation for coach bookings. This module owns turning a coach's
//! weekly opening rules (wall-clock times in the coach's IANA zone), their
//! date-specific overrides and the booking policy (session length, buffers,
//! slot step, minimum notice, booking window) into concrete bookable slots in
//! UTC, and deciding whether one requested start can be booked. It owns the
//! daylight-saving rules too: a wall-clock time that falls in a spring-forward
//! gap resolves to the first instant after the gap, an ambiguous fall-back
//! time resolves to the earlier instant for a window start and the later
//! instant for a window end, and slots are stepped in real elapsed time so a
//! session always lasts exactly its length. It is sans-IO and pure: the
//! current time is always a parameter, no clock is read, and it never touches
//! storage, HTTP or any other IO; callers load rules and busy intervals and
//! persist bookings themselves.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, SecondsFormat,
    TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

/// Longest range `free_slots` accepts, in days.
pub const MAX_RANGE_DAYS: i64 = 62;

/// Most windows `validate_rules` accepts for one weekday or one override date.
pub const MAX_WINDOWS_PER_DAY: usize = 48;

/// One weekly opening window in the coach's zone, e.g. Mon 09:00–17:00.
/// `end` > `start` (same day; no overnight windows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeeklyRule {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A date-specific override: closed all day, or these hours instead of the
/// weekly rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DateOverride {
    pub date: NaiveDate,
    /// Empty = closed that day.
    pub windows: Vec<(NaiveTime, NaiveTime)>,
}

/// Booking policy. All durations are real elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPolicy {
    /// Length of a session. Must be non-zero.
    pub session_minutes: u32,
    /// Gap required before and after every existing booking.
    pub buffer_minutes: u32,
    /// Distance between candidate slot starts. Must be non-zero.
    pub slot_step_minutes: u32,
    /// A slot must start at least this long after `now`.
    pub min_notice_minutes: u32,
    /// A slot must start no later than `now` + this many 24-hour days.
    pub booking_window_days: u32,
}

/// An existing booking (or other busy interval) of the coach, in UTC.
/// Half-open `[start, end)`; an interval with `end <= start` is empty and
/// blocks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A bookable slot, `[start, end)` in UTC; `end - start` is always the
/// session length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A coach's availability: zone, weekly rules, overrides and policy.
///
/// If several overrides share a date the first one wins (`validate_rules`
/// rejects that). Unvalidated rules never cause a panic: windows with
/// `start >= end` yield nothing and overlapping windows yield each slot once.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    pub zone: Tz,
    pub weekly: &'a [WeeklyRule],
    pub overrides: &'a [DateOverride],
    pub policy: SlotPolicy,
}

/// Why a slot cannot be listed or booked.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SlotError {
    #[error("that time is in the past")]
    InPast,
    #[error("that time is too soon: bookings need more advance notice")]
    TooSoon,
    #[error("that time is too far ahead: it is beyond the booking window")]
    BeyondWindow,
    #[error("that time is not one of the coach's bookable slot start times")]
    NotASlot,
    #[error("that slot is not available: it overlaps another booking or its buffer")]
    Taken,
    #[error(
        "invalid request: the range must be non-empty and at most 62 days long, \
         and the session length and slot step must be non-zero"
    )]
    InvalidRange,
}

/// Which end of a window a wall-clock time is; decides how an ambiguous
/// (fall-back) time resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    End,
}

impl Schedule<'_> {
    /// Free slots whose start lies in `[from, to)`, sorted, no duplicates.
    ///
    /// Errors with [`SlotError::InvalidRange`] if `from >= to`, the range is
    /// longer than 62 days, or the session length or slot step is zero.
    pub fn free_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        busy: &[Busy],
    ) -> Result<Vec<Slot>, SlotError> {
        self.check_policy()?;
        if from >= to || to.signed_duration_since(from) > TimeDelta::days(MAX_RANGE_DAYS) {
            return Err(SlotError::InvalidRange);
        }
        // A slot start `s` belongs to local date `D` only if `D` is within one
        // day of `s`'s own local date (see `candidates_on`). Local dates can
        // run backwards at a fall-back, so widen generously; the per-date
        // filter keeps the result exactly what `check_bookable` decides.
        let first = shift_days(local_date(self.zone, from), -3);
        let last = shift_days(local_date(self.zone, to), 3);
        let mut slots = Vec::new();
        for date in first.iter_days().take_while(|d| *d <= last) {
            for start in self.candidates_on(date) {
                if start < from || start >= to || self.timing(start, now).is_err() {
                    continue;
                }
                if let Some(slot) = self.slot_at(start)
                    && !self.taken(slot, busy)
                {
                    slots.push(slot);
                }
            }
        }
        slots.sort_by_key(|s| s.start);
        slots.dedup_by_key(|s| s.start);
        Ok(slots)
    }

    /// Why `start` cannot be booked now (or `Ok(slot)` if it can).
    ///
    /// Agrees exactly with [`Schedule::free_slots`]: `Ok` iff `free_slots` over
    /// any valid range containing `start` contains it. Checks in order:
    /// `InPast`, `TooSoon`, `BeyondWindow`, `NotASlot`, `Taken`. A policy with
    /// a zero session length or slot step is reported as `InvalidRange` first,
    /// as `free_slots` does.
    pub fn check_bookable(
        &self,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        busy: &[Busy],
    ) -> Result<Slot, SlotError> {
        self.check_policy()?;
        self.timing(start, now)?;
        let local = local_date(self.zone, start);
        let is_candidate = [-1, 0, 1]
            .into_iter()
            .filter_map(|delta| checked_shift_days(local, delta))
            .any(|date| self.candidates_on(date).contains(&start));
        if !is_candidate {
            return Err(SlotError::NotASlot);
        }
        let slot = self.slot_at(start).ok_or(SlotError::NotASlot)?;
        if self.taken(slot, busy) {
            return Err(SlotError::Taken);
        }
        Ok(slot)
    }

    fn check_policy(&self) -> Result<(), SlotError> {
        if self.policy.session_minutes == 0 || self.policy.slot_step_minutes == 0 {
            return Err(SlotError::InvalidRange);
        }
        Ok(())
    }

    /// The past / notice / booking-window checks, in that order.
    fn timing(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), SlotError> {
        if start < now {
            return Err(SlotError::InPast);
        }
        // An earliest time that overflows the calendar means nothing is soon
        // enough; a latest time that overflows means there is no limit.
        match add_minutes(now, i64::from(self.policy.min_notice_minutes)) {
            Some(earliest) if start >= earliest => {}
            _ => return Err(SlotError::TooSoon),
        }
        let window = TimeDelta::try_days(i64::from(self.policy.booking_window_days));
        if let Some(latest) = window.and_then(|w| now.checked_add_signed(w))
            && start > latest
        {
            return Err(SlotError::BeyondWindow);
        }
        Ok(())
    }

    fn slot_at(&self, start: DateTime<Utc>) -> Option<Slot> {
        let end = add_minutes(start, i64::from(self.policy.session_minutes))?;
        Some(Slot { start, end })
    }

    /// Whether `slot`, widened by the buffer on both sides, overlaps any busy
    /// interval (half-open; touching is not overlapping).
    fn taken(&self, slot: Slot, busy: &[Busy]) -> bool {
        let buffer = i64::from(self.policy.buffer_minutes);
        let lo = add_minutes(slot.start, -buffer).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let hi = add_minutes(slot.end, buffer).unwrap_or(DateTime::<Utc>::MAX_UTC);
        busy.iter()
            .any(|b| b.start < b.end && lo < b.end && b.start < hi)
    }

    /// The opening windows of local date `date`: the first override for that
    /// date if any, else the weekly rules for its weekday.
    fn windows_on(&self, date: NaiveDate) -> Vec<(NaiveTime, NaiveTime)> {
        match self.overrides.iter().find(|o| o.date == date) {
            Some(o) => o.windows.clone(),
            None => self
                .weekly
                .iter()
                .filter(|r| r.weekday == date.weekday())
                .map(|r| (r.start, r.end))
                .collect(),
        }
    }

    /// Candidate slot starts (before policy and busy checks) generated by the
    /// windows of local date `date`, stepped in real time from each window
    /// start while the whole session fits before the window end. Starts whose
    /// own local date is more than one day away from `date` are dropped, so
    /// that every candidate is found by looking at the previous, same and next
    /// local date of the start (what `check_bookable` does).
    fn candidates_on(&self, date: NaiveDate) -> Vec<DateTime<Utc>> {
        let session = i64::from(self.policy.session_minutes);
        let step = i64::from(self.policy.slot_step_minutes);
        let mut out = Vec::new();
        if session == 0 || step == 0 {
            return out;
        }
        for (start, end) in self.windows_on(date) {
            let (Some(window_start), Some(window_end)) = (
                resolve(self.zone, date.and_time(start), Edge::Start),
                resolve(self.zone, date.and_time(end), Edge::End),
            ) else {
                continue;
            };
            let mut s = window_start;
            while let Some(e) = add_minutes(s, session) {
                if e > window_end {
                    break;
                }
                let day_gap = local_date(self.zone, s)
                    .signed_duration_since(date)
                    .num_days();
                if day_gap.abs() <= 1 {
                    out.push(s);
                }
                match add_minutes(s, step) {
                    Some(next) => s = next,
                    None => break,
                }
            }
        }
        out
    }
}

/// Validates rules: `start < end` for every window (a `NaiveTime` always lies
/// within one day, so this also rules out overnight windows), no overlapping
/// windows on the same weekday or override date (touching is fine), at most
/// 48 windows per weekday or override date, and at most one override per
/// date. Returns a message naming the offending rule.
pub fn validate_rules(weekly: &[WeeklyRule], overrides: &[DateOverride]) -> Result<(), String> {
    for r in weekly {
        if r.start >= r.end {
            return Err(format!(
                "weekly rule {} {}: start must be before end",
                r.weekday,
                fmt_window(r.start, r.end)
            ));
        }
    }
    const WEEK: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    for day in WEEK {
        let windows: Vec<_> = weekly
            .iter()
            .filter(|r| r.weekday == day)
            .map(|r| (r.start, r.end))
            .collect();
        check_day(&windows).map_err(|problem| format!("weekly rules for {day}: {problem}"))?;
    }
    for (i, o) in overrides.iter().enumerate() {
        if overrides[..i].iter().any(|p| p.date == o.date) {
            return Err(format!(
                "override for {}: there is more than one override for this date",
                o.date
            ));
        }
        for &(start, end) in &o.windows {
            if start >= end {
                return Err(format!(
                    "override for {}: window {}: start must be before end",
                    o.date,
                    fmt_window(start, end)
                ));
            }
        }
        check_day(&o.windows).map_err(|problem| format!("override for {}: {problem}", o.date))?;
    }
    Ok(())
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

/// Count and overlap checks for the windows of one weekday or date (all with
/// `start < end`).
fn check_day(windows: &[(NaiveTime, NaiveTime)]) -> Result<(), String> {
    if windows.len() > MAX_WINDOWS_PER_DAY {
        return Err(format!(
            "{} windows, at most {MAX_WINDOWS_PER_DAY} allowed",
            windows.len()
        ));
    }
    let mut sorted = windows.to_vec();
    sorted.sort();
    for pair in sorted.windows(2) {
        let ((a_start, a_end), (b_start, b_end)) = (pair[0], pair[1]);
        if b_start < a_end {
            return Err(format!(
                "windows {} and {} overlap",
                fmt_window(a_start, a_end),
                fmt_window(b_start, b_end)
            ));
        }
    }
    Ok(())
}

fn fmt_window(start: NaiveTime, end: NaiveTime) -> String {
    format!("{}–{}", fmt_time(start), fmt_time(end))
}

fn fmt_time(t: NaiveTime) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S%.f").to_string()
    }
}

fn add_minutes(t: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::try_minutes(minutes)?)
}

fn checked_shift_days(date: NaiveDate, delta: i64) -> Option<NaiveDate> {
    let days = Days::new(delta.unsigned_abs());
    if delta >= 0 {
        date.checked_add_days(days)
    } else {
        date.checked_sub_days(days)
    }
}

/// Shifts a date, stopping at the calendar's edge instead of failing.
fn shift_days(date: NaiveDate, delta: i64) -> NaiveDate {
    (0..=delta.abs())
        .rev()
        .find_map(|n| checked_shift_days(date, n * delta.signum()))
        .unwrap_or(date)
}

/// Local wall-clock time of `t` in `zone`, if representable.
fn local_naive(zone: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    utc.checked_add_offset(zone.offset_from_utc_datetime(&utc).fix())
}

/// Local calendar date of `t` in `zone` (the UTC date at the calendar's very
/// edge, where the local time is not representable).
fn local_date(zone: Tz, t: DateTime<Utc>) -> NaiveDate {
    local_naive(zone, t).map_or_else(|| t.date_naive(), |l| l.date())
}

/// Resolves a local wall-clock time to an instant: a time in a DST gap goes
/// to the first instant after the gap; an ambiguous time goes to the earlier
/// instant for a window start and the later one for a window end.
fn resolve(zone: Tz, local: NaiveDateTime, edge: Edge) -> Option<DateTime<Utc>> {
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
fn first_instant_at_or_after(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
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

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_dst;
#[cfg(test)]
mod tests_rules;
