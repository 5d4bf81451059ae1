//! The seam between a voice session and whatever agent it talks to.
//!
//! [`VoiceAgent::start`] opens one conversation and hands back an [`AgentConnection`]: a
//! bounded stream of [`AgentEvent`]s and a bounded sender of [`AgentCommand`]s. Everything that
//! happens on the network after `start` returns (refused connection, close codes, stalls) is
//! reported as the final [`AgentEvent::Ended`], never as an `Err`; `start` fails only for a
//! request that can never work (bad configuration). Reconnecting means calling `start` again:
//! a dropped conversation cannot be resumed, the new one starts fresh. This module owns the
//! trait, the context a caller passes in and the one error enum of the agent layer; it does no
//! IO itself. [`echo`] and [`elevenlabs`] implement the trait; which one a server uses is the
//! session layer's choice ([`crate::voice::agent_from_config`]).

pub mod echo;
pub mod elevenlabs;

use crate::voice::core::events::{AgentCommand, AgentEvent};
use async_trait::async_trait;
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// Capacity of the event channel (agent → session). Agent audio arrives in bursts faster than
/// real time; 512 events hold many seconds of it.
pub const EVENT_CHANNEL: usize = 512;
/// Capacity of the command channel (session → agent): 64 × 20 ms = 1.28 s of user audio.
pub const COMMAND_CHANNEL: usize = 64;

/// Why an agent could not be started, or what went wrong inside the agent layer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The request can never work as configured (missing agent id, bad base URL…).
    #[error("voice agent configuration: {0}")]
    Config(String),
    /// The agent service could not be reached (network, TLS, HTTP refusal, signed URL).
    #[error("voice agent unreachable: {0}")]
    Unreachable(String),
    /// The agent sent something that breaks the protocol contract.
    #[error("voice agent protocol: {0}")]
    Protocol(String),
    /// The agent negotiated an audio format parlor cannot handle.
    #[error("unsupported agent audio format {0:?}")]
    UnsupportedFormat(String),
    /// Local IO (binding the test double's listener).
    #[error("voice agent io: {0}")]
    Io(#[from] std::io::Error),
}

/// Who the conversation is with, and what the agent should know about them.
#[derive(Debug, Clone, Default)]
pub struct ConversationContext {
    /// Stable user id, sent as `user_id` (ElevenLabs shows it in its conversation history).
    pub user_id: String,
    /// The user's display name (also put into `dynamic_variables.user_name` when absent there).
    pub user_name: String,
    /// Values for the agent prompt's `{{placeholders}}`: open commitments, recent sessions…
    /// Agents that declare a variable fail the conversation (1008) when it is missing.
    pub dynamic_variables: BTreeMap<String, String>,
    /// Replacement system prompt; sent only when the agent allows overrides.
    pub prompt_override: Option<String>,
    /// Replacement first message; sent only when the agent allows overrides.
    pub first_message_override: Option<String>,
}

/// One live conversation: read `events` until [`AgentEvent::Ended`], send `commands`.
///
/// Dropping `commands` ends the conversation like [`AgentCommand::Close`]; dropping `events`
/// ends it too (nobody listens any more). Read `events` promptly: when the channel is full the
/// connection stops reading its socket (backpressure), which also delays keep-alive answers.
pub struct AgentConnection {
    pub events: mpsc::Receiver<AgentEvent>,
    pub commands: mpsc::Sender<AgentCommand>,
}

/// Why [`AgentConnection::send_audio`] did not deliver a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioRefused {
    /// The connection is behind; the chunk was dropped (the caller must not wait).
    Full,
    /// The conversation is over.
    Closed,
}

impl AgentConnection {
    /// Queues 20 ms of user audio without ever waiting: a full queue drops the chunk.
    pub fn send_audio(&self, pcm: Vec<i16>) -> Result<(), AudioRefused> {
        self.commands
            .try_send(AgentCommand::UserAudio(pcm))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => AudioRefused::Full,
                mpsc::error::TrySendError::Closed(_) => AudioRefused::Closed,
            })
    }
}

/// Something that can hold a voice conversation.
#[async_trait]
pub trait VoiceAgent: Send + Sync {
    /// Opens a new conversation. Network failures arrive later as [`AgentEvent::Ended`].
    async fn start(&self, ctx: ConversationContext) -> Result<AgentConnection, AgentError>;
    /// Short name for logs and metrics (`echo`, `elevenlabs`).
    fn name(&self) -> &'static str;
}
