//! Time-based limits of the SFU core, all sans-IO (times are milliseconds passed in):
//! a token bucket for chat and reactions, and the keyframe-request limiter that lets at most
//! one PLI per track through every 500 ms and remembers a request that came too early.

/// A token bucket: `burst` messages at once, refilled at `per_sec`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_ms: f64,
    tokens: f64,
    last_ms: i64,
}

impl TokenBucket {
    pub fn new(burst: u32, per_sec: f64, now_ms: i64) -> Self {
        Self {
            burst: f64::from(burst),
            per_ms: per_sec / 1000.0,
            tokens: f64::from(burst),
            last_ms: now_ms,
        }
    }

    /// Takes one token if available.
    pub fn try_take(&mut self, now_ms: i64) -> bool {
        let elapsed = (now_ms - self.last_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * self.per_ms).min(self.burst);
        self.last_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Minimum time between two keyframe requests for one track.
pub const KEYFRAME_INTERVAL_MS: i64 = 500;

/// Keyframe-request limiter of one track.
#[derive(Debug, Clone, Default)]
pub struct KeyframeLimiter {
    last_sent_ms: Option<i64>,
    pending: bool,
}

impl KeyframeLimiter {
    /// A subscriber asked for a keyframe: true if a PLI goes out now; otherwise it is
    /// remembered and [`KeyframeLimiter::poll`] releases it when the interval has passed.
    pub fn request(&mut self, now_ms: i64) -> bool {
        if self
            .last_sent_ms
            .is_some_and(|t| now_ms - t < KEYFRAME_INTERVAL_MS)
        {
            self.pending = true;
            return false;
        }
        self.last_sent_ms = Some(now_ms);
        self.pending = false;
        true
    }

    /// True when a remembered request may go out now.
    pub fn poll(&mut self, now_ms: i64) -> bool {
        if self.pending
            && self
                .last_sent_ms
                .is_none_or(|t| now_ms - t >= KEYFRAME_INTERVAL_MS)
        {
            self.pending = false;
            self.last_sent_ms = Some(now_ms);
            return true;
        }
        false
    }

    /// When [`KeyframeLimiter::poll`] should next be called, if anything is pending.
    pub fn next_deadline(&self) -> Option<i64> {
        self.pending
            .then(|| self.last_sent_ms.map_or(0, |t| t + KEYFRAME_INTERVAL_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let mut b = TokenBucket::new(3, 1.0, 0);
        assert!(b.try_take(0) && b.try_take(0) && b.try_take(0));
        assert!(!b.try_take(10));
        assert!(b.try_take(1010));
        assert!(!b.try_take(1020));
    }

    #[test]
    fn at_most_one_keyframe_request_per_500_ms_and_none_lost() {
        let mut k = KeyframeLimiter::default();
        assert!(k.request(0));
        assert!(!k.request(100));
        assert!(!k.request(200));
        assert_eq!(k.next_deadline(), Some(500));
        assert!(!k.poll(499));
        assert!(
            k.poll(500),
            "the early request is sent once the window passes"
        );
        assert!(!k.poll(1200), "and only once");
        assert!(k.request(1200));
    }
}
