//! The `voice` section: which agent AI voice sessions talk to, and how to reach ElevenLabs.

use super::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

/// AI voice sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// `auto` (ElevenLabs when `voice.elevenlabs.agent_id` is set, else echo), `echo` (the
    /// built-in mic check, no account) or `elevenlabs`.
    pub agent: String,
    /// The ElevenLabs Conversational AI agent.
    pub elevenlabs: ElevenLabsSection,
}

/// How to reach the ElevenLabs agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElevenLabsSection {
    /// The agent's id (`agent_…`); empty = not configured.
    pub agent_id: String,
    /// WebSocket base URL: `wss://api.elevenlabs.io`, a residency host such as
    /// `wss://api.eu.residency.elevenlabs.io`, or a test double (`ws://127.0.0.1:PORT`).
    pub base_url: String,
    /// API key of a private agent (a signed URL is fetched first). Environment only
    /// (`PARLOR_VOICE__ELEVENLABS__API_KEY`); unset for a public agent.
    pub api_key: Secret,
    /// Send per-conversation prompt/first-message overrides (enable them in the agent's
    /// security settings first, or ElevenLabs closes the conversation with 1008).
    pub allow_overrides: bool,
    /// End a conversation when nothing arrives from ElevenLabs for this many seconds.
    pub stall_secs: u32,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            agent: "auto".into(),
            elevenlabs: ElevenLabsSection::default(),
        }
    }
}

impl Default for ElevenLabsSection {
    fn default() -> Self {
        Self {
            agent_id: String::new(),
            base_url: "wss://api.elevenlabs.io".into(),
            api_key: Secret::default(),
            allow_overrides: false,
            stall_secs: 20,
        }
    }
}

impl VoiceConfig {
    /// Whether voice sessions talk to ElevenLabs (otherwise to the echo agent).
    pub fn uses_elevenlabs(&self) -> bool {
        self.agent == "elevenlabs" || (self.agent == "auto" && !self.elevenlabs.agent_id.is_empty())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        if !matches!(self.agent.as_str(), "auto" | "echo" | "elevenlabs") {
            return bad("voice.agent", "must be auto, echo or elevenlabs");
        }
        let el = &self.elevenlabs;
        if self.agent == "elevenlabs" && el.agent_id.trim().is_empty() {
            return bad(
                "voice.elevenlabs.agent_id",
                "voice.agent = elevenlabs needs an agent id",
            );
        }
        if el.stall_secs == 0 || el.stall_secs > 600 {
            return bad("voice.elevenlabs.stall_secs", "must be between 1 and 600");
        }
        if self.uses_elevenlabs()
            && let Err(e) = crate::voice::elevenlabs::Endpoints::new(&el.base_url, &el.agent_id)
        {
            return bad("voice.elevenlabs.base_url", &e.to_string());
        }
        if !self.uses_elevenlabs() && !el.base_url.is_empty() {
            let scheme_ok = ["wss://", "ws://", "https://", "http://"]
                .iter()
                .any(|s| el.base_url.starts_with(s));
            if !scheme_ok {
                return bad(
                    "voice.elevenlabs.base_url",
                    "must start with wss://, ws://, https:// or http://",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_from;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_echo_agent_is_the_default_and_an_agent_id_selects_elevenlabs() {
        let c = load_from(None, env(&[])).unwrap();
        assert!(!c.voice.uses_elevenlabs());
        assert_eq!(c.voice.elevenlabs.base_url, "wss://api.elevenlabs.io");
        let c = load_from(
            Some("[voice.elevenlabs]\nagent_id = \"agent_1\"\nbase_url = \"wss://api.eu.residency.elevenlabs.io\"\n"),
            env(&[("PARLOR_VOICE__ELEVENLABS__STALL_SECS", "30")]),
        )
        .unwrap();
        assert!(c.voice.uses_elevenlabs());
        assert_eq!(c.voice.elevenlabs.stall_secs, 30);
        let c = load_from(
            None,
            env(&[
                ("PARLOR_VOICE__AGENT", "echo"),
                ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "agent_1"),
            ]),
        )
        .unwrap();
        assert!(!c.voice.uses_elevenlabs(), "an explicit echo wins");
    }

    #[test]
    fn the_api_key_comes_only_from_the_environment_and_is_redacted() {
        let e = load_from(
            Some("[voice.elevenlabs]\napi_key = \"sk_file\"\n"),
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("PARLOR_VOICE__ELEVENLABS__API_KEY"), "{e}");
        assert!(!e.contains("sk_file"), "{e}");
        let c = load_from(
            None,
            env(&[
                ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "agent_1"),
                ("PARLOR_VOICE__ELEVENLABS__API_KEY", "sk_env_secret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.voice.elevenlabs.api_key.expose(), "sk_env_secret");
        assert!(!format!("{c:?}").contains("sk_env_secret"));
        assert!(!crate::voice::agent::describe(&c).contains("sk_env_secret"));
        let agent = crate::voice::agent::from_config(&c).unwrap();
        assert_eq!(agent.name(), "elevenlabs");
    }

    #[test]
    fn voice_nonsense_is_rejected() {
        for (k, v) in [
            ("PARLOR_VOICE__AGENT", "gpt"),
            ("PARLOR_VOICE__AGENT", "elevenlabs"),
            ("PARLOR_VOICE__ELEVENLABS__STALL_SECS", "0"),
            ("PARLOR_VOICE__ELEVENLABS__BASE_URL", "ftp://x"),
        ] {
            let pairs = [(k, v), ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "")];
            assert!(load_from(None, env(&pairs)).is_err(), "{k}={v} accepted");
        }
        let e = load_from(
            None,
            env(&[
                ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "agent_1"),
                ("PARLOR_VOICE__ELEVENLABS__BASE_URL", "wss://x?y=1"),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("voice.elevenlabs.base_url"), "{e}");
    }
}
