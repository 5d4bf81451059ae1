//! Turns the rooms' lifecycle (a room opened or closed, someone joined or left) into webhook
//! events. Rooms live in memory, so there is no transaction to join: each event is written
//! to the outbox on its own, off the media path (the rooms only send on a channel), and only
//! when an active endpoint takes its type.

use super::events;
use crate::clock::Clock;
use crate::rooms::Lifecycle;
use crate::sfu::RoomRole;
use crate::store::Store;
use chrono::Duration;
use tokio::sync::mpsc;

/// The user id of a participant: coaches and clients join as their account; guests and the
/// voice agent (`agent:…`) have none.
fn user_of(identity: &str, role: RoomRole) -> Option<&str> {
    (role != RoomRole::Guest && !identity.contains(':')).then_some(identity)
}

/// Writes the lifecycle's webhook events until the rooms are gone.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<Lifecycle>,
    store: Store,
    clock: Clock,
    give_up_hours: u32,
) {
    while let Some(e) = rx.recv().await {
        let now = clock.now();
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
