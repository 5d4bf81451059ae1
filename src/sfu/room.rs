//! One room: who is in it, what they publish, who receives what.
//!
//! Every participant subscribes to every track of the others (a coaching room is small);
//! a subscriber may pause a track it does not display. Joining with an identity that is
//! already present replaces the old session (a reconnect after a network change leaves no
//! ghost). Chat, reactions and raised hands are size- and rate-limited per participant.

use super::limits::{KeyframeLimiter, TokenBucket};
use super::speaker::SpeakerDetector;
use super::{
    Action, Audience, Event, Output, ParticipantId, ParticipantInfo, RoomError, RoomRole, TrackId,
    TrackInfo, TrackKind, TrackSource,
};
use std::collections::{BTreeMap, BTreeSet};

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 1000;
/// Longest reaction, in bytes (one emoji with modifiers).
pub const MAX_REACTION_BYTES: usize = 32;
/// Most tracks one participant may publish (microphone, camera, screen, screen audio…).
pub const MAX_TRACKS_PER_PARTICIPANT: usize = 4;

struct Member {
    info: ParticipantInfo,
    chat: TokenBucket,
    reactions: TokenBucket,
}

struct Published {
    info: TrackInfo,
    keyframes: KeyframeLimiter,
    /// Subscribers that paused this track.
    paused_by: BTreeSet<ParticipantId>,
}

/// The state of one room.
pub struct Room {
    name: String,
    max_participants: usize,
    members: BTreeMap<ParticipantId, Member>,
    tracks: BTreeMap<TrackId, Published>,
    speaker: SpeakerDetector,
}

impl Room {
    pub fn new(name: impl Into<String>, max_participants: usize) -> Self {
        Self {
            name: name.into(),
            max_participants,
            members: BTreeMap::new(),
            tracks: BTreeMap::new(),
            speaker: SpeakerDetector::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn participant_count(&self) -> usize {
        self.members.len()
    }

    pub fn participants(&self) -> Vec<ParticipantInfo> {
        self.members.values().map(|m| m.info.clone()).collect()
    }

    pub fn tracks(&self) -> Vec<TrackInfo> {
        self.tracks.values().map(|t| t.info.clone()).collect()
    }

    pub fn track(&self, id: TrackId) -> Option<&TrackInfo> {
        self.tracks.get(&id).map(|t| &t.info)
    }

    /// The participant with this identity, if present.
    pub fn by_identity(&self, identity: &str) -> Option<ParticipantId> {
        self.members
            .values()
            .find(|m| m.info.identity == identity)
            .map(|m| m.info.id)
    }

    /// Adds a participant with a server-assigned id. An identity already in the room is
    /// replaced (its old session is disconnected and leaves). The caller then subscribes the
    /// newcomer to the existing tracks (returned as actions).
    pub fn join(
        &mut self,
        id: ParticipantId,
        identity: &str,
        name: &str,
        role: RoomRole,
        now_ms: i64,
    ) -> Result<Output, RoomError> {
        let mut out = Output::default();
        let replaced = self.by_identity(identity);
        if replaced.is_none() && self.members.len() >= self.max_participants {
            return Err(RoomError::Full(self.max_participants));
        }
        if let Some(old) = replaced {
            out.action(Action::Disconnect { participant: old });
            let left = self.leave(old)?;
            out.events.extend(left.events);
            out.actions.extend(left.actions);
        }
        let info = ParticipantInfo {
            id,
            identity: identity.into(),
            name: name.into(),
            role,
            hand_raised: false,
        };
        self.members.insert(
            id,
            Member {
                info: info.clone(),
                chat: TokenBucket::new(5, 1.0, now_ms),
                reactions: TokenBucket::new(5, 2.0, now_ms),
            },
        );
        out.event(Audience::EveryoneExcept(id), Event::ParticipantJoined(info));
        for t in self.tracks.values() {
            out.action(Action::Subscribe {
                subscriber: id,
                track: t.info.id,
            });
        }
        Ok(out)
    }

    /// Removes a participant and everything they published.
    pub fn leave(&mut self, id: ParticipantId) -> Result<Output, RoomError> {
        if !self.members.contains_key(&id) {
            return Err(RoomError::UnknownParticipant);
        }
        let mut out = Output::default();
        let owned: Vec<TrackId> = self
            .tracks
            .values()
            .filter(|t| t.info.owner == id)
            .map(|t| t.info.id)
            .collect();
        for t in owned {
            let o = self.unpublish(id, t)?;
            out.events.extend(o.events);
            out.actions.extend(o.actions);
        }
        for t in self.tracks.values_mut() {
            t.paused_by.remove(&id);
        }
        self.members.remove(&id);
        self.speaker.remove(id);
        out.event(Audience::EveryoneExcept(id), Event::ParticipantLeft(id));
        Ok(out)
    }

    /// A participant publishes a track; every other participant is subscribed.
    pub fn publish(
        &mut self,
        owner: ParticipantId,
        id: TrackId,
        kind: TrackKind,
        source: TrackSource,
    ) -> Result<Output, RoomError> {
        if !self.members.contains_key(&owner) {
            return Err(RoomError::UnknownParticipant);
        }
        if source.kind() != kind {
            return Err(RoomError::Invalid("track source does not match its kind"));
        }
        if self
            .tracks
            .values()
            .filter(|t| t.info.owner == owner)
            .count()
            >= MAX_TRACKS_PER_PARTICIPANT
        {
            return Err(RoomError::TooManyTracks);
        }
        let info = TrackInfo {
            id,
            owner,
            kind,
            source,
            muted: false,
        };
        self.tracks.insert(
            id,
            Published {
                info: info.clone(),
                keyframes: KeyframeLimiter::default(),
                paused_by: BTreeSet::new(),
            },
        );
        let mut out = Output::default();
        out.event(Audience::Everyone, Event::TrackPublished(info));
        for &sub in self.members.keys().filter(|&&p| p != owner) {
            out.action(Action::Subscribe {
                subscriber: sub,
                track: id,
            });
        }
        Ok(out)
    }

    /// A participant stops publishing a track.
    pub fn unpublish(&mut self, owner: ParticipantId, id: TrackId) -> Result<Output, RoomError> {
        let t = self.tracks.get(&id).ok_or(RoomError::UnknownTrack)?;
        if t.info.owner != owner {
            return Err(RoomError::NotOwner);
        }
        self.tracks.remove(&id);
        let mut out = Output::default();
        for &sub in self.members.keys().filter(|&&p| p != owner) {
            out.action(Action::Unsubscribe {
                subscriber: sub,
                track: id,
            });
        }
        out.event(
            Audience::Everyone,
            Event::TrackUnpublished { track: id, owner },
        );
        Ok(out)
    }

    /// The owner mutes or unmutes a track.
    pub fn set_muted(
        &mut self,
        owner: ParticipantId,
        id: TrackId,
        muted: bool,
    ) -> Result<Output, RoomError> {
        let t = self.tracks.get_mut(&id).ok_or(RoomError::UnknownTrack)?;
        if t.info.owner != owner {
            return Err(RoomError::NotOwner);
        }
        let mut out = Output::default();
        if t.info.muted != muted {
            t.info.muted = muted;
            out.event(Audience::Everyone, Event::TrackMuted { track: id, muted });
        }
        Ok(out)
    }

    /// A subscriber pauses or resumes a track of someone else. A change is an
    /// [`Action::SetPaused`] for the shell to apply to the down track; resuming video also
    /// requests a keyframe. The core is the one owner of this state: a down track made later
    /// asks [`Room::is_paused`].
    pub fn set_paused(
        &mut self,
        sub: ParticipantId,
        id: TrackId,
        paused: bool,
        now_ms: i64,
    ) -> Result<Output, RoomError> {
        if !self.members.contains_key(&sub) {
            return Err(RoomError::UnknownParticipant);
        }
        let t = self.tracks.get_mut(&id).ok_or(RoomError::UnknownTrack)?;
        if t.info.owner == sub {
            return Err(RoomError::Invalid("you cannot pause your own track"));
        }
        let changed = if paused {
            t.paused_by.insert(sub)
        } else {
            t.paused_by.remove(&sub)
        };
        let mut out = Output::default();
        if changed {
            out.action(Action::SetPaused {
                subscriber: sub,
                track: id,
                paused,
            });
        }
        if changed && !paused && t.info.kind == TrackKind::Video && t.keyframes.request(now_ms) {
            out.action(Action::RequestKeyframe { track: id });
        }
        Ok(out)
    }

    /// Whether `sub` has paused `id`.
    pub fn is_paused(&self, sub: ParticipantId, id: TrackId) -> bool {
        self.tracks
            .get(&id)
            .is_some_and(|t| t.paused_by.contains(&sub))
    }

    /// A subscriber (or a new down track) wants a keyframe of a video track: rate-limited to
    /// one PLI per track per 500 ms; an early request is kept for [`Room::poll`].
    pub fn request_keyframe(&mut self, id: TrackId, now_ms: i64) -> Output {
        let mut out = Output::default();
        if let Some(t) = self.tracks.get_mut(&id)
            && t.info.kind == TrackKind::Video
            && t.keyframes.request(now_ms)
        {
            out.action(Action::RequestKeyframe { track: id });
        }
        out
    }

    /// An audio level (RFC 6464, -dBov) of a participant's microphone.
    pub fn audio_level(&mut self, who: ParticipantId, dbov: u8, now_ms: i64) {
        if self.members.contains_key(&who) {
            self.speaker.on_level(who, dbov, now_ms);
        }
    }

    /// Time-driven work: deferred keyframe requests and active-speaker changes.
    pub fn poll(&mut self, now_ms: i64) -> Output {
        let mut out = Output::default();
        for t in self.tracks.values_mut() {
            if t.keyframes.poll(now_ms) {
                out.action(Action::RequestKeyframe { track: t.info.id });
            }
        }
        if let Some(s) = self.speaker.poll(now_ms) {
            out.event(Audience::Everyone, Event::ActiveSpeaker(s));
        }
        out
    }

    /// A chat message to the room.
    pub fn chat(
        &mut self,
        from: ParticipantId,
        text: &str,
        now_ms: i64,
    ) -> Result<Output, RoomError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_CHAT_CHARS {
            return Err(RoomError::Invalid(
                "chat messages must have 1 to 1000 characters",
            ));
        }
        let m = self
            .members
            .get_mut(&from)
            .ok_or(RoomError::UnknownParticipant)?;
        if !m.chat.try_take(now_ms) {
            return Err(RoomError::RateLimited);
        }
        let mut out = Output::default();
        out.event(
            Audience::Everyone,
            Event::Chat {
                from,
                name: m.info.name.clone(),
                text: text.to_string(),
                at_ms: now_ms,
            },
        );
        Ok(out)
    }

    /// A reaction (an emoji).
    pub fn react(
        &mut self,
        who: ParticipantId,
        emoji: &str,
        now_ms: i64,
    ) -> Result<Output, RoomError> {
        if emoji.is_empty()
            || emoji.len() > MAX_REACTION_BYTES
            || emoji
                .chars()
                .any(|c| c.is_alphanumeric() || c.is_control() || c.is_whitespace())
        {
            return Err(RoomError::Invalid("a reaction is one emoji"));
        }
        let m = self
            .members
            .get_mut(&who)
            .ok_or(RoomError::UnknownParticipant)?;
        if !m.reactions.try_take(now_ms) {
            return Err(RoomError::RateLimited);
        }
        let mut out = Output::default();
        out.event(
            Audience::Everyone,
            Event::Reaction {
                participant: who,
                emoji: emoji.to_string(),
            },
        );
        Ok(out)
    }

    /// Raises or lowers a hand.
    pub fn raise_hand(&mut self, who: ParticipantId, raised: bool) -> Result<Output, RoomError> {
        let m = self
            .members
            .get_mut(&who)
            .ok_or(RoomError::UnknownParticipant)?;
        let mut out = Output::default();
        if m.info.hand_raised != raised {
            m.info.hand_raised = raised;
            out.event(
                Audience::Everyone,
                Event::Hand {
                    participant: who,
                    raised,
                },
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "room_tests.rs"]
mod tests;
