//! Builders and assertions shared by the slot tests.

use super::*;
use chrono::TimeZone;
pub(super) use chrono_tz::America::New_York;
pub(super) use chrono_tz::Asia::Kolkata;
pub(super) use chrono_tz::Europe::London;

pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub(super) fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(super) fn rule(weekday: Weekday, start: (u32, u32), end: (u32, u32)) -> WeeklyRule {
    WeeklyRule {
        weekday,
        start: hm(start.0, start.1),
        end: hm(end.0, end.1),
    }
}

pub(super) fn every_day(start: (u32, u32), end: (u32, u32)) -> Vec<WeeklyRule> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .map(|d| rule(d, start, end))
    .collect()
}

pub(super) fn window(d: NaiveDate, start: (u32, u32), end: (u32, u32)) -> DateOverride {
    DateOverride {
        date: d,
        windows: vec![(hm(start.0, start.1), hm(end.0, end.1))],
    }
}

pub(super) fn policy(session: u32, step: u32) -> SlotPolicy {
    SlotPolicy {
        session_minutes: session,
        buffer_minutes: 0,
        slot_step_minutes: step,
        min_notice_minutes: 0,
        booking_window_days: 365,
    }
}

pub(super) fn schedule<'a>(
    zone: Tz,
    weekly: &'a [WeeklyRule],
    overrides: &'a [DateOverride],
    policy: SlotPolicy,
) -> Schedule<'a> {
    Schedule {
        zone,
        weekly,
        overrides,
        policy,
    }
}

/// Long before every test date, so nothing is past, too soon or beyond.
pub(super) fn early() -> DateTime<Utc> {
    utc(2026, 1, 1, 0, 0)
}

pub(super) fn starts(slots: &[Slot]) -> Vec<DateTime<Utc>> {
    slots.iter().map(|s| s.start).collect()
}

pub(super) fn free(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    starts(&s.free_slots(from, to, early(), &[]).unwrap())
}

pub(super) fn local_starts(zone: Tz, slots: &[DateTime<Utc>]) -> Vec<String> {
    slots.iter().map(|t| display_in(zone, *t)).collect()
}

pub(super) fn assert_real_duration(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) {
    let session = TimeDelta::minutes(i64::from(s.policy.session_minutes));
    for slot in s.free_slots(from, to, early(), &[]).unwrap() {
        assert_eq!(slot.end - slot.start, session, "{slot:?}");
    }
}

/// Probes every `probe` (plus an off-grid second) across `[from, to)` and
/// asserts `check_bookable` agrees with `free_slots` over the whole range
/// and over a tiny range around the probe.
pub(super) fn assert_agrees(
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    busy: &[Busy],
    probe: TimeDelta,
) {
    let all = s.free_slots(from, to, now, busy).unwrap();
    for slot in &all {
        assert_eq!(s.check_bookable(slot.start, now, busy), Ok(*slot));
    }
    let mut t = from;
    while t < to {
        for start in [t, t + TimeDelta::seconds(17)] {
            if start >= to {
                continue;
            }
            let checked = s.check_bookable(start, now, busy);
            let listed = all.iter().find(|x| x.start == start).copied();
            assert_eq!(checked.ok(), listed, "start {start}: {checked:?}");
            let tiny = s
                .free_slots(start, start + TimeDelta::seconds(1), now, busy)
                .unwrap();
            assert_eq!(tiny.first().copied(), listed, "tiny range at {start}");
        }
        t += probe;
    }
}
