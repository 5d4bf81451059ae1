//! Booking domain types: coaches with their policy and availability, bookings, commitments.

use crate::ids::{BookingId, CoachId, CommitmentId, UserId};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// One weekly opening window in the coach's zone, e.g. Mon 09:00–17:00.
/// `end` > `start` (same day; no overnight windows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyRule {
    /// `Mon` … `Sun`.
    #[serde(with = "wire::weekday")]
    #[schema(schema_with = wire::weekday_schema)]
    pub weekday: Weekday,
    /// `HH:MM` or `HH:MM:SS`, wall-clock time in the coach's zone.
    #[schema(schema_with = wire::time_schema)]
    pub start: NaiveTime,
    /// After `start`; `23:59:59` for the end of the day.
    #[schema(schema_with = wire::time_schema)]
    pub end: NaiveTime,
}

/// A date-specific override: closed all day, or these hours instead of the
/// weekly rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DateOverride {
    pub date: NaiveDate,
    /// Empty = closed that day. Each window is `{"start": "09:00", "end": "12:00"}` (the
    /// older form, a two-element array `["09:00", "12:00"]`, is still accepted).
    #[serde(with = "wire::windows")]
    #[schema(value_type = Vec<TimeWindow>)]
    pub windows: Vec<(NaiveTime, NaiveTime)>,
}

/// An opening window within one day, in the coach's zone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[schema(schema_with = wire::time_schema)]
    pub start: NaiveTime,
    /// After `start`.
    #[schema(schema_with = wire::time_schema)]
    pub end: NaiveTime,
}

/// How availability is written on the wire: weekdays by their three-letter English names
/// only (chrono alone would also take `monday` or `MON`, which the schema cannot say), and
/// override windows as objects (arrays still read, for older clients and stored rows).
mod wire {
    use super::TimeWindow;
    use chrono::{NaiveTime, Weekday};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use utoipa::openapi::schema::{ObjectBuilder, Type};

    const DAYS: [(&str, Weekday); 7] = [
        ("Mon", Weekday::Mon),
        ("Tue", Weekday::Tue),
        ("Wed", Weekday::Wed),
        ("Thu", Weekday::Thu),
        ("Fri", Weekday::Fri),
        ("Sat", Weekday::Sat),
        ("Sun", Weekday::Sun),
    ];

    /// `HH:MM` or `HH:MM:SS` (as chrono's `NaiveTime` reads it, fractions aside).
    pub const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";

    pub fn weekday_schema() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(DAYS.iter().map(|(n, _)| *n)))
    }

    pub fn time_schema() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(TIME_PATTERN))
            .examples(["09:00"])
    }

    pub mod weekday {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Weekday, s: S) -> Result<S::Ok, S::Error> {
            let name = DAYS.iter().find(|(_, w)| w == d).map(|(n, _)| *n);
            s.serialize_str(name.unwrap_or("Mon"))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
            let raw = std::borrow::Cow::<str>::deserialize(d)?;
            DAYS.iter()
                .find(|(n, _)| *n == raw)
                .map(|(_, w)| *w)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "weekday must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun, not {raw:?}"
                    ))
                })
        }
    }

    pub mod windows {
        use super::*;

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Window {
            Object(TimeWindow),
            Pair(NaiveTime, NaiveTime),
        }

        pub fn serialize<S: Serializer>(
            w: &[(NaiveTime, NaiveTime)],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            let objects: Vec<TimeWindow> = w
                .iter()
                .map(|&(start, end)| TimeWindow { start, end })
                .collect();
            objects.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<(NaiveTime, NaiveTime)>, D::Error> {
            let raw = Vec::<Window>::deserialize(d)?;
            Ok(raw
                .into_iter()
                .map(|w| match w {
                    Window::Object(TimeWindow { start, end }) => (start, end),
                    Window::Pair(start, end) => (start, end),
                })
                .collect())
        }
    }
}

/// Booking policy. All durations are real elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPolicy {
    /// Length of a session. Must be non-zero.
    pub session_minutes: u32,
    /// Gap required before and after every existing booking.
    pub buffer_minutes: u32,
    /// Distance between candidate slot starts. Must be non-zero.
    pub slot_step_minutes: u32,
    /// A slot must start at least this long after `now`.
    pub min_notice_minutes: u32,
    /// A slot must start no later than `now` + this many 24-hour days.
    pub booking_window_days: u32,
}

/// An existing booking (or other busy interval) of the coach, in UTC.
/// Half-open `[start, end)`; an interval with `end <= start` is empty and
/// blocks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Per-coach booking policy. All durations in minutes unless named otherwise, and all are
/// real elapsed time (they hold across DST changes). A changed policy applies to new bookings
/// and to later cancellations and reschedules; booked sessions keep their times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachPolicy {
    /// Length of one session (default 60).
    #[schema(minimum = 5, maximum = 480, default = 60)]
    pub session_minutes: u32,
    /// Free time kept before and after every booking of the coach (default 15).
    #[schema(minimum = 0, maximum = 240, default = 15)]
    pub buffer_minutes: u32,
    /// Distance between bookable start times, from the start of each opening window
    /// (default 30).
    #[schema(minimum = 5, maximum = 480, default = 30)]
    pub slot_step_minutes: u32,
    /// A booking must start at least this long after it is made (default 720, 12 hours).
    #[schema(minimum = 0, maximum = 43200, default = 720)]
    pub min_notice_minutes: u32,
    /// Bookings may start at most this many 24-hour days ahead (default 60).
    #[schema(minimum = 1, maximum = 365, default = 60)]
    pub booking_window_days: u32,
    /// The client may cancel until this long before the start; the coach and admins at any
    /// time (default 1440, 24 hours).
    #[schema(minimum = 0, maximum = 43200, default = 1440)]
    pub cancel_notice_minutes: u32,
    /// The client may reschedule until this long before the start; the coach and admins at
    /// any time (default 1440, 24 hours).
    #[schema(minimum = 0, maximum = 43200, default = 1440)]
    pub reschedule_notice_minutes: u32,
}

impl Default for CoachPolicy {
    fn default() -> Self {
        Self {
            session_minutes: 60,
            buffer_minutes: 15,
            slot_step_minutes: 30,
            min_notice_minutes: 12 * 60,
            booking_window_days: 60,
            cancel_notice_minutes: 24 * 60,
            reschedule_notice_minutes: 24 * 60,
        }
    }
}

impl CoachPolicy {
    /// The part the slot computation needs.
    pub fn slot_policy(&self) -> SlotPolicy {
        SlotPolicy {
            session_minutes: self.session_minutes,
            buffer_minutes: self.buffer_minutes,
            slot_step_minutes: self.slot_step_minutes,
            min_notice_minutes: self.min_notice_minutes,
            booking_window_days: self.booking_window_days,
        }
    }

    /// Checks ranges, returning a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let check = |v: u32, lo: u32, hi: u32, name: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be between {lo} and {hi}"))
            }
        };
        check(self.session_minutes, 5, 8 * 60, "session_minutes")?;
        check(self.buffer_minutes, 0, 240, "buffer_minutes")?;
        check(self.slot_step_minutes, 5, 8 * 60, "slot_step_minutes")?;
        check(
            self.min_notice_minutes,
            0,
            30 * 24 * 60,
            "min_notice_minutes",
        )?;
        check(self.booking_window_days, 1, 365, "booking_window_days")?;
        check(
            self.cancel_notice_minutes,
            0,
            30 * 24 * 60,
            "cancel_notice_minutes",
        )?;
        check(
            self.reschedule_notice_minutes,
            0,
            30 * 24 * 60,
            "reschedule_notice_minutes",
        )
    }
}

/// Weekly opening hours in the coach's zone plus date-specific overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// IANA time zone the rules are written in, e.g. `Europe/London`.
    #[schema(value_type = crate::validate::schema::TimeZoneName)]
    pub time_zone: String,
    /// Opening windows per weekday; several per day allowed, none overlapping.
    pub weekly: Vec<WeeklyRule>,
    /// Dates with other hours (or closed); at most one per date.
    #[serde(default)]
    pub overrides: Vec<DateOverride>,
}

/// A coach profile as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coach {
    pub id: CoachId,
    /// The coach's login account, if they have one.
    pub user_id: Option<UserId>,
    pub name: String,
    pub title: String,
    pub specialties: Vec<String>,
    pub experience_years: u32,
    pub bio: String,
    pub photo_url: Option<String>,
    /// E.164, e.g. `+442071838750`.
    pub phone: Option<String>,
    /// IANA time zone.
    pub time_zone: String,
    pub policy: CoachPolicy,
    pub availability: Availability,
    pub active: bool,
    /// Completed sessions.
    pub sessions_held: i64,
    /// Clients' ratings of this coach's sessions: how many, and their mean (1–5, one decimal;
    /// absent before the first rating).
    pub rating_count: i64,
    pub rating_average: Option<f64>,
}

/// Video (this server's room, Jitsi fallback) or phone (`tel:` link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    Video,
    Phone,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Video => "video",
            SessionType::Phone => "phone",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "video" => Some(Self::Video),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }
}

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Scheduled,
    Completed,
    Cancelled,
    NoShow,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Self::Scheduled),
            "completed" => Some(Self::Completed),
            "cancelled" => Some(Self::Cancelled),
            "no_show" => Some(Self::NoShow),
            _ => None,
        }
    }
}

/// A booking as stored.
#[derive(Debug, Clone)]
pub struct Booking {
    pub id: BookingId,
    pub coach_id: CoachId,
    pub client_id: UserId,
    pub session_type: SessionType,
    pub focus_area: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The client's zone when booking (for display).
    pub time_zone: String,
    pub status: BookingStatus,
    /// Room name of a video booking.
    pub room: Option<String>,
    /// Stable iCalendar UID.
    pub calendar_uid: String,
    /// iCalendar SEQUENCE, bumped on reschedule and cancel.
    pub sequence: u32,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rating: Option<u8>,
    pub rating_comment: Option<String>,
    pub coach_notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Open or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommitmentStatus {
    Open,
    Done,
}

/// Something a client committed to in coaching.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Commitment {
    pub id: CommitmentId,
    pub user_id: UserId,
    pub text: String,
    pub due_date: Option<NaiveDate>,
    pub status: CommitmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
