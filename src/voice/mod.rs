//! AI voice sessions: a server-side participant of a voice room that bridges the user's
//! microphone to a conversational agent and the agent's voice back.
//!
//! Three layers, with arrows one way (session → agents → core):
//! - [`core`], sans-IO (time is a parameter, no tokio, no sockets): the audio chain (Opus,
//!   resampling, 20 ms framing), the playout pacer, the barge-in gate, the energy VAD and
//!   [`core::bridge::VoiceBridge`], the state machine tying them together; [`core::events`]
//!   is the vocabulary between an agent connection and the bridge, so the bridge never sees
//!   the wire protocol of any particular agent.
//! - [`agents`]: the [`VoiceAgent`] seam and its two implementations, the ElevenLabs
//!   Conversational AI client and the built-in echo agent.
//! - this module, the session layer: [`service`] starts and ends sessions and gives the agent
//!   its context; [`room_agent`] is the thin tokio shell that joins the session's room through
//!   the [rooms layer](crate::rooms) and runs the bridge there; [`record`] writes transcripts
//!   off the media path; [`metrics`]; [`model`] is what is stored; [`caller`] is a webrtc-rs
//!   caller for tests and the `voice_rtt` benchmark; [`agent_from_config`] picks the agent.
//!
//! The ElevenLabs test double (`parlor dev fake-elevenlabs`) lives with the binary
//! (`src/dev/`), where no library code can import it.

pub mod agents;
pub mod core;
pub mod metrics;
mod record;
pub mod room_agent;
pub mod service;

pub use agents::{AgentConnection, AgentError, ConversationContext, VoiceAgent};

use crate::config::Config;
use std::sync::Arc;

/// The agent chosen by `voice.agent` (`auto` picks ElevenLabs when an agent id is set).
pub fn agent_from_config(config: &Config) -> Result<Arc<dyn VoiceAgent>, AgentError> {
    let v = &config.voice;
    if v.uses_elevenlabs() {
        Ok(Arc::new(agents::elevenlabs::ElevenLabsAgent::new(
            v.elevenlabs.clone(),
        )?))
    } else {
        Ok(Arc::new(agents::echo::EchoAgent::default()))
    }
}

/// A secret-free one-line description of the chosen agent, for the start-up log.
pub fn describe_agent(config: &Config) -> String {
    let v = &config.voice;
    if v.uses_elevenlabs() {
        let private = if v.elevenlabs.api_key.is_empty() {
            "public"
        } else {
            "private"
        };
        format!(
            "elevenlabs agent {} at {} ({private})",
            v.elevenlabs.agent_id, v.elevenlabs.base_url
        )
    } else {
        "built-in echo agent".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configured_agent_is_built_and_described_without_its_key() {
        let c = crate::config::load_from(
            None,
            vec![
                (
                    "PARLOR_VOICE__ELEVENLABS__AGENT_ID".to_string(),
                    "agent_1".to_string(),
                ),
                (
                    "PARLOR_VOICE__ELEVENLABS__API_KEY".to_string(),
                    "sk_env_secret".to_string(),
                ),
            ],
        )
        .unwrap();
        assert!(!super::describe_agent(&c).contains("sk_env_secret"));
        let agent = super::agent_from_config(&c).unwrap();
        assert_eq!(agent.name(), "elevenlabs");
    }
}
