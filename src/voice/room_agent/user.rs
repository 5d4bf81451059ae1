//! Following the user in the agent's room: the room commands that tell the agent when the
//! user's microphone appears or goes, when it is muted (the talk button) and when the user
//! leaves or comes back.

use super::AgentLoop;
use crate::signal::hub::Command;
use crate::signal::protocol::ServerMessage;

impl AgentLoop {
    /// Handles a room command; returns the talk-button state if it changed.
    pub(super) fn on_command(&mut self, c: Command) -> Option<bool> {
        match c {
            Command::Subscribe(p) => {
                self.find_user();
                if Some(p.owner) == self.user && p.kind == crate::rtc::media::MediaKind::Audio {
                    self.packets = Some(p.attach_channel(self.id, 64));
                    self.mic = Some((p.id, p));
                    return Some(self.mic_talking());
                }
            }
            Command::Unsubscribe(t) => {
                if let Some((mic, p)) = &self.mic
                    && *mic == t
                {
                    p.detach(self.id);
                    self.mic = None;
                    self.packets = None;
                    return Some(false);
                }
            }
            Command::Send(ServerMessage::TrackMuted { track_id, muted })
                if self.mic.as_ref().is_some_and(|(t, _)| *t == track_id) =>
            {
                return Some(!muted);
            }
            Command::Send(ServerMessage::ParticipantLeft { participant_id })
                if Some(participant_id) == self.user =>
            {
                self.user = None;
            }
            Command::Send(ServerMessage::ParticipantJoined { .. }) => {
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
