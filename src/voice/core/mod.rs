//! The sans-IO core of a voice session: everything between the user's Opus packets and the
//! agent's PCM that can be tested without a network or a real clock.
//!
//! - [`audio`]: Opus codec (at the agent's rate), a streaming resampler per direction for rates
//!   libopus cannot take, the browser → agent chain
//!   (reordering, concealment, 20 ms chunks) and the agent → browser chain (20 ms Opus
//!   frames).
//! - [`pacer`]: the absolute-deadline 20 ms playout clock with RTP timestamps and marker bits.
//! - [`gate`]: the barge-in event-id rule.
//! - [`vad`]: the energy turn detector the echo agent and the test double share.
//! - [`events`]: what an agent connection and the bridge tell each other.
//! - [`bridge`]: [`bridge::VoiceBridge`], the state machine tying them together; its module
//!   docs say how a task drives it.

pub mod audio;
pub mod bridge;
pub mod events;
pub mod gate;
pub mod pacer;
pub mod vad;
