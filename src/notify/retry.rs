//! When a failed delivery is tried again: exponential back-off with jitter, until the row's
//! give-up instant. Sans-IO: the caller passes the clock reading and a random draw.

use chrono::{DateTime, Duration, Utc};

/// The first retry waits about this long.
const BASE_SECS: i64 = 15;
/// No wait is longer than this.
const MAX_SECS: i64 = 60 * 60;

/// What to do after attempt number `attempt` (1 = the first) failed with a retryable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this instant.
    RetryAt(DateTime<Utc>),
    /// The row is out of time: mark it failed.
    GiveUp,
}

/// The next try after the `attempt`-th failure: a wait of `BASE·2^(attempt-1)` seconds capped
/// at an hour, of which a random part (`jitter` in `0.0..1.0`, up to half the wait) is taken
/// off so that rows that failed together do not retry together. Past `give_up_at`: give up.
pub fn after_failure(
    attempt: u32,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    jitter: f64,
) -> Next {
    let exp = attempt.saturating_sub(1).min(20);
    let wait = (BASE_SECS << exp).min(MAX_SECS);
    let cut = (wait as f64 * 0.5 * jitter.clamp(0.0, 1.0)) as i64;
    let at = now + Duration::seconds(wait - cut);
    if now >= give_up_at || at > give_up_at {
        Next::GiveUp
    } else {
        Next::RetryAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2030-01-07T10:00:00Z".parse().unwrap()
    }

    fn wait(attempt: u32, jitter: f64) -> i64 {
        match after_failure(attempt, t0(), t0() + Duration::days(2), jitter) {
            Next::RetryAt(at) => (at - t0()).num_seconds(),
            Next::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn waits_double_and_stop_at_an_hour() {
        assert_eq!(wait(1, 0.0), 15);
        assert_eq!(wait(2, 0.0), 30);
        assert_eq!(wait(3, 0.0), 60);
        assert_eq!(wait(9, 0.0), 3600);
        assert_eq!(wait(60, 0.0), 3600);
    }

    #[test]
    fn jitter_takes_off_up_to_half() {
        assert_eq!(wait(3, 1.0), 30);
        assert_eq!(wait(3, 0.5), 45);
        assert_eq!(wait(3, 7.0), 30, "out-of-range draws are clamped");
    }

    #[test]
    fn a_row_out_of_time_is_given_up() {
        let give_up = t0() + Duration::seconds(20);
        assert_eq!(
            after_failure(1, t0(), give_up, 0.0),
            Next::RetryAt(t0() + Duration::seconds(15))
        );
        assert_eq!(
            after_failure(2, t0(), give_up, 0.0),
            Next::GiveUp,
            "the retry would be late"
        );
        assert_eq!(after_failure(1, give_up, give_up, 0.0), Next::GiveUp);
    }
}
