//! Slots across DST transitions (London, New York) and half-hour offsets (Kolkata).

use super::test_support::*;
use super::*;

// ---- DST: Europe/London ----

#[test]
fn london_spring_forward_normal_window_moves_from_9z_to_8z() {
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(London, &weekly, &[], policy(60, 60));
    let slots = free(&s, utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 28, 9, 0),
            utc(2026, 3, 28, 10, 0),
            utc(2026, 3, 28, 11, 0),
            utc(2026, 3, 29, 8, 0),
            utc(2026, 3, 29, 9, 0),
            utc(2026, 3, 29, 10, 0),
            utc(2026, 3, 30, 8, 0),
            utc(2026, 3, 30, 9, 0),
            utc(2026, 3, 30, 10, 0),
        ]
    );
    assert_eq!(
        display_in(London, slots[3]),
        "2026-03-29T09:00:00+01:00".to_string()
    );
}

#[test]
fn london_spring_forward_window_spanning_the_gap_has_three_real_hours() {
    // 00:00 GMT = 00:00Z .. 04:00 BST = 03:00Z.
    let overrides = [window(date(2026, 3, 29), (0, 0), (4, 0))];
    let s = schedule(London, &[], &overrides, policy(60, 30));
    let (from, to) = (utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0));
    let slots = free(&s, from, to);
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 29, 0, 0),
            utc(2026, 3, 29, 0, 30),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 29, 1, 30),
            utc(2026, 3, 29, 2, 0),
        ]
    );
    assert_eq!(
        local_starts(London, &slots),
        [
            "2026-03-29T00:00:00+00:00",
            "2026-03-29T00:30:00+00:00",
            "2026-03-29T02:00:00+01:00",
            "2026-03-29T02:30:00+01:00",
            "2026-03-29T03:00:00+01:00",
        ]
    );
    assert_real_duration(&s, from, to);
}

#[test]
fn london_window_starting_in_the_gap_starts_at_the_first_instant_after_it() {
    // 01:30 does not exist: it resolves to 02:00 BST = 01:00Z.
    let overrides = [window(date(2026, 3, 29), (1, 30), (3, 0))];
    let s = schedule(London, &[], &overrides, policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)),
        vec![utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)]
    );
    // A window entirely inside the gap is empty.
    let overrides = [window(date(2026, 3, 29), (1, 10), (1, 50))];
    let s = schedule(London, &[], &overrides, policy(10, 10));
    assert!(free(&s, utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)).is_empty());
}

#[test]
fn london_fall_back_normal_window_moves_from_8z_to_9z() {
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(London, &weekly, &[], policy(60, 60));
    let slots = free(&s, utc(2026, 10, 24, 0, 0), utc(2026, 10, 27, 0, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 10, 24, 8, 0),
            utc(2026, 10, 24, 9, 0),
            utc(2026, 10, 24, 10, 0),
            utc(2026, 10, 25, 9, 0),
            utc(2026, 10, 25, 10, 0),
            utc(2026, 10, 25, 11, 0),
            utc(2026, 10, 26, 9, 0),
            utc(2026, 10, 26, 10, 0),
            utc(2026, 10, 26, 11, 0),
        ]
    );
}

#[test]
fn london_fall_back_window_spanning_the_overlap_has_five_real_hours() {
    // 00:00 BST = 23:00Z (previous UTC day) .. 04:00 GMT = 04:00Z.
    let overrides = [window(date(2026, 10, 25), (0, 0), (4, 0))];
    let s = schedule(London, &[], &overrides, policy(60, 60));
    let (from, to) = (utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 0, 0));
    let slots = free(&s, from, to);
    assert_eq!(
        slots,
        vec![
            utc(2026, 10, 24, 23, 0),
            utc(2026, 10, 25, 0, 0),
            utc(2026, 10, 25, 1, 0),
            utc(2026, 10, 25, 2, 0),
            utc(2026, 10, 25, 3, 0),
        ]
    );
    assert_eq!(
        local_starts(London, &slots),
        [
            "2026-10-25T00:00:00+01:00",
            "2026-10-25T01:00:00+01:00",
            "2026-10-25T01:00:00+00:00",
            "2026-10-25T02:00:00+00:00",
            "2026-10-25T03:00:00+00:00",
        ]
    );
    assert_real_duration(&s, from, to);
}

#[test]
fn london_ambiguous_window_runs_from_earlier_start_to_later_end() {
    // 01:15 BST = 00:15Z .. 01:45 GMT = 01:45Z: 90 real minutes.
    let overrides = [window(date(2026, 10, 25), (1, 15), (1, 45))];
    let s = schedule(London, &[], &overrides, policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 10, 24, 0, 0), utc(2026, 10, 26, 0, 0)),
        vec![
            utc(2026, 10, 25, 0, 15),
            utc(2026, 10, 25, 0, 45),
            utc(2026, 10, 25, 1, 15)
        ]
    );
}

#[test]
fn london_check_bookable_follows_dst_resolution() {
    let overrides = [window(date(2026, 3, 29), (0, 0), (4, 0))];
    let s = schedule(London, &[], &overrides, policy(60, 30));
    assert!(
        s.check_bookable(utc(2026, 3, 29, 1, 0), early(), &[])
            .is_ok()
    );
    assert_eq!(
        s.check_bookable(utc(2026, 3, 29, 1, 15), early(), &[]),
        Err(SlotError::NotASlot)
    );
    // 02:30Z = 03:30 BST: the session would end after 04:00 BST.
    assert_eq!(
        s.check_bookable(utc(2026, 3, 29, 2, 30), early(), &[]),
        Err(SlotError::NotASlot)
    );
}

// ---- DST: America/New_York ----

#[test]
fn new_york_spring_forward_normal_window_moves_from_14z_to_13z() {
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(New_York, &weekly, &[], policy(60, 60));
    let slots = free(&s, utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 7, 14, 0),
            utc(2026, 3, 7, 15, 0),
            utc(2026, 3, 7, 16, 0),
            utc(2026, 3, 8, 13, 0),
            utc(2026, 3, 8, 14, 0),
            utc(2026, 3, 8, 15, 0),
            utc(2026, 3, 9, 13, 0),
            utc(2026, 3, 9, 14, 0),
            utc(2026, 3, 9, 15, 0),
        ]
    );
    assert_eq!(display_in(New_York, slots[0]), "2026-03-07T09:00:00-05:00");
    assert_eq!(display_in(New_York, slots[3]), "2026-03-08T09:00:00-04:00");
}

#[test]
fn new_york_spring_forward_window_spanning_the_gap_has_three_real_hours() {
    // 00:00 EST = 05:00Z .. 04:00 EDT = 08:00Z.
    let overrides = [window(date(2026, 3, 8), (0, 0), (4, 0))];
    let s = schedule(New_York, &[], &overrides, policy(60, 30));
    let (from, to) = (utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 0, 0));
    let slots = free(&s, from, to);
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 8, 5, 0),
            utc(2026, 3, 8, 5, 30),
            utc(2026, 3, 8, 6, 0),
            utc(2026, 3, 8, 6, 30),
            utc(2026, 3, 8, 7, 0),
        ]
    );
    assert_eq!(
        local_starts(New_York, &slots),
        [
            "2026-03-08T00:00:00-05:00",
            "2026-03-08T00:30:00-05:00",
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
        ]
    );
    assert_real_duration(&s, from, to);
}

#[test]
fn new_york_window_starting_in_the_gap_starts_at_3am_edt() {
    // 02:30 does not exist: it resolves to 03:00 EDT = 07:00Z.
    let overrides = [window(date(2026, 3, 8), (2, 30), (4, 0))];
    let s = schedule(New_York, &[], &overrides, policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 0, 0)),
        vec![utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30)]
    );
}

#[test]
fn new_york_fall_back_normal_window_moves_from_13z_to_14z() {
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(New_York, &weekly, &[], policy(60, 60));
    let slots = free(&s, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 10, 31, 13, 0),
            utc(2026, 10, 31, 14, 0),
            utc(2026, 10, 31, 15, 0),
            utc(2026, 11, 1, 14, 0),
            utc(2026, 11, 1, 15, 0),
            utc(2026, 11, 1, 16, 0),
            utc(2026, 11, 2, 14, 0),
            utc(2026, 11, 2, 15, 0),
            utc(2026, 11, 2, 16, 0),
        ]
    );
}

#[test]
fn new_york_fall_back_window_spanning_the_overlap_has_five_real_hours() {
    // 00:00 EDT = 04:00Z .. 04:00 EST = 09:00Z.
    let overrides = [window(date(2026, 11, 1), (0, 0), (4, 0))];
    let s = schedule(New_York, &[], &overrides, policy(60, 60));
    let (from, to) = (utc(2026, 10, 31, 0, 0), utc(2026, 11, 2, 0, 0));
    let slots = free(&s, from, to);
    assert_eq!(
        slots,
        vec![
            utc(2026, 11, 1, 4, 0),
            utc(2026, 11, 1, 5, 0),
            utc(2026, 11, 1, 6, 0),
            utc(2026, 11, 1, 7, 0),
            utc(2026, 11, 1, 8, 0),
        ]
    );
    assert_eq!(
        local_starts(New_York, &slots),
        [
            "2026-11-01T00:00:00-04:00",
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T03:00:00-05:00",
        ]
    );
    assert_real_duration(&s, from, to);
}

#[test]
fn new_york_ambiguous_window_runs_from_earlier_start_to_later_end() {
    // 01:15 EDT = 05:15Z .. 01:45 EST = 06:45Z: 90 real minutes.
    let overrides = [window(date(2026, 11, 1), (1, 15), (1, 45))];
    let s = schedule(New_York, &[], &overrides, policy(30, 30));
    assert_eq!(
        free(&s, utc(2026, 10, 31, 0, 0), utc(2026, 11, 2, 0, 0)),
        vec![
            utc(2026, 11, 1, 5, 15),
            utc(2026, 11, 1, 5, 45),
            utc(2026, 11, 1, 6, 15)
        ]
    );
}

// ---- Asia/Kolkata (+05:30, no DST) ----

#[test]
fn kolkata_half_hour_offset_puts_9am_at_0330z() {
    let weekly = every_day((9, 0), (12, 0));
    let s = schedule(Kolkata, &weekly, &[], policy(60, 60));
    let slots = free(&s, utc(2026, 3, 9, 0, 0), utc(2026, 3, 11, 0, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 9, 3, 30),
            utc(2026, 3, 9, 4, 30),
            utc(2026, 3, 9, 5, 30),
            utc(2026, 3, 10, 3, 30),
            utc(2026, 3, 10, 4, 30),
            utc(2026, 3, 10, 5, 30),
        ]
    );
    assert_eq!(display_in(Kolkata, slots[0]), "2026-03-09T09:00:00+05:30");
}

#[test]
fn kolkata_early_local_window_falls_on_the_previous_utc_day() {
    // Local 2026-03-10 00:00–02:00 is 2026-03-09 18:30Z–20:30Z.
    let overrides = [window(date(2026, 3, 10), (0, 0), (2, 0))];
    let s = schedule(Kolkata, &[], &overrides, policy(60, 60));
    assert_eq!(
        free(&s, utc(2026, 3, 9, 18, 0), utc(2026, 3, 9, 20, 0)),
        vec![utc(2026, 3, 9, 18, 30), utc(2026, 3, 9, 19, 30)]
    );
    assert!(
        s.check_bookable(utc(2026, 3, 9, 18, 30), early(), &[])
            .is_ok()
    );
}

// ---- display_in ----

#[test]
fn display_in_renders_local_wall_clock_with_offset() {
    let cases = [
        (London, utc(2026, 1, 15, 9, 0), "2026-01-15T09:00:00+00:00"),
        (London, utc(2026, 3, 29, 8, 0), "2026-03-29T09:00:00+01:00"),
        (
            London,
            utc(2026, 10, 25, 0, 30),
            "2026-10-25T01:30:00+01:00",
        ),
        (
            London,
            utc(2026, 10, 25, 1, 30),
            "2026-10-25T01:30:00+00:00",
        ),
        (New_York, utc(2026, 3, 8, 7, 0), "2026-03-08T03:00:00-04:00"),
        (
            New_York,
            utc(2026, 11, 1, 6, 30),
            "2026-11-01T01:30:00-05:00",
        ),
        (Kolkata, utc(2026, 3, 9, 3, 30), "2026-03-09T09:00:00+05:30"),
        (Kolkata, utc(2026, 3, 9, 20, 0), "2026-03-10T01:30:00+05:30"),
        (
            chrono_tz::UTC,
            utc(2026, 3, 9, 3, 30),
            "2026-03-09T03:30:00+00:00",
        ),
    ];
    for (zone, t, expected) in cases {
        assert_eq!(display_in(zone, t), expected);
    }
}
