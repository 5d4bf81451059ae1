//! What a server-side participant tells another participant of its room, beyond what the SFU
//! core itself says: the AI agent's state and the lines of its conversation. Typed here;
//! the signalling session writes them on the wire (`agent`, `transcript`), and the same
//! words ([`AgentState`], [`Speaker`]) serialise to the strings clients already read.

use serde::{Deserialize, Serialize};

/// Where the AI agent of a voice room is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentState {
    /// Opening the conversation with the agent service.
    Connecting,
    /// The agent hears the user.
    Listening,
    /// The agent's reply is playing.
    Speaking,
    /// The conversation is over (the notice says why, in words).
    Ended,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Connecting => "connecting",
            AgentState::Listening => "listening",
            AgentState::Speaking => "speaking",
            AgentState::Ended => "ended",
        }
    }
}

/// Who said a line of a conversation with the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    User,
    Agent,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::User => "user",
            Speaker::Agent => "agent",
        }
    }
}

wire_words!(AgentState, Speaker);

/// A notice for one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The agent's state changed (with words when it ended).
    Agent {
        state: AgentState,
        message: Option<String>,
    },
    /// A line of the conversation: tentative while the speaker is still talking, corrected
    /// when it replaces the line with the same event id.
    Transcript {
        speaker: Speaker,
        text: String,
        event_id: Option<u64>,
        tentative: bool,
        corrected: bool,
    },
}
