//! Following the user in the agent's room: the room events that tell the agent when the
//! user's microphone appears or goes, when it is muted (the talk button) and when the user
//! leaves or comes back.

use super::AgentLoop;
use crate::rooms::RoomEvent;
use crate::sfu::{Event, TrackKind};

impl AgentLoop {
    /// Handles a room event; returns the talk-button state if it changed.
    pub(super) fn on_room_event(&mut self, e: RoomEvent) -> Option<bool> {
        match e {
            RoomEvent::Subscribe(p) => {
                self.find_user();
                if Some(p.owner) == self.user && p.kind == TrackKind::Audio {
                    self.packets = Some(p.attach_channel(self.id, 64));
                    self.mic = Some((p.id, p));
                    return Some(self.mic_talking());
                }
            }
            RoomEvent::Unsubscribe(t) => {
                if let Some((mic, p)) = &self.mic
                    && *mic == t
                {
                    p.detach(self.id);
                    self.mic = None;
                    self.packets = None;
                    return Some(false);
                }
            }
            RoomEvent::Room(Event::TrackMuted { track, muted })
                if self.mic.as_ref().is_some_and(|(t, _)| *t == track) =>
            {
                return Some(!muted);
            }
            RoomEvent::Room(Event::ParticipantLeft(participant))
                if Some(participant) == self.user =>
            {
                self.user = None;
            }
            RoomEvent::Room(Event::ParticipantJoined(_)) => {
                let was = self.user;
                self.find_user();
                if was.is_none() && self.user.is_some() {
                    // Tell a (re)joining user where the agent is.
                    self.status(self.state, None);
                }
            }
            _ => {}
        }
        None
    }

    /// Looks the user up among the room's participants.
    pub(super) fn find_user(&mut self) {
        let (participants, _) = self.room.snapshot();
        self.user = participants
            .iter()
            .find(|p| p.identity == self.spec.user_identity)
            .map(|p| p.id);
    }

    /// Whether the microphone is unmuted (the talk button held) now.
    pub(super) fn mic_talking(&self) -> bool {
        let Some((mic, _)) = &self.mic else {
            return false;
        };
        let (_, tracks) = self.room.snapshot();
        tracks
            .iter()
            .find(|t| t.id == *mic)
            .is_some_and(|t| !t.muted)
    }
}
