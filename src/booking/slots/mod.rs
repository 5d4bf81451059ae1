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

#[cfg(test)]
use chrono::Weekday;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

mod rules;
mod zone;

pub use crate::model::booking::{Busy, DateOverride, SlotPolicy, WeeklyRule};
pub use rules::validate_rules;
pub use zone::display_in;
use zone::{Edge, add_minutes, checked_shift_days, local_date, resolve, shift_days};

/// Longest range `free_slots` accepts, in days.
pub const MAX_RANGE_DAYS: i64 = 62;

/// Most windows `validate_rules` accepts for one weekday or one override date.
pub const MAX_WINDOWS_PER_DAY: usize = 48;

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

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_checks;
#[cfg(test)]
mod tests_dst;
#[cfg(test)]
mod tests_rules;
