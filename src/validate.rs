//! Input checks shared by every layer: emails, display names, time zones, free text, URLs,
//! instants, IP addresses and CIDR ranges. Each returns a message a user can act on.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

/// Instants the API accepts lie in the years 1970 to 9999, so date arithmetic of a few days
/// either way never overflows.
pub fn instant(field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if (1970..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err(format!("{field} must be between the years 1970 and 9999"))
    }
}

/// Lower-cases and checks an email address (pragmatic syntax check, ≤ 254 bytes).
pub fn email(raw: &str) -> Result<String, String> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c));
    if ok {
        Ok(e)
    } else {
        Err("email is not a valid address".into())
    }
}

/// A display name: trimmed, 1–100 characters, no control characters.
pub fn name(raw: &str) -> Result<String, String> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err("name must have 1 to 100 characters".into());
    }
    if n.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(n.to_string())
}

/// An IANA time zone name such as `Europe/London`.
pub fn time_zone(raw: &str) -> Result<Tz, String> {
    raw.parse::<Tz>()
        .map_err(|_| format!("{raw:?} is not an IANA time zone (e.g. Europe/London)"))
}

/// Free text up to `max` characters (trimmed; control characters other than newlines and tabs
/// refused).
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, String> {
    let t = raw.trim();
    if t.chars().count() > max {
        return Err(format!("{field} must have at most {max} characters"));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(t.to_string())
}

/// An absolute http(s) URL up to 2048 bytes.
pub fn http_url(field: &str, raw: &str) -> Result<String, String> {
    let ok = raw.len() <= 2048
        && url::Url::parse(raw)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok {
        Ok(raw.to_string())
    } else {
        Err(format!("{field} must be an http(s) URL"))
    }
}

/// An address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `203.0.113.7` or `10.0.0.0/8` (IPv4 or IPv6); the error says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{s:?}: prefix length must be 0..={max}")),
            },
        };
        Ok(Self { net, prefix })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ana@Example.ORG ").unwrap(), "ana@example.org");
        for bad in [
            "",
            "a",
            "a@b",
            "@b.c",
            "a@.c",
            "a b@c.d",
            "a\r\n@b.c",
            "a@b@c.d",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zones_names_and_text() {
        assert!(time_zone("Asia/Kolkata").is_ok());
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(name("  ").is_err());
        assert!(name("Ana\u{7}").is_err());
        assert_eq!(text("focus", " a\nb ", 10).unwrap(), "a\nb");
        assert!(text("focus", "abcdef", 5).is_err());
        assert!(http_url("photo_url", "javascript:alert(1)").is_err());
        assert!(http_url("photo_url", "https://x.org/a.png").is_ok());
    }
}
