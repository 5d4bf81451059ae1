//! The signalling messages on `/rtc`: JSON text frames tagged by `type` (see
//! `docs/signalling.md` for the conversation). Parsing is pure and total: any input gives a
//! message or a [`ProtocolError`], never a panic.

use crate::rooms::{AgentState, Notice, Speaker};
use crate::sfu::quality::Quality;
use crate::sfu::{
    Event, ParticipantId, ParticipantInfo, TrackId, TrackInfo, TrackKind, TrackSource,
};
use serde::{Deserialize, Serialize};

/// Largest accepted message (a full SDP with many candidates fits easily).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Which of the participant's two peer connections a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The connection the client sends its media on (the client offers).
    Publisher,
    /// The connection the server sends others' media on (the server offers).
    Subscriber,
}

/// A track the client offers to publish: its transceiver's `mid` and what it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackOffer {
    pub mid: String,
    pub source: TrackSource,
}

/// An ICE candidate as in `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
}

/// Client → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message: the join token, and for a guest token optionally the display name the
    /// guest chose (see [`guest_name`]; ignored for coach and client tokens).
    Join {
        token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// An offer on the publisher connection, naming the tracks it carries.
    PublishOffer {
        sdp: String,
        tracks: Vec<TrackOffer>,
    },
    /// The answer to the server's `subscribe_offer`.
    SubscribeAnswer {
        sdp: String,
    },
    /// A trickled ICE candidate for one of the two connections.
    Candidate {
        target: Target,
        #[serde(flatten)]
        candidate: Candidate,
    },
    /// Stop publishing a track (then renegotiate with a new `publish_offer`).
    Unpublish {
        track: TrackId,
    },
    /// Mute or unmute one of your tracks (media keeps flowing as silence/black, or not at all).
    Mute {
        track: TrackId,
        muted: bool,
    },
    /// Stop or resume receiving another participant's track you do not display.
    Pause {
        track: TrackId,
        paused: bool,
    },
    /// Ask for a fresh keyframe of a video track you receive.
    Keyframe {
        track: TrackId,
    },
    Chat {
        text: String,
    },
    Reaction {
        emoji: String,
    },
    Hand {
        raised: bool,
    },
    /// Restart ICE on both connections after a network change (the server sends a new
    /// `subscribe_offer`; the client sends a new `publish_offer` with ICE restart).
    IceRestart,
    Ping,
    Leave,
}

/// A STUN/TURN server for `RTCPeerConnection`'s `iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A track in a `subscribe_offer`: which `mid` carries which published track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribedTrack {
    pub mid: String,
    pub track_id: TrackId,
    pub owner: ParticipantId,
    pub kind: TrackKind,
    pub source: TrackSource,
}

/// A published track's id as assigned by the server, by the `mid` the client offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTrack {
    pub mid: String,
    pub track_id: TrackId,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Joined {
        participant_id: ParticipantId,
        room: String,
        participants: Vec<ParticipantInfo>,
        tracks: Vec<TrackInfo>,
        ice_servers: Vec<IceServer>,
    },
    PublishAnswer {
        sdp: String,
        tracks: Vec<PublishedTrack>,
    },
    SubscribeOffer {
        sdp: String,
        tracks: Vec<SubscribedTrack>,
    },
    Candidate {
        target: Target,
        #[serde(flatten)]
        candidate: Candidate,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        participant_id: ParticipantId,
    },
    TrackPublished {
        track: TrackInfo,
    },
    TrackUnpublished {
        track_id: TrackId,
        owner: ParticipantId,
    },
    TrackMuted {
        track_id: TrackId,
        muted: bool,
    },
    ActiveSpeaker {
        participant_id: Option<ParticipantId>,
    },
    Chat {
        from: ParticipantId,
        name: String,
        text: String,
        at_ms: i64,
    },
    Hand {
        participant_id: ParticipantId,
        raised: bool,
    },
    Reaction {
        participant_id: ParticipantId,
        emoji: String,
    },
    /// `excellent`, `good`, `poor` or `lost`, from loss and round-trip time.
    Quality {
        participant_id: ParticipantId,
        quality: Quality,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Pong,
    /// Voice rooms: a line of the live transcript. `speaker` is `user` or `agent`; a
    /// `tentative` user line is replaced by the next line with the same `event_id`, and a
    /// `corrected` agent line replaces the agent line with its `event_id`.
    Transcript {
        speaker: Speaker,
        text: String,
        event_id: Option<u64>,
        #[serde(default)]
        tentative: bool,
        #[serde(default)]
        corrected: bool,
    },
    /// Voice rooms: the AI agent's state (`connecting`, `listening`, `speaking`, `ended`)
    /// with a sentence for the user when something went wrong or ended.
    Agent {
        state: AgentState,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        message: Option<String>,
    },
    /// The server ends the session (then closes the socket).
    Bye {
        reason: String,
    },
    /// The server is restarting: the room goes on for at most `within_ms`, then the socket
    /// closes with 1001 (going away). Rejoin with the same token once the server is back.
    Restarting {
        message: String,
        within_ms: u64,
    },
}

/// Why a client message was refused.
/// The `code` of an `error` message (documented in `docs/signalling.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // The join handshake.
    JoinTimeout,
    InvalidToken,
    InvalidName,
    RoomFull,
    JoinRefused,
    NoMediaPort,
    // Admission: what the room stands for is over, or its person is gone.
    Cancelled,
    TooEarly,
    SessionOver,
    AccountGone,
    AccountDisabled,
    Unavailable,
    /// The server is stopping: no new joins until it is back.
    Restarting,
    // Messages.
    MessageTooLarge,
    UnknownType,
    Malformed,
    BinaryNotSupported,
    AlreadyJoined,
    RateLimited,
    Refused,
    // Negotiation and media.
    BadSdp,
    BadCandidate,
    UnexpectedAnswer,
    NegotiationFailed,
    TooManyTracks,
    PublishRefused,
    PublishFailed,
    SubscribeFailed,
    /// A code this build does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            JoinTimeout => "join_timeout",
            InvalidToken => "invalid_token",
            InvalidName => "invalid_name",
            RoomFull => "room_full",
            JoinRefused => "join_refused",
            NoMediaPort => "no_media_port",
            Cancelled => "cancelled",
            TooEarly => "too_early",
            SessionOver => "session_over",
            AccountGone => "account_gone",
            AccountDisabled => "account_disabled",
            Unavailable => "unavailable",
            Restarting => "restarting",
            MessageTooLarge => "message_too_large",
            UnknownType => "unknown_type",
            Malformed => "malformed",
            BinaryNotSupported => "binary_not_supported",
            AlreadyJoined => "already_joined",
            RateLimited => "rate_limited",
            Refused => "refused",
            BadSdp => "bad_sdp",
            BadCandidate => "bad_candidate",
            UnexpectedAnswer => "unexpected_answer",
            NegotiationFailed => "negotiation_failed",
            TooManyTracks => "too_many_tracks",
            PublishRefused => "publish_refused",
            PublishFailed => "publish_failed",
            SubscribeFailed => "subscribe_failed",
            Unknown => "unknown",
        }
    }
}

wire_words!(ErrorCode);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl ProtocolError {
    /// The `code` of the error message sent back.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::TooLarge => ErrorCode::MessageTooLarge,
            ProtocolError::UnknownType(_) => ErrorCode::UnknownType,
            ProtocolError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

/// Every `type` a client may send.
const CLIENT_TYPES: &[&str] = &[
    "join",
    "publish_offer",
    "subscribe_answer",
    "candidate",
    "unpublish",
    "mute",
    "pause",
    "keyframe",
    "chat",
    "reaction",
    "hand",
    "ice_restart",
    "ping",
    "leave",
];

/// Parses one text frame from a client.
pub fn parse_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    let kind = match value.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        _ => {
            return Err(ProtocolError::Malformed(
                "missing string field `type`".into(),
            ));
        }
    };
    if !CLIENT_TYPES.contains(&kind.as_str()) {
        return Err(ProtocolError::UnknownType(kind.chars().take(64).collect()));
    }
    serde_json::from_value(value).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Longest display name a guest may choose on `join`.
pub const MAX_GUEST_NAME_CHARS: usize = 60;

/// The display name a guest asked for on `join`: `Ok(None)` when it is absent or blank (the
/// token's name stays), the trimmed name when it is a valid display name of at most
/// [`MAX_GUEST_NAME_CHARS`] characters, or a message for the user otherwise.
pub fn guest_name(requested: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    let name = crate::validate::name(raw)?;
    if name.chars().count() > MAX_GUEST_NAME_CHARS {
        return Err(format!(
            "name must have at most {MAX_GUEST_NAME_CHARS} characters"
        ));
    }
    Ok(Some(name))
}

/// Serialises a server message.
pub fn to_text(m: &ServerMessage) -> String {
    serde_json::to_string(m).expect("server messages serialise")
}

impl ServerMessage {
    /// The wire form of a room event; `unix_ms` turns the room clock into epoch milliseconds.
    pub fn from_event(e: Event, unix_ms: impl FnOnce(i64) -> i64) -> ServerMessage {
        match e {
            Event::ParticipantJoined(p) => ServerMessage::ParticipantJoined { participant: p },
            Event::ParticipantLeft(id) => ServerMessage::ParticipantLeft { participant_id: id },
            Event::TrackPublished(t) => ServerMessage::TrackPublished { track: t },
            Event::TrackUnpublished { track, owner } => ServerMessage::TrackUnpublished {
                track_id: track,
                owner,
            },
            Event::TrackMuted { track, muted } => ServerMessage::TrackMuted {
                track_id: track,
                muted,
            },
            Event::ActiveSpeaker(p) => ServerMessage::ActiveSpeaker { participant_id: p },
            Event::Chat {
                from,
                name,
                text,
                at_ms,
            } => ServerMessage::Chat {
                from,
                name,
                text,
                at_ms: unix_ms(at_ms),
            },
            Event::Hand {
                participant,
                raised,
            } => ServerMessage::Hand {
                participant_id: participant,
                raised,
            },
            Event::Reaction { participant, emoji } => ServerMessage::Reaction {
                participant_id: participant,
                emoji,
            },
            Event::Quality {
                participant,
                quality,
            } => ServerMessage::Quality {
                participant_id: participant,
                quality,
            },
        }
    }

    /// The wire form of a notice from a server-side participant.
    pub fn from_notice(n: Notice) -> ServerMessage {
        match n {
            Notice::Agent { state, message } => ServerMessage::Agent { state, message },
            Notice::Transcript {
                speaker,
                text,
                event_id,
                tentative,
                corrected,
            } => ServerMessage::Transcript {
                speaker,
                text,
                event_id,
                tentative,
                corrected,
            },
        }
    }

    /// An `error` message.
    /// The server is restarting; the room closes within `within`. A voice session cannot go
    /// on after the restart, a call reconnects.
    pub fn restarting(within: std::time::Duration, voice: bool) -> ServerMessage {
        let secs = within.as_secs();
        let when = if secs == 0 {
            "now".to_string()
        } else {
            format!("within {secs} seconds")
        };
        let message = if voice {
            format!(
                "The server is restarting: this voice session ends {when}. You can start a new \
                 one in a minute."
            )
        } else {
            format!(
                "The server is restarting: this call will be interrupted {when} and reconnects \
                 by itself when the server is back."
            )
        };
        ServerMessage::Restarting {
            message,
            within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
