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

pub mod bridge;
pub mod events;
pub mod gate;
pub mod media;
pub mod pacer;
