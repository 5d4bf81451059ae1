//! AI voice sessions: the server-side agent participant of a voice room.
//!
//! The browser's Opus track is decoded, resampled to the agent's input rate and streamed to a
//! voice agent (ElevenLabs Conversational AI, or the built-in echo agent); the agent's PCM is
//! resampled to 48 kHz, cut into 20 ms frames, Opus-encoded and paced back out on a 20 ms clock.
//! [`events`] is the vocabulary between an agent connection and the bridge, so that the bridge
//! never sees the wire protocol of any particular agent.

pub mod bridge;
pub mod events;
pub mod gate;
pub mod media;
pub mod pacer;
