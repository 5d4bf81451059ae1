//! Login brute-force protection: failed attempts counted per account and per client IP in a
//! fixed window. Sans-IO: the caller passes the time, so tests need no clock.

use std::collections::HashMap;

/// Most keys remembered before expired windows are swept.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    failures: u32,
}

/// Failure counters for logins.
#[derive(Debug)]
pub struct LoginLimiter {
    window_secs: i64,
    max_per_account: u32,
    max_per_ip: u32,
    counters: HashMap<String, Window>,
}

impl LoginLimiter {
    pub fn new(window_secs: u64, max_per_account: u32, max_per_ip: u32) -> Self {
        Self {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX),
            max_per_account,
            max_per_ip,
            counters: HashMap::new(),
        }
    }

    /// `Err(seconds to wait)` when the account or the IP has too many recent failures.
    pub fn check(&self, account: &str, ip: &str, now: i64) -> Result<(), u64> {
        let over = |key: String, max: u32| {
            self.counters.get(&key).and_then(|w| {
                let live = now - w.start < self.window_secs;
                (live && w.failures >= max)
                    .then(|| (w.start + self.window_secs - now).max(1) as u64)
            })
        };
        match over(account_key(account), self.max_per_account)
            .or_else(|| over(ip_key(ip), self.max_per_ip))
        {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against both the account and the IP.
    pub fn record_failure(&mut self, account: &str, ip: &str, now: i64) {
        if self.counters.len() >= MAX_KEYS {
            let window = self.window_secs;
            self.counters.retain(|_, w| now - w.start < window);
        }
        for key in [account_key(account), ip_key(ip)] {
            let w = self.counters.entry(key).or_insert(Window {
                start: now,
                failures: 0,
            });
            if now - w.start >= self.window_secs {
                *w = Window {
                    start: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// A successful login clears the account's failures (not the IP's).
    pub fn record_success(&mut self, account: &str) {
        self.counters.remove(&account_key(account));
    }
}

fn account_key(account: &str) -> String {
    format!("a:{account}")
}

fn ip_key(ip: &str) -> String {
    format!("i:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_blocked_after_max_failures_until_window_ends() {
        let mut l = LoginLimiter::new(60, 3, 100);
        for t in 0..3 {
            assert!(l.check("a@x", "1.1.1.1", t).is_ok());
            l.record_failure("a@x", "1.1.1.1", t);
        }
        assert_eq!(l.check("a@x", "2.2.2.2", 10), Err(50));
        assert!(
            l.check("b@x", "1.1.1.1", 10).is_ok(),
            "other accounts unaffected"
        );
        assert!(l.check("a@x", "1.1.1.1", 60).is_ok(), "window over");
    }

    #[test]
    fn ip_is_blocked_across_accounts() {
        let mut l = LoginLimiter::new(60, 100, 2);
        l.record_failure("a@x", "9.9.9.9", 0);
        l.record_failure("b@x", "9.9.9.9", 1);
        assert!(l.check("c@x", "9.9.9.9", 2).is_err());
        assert!(l.check("c@x", "8.8.8.8", 2).is_ok());
    }

    #[test]
    fn success_clears_account_failures() {
        let mut l = LoginLimiter::new(60, 2, 100);
        l.record_failure("a@x", "1", 0);
        l.record_success("a@x");
        l.record_failure("a@x", "1", 1);
        assert!(l.check("a@x", "1", 2).is_ok());
    }
}
