//! The SFU core: rooms, participants, published tracks, subscriptions and forwarding
//! decisions — sans-IO.
//!
//! A [`room::Room`] is driven by calls ("participant joined", "track published", "keyframe
//! requested at time T", "audio level L at time T") and answers with [`Output`]: events for
//! clients (who joined, who speaks, chat) and [`Action`]s for the shell (subscribe this
//! participant to that track, pause that down track, ask that publisher for a keyframe). The
//! core is the one owner of this state, subscription pauses included: the shell applies what
//! it decides. Time is always a parameter; nothing here reads a clock, spawns, or touches a
//! socket or a webrtc type, so every rule is tested without networking. The rooms layer
//! ([`crate::rooms`]) carries out the actions; per packet the media shell ([`crate::media`])
//! asks a [`forwarder::Forwarder`] what to do.

pub mod forwarder;
pub mod limits;
pub mod quality;
pub mod room;
pub mod speaker;

use serde::{Deserialize, Serialize};

/// What a participant is in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomRole {
    Coach,
    Client,
    Guest,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Coach => "coach",
            RoomRole::Client => "client",
            RoomRole::Guest => "guest",
        }
    }
}

/// A participant of a room, unique within the server's lifetime.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ParticipantId(pub u64);

/// A published track, unique within the server's lifetime.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct TrackId(pub u64);

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Audio,
    Video,
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
}

impl TrackSource {
    /// The kind a source must have.
    pub fn kind(self) -> TrackKind {
        match self {
            TrackSource::Microphone => TrackKind::Audio,
            TrackSource::Camera | TrackSource::Screen => TrackKind::Video,
        }
    }
}

/// A participant as other participants see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ParticipantInfo {
    pub id: ParticipantId,
    /// Stable identity from the join token (a user id or a guest id).
    pub identity: String,
    pub name: String,
    pub role: RoomRole,
    pub hand_raised: bool,
}

/// A published track as participants see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TrackInfo {
    pub id: TrackId,
    pub owner: ParticipantId,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub muted: bool,
}

/// Something clients are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ParticipantJoined(ParticipantInfo),
    ParticipantLeft(ParticipantId),
    TrackPublished(TrackInfo),
    TrackUnpublished {
        track: TrackId,
        owner: ParticipantId,
    },
    TrackMuted {
        track: TrackId,
        muted: bool,
    },
    ActiveSpeaker(Option<ParticipantId>),
    Chat {
        from: ParticipantId,
        /// The sender's display name when it was sent.
        name: String,
        text: String,
        /// On the room clock (milliseconds since the room opened).
        at_ms: i64,
    },
    Hand {
        participant: ParticipantId,
        raised: bool,
    },
    Reaction {
        participant: ParticipantId,
        emoji: String,
    },
    Quality {
        participant: ParticipantId,
        quality: quality::Quality,
    },
}

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    EveryoneExcept(ParticipantId),
}

/// Work for the media shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start sending `track` to `subscriber` (add a down track, renegotiate).
    Subscribe {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// Stop sending `track` to `subscriber` (remove the down track, renegotiate).
    Unsubscribe {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// Stop (or resume) forwarding `track` to `subscriber`: the down track drops its packets
    /// meanwhile. A resumed video track waits for a keyframe, which the core requests.
    SetPaused {
        subscriber: ParticipantId,
        track: TrackId,
        paused: bool,
    },
    /// Ask the publisher of `track` for a keyframe (PLI).
    RequestKeyframe { track: TrackId },
    /// Close this participant's session (replaced by a rejoin with the same identity).
    Disconnect { participant: ParticipantId },
}

/// What a call into the core produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub events: Vec<(Audience, Event)>,
    pub actions: Vec<Action>,
}

impl Output {
    /// An output carrying one event for everyone.
    pub fn broadcast(e: Event) -> Output {
        let mut out = Output::default();
        out.event(Audience::Everyone, e);
        out
    }

    fn event(&mut self, to: Audience, e: Event) {
        self.events.push((to, e));
    }
    fn action(&mut self, a: Action) {
        self.actions.push(a);
    }
}

/// Why a request to the core was refused (messages are shown to users).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("the room is full ({0} participants)")]
    Full(usize),
    #[error("no such participant")]
    UnknownParticipant,
    #[error("no such track")]
    UnknownTrack,
    #[error("that track is not yours")]
    NotOwner,
    #[error("too many tracks published")]
    TooManyTracks,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("slow down: too many messages")]
    RateLimited,
}
