//! The registry of live rooms and the glue between the sans-IO
//! [`Room`](crate::sfu::room::Room) core, the sessions (one task per participant) and the
//! media shell.
//!
//! Every change goes through [`RoomHandle::with_core`]: lock the core (a plain mutex, never
//! held across an await), call it, then [`RoomHandle::apply`] its output — events become
//! messages to the sessions in the audience, actions become commands to the subscriber's
//! session (subscribe/unsubscribe, which renegotiates) or keyframe requests to a publication.
//! A ticker per room drives the time-based parts (deferred PLIs, active speaker).

mod gauges;
mod room;

pub use gauges::HubGauges;
pub use room::RoomHandle;

use super::protocol::ServerMessage;
use crate::auth::join_token::JoinClaims;
use crate::rtc::forward::Publication;
use crate::sfu::{ParticipantId, RoomError, TrackId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What the hub tells a session.
pub enum Command {
    Send(ServerMessage),
    Subscribe(Arc<Publication>),
    Unsubscribe(TrackId),
    /// End the session with this reason (e.g. `replaced`).
    Close(String),
}

/// All rooms of the server.
pub struct Hub {
    rooms: Mutex<HashMap<String, Arc<RoomHandle>>>,
    next_id: AtomicU64,
    max_rooms: usize,
    max_participants: usize,
    pub gauges: HubGauges,
}

/// A participant's place in a room.
pub struct Membership {
    pub room: Arc<RoomHandle>,
    pub id: ParticipantId,
    pub commands: mpsc::UnboundedReceiver<Command>,
}

impl Hub {
    pub fn new(max_rooms: usize, max_participants: usize, gauges: HubGauges) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_rooms,
            max_participants,
            gauges,
        }
    }

    /// A fresh id for a participant or a track.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Joins the room named in the token (opening it if needed).
    pub fn join(&self, claims: &JoinClaims) -> Result<Membership, RoomError> {
        let room = {
            let mut rooms = self.rooms.lock().expect("rooms lock");
            if let Some(r) = rooms.get(&claims.room) {
                r.clone()
            } else {
                if rooms.len() >= self.max_rooms {
                    return Err(RoomError::Invalid("the server has reached its room limit"));
                }
                let r = RoomHandle::open(&claims.room, self.max_participants, self.gauges.clone());
                rooms.insert(claims.room.clone(), r.clone());
                self.gauges.rooms.inc();
                r
            }
        };
        let id = ParticipantId(self.next_id());
        let (tx, commands) = mpsc::unbounded_channel();
        // Register the session first so the events of its own join reach everyone else only.
        room.sessions.lock().expect("sessions lock").insert(id, tx);
        room.names
            .lock()
            .expect("names lock")
            .insert(id, claims.name.clone());
        let joined = room
            .with_core(|c, now| Ok(((), c.join(id, &claims.sub, &claims.name, claims.role, now)?)));
        if let Err(e) = joined {
            room.sessions.lock().expect("sessions lock").remove(&id);
            room.names.lock().expect("names lock").remove(&id);
            self.close_if_empty(&room);
            return Err(e);
        }
        self.gauges.participants.inc();
        Ok(Membership { room, id, commands })
    }

    /// Removes a participant (no-op if already gone) and closes an empty room.
    pub fn leave(&self, room: &Arc<RoomHandle>, id: ParticipantId) {
        let owned: Vec<TrackId> = room
            .publications
            .lock()
            .expect("publications lock")
            .values()
            .filter(|p| p.owner == id)
            .map(|p| p.id)
            .collect();
        if room.with_core(|c, _| Ok(((), c.leave(id)?))).is_ok()
            && room
                .sessions
                .lock()
                .expect("sessions lock")
                .remove(&id)
                .is_some()
        {
            self.gauges.participants.dec();
        }
        for t in owned {
            room.forget(t);
        }
        room.names.lock().expect("names lock").remove(&id);
        self.close_if_empty(room);
    }

    fn close_if_empty(&self, room: &Arc<RoomHandle>) {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if room.core.lock().expect("room core lock").is_empty()
            && rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room))
        {
            rooms.remove(&room.name);
            self.gauges.rooms.dec();
        }
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.lock().expect("rooms lock").len()
    }
}
