//! Slot rules without DST: windows, overrides, buffers, notice, the booking window.

use super::test_support::*;
use super::*;

// ---- plain weekly rules ----

#[test]
fn weekday_window_yields_slots_every_step_while_the_session_fits() {
    let weekly = [rule(Weekday::Mon, (9, 0), (11, 0))];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(45, 30));
    // 2026-03-02 is a Monday.
    let slots = s
        .free_slots(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0), early(), &[])
        .unwrap();
    assert_eq!(
        slots,
        vec![
            Slot {
                start: utc(2026, 3, 2, 9, 0),
                end: utc(2026, 3, 2, 9, 45)
            },
            Slot {
                start: utc(2026, 3, 2, 9, 30),
                end: utc(2026, 3, 2, 10, 15)
            },
            Slot {
                start: utc(2026, 3, 2, 10, 0),
                end: utc(2026, 3, 2, 10, 45)
            },
        ]
    );
}

#[test]
fn only_weekdays_with_rules_have_slots_and_range_bounds_are_half_open() {
    let weekly = [
        rule(Weekday::Mon, (9, 0), (10, 0)),
        rule(Weekday::Wed, (14, 0), (15, 0)),
    ];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 60));
    assert_eq!(
        free(&s, utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0)),
        vec![utc(2026, 3, 2, 9, 0), utc(2026, 3, 4, 14, 0)]
    );
    // `from` is inclusive, `to` exclusive.
    assert_eq!(
        free(&s, utc(2026, 3, 2, 9, 0), utc(2026, 3, 4, 14, 0)),
        vec![utc(2026, 3, 2, 9, 0)]
    );
}

#[test]
fn several_windows_on_a_day_are_merged_sorted() {
    let weekly = [
        rule(Weekday::Mon, (14, 0), (15, 0)),
        rule(Weekday::Mon, (9, 0), (10, 0)),
    ];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0)),
        vec![
            utc(2026, 3, 2, 9, 0),
            utc(2026, 3, 2, 9, 30),
            utc(2026, 3, 2, 14, 0),
            utc(2026, 3, 2, 14, 30)
        ]
    );
}

#[test]
fn unvalidated_overlapping_or_inverted_windows_do_not_duplicate_or_panic() {
    let weekly = [
        rule(Weekday::Mon, (9, 0), (11, 0)),
        rule(Weekday::Mon, (10, 0), (12, 0)),
        rule(Weekday::Mon, (15, 0), (14, 0)),
    ];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 60));
    assert_eq!(
        free(&s, utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0)),
        vec![
            utc(2026, 3, 2, 9, 0),
            utc(2026, 3, 2, 10, 0),
            utc(2026, 3, 2, 11, 0)
        ]
    );
}

// ---- overrides ----

#[test]
fn override_with_no_windows_closes_the_day() {
    let weekly = every_day((9, 0), (10, 0));
    let overrides = [DateOverride {
        date: date(2026, 3, 3),
        windows: vec![],
    }];
    let s = schedule(chrono_tz::UTC, &weekly, &overrides, policy(60, 60));
    assert_eq!(
        free(&s, utc(2026, 3, 2, 0, 0), utc(2026, 3, 5, 0, 0)),
        vec![utc(2026, 3, 2, 9, 0), utc(2026, 3, 4, 9, 0)]
    );
}

#[test]
fn override_hours_replace_the_weekly_rules_for_that_date_only() {
    let weekly = every_day((9, 0), (10, 0));
    let overrides = [DateOverride {
        date: date(2026, 3, 3),
        windows: vec![(hm(13, 0), hm(14, 0)), (hm(16, 0), hm(17, 0))],
    }];
    let s = schedule(chrono_tz::UTC, &weekly, &overrides, policy(60, 60));
    assert_eq!(
        free(&s, utc(2026, 3, 2, 0, 0), utc(2026, 3, 5, 0, 0)),
        vec![
            utc(2026, 3, 2, 9, 0),
            utc(2026, 3, 3, 13, 0),
            utc(2026, 3, 3, 16, 0),
            utc(2026, 3, 4, 9, 0)
        ]
    );
}

#[test]
fn override_opens_a_day_without_weekly_rules() {
    let overrides = [window(date(2026, 3, 7), (10, 0), (11, 0))];
    let s = schedule(chrono_tz::UTC, &[], &overrides, policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 3, 1, 0, 0), utc(2026, 3, 31, 0, 0)),
        vec![utc(2026, 3, 7, 10, 0), utc(2026, 3, 7, 10, 30)]
    );
}

// ---- busy intervals and buffers ----

#[test]
fn buffer_blocks_slots_before_and_after_a_booking_but_touching_is_allowed() {
    let weekly = [rule(Weekday::Mon, (9, 0), (12, 0))];
    let mut p = policy(30, 15);
    p.buffer_minutes = 15;
    let s = schedule(chrono_tz::UTC, &weekly, &[], p);
    let busy = [Busy {
        start: utc(2026, 3, 2, 10, 0),
        end: utc(2026, 3, 2, 11, 0),
    }];
    let slots = s
        .free_slots(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0), early(), &busy)
        .unwrap();
    // 09:15–09:45 + 15 min buffer touches 10:00; 11:15 - 15 min touches 11:00.
    assert_eq!(
        starts(&slots),
        vec![
            utc(2026, 3, 2, 9, 0),
            utc(2026, 3, 2, 9, 15),
            utc(2026, 3, 2, 11, 15),
            utc(2026, 3, 2, 11, 30)
        ]
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 9, 30), early(), &busy),
        Err(SlotError::Taken)
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 11, 0), early(), &busy),
        Err(SlotError::Taken)
    );
}

#[test]
fn without_buffer_back_to_back_bookings_are_allowed() {
    let weekly = [rule(Weekday::Mon, (9, 0), (12, 0))];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 60));
    let busy = [Busy {
        start: utc(2026, 3, 2, 10, 0),
        end: utc(2026, 3, 2, 11, 0),
    }];
    let slots = s
        .free_slots(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0), early(), &busy)
        .unwrap();
    assert_eq!(
        starts(&slots),
        vec![utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 11, 0)]
    );
}

#[test]
fn empty_or_inverted_busy_intervals_block_nothing() {
    let weekly = [rule(Weekday::Mon, (9, 0), (10, 0))];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 60));
    let busy = [
        Busy {
            start: utc(2026, 3, 2, 9, 30),
            end: utc(2026, 3, 2, 9, 30),
        },
        Busy {
            start: utc(2026, 3, 2, 9, 50),
            end: utc(2026, 3, 2, 9, 10),
        },
    ];
    assert!(
        s.check_bookable(utc(2026, 3, 2, 9, 0), early(), &busy)
            .is_ok()
    );
}

// ---- now, notice and booking window ----

#[test]
fn past_and_too_soon_slots_are_excluded() {
    let weekly = [rule(Weekday::Mon, (9, 0), (12, 0))];
    let mut p = policy(30, 30);
    p.min_notice_minutes = 60;
    let s = schedule(chrono_tz::UTC, &weekly, &[], p);
    let now = utc(2026, 3, 2, 9, 30);
    let slots = s
        .free_slots(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0), now, &[])
        .unwrap();
    // now + notice = 10:30 exactly is allowed.
    assert_eq!(
        starts(&slots),
        vec![
            utc(2026, 3, 2, 10, 30),
            utc(2026, 3, 2, 11, 0),
            utc(2026, 3, 2, 11, 30)
        ]
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 9, 0), now, &[]),
        Err(SlotError::InPast)
    );
    // Starting exactly at `now` is not past, but still too soon.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 9, 30), now, &[]),
        Err(SlotError::TooSoon)
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 10, 0), now, &[]),
        Err(SlotError::TooSoon)
    );
}

#[test]
fn slot_starting_exactly_now_is_bookable_without_notice() {
    let weekly = [rule(Weekday::Mon, (9, 0), (10, 0))];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(30, 30));
    let now = utc(2026, 3, 2, 9, 30);
    assert!(s.check_bookable(now, now, &[]).is_ok());
}

#[test]
fn booking_window_excludes_slots_after_now_plus_days_inclusive_limit() {
    let weekly = [rule(Weekday::Mon, (9, 0), (10, 0))];
    let mut p = policy(30, 30);
    p.booking_window_days = 7;
    let s = schedule(chrono_tz::UTC, &weekly, &[], p);
    let now = utc(2026, 3, 2, 9, 0);
    let slots = s.free_slots(now, utc(2026, 3, 20, 0, 0), now, &[]).unwrap();
    assert_eq!(
        starts(&slots),
        vec![
            utc(2026, 3, 2, 9, 0),
            utc(2026, 3, 2, 9, 30),
            utc(2026, 3, 9, 9, 0)
        ]
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 9, 9, 30), now, &[]),
        Err(SlotError::BeyondWindow)
    );
}

// ---- check_bookable ----

#[test]
fn off_grid_times_are_not_slots() {
    let weekly = [rule(Weekday::Mon, (9, 0), (11, 0))];
    let s = schedule(chrono_tz::UTC, &weekly, &[], policy(60, 30));
    let off_grid = [
        utc(2026, 3, 2, 9, 10),
        utc(2026, 3, 2, 9, 0) + TimeDelta::seconds(1),
        utc(2026, 3, 2, 8, 30),
        // On the step grid, but the session would run past 11:00.
        utc(2026, 3, 2, 10, 30),
        utc(2026, 3, 3, 9, 0),
    ];
    for t in off_grid {
        assert_eq!(s.check_bookable(t, early(), &[]), Err(SlotError::NotASlot));
    }
    assert_eq!(
        s.check_bookable(utc(2026, 3, 2, 10, 0), early(), &[]),
        Ok(Slot {
            start: utc(2026, 3, 2, 10, 0),
            end: utc(2026, 3, 2, 11, 0)
        })
    );
}
