//! AI voice sessions: the server-side agent participant of a voice room.
//!
//! The browser's Opus track is decoded, resampled to the agent's input rate and streamed to a
//! voice agent (ElevenLabs Conversational AI, or the built-in echo agent); the agent's PCM is
//! resampled to 48 kHz, cut into 20 ms frames, Opus-encoded and paced back out on a 20 ms clock.
//! [`events`] is the vocabulary between an agent connection and the bridge, so that the bridge
//! never sees the wire protocol of any particular agent.
//!
//! The media core is sans-IO (time is a parameter, no tokio, no sockets):
//! - [`media`]: Opus codec, one streaming resampler per direction, the browser → agent chain
//!   (reordering, concealment, 20 ms chunks) and the agent → browser chain (20 ms Opus frames).
//! - [`pacer`]: the absolute-deadline 20 ms playout clock with RTP timestamps and marker bits.
//! - [`gate`]: the barge-in event-id rule.
//! - [`bridge`]: [`bridge::VoiceBridge`], the state machine tying them together; its module docs
//!   say how a task drives it.
//!
//! Agents: [`agent`] is the [`VoiceAgent`] seam the session layer starts conversations through;
//! [`elevenlabs`] and [`echo`] implement it; [`fake_elevenlabs`] is a faithful test double of
//! the ElevenLabs service; [`vad`] is the energy turn detector the echo agent and the double
//! share.
//!
//! Sessions: [`service`] starts and ends them and records transcripts; [`room_agent`] is the
//! thin tokio shell that runs the bridge as a participant of the session's room; [`caller`] is
//! a webrtc-rs caller for tests and the `voice_rtt` benchmark; [`model`] is what is stored.

pub mod agent;
pub mod bridge;
pub mod caller;
pub mod echo;
pub mod elevenlabs;
pub mod events;
pub mod fake_elevenlabs;
pub mod gate;
pub mod media;
pub mod model;
pub mod pacer;
pub mod room_agent;
pub mod service;
pub mod vad;

pub use agent::{AgentConnection, AgentError, ConversationContext, VoiceAgent};
