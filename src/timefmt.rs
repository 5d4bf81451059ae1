//! RFC 3339 text for whole-second instants without heap allocation.
//!
//! Slot lists carry hundreds of timestamps; chrono's `Serialize` writes each one character by
//! character through `fmt`, which dominated the slot query's CPU profile. [`Rfc3339`] renders
//! into a 25-byte buffer and serialises as one string. Values outside years 0–9999, with
//! sub-second parts, or with offsets that are not whole minutes fall back to chrono.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDateTime, Offset, SecondsFormat, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

/// An RFC 3339 timestamp, e.g. `2026-03-29T09:00:00+01:00` or `2026-03-29T08:00:00Z`.
pub enum Rfc3339 {
    Fast([u8; 25], u8),
    Slow(String),
}

impl Rfc3339 {
    /// UTC with a `Z` suffix (the same text as chrono's serde form for whole seconds).
    pub fn utc(t: DateTime<Utc>) -> Self {
        Self::render(t.naive_utc(), None)
            .unwrap_or_else(|| Self::Slow(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
    }

    /// Wall-clock time of `t` in `zone`, with its offset (`+00:00` for UTC, like chrono).
    pub fn local(zone: Tz, t: DateTime<Utc>) -> Self {
        let offset: FixedOffset = zone.offset_from_utc_datetime(&t.naive_utc()).fix();
        t.naive_utc()
            .checked_add_offset(offset)
            .and_then(|local| Self::render(local, Some(offset.local_minus_utc())))
            .unwrap_or_else(|| Self::Slow(crate::booking::slots::display_in(zone, t)))
    }

    fn render(n: NaiveDateTime, offset: Option<i32>) -> Option<Self> {
        let year = n.year();
        if !(0..=9999).contains(&year) || n.nanosecond() != 0 || offset.is_some_and(|o| o % 60 != 0)
        {
            return None;
        }
        let mut b = [0u8; 25];
        let two = |b: &mut [u8], at: usize, v: u32| {
            b[at] = b'0' + (v / 10) as u8;
            b[at + 1] = b'0' + (v % 10) as u8;
        };
        two(&mut b, 0, year as u32 / 100);
        two(&mut b, 2, year as u32 % 100);
        b[4] = b'-';
        two(&mut b, 5, n.month());
        b[7] = b'-';
        two(&mut b, 8, n.day());
        b[10] = b'T';
        two(&mut b, 11, n.hour());
        b[13] = b':';
        two(&mut b, 14, n.minute());
        b[16] = b':';
        two(&mut b, 17, n.second());
        let len = match offset {
            None => {
                b[19] = b'Z';
                20
            }
            Some(o) => {
                b[19] = if o < 0 { b'-' } else { b'+' };
                let m = o.unsigned_abs() / 60;
                two(&mut b, 20, m / 60);
                b[22] = b':';
                two(&mut b, 23, m % 60);
                25
            }
        };
        Some(Self::Fast(b, len))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Fast(b, len) => {
                std::str::from_utf8(&b[..usize::from(*len)]).expect("ASCII digits and separators")
            }
            Self::Slow(s) => s,
        }
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_chrono_for_utc_and_zones() {
        let zones = [
            chrono_tz::UTC,
            chrono_tz::Europe::London,
            chrono_tz::Asia::Kolkata,
            chrono_tz::America::St_Johns,
        ];
        let mut t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for _ in 0..2000 {
            assert_eq!(
                Rfc3339::utc(t).as_str(),
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            );
            for z in zones {
                assert_eq!(
                    Rfc3339::local(z, t).as_str(),
                    t.with_timezone(&z)
                        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
                );
            }
            t += chrono::Duration::minutes(263);
        }
    }

    #[test]
    fn odd_values_fall_back_to_chrono() {
        let t = Utc.with_ymd_and_hms(1800, 1, 1, 0, 0, 0).unwrap();
        // London's local mean time offset (-00:01:15) is not whole minutes.
        assert!(matches!(
            Rfc3339::local(chrono_tz::Europe::London, t),
            Rfc3339::Slow(_)
        ));
        let far = Utc.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            Rfc3339::utc(far).as_str(),
            far.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        );
    }
}
