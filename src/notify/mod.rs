//! Notifications: nothing leaves parlor on its own except through the durable outbox.
//!
//! A change that should tell someone (a booking made, moved or cancelled; a password reset
//! asked for; a sign-up with a taken email) writes its messages as outbox rows **in the same
//! transaction** as the change (`store::outbox`). The [`worker::Worker`] claims due rows with a
//! lease, delivers them, and records every attempt: delivered, retried later with exponential
//! back-off and jitter ([`retry`]), or failed for good (refused, or still failing after
//! `notify.give_up_hours`). Delivery is at least once: a row is marked delivered only after
//! the receiving server accepted it, so a crash in between sends it again, with the same
//! `Message-ID`, which receivers use to drop the duplicate.
//!
//! Channels: email over SMTP ([`smtp`]), SMS reminders through Twilio's API ([`sms`]), Web
//! Push to browsers ([`push`]) and signed webhooks ([`webhook`]).
//!
//! Messages are rendered when the change happens ([`messages`], [`compose`], [`email`]), so a
//! retry sends exactly what was first meant; reminders are rows due at their lead time, dropped
//! when their session moves or is cancelled and re-checked when they fall due.

pub mod accounts;
pub mod compose;
pub mod email;
pub mod events;
pub mod http;
pub mod lifecycle;
pub mod messages;
pub mod pace;
pub mod push;
pub mod retry;
pub mod sms;
pub mod smtp;
pub mod unsubscribe;
pub mod webhook;
pub mod worker;

use crate::store::outbox::NewOutbox;
use chrono::{DateTime, Utc};

/// How a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (a 4xx reply, a connection that failed or stalled).
    #[error("{0}")]
    Retry(String),
    /// Refused for good (a 5xx reply, a message that cannot be built).
    #[error("{0}")]
    Final(String),
}

/// Kinds of outbox rows.
pub mod kind {
    pub const BOOKED: &str = "booking_confirmation";
    pub const MOVED: &str = "booking_rescheduled";
    pub const CANCELLED: &str = "booking_cancelled";
    pub const REMINDER: &str = "reminder";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const VERIFY_EMAIL: &str = "verify_email";
    pub const COACH_JOINED: &str = "coach_joined";
    pub const SIGNUP_ATTEMPT: &str = "signup_existing_email";
}

/// An email row for the outbox.
pub fn email_row(
    kind: &'static str,
    mail: &email::Email,
    user: Option<&str>,
    booking: Option<&str>,
    not_before: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        id: crate::ids::random_base32::<16>(),
        channel: "email",
        kind,
        recipient: mail.to_email.clone(),
        user_id: user.map(str::to_string),
        booking_id: booking.map(str::to_string),
        payload: serde_json::to_string(mail).expect("an email serialises"),
        not_before,
        give_up_at,
    }
}

/// An SMS as the outbox keeps it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sms {
    pub body: String,
}

/// An SMS row for the outbox, to `phone` (E.164).
pub fn sms_row(
    kind: &'static str,
    phone: &str,
    body: &str,
    user: &str,
    booking: Option<&str>,
    not_before: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        id: crate::ids::random_base32::<16>(),
        channel: "sms",
        kind,
        recipient: phone.to_string(),
        user_id: Some(user.to_string()),
        booking_id: booking.map(str::to_string),
        payload: serde_json::to_string(&Sms {
            body: body.to_string(),
        })
        .expect("an SMS serialises"),
        not_before,
        give_up_at,
    }
}

/// A Web Push row for the outbox, to the subscription `subscription`.
pub fn push_row(
    kind: &'static str,
    subscription: &str,
    message: &push::PushMessage,
    user: &str,
    booking: Option<&str>,
    not_before: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        id: crate::ids::random_base32::<16>(),
        channel: "push",
        kind,
        recipient: subscription.to_string(),
        user_id: Some(user.to_string()),
        booking_id: booking.map(str::to_string),
        payload: serde_json::to_string(message).expect("a push message serialises"),
        not_before,
        give_up_at,
    }
}
