//! The wall clock of the server. Production reads the system time; tests start the server on a
//! clock of their own (`Clock::starting_at`), which begins at an instant the test chooses and
//! then runs at the pace of the monotonic clock, so no test outcome depends on the hour, date
//! or zone of the machine. Either kind can be moved forward (to pass a session's end or a
//! cancel cut-off) without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// System time (or a test's chosen start plus the time elapsed since), plus an offset.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: the system clock. `Some((at, since))`: `at` when `since` was now.
    base: Option<(DateTime<Utc>, Instant)>,
    offset_secs: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self::with_base(None)
    }

    /// A clock that reads `at` now and runs from there at real pace, whatever the machine's
    /// wall clock says.
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        Self::with_base(Some((at, Instant::now())))
    }

    fn with_base(base: Option<(DateTime<Utc>, Instant)>) -> Self {
        Self {
            inner: Arc::new(Inner {
                base,
                offset_secs: AtomicI64::new(0),
            }),
        }
    }

    /// Now, to the second.
    pub fn now(&self) -> DateTime<Utc> {
        let base = match self.inner.base {
            None => Utc::now(),
            Some((at, since)) => {
                at + Duration::from_std(since.elapsed()).unwrap_or(Duration::zero())
            }
        };
        let now = base + Duration::seconds(self.inner.offset_secs.load(Ordering::Relaxed));
        DateTime::from_timestamp(now.timestamp(), 0).expect("current time is representable")
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.inner
            .offset_secs
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_started_clock_reads_its_start_and_advances() {
        let at = Utc.with_ymd_and_hms(2030, 1, 7, 10, 0, 0).unwrap();
        let c = Clock::starting_at(at);
        let d = c.now() - at;
        assert!(d >= Duration::zero() && d < Duration::seconds(2), "{d}");
        c.clone().advance(Duration::hours(3));
        let d = c.now() - at;
        assert!(d >= Duration::hours(3) && d < Duration::hours(3) + Duration::seconds(2));
    }
}
