//! Real-time tier: webrtc-rs peers, the SFU over `/rtc`, coturn relays, voice sessions and the
//! ElevenLabs test double. UDP ports come from [`common::udp_ports`], never hand-picked.
//!
//! One binary per tier: each integration-test binary links the whole dependency tree, so
//! gathering the files here builds and links it once instead of once per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod elevenlabs_double;
mod push_coach_joined;
mod rtc_peers;
mod server_restart;
mod sfu_chat_clock;
mod sfu_edges;
mod sfu_guest_name;
mod sfu_multiparty;
mod sfu_quality;
mod sfu_recovery;
mod sfu_relay;
mod sfu_rooms;
mod sfu_wire;
mod voice_barge_in;
mod voice_lifecycle;
mod voice_sessions;
