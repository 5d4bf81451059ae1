//! Input checks shared by every layer: emails, display names, time zones, free text, URLs,
//! instants, IP addresses and CIDR ranges. Each returns a message a user can act on. The
//! [`schema`] module says the same rules in JSON Schema for the OpenAPI document, so that a
//! request the document calls valid is one these checks accept.

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

/// The rules above as JSON Schema (ECMA-262 patterns), for the OpenAPI document. Each pattern
/// accepts only what the matching check accepts: a schema-valid request is never refused.
pub mod schema {
    use std::borrow::Cow;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

    /// [`super::text`] of a required field: no control characters but newline and tab, and at
    /// least one character that is neither space nor control (the text is trimmed).
    pub const REQUIRED_TEXT: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";
    /// [`super::text`] of an optional field: no control characters but newline and tab.
    pub const OPTIONAL_TEXT: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";
    /// [`super::name`]: no control characters, at least one visible character.
    pub const NAME: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

    fn text(pattern: &str, max: usize, nullable: bool) -> ObjectBuilder {
        let ty = if nullable {
            utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
        } else {
            utoipa::openapi::schema::SchemaType::new(Type::String)
        };
        ObjectBuilder::new()
            .schema_type(ty)
            .max_length(Some(max))
            .pattern(Some(pattern))
    }

    /// A required text of at most 500 characters (commitments, cancellation reasons).
    pub fn text_500() -> ObjectBuilder {
        text(REQUIRED_TEXT, 500, false)
    }

    /// [`text_500`], or null to keep the current value.
    pub fn text_500_or_null() -> ObjectBuilder {
        text(REQUIRED_TEXT, 500, true)
    }

    /// Optional long text (a coach's notes): up to 10,000 characters, may be empty.
    pub fn notes() -> ObjectBuilder {
        text(OPTIONAL_TEXT, 10_000, false)
    }

    /// A display name or label, 1-100 characters.
    pub fn name() -> ObjectBuilder {
        text(NAME, 100, false)
    }

    /// [`name`], or null to keep the current value.
    pub fn name_or_null() -> ObjectBuilder {
        text(NAME, 100, true)
    }

    /// An IANA time zone name, as [`super::time_zone`] accepts it: one of the names of the
    /// tz database chrono-tz carries (listed, so clients can offer them).
    pub struct TimeZoneName;

    impl utoipa::PartialSchema for TimeZoneName {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("IANA time zone name, e.g. `Europe/London`."))
                .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
                .into()
        }
    }

    impl utoipa::ToSchema for TimeZoneName {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("TimeZone")
        }
    }

    #[cfg(test)]
    mod tests {
        use regex::Regex;

        /// The patterns agree with the checks on the edge cases.
        #[test]
        fn patterns_accept_what_the_checks_accept() {
            let required = Regex::new(super::REQUIRED_TEXT).unwrap();
            let optional = Regex::new(super::OPTIONAL_TEXT).unwrap();
            let name = Regex::new(super::NAME).unwrap();
            for t in [
                "a",
                " x ",
                "line\nbreak",
                "tab\tbed",
                "\u{a0}é\u{a0}",
                "\u{1F600}",
            ] {
                assert!(required.is_match(t), "{t:?}");
                assert!(
                    !crate::validate::text("t", t, 500).unwrap().is_empty(),
                    "{t:?}"
                );
            }
            for t in [
                "", "   ", "\n\t", "\u{3000}", "a\u{7}b", "x\u{85}y", "x\u{9f}",
            ] {
                assert!(!required.is_match(t), "{t:?}");
                let checked = crate::validate::text("t", t, 500);
                assert!(checked.is_err() || checked.unwrap().is_empty(), "{t:?}");
            }
            assert!(optional.is_match(""));
            assert!(optional.is_match("a\nb"));
            assert!(!optional.is_match("a\u{0}b"));
            assert!(name.is_match("Ada Lovelace"));
            assert!(!name.is_match("Ada\tLovelace"), "names take no tabs");
            assert!(crate::validate::name("Ada\tLovelace").is_err());
            assert!(!name.is_match(" "));
        }

        #[test]
        fn every_listed_zone_is_accepted() {
            for tz in chrono_tz::TZ_VARIANTS {
                assert!(
                    crate::validate::time_zone(tz.name()).is_ok(),
                    "{}",
                    tz.name()
                );
            }
        }
    }
}
