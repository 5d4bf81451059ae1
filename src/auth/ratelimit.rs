//! Brute-force and abuse throttles for logins and sign-ups, counted in fixed windows.
//!
//! Failed logins are counted per (account, client IP), per account across all addresses and
//! per client IP. The first is low (a guesser at one address is stopped quickly), the
//! account-wide ceiling much higher (distributed guessing), so a stranger who types wrong
//! passwords for someone else's email locks out only their own address, and the owner signing
//! in from elsewhere still gets in. Sign-up attempts are counted per client IP. Sans-IO: the
//! caller passes the time, so tests need no clock.

use std::collections::HashMap;

/// Most keys remembered before expired windows are swept.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: u32,
}

/// Limits, all within one window.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub window_secs: u64,
    pub failures_per_account_ip: u32,
    pub failures_per_account: u32,
    pub failures_per_ip: u32,
    pub signups_per_ip: u32,
}

/// Counters for logins and sign-ups.
#[derive(Debug)]
pub struct LoginLimiter {
    window_secs: i64,
    limits: Limits,
    counters: HashMap<String, Window>,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            window_secs: i64::try_from(limits.window_secs).unwrap_or(i64::MAX),
            limits,
            counters: HashMap::new(),
        }
    }

    /// `Some(seconds to wait)` when `key` has reached `max` in its live window.
    fn over(&self, key: &str, max: u32, now: i64) -> Option<u64> {
        self.counters.get(key).and_then(|w| {
            let live = now - w.start < self.window_secs;
            (live && w.count >= max).then(|| (w.start + self.window_secs - now).max(1) as u64)
        })
    }

    fn bump(&mut self, key: String, now: i64) {
        if self.counters.len() >= MAX_KEYS {
            let window = self.window_secs;
            self.counters.retain(|_, w| now - w.start < window);
        }
        let w = self.counters.entry(key).or_insert(Window {
            start: now,
            count: 0,
        });
        if now - w.start >= self.window_secs {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
    }

    /// `Err(seconds to wait)` when this account from this IP, the account overall, or the
    /// IP has too many recent failures.
    pub fn check(&self, account: &str, ip: &str, now: i64) -> Result<(), u64> {
        let l = self.limits;
        match self
            .over(&pair_key(account, ip), l.failures_per_account_ip, now)
            .or_else(|| self.over(&account_key(account), l.failures_per_account, now))
            .or_else(|| self.over(&ip_key(ip), l.failures_per_ip, now))
        {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the pair, the account and the IP.
    pub fn record_failure(&mut self, account: &str, ip: &str, now: i64) {
        for key in [pair_key(account, ip), account_key(account), ip_key(ip)] {
            self.bump(key, now);
        }
    }

    /// A successful login clears the failures of this account from this IP.
    pub fn record_success(&mut self, account: &str, ip: &str) {
        self.counters.remove(&pair_key(account, ip));
    }

    /// Counts a sign-up attempt from `ip`; `Err(seconds to wait)` when over the limit (the
    /// attempt is then not counted).
    pub fn signup(&mut self, ip: &str, now: i64) -> Result<(), u64> {
        let key = signup_key(ip);
        if let Some(wait) = self.over(&key, self.limits.signups_per_ip, now) {
            return Err(wait);
        }
        self.bump(key, now);
        Ok(())
    }
}

fn pair_key(account: &str, ip: &str) -> String {
    format!("p:{ip}:{account}")
}

fn account_key(account: &str) -> String {
    format!("a:{account}")
}

fn ip_key(ip: &str) -> String {
    format!("i:{ip}")
}

fn signup_key(ip: &str) -> String {
    format!("s:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pair: u32, account: u32, ip: u32) -> Limits {
        Limits {
            window_secs: 60,
            failures_per_account_ip: pair,
            failures_per_account: account,
            failures_per_ip: ip,
            signups_per_ip: 2,
        }
    }

    #[test]
    fn a_guesser_is_blocked_at_their_address_and_the_owner_elsewhere_is_not() {
        let mut l = LoginLimiter::new(limits(3, 100, 100));
        for t in 0..3 {
            assert!(l.check("a@x", "6.6.6.6", t).is_ok());
            l.record_failure("a@x", "6.6.6.6", t);
        }
        assert_eq!(l.check("a@x", "6.6.6.6", 10), Err(50));
        assert!(l.check("a@x", "1.1.1.1", 10).is_ok(), "the owner elsewhere");
        assert!(l.check("a@x", "6.6.6.6", 60).is_ok(), "window over");
    }

    #[test]
    fn distributed_guessing_meets_the_account_ceiling() {
        let mut l = LoginLimiter::new(limits(3, 10, 100));
        for i in 0..10 {
            l.record_failure("a@x", &format!("10.0.0.{i}"), 1);
        }
        assert!(l.check("a@x", "10.0.0.99", 2).is_err());
        assert!(l.check("b@x", "10.0.0.99", 2).is_ok(), "other accounts");
    }

    #[test]
    fn ip_is_blocked_across_accounts() {
        let mut l = LoginLimiter::new(limits(100, 100, 2));
        l.record_failure("a@x", "9.9.9.9", 0);
        l.record_failure("b@x", "9.9.9.9", 1);
        assert!(l.check("c@x", "9.9.9.9", 2).is_err());
        assert!(l.check("c@x", "8.8.8.8", 2).is_ok());
    }

    #[test]
    fn success_clears_the_pairs_failures() {
        let mut l = LoginLimiter::new(limits(2, 100, 100));
        l.record_failure("a@x", "1", 0);
        l.record_success("a@x", "1");
        l.record_failure("a@x", "1", 1);
        assert!(l.check("a@x", "1", 2).is_ok());
    }

    #[test]
    fn signups_are_limited_per_ip() {
        let mut l = LoginLimiter::new(limits(5, 5, 5));
        assert!(l.signup("1", 0).is_ok());
        assert!(l.signup("1", 1).is_ok());
        assert_eq!(l.signup("1", 2), Err(58));
        assert!(l.signup("2", 2).is_ok());
        assert!(l.signup("1", 60).is_ok(), "next window");
    }
}
