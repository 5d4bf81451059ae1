//! The project's own webrtc-rs clients of the server, used by the integration tests, load
//! tests and the benchmarks: [`signal`] joins a room over `/rtc` and negotiates like a
//! browser does; [`voice`] is a caller of an AI voice session built on it (an Opus
//! microphone and an ear that decodes the agent). Nothing in the server uses them.

pub mod signal;
pub mod voice;
