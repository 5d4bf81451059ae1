//! Turns the rooms' lifecycle (a room opened or closed, someone joined or left) into webhook
//! events, and a booking's coach joining its room into a Web Push notification for the
//! client ("your coach has joined"). Rooms live in memory, so there is no transaction to
//! join: each message is written to the outbox on its own, off the media path (the rooms
//! only send on a channel); webhook events only when an active endpoint takes their type.

use super::messages::{self, Recipient, Session};
use super::{events, kind, push_row};
use crate::clock::Clock;
use crate::config::Config;
use crate::model::booking::BookingStatus;
use crate::rooms::Lifecycle;
use crate::sfu::RoomRole;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The user id of a participant: coaches and clients join as their account; guests and the
/// voice agent (`agent:…`) have none.
fn user_of(identity: &str, role: RoomRole) -> Option<&str> {
    (role != RoomRole::Guest && !identity.contains(':')).then_some(identity)
}

/// Tells the booking's client, on each of their devices with notifications on, that the
/// coach (`coach_user`) has joined `room`: once per session and device.
async fn coach_joined(
    store: &Store,
    cfg: &Config,
    room: &str,
    coach_user: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let b = match store.booking_by_room(room).await {
        Ok(b) => b,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    if b.status != BookingStatus::Scheduled || now >= b.ends_at {
        return Ok(());
    }
    let coach = store.coach(&b.coach_id).await?;
    if coach.user_id.as_ref().map(|u| u.as_str()) != Some(coach_user) {
        return Ok(());
    }
    let client = store.user(&b.client_id).await?;
    if client.disabled {
        return Ok(());
    }
    let to = Recipient {
        name: client.name.clone(),
        email: client.email.clone(),
        zone: crate::validate::time_zone(&client.time_zone).unwrap_or(chrono_tz::UTC),
    };
    let origin = cfg.public_origin();
    let session = Session {
        with: coach.name.clone(),
        kind: b.session_type.as_str(),
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        join_url: Some(format!("{origin}/r/{room}")),
        phone: None,
        focus: None,
        manage_url: format!("{origin}/upcoming"),
    };
    let message = messages::coach_joined_push(&to, &session, format!("session-{}", b.id));
    let mut rows = Vec::new();
    for sub in store.push_subscriptions(&client.id).await? {
        if store
            .push_sent(kind::COACH_JOINED, b.id.as_str(), &sub.id)
            .await?
        {
            continue;
        }
        rows.push(push_row(
            kind::COACH_JOINED,
            &sub.id,
            &message,
            client.id.as_str(),
            Some(b.id.as_str()),
            now,
            b.ends_at,
        ));
    }
    if !rows.is_empty() {
        store.enqueue(&rows, now).await?;
    }
    Ok(())
}

/// Writes the lifecycle's webhook events and coach-joined notifications until the rooms
/// are gone.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<Lifecycle>,
    store: Store,
    clock: Clock,
    cfg: Arc<Config>,
) {
    let give_up_hours = cfg.notify.give_up_hours;
    while let Some(e) = rx.recv().await {
        let now = clock.now();
        if let Lifecycle::Joined {
            room,
            identity,
            role: RoomRole::Coach,
            ..
        } = &e
            && cfg.notify.push.enabled
            && let Err(err) = coach_joined(&store, &cfg, room, identity, now).await
        {
            tracing::warn!(error = %err, "push: cannot queue the coach-joined notification");
        }
        let event = match &e {
            Lifecycle::RoomStarted { room } => events::room("room.started", room, now),
            Lifecycle::RoomEnded { room } => events::room("room.ended", room, now),
            Lifecycle::Joined {
                room,
                participant,
                identity,
                role,
            } => events::participant(
                "participant.joined",
                room,
                &participant.to_string(),
                user_of(identity, *role),
                now,
            ),
            Lifecycle::Left { room, participant } => events::participant(
                "participant.left",
                room,
                &participant.to_string(),
                None,
                now,
            ),
        };
        match store.has_endpoint_for(event.kind).await {
            Ok(false) => continue,
            Ok(true) => {}
            Err(err) => {
                tracing::warn!(error = %err, "webhooks: cannot read the endpoints");
                continue;
            }
        }
        let give_up = now + Duration::hours(i64::from(give_up_hours));
        if let Err(err) = store.enqueue_event(&event, now, give_up).await {
            tracing::warn!(error = %err, kind = event.kind, "webhooks: cannot queue the event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_and_the_agent_are_not_users() {
        assert_eq!(user_of("u123", RoomRole::Client), Some("u123"));
        assert_eq!(user_of("u123", RoomRole::Coach), Some("u123"));
        assert_eq!(user_of("g_abc", RoomRole::Guest), None);
        assert_eq!(user_of("agent:v1", RoomRole::Client), None);
    }
}
