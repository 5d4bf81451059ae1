//! The wall clock of the server, shiftable so that tests can move time forward (to pass a
//! session's end or a cancel cut-off) without sleeping. Production never shifts it.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// System time plus an offset (zero unless a test advances it).
#[derive(Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, to the second.
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed));
        DateTime::from_timestamp(now.timestamp(), 0).expect("current time is representable")
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
