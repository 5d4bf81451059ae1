//! Checking one requested slot (`check_bookable`) against the slot list, in every zone;
//! rejected and extreme inputs; validation of availability rules.

use super::test_support::*;
use super::*;

#[test]
fn check_bookable_reports_errors_in_the_documented_order() {
    let weekly = [rule(Weekday::Mon, (9, 0), (12, 0))];
    let mut p = policy(30, 30);
    p.min_notice_minutes = 60;
    p.booking_window_days = 1;
    let s = schedule(chrono_tz::UTC, &weekly, &[], p);
    let now = utc(2026, 3, 2, 9, 0);
    let busy = [Busy {
        start: utc(2026, 3, 2, 8, 0),
        end: utc(2026, 3, 2, 12, 0),
    }];
    // Past beats off-grid and taken.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 8, 7), now, &busy),
        Err(SlotError::InPast)
    );
    // Too soon beats off-grid and taken.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 9, 7), now, &busy),
        Err(SlotError::TooSoon)
    );
    // Beyond the window beats off-grid.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 9, 9, 7), now, &busy),
        Err(SlotError::BeyondWindow)
    );
    // Off-grid beats taken.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 10, 7), now, &busy),
        Err(SlotError::NotASlot)
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 10, 0), now, &busy),
        Err(SlotError::Taken)
    );
}

#[test]
fn check_bookable_agrees_with_free_slots_in_utc() {
    let weekly = [
        rule(Weekday::Mon, (9, 0), (12, 0)),
        rule(Weekday::Tue, (13, 0), (17, 0)),
        rule(Weekday::Wed, (8, 0), (9, 30)),
    ];
    let overrides = [window(date(2026, 3, 4), (22, 0), (23, 59))];
    let mut p = policy(50, 20);
    p.buffer_minutes = 10;
    p.min_notice_minutes = 90;
    p.booking_window_days = 2;
    let s = schedule(chrono_tz::UTC, &weekly, &overrides, p);
    let busy = [
        Busy {
            start: utc(2026, 3, 2, 13, 30),
            end: utc(2026, 3, 2, 14, 30),
        },
        Busy {
            start: utc(2026, 3, 3, 15, 0),
            end: utc(2026, 3, 3, 15, 20),
        },
    ];
    let now = utc(2026, 3, 2, 9, 40);
    assert_agrees(
        &s,
        utc(2026, 3, 2, 0, 0),
        utc(2026, 3, 6, 0, 0),
        now,
        &busy,
        TimeDelta::minutes(5),
    );
}

#[test]
fn check_bookable_agrees_with_free_slots_across_dst_and_odd_offsets() {
    let weekly = every_day((0, 0), (23, 59));
    let overrides = [
        window(date(2026, 3, 29), (1, 15), (3, 45)),
        window(date(2026, 10, 25), (0, 45), (2, 30)),
    ];
    let mut p = policy(45, 25);
    p.buffer_minutes = 5;
    let cases = [
        (London, utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0)),
        (London, utc(2026, 10, 24, 0, 0), utc(2026, 10, 27, 0, 0)),
        (New_York, utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0)),
        (New_York, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0)),
        (Kolkata, utc(2026, 3, 9, 0, 0), utc(2026, 3, 11, 0, 0)),
    ];
    for (zone, from, to) in cases {
        let s = schedule(zone, &weekly, &overrides, p);
        let busy = [Busy {
            start: from + TimeDelta::hours(30),
            end: from + TimeDelta::hours(31),
        }];
        assert_agrees(&s, from, to, early(), &busy, TimeDelta::minutes(5));
    }
}

#[test]
fn check_bookable_agrees_with_free_slots_in_exotic_zones() {
    // Samoa skipped a whole day, Sitka fell back almost a day in 1867,
    // Lord Howe shifts by 30 minutes.
    let weekly = every_day((0, 0), (23, 59));
    let p = policy(50, 35);
    let cases = [
        (
            chrono_tz::Pacific::Apia,
            utc(2011, 12, 28, 0, 0),
            utc(2012, 1, 2, 0, 0),
        ),
        (
            chrono_tz::America::Sitka,
            utc(1867, 10, 16, 0, 0),
            utc(1867, 10, 22, 0, 0),
        ),
        (
            chrono_tz::Australia::Lord_Howe,
            utc(2026, 4, 3, 0, 0),
            utc(2026, 4, 6, 0, 0),
        ),
    ];
    for (zone, from, to) in cases {
        let s = schedule(zone, &weekly, &[], p);
        assert_agrees(
            &s,
            from,
            to,
            DateTime::<Utc>::MIN_UTC,
            &[],
            TimeDelta::minutes(5),
        );
    }
}

// ---- ranges and policy guards ----

#[test]
fn invalid_ranges_and_zero_step_or_session_are_rejected() {
    let weekly = every_day((9, 0), (17, 0));
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 30));
    let from = utc(2026, 3, 1, 0, 0);
    assert_eq!(
        s.free_slots(from, from, early(), &[]),
        Err(SlotError::InvalidRange)
    );
    assert_eq!(
        s.free_slots(from, from - TimeDelta::hours(1), early(), &[]),
        Err(SlotError::InvalidRange)
    );
    let limit = from + TimeDelta::days(62);
    assert_eq!(
        s.free_slots(from, limit + TimeDelta::seconds(1), early(), &[]),
        Err(SlotError::InvalidRange)
    );
    assert_eq!(
        s.free_slots(from, limit, early(), &[]).unwrap().len(),
        62 * 15
    );
    for p in [policy(0, 30), policy(60, 0)] {
        let s = schedule(chrono_tz::UTC, &weekly, &[], p);
        assert_eq!(
            s.free_slots(from, from + TimeDelta::days(1), early(), &[]),
            Err(SlotError::InvalidRange)
        );
        assert_eq!(
            s.check_bookable(utc(2026, 3, 2, 9, 0), early(), &[]),
            Err(SlotError::InvalidRange)
        );
    }
}

#[test]
fn extreme_inputs_never_panic() {
    let weekly = every_day((0, 0), (23, 59));
    let overrides = [window(NaiveDate::MAX, (0, 0), (23, 0))];
    let huge = SlotPolicy {
        session_minutes: u32::MAX,
        buffer_minutes: u32::MAX,
        slot_step_minutes: u32::MAX,
        min_notice_minutes: u32::MAX,
        booking_window_days: u32::MAX,
    };
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let busy = [Busy {
        start: min,
        end: max,
    }];
    for zone in [
        chrono_tz::UTC,
        London,
        Kolkata,
        New_York,
        chrono_tz::Pacific::Apia,
    ] {
        for p in [policy(1, 1), huge] {
            let s = schedule(zone, &weekly, &overrides, p);
            for (from, to) in [
                (min, min + TimeDelta::days(2)),
                (max - TimeDelta::days(2), max),
            ] {
                for now in [min, max, early()] {
                    let _ = s.free_slots(from, to, now, &busy);
                    let _ = s.free_slots(from, to, now, &[]);
                    let _ = s.check_bookable(from, now, &[]);
                    let _ = s.check_bookable(to, now, &busy);
                }
            }
            assert!(display_in(zone, min).contains('T'));
            assert!(display_in(zone, max).contains('T'));
        }
    }
}

#[test]
fn a_day_skipped_by_the_zone_yields_no_slots_and_does_not_panic() {
    // Samoa skipped 2011-12-30 entirely when moving across the date line.
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(chrono_tz::Pacific::Apia, &weekly, &[], policy(60, 60));
    let slots = s
        .free_slots(
            utc(2011, 12, 28, 0, 0),
            utc(2012, 1, 2, 0, 0),
            utc(2011, 1, 1, 0, 0),
            &[],
        )
        .unwrap();
    let days: Vec<String> = slots
        .iter()
        .map(|s| display_in(chrono_tz::Pacific::Apia, s.start)[..10].to_string())
        .collect();
    assert!(!days.iter().any(|d| d == "2011-12-30"), "{days:?}");
    assert_eq!(slots.len(), 3 * 4);
}

// ---- validate_rules ----

#[test]
fn validate_rules_accepts_touching_windows_and_closed_overrides() {
    let weekly = [
        rule(Weekday::Mon, (9, 0), (12, 0)),
        rule(Weekday::Mon, (12, 0), (13, 0)),
        rule(Weekday::Tue, (9, 0), (12, 0)),
    ];
    let overrides = [
        DateOverride {
            date: date(2026, 3, 3),
            windows: vec![],
        },
        DateOverride {
            date: date(2026, 3, 4),
            windows: vec![(hm(10, 0), hm(11, 0)), (hm(8, 0), hm(10, 0))],
        },
    ];
    assert_eq!(validate_rules(&weekly, &overrides), Ok(()));
}

#[test]
fn validate_rules_rejects_overlapping_weekly_windows() {
    let weekly = [
        rule(Weekday::Wed, (11, 0), (13, 0)),
        rule(Weekday::Wed, (9, 0), (12, 0)),
    ];
    let err = validate_rules(&weekly, &[]).unwrap_err();
    assert!(err.contains("Wed"), "{err}");
    assert!(
        err.contains("09:00–12:00") && err.contains("11:00–13:00"),
        "{err}"
    );
    assert!(err.contains("overlap"), "{err}");
}

#[test]
fn validate_rules_rejects_start_not_before_end() {
    let err = validate_rules(&[rule(Weekday::Fri, (17, 0), (9, 0))], &[]).unwrap_err();
    assert!(err.contains("Fri 17:00–09:00"), "{err}");
    let err = validate_rules(&[rule(Weekday::Fri, (9, 0), (9, 0))], &[]).unwrap_err();
    assert!(err.contains("Fri 09:00–09:00"), "{err}");
    let bad = [window(date(2026, 3, 4), (10, 0), (9, 59))];
    let err = validate_rules(&[], &bad).unwrap_err();
    assert!(
        err.contains("2026-03-04") && err.contains("10:00–09:59"),
        "{err}"
    );
}

#[test]
fn validate_rules_rejects_overlapping_override_windows_and_duplicate_dates() {
    let overlapping = [DateOverride {
        date: date(2026, 3, 4),
        windows: vec![(hm(9, 0), hm(10, 0)), (hm(9, 30), hm(11, 0))],
    }];
    let err = validate_rules(&[], &overlapping).unwrap_err();
    assert!(
        err.contains("2026-03-04") && err.contains("overlap"),
        "{err}"
    );
    let duplicate = [
        window(date(2026, 3, 4), (9, 0), (10, 0)),
        window(date(2026, 3, 4), (11, 0), (12, 0)),
    ];
    let err = validate_rules(&[], &duplicate).unwrap_err();
    assert!(err.contains("2026-03-04"), "{err}");
}

#[test]
fn validate_rules_allows_48_windows_per_weekday_but_not_49() {
    let windows = |n: u32| -> Vec<WeeklyRule> {
        (0..n)
            .map(|i| WeeklyRule {
                weekday: Weekday::Thu,
                start: NaiveTime::from_num_seconds_from_midnight_opt(i * 1200, 0).unwrap(),
                end: NaiveTime::from_num_seconds_from_midnight_opt(i * 1200 + 600, 0).unwrap(),
            })
            .collect()
    };
    assert_eq!(validate_rules(&windows(48), &[]), Ok(()));
    let err = validate_rules(&windows(49), &[]).unwrap_err();
    assert!(err.contains("Thu") && err.contains("48"), "{err}");
}
