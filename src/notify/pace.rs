//! The delivery worker's pace: at most `notify.max_per_second` messages a second over all
//! channels (a token bucket holding one second's worth). Sending is work on the same cores
//! as the requests; an unpaced backlog of thousands of messages would take its share of them
//! at once and lengthen every request's tail. Providers limit senders too (Amazon SES starts
//! accounts at 14 emails a second), so a paced worker is also a polite one. Sans-IO: the
//! caller passes the time.

use std::time::{Duration, Instant};

/// A token bucket of messages.
#[derive(Debug, Clone)]
pub struct Pace {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Pace {
    /// At most `per_second` messages a second (0: no limit).
    pub fn new(per_second: u32, now: Instant) -> Self {
        Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second.min(1)),
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.per_second.max(1.0));
        self.at = now;
    }

    /// How many of `want` messages may go now.
    pub fn take(&mut self, want: u32, now: Instant) -> u32 {
        if self.per_second == 0.0 {
            return want;
        }
        self.refill(now);
        let n = (self.tokens.floor() as u32).min(want);
        self.tokens -= f64::from(n);
        n
    }

    /// Gives back `n` messages that were allowed but not sent (nothing was due).
    pub fn refund(&mut self, n: u32) {
        if self.per_second > 0.0 {
            self.tokens = (self.tokens + f64::from(n)).min(self.per_second.max(1.0));
        }
    }

    /// How long until one more message may go.
    pub fn wait(&self) -> Duration {
        if self.per_second == 0.0 || self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_lets_everything_through() {
        let t = Instant::now();
        let mut p = Pace::new(0, t);
        assert_eq!(p.take(4, t), 4);
        assert_eq!(p.wait(), Duration::ZERO);
    }

    #[test]
    fn a_second_holds_at_most_its_rate() {
        let t = Instant::now();
        let mut p = Pace::new(10, t);
        let mut sent = p.take(4, t);
        let mut now = t;
        // Over ten simulated seconds, in 1 ms steps, asking for 4 every time.
        for _ in 0..10_000 {
            now += Duration::from_millis(1);
            sent += p.take(4, now);
        }
        assert!((100..=111).contains(&sent), "{sent}");
    }

    #[test]
    fn idle_time_banks_one_second_at_most() {
        let t = Instant::now();
        let mut p = Pace::new(20, t);
        let later = t + Duration::from_secs(60);
        assert_eq!(p.take(100, later), 20);
        assert_eq!(p.take(1, later), 0);
        assert!(p.wait() > Duration::ZERO && p.wait() <= Duration::from_millis(50));
        p.refund(3);
        assert_eq!(p.take(5, later), 3);
    }
}
