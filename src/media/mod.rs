//! The media shell: the only module that imports webrtc-rs (the `webrtc` and `rtc` crates;
//! it is called `media` so that `rtc::` inside it always names the crate).
//!
//! It builds peer connections the way the SFU needs them ([`engine`]: the
//! [`PeerFactory`](engine::PeerFactory)), turns their callbacks into channel events and
//! handles offer/answer and candidates ([`peer`]), sends and receives RTP on them
//! ([`track`]), forwards a publication to its subscribers' down tracks ([`forward`],
//! [`down_track`]), sizes the media sockets' buffers ([`sockets`]), reads their statistics
//! ([`stats`]) and rewrites session descriptions where
//! webrtc-rs 0.21 falls short ([`sdp`]: announcing a public address behind a 1:1 NAT, which
//! the library's own NAT setting ignores). Decisions about who receives what are not made
//! here: they come from the sans-IO `sfu` core.

pub mod down_track;
pub mod engine;
pub mod forward;
pub mod peer;
pub mod sdp;
pub mod sockets;
pub mod stats;
pub mod track;

/// Errors of the media shell.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    #[error("webrtc: {0}")]
    WebRtc(#[from] rtc::shared::error::Error),
    #[error("invalid session description: {0}")]
    Sdp(String),
    #[error("no free UDP port in {0}-{1}")]
    NoFreePort(u16, u16),
}
