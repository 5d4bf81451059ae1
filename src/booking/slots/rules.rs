//! Checks of a coach's opening rules before they are stored: well-formed, non-overlapping
//! windows per weekday and override date, within the per-day limit, with messages that name
//! the offending rule in the coach's own wall-clock terms.

use super::{DateOverride, MAX_WINDOWS_PER_DAY, WeeklyRule};
use chrono::{NaiveTime, Timelike, Weekday};

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
