//! The webhook events and their bodies: `{"type": …, "timestamp": …, "data": {…}}` as the
//! Standard Webhooks specification suggests. Data names things by id only (booking, coach,
//! client, room, voice session), never by name or email: a receiver that needs more asks the
//! API with its own key, and a payload sitting in a log leaks no personal data.

use crate::model::booking::Booking;
use crate::store::webhooks::Event;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Every event type, for validation and the documentation.
pub const TYPES: &[&str] = &[
    "booking.created",
    "booking.rescheduled",
    "booking.cancelled",
    "booking.completed",
    "room.started",
    "room.ended",
    "participant.joined",
    "participant.left",
    "voice_session.ended",
];

fn event(kind: &'static str, data: Value, booking: Option<&str>, now: DateTime<Utc>) -> Event {
    let body = json!({
        "type": kind,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": data,
    });
    Event {
        kind,
        body: body.to_string(),
        booking_id: booking.map(str::to_string),
    }
}

/// A booking event (`kind` one of the `booking.*` types) about `b` as it is after the change.
pub fn booking(
    kind: &'static str,
    b: &Booking,
    previous_starts_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Event {
    let mut data = json!({
        "booking_id": b.id.as_str(),
        "coach_id": b.coach_id.as_str(),
        "client_id": b.client_id.as_str(),
        "session_type": b.session_type.as_str(),
        "status": b.status.as_str(),
        "starts_at": b.starts_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "ends_at": b.ends_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "room": b.room,
        "calendar_uid": b.calendar_uid,
        "sequence": b.sequence,
    });
    if let Some(p) = previous_starts_at {
        data["previous_starts_at"] = json!(p.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    event(kind, data, Some(b.id.as_str()), now)
}

/// A room opened or closed (`room.started` / `room.ended`).
pub fn room(kind: &'static str, room: &str, now: DateTime<Utc>) -> Event {
    event(kind, json!({ "room": room }), None, now)
}

/// Someone joined or left a room (`participant.joined` / `participant.left`); `user_id` is
/// absent for guests and the voice agent.
pub fn participant(
    kind: &'static str,
    room: &str,
    participant: &str,
    user_id: Option<&str>,
    now: DateTime<Utc>,
) -> Event {
    event(
        kind,
        json!({ "room": room, "participant_id": participant, "user_id": user_id }),
        None,
        now,
    )
}

/// A voice session ended.
pub fn voice_session_ended(
    session: &str,
    user_id: &str,
    reason: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Event {
    event(
        "voice_session.ended",
        json!({
            "voice_session_id": session,
            "user_id": user_id,
            "end_reason": reason,
            "started_at": started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "ended_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
        None,
        now,
    )
}
