//! The `voice` section: which agent AI voice sessions talk to, and how to reach ElevenLabs.

use super::{ConfigError, Secret};
use serde::{Deserialize, Serialize};
use url::Url;

/// The public production endpoint of ElevenLabs.
pub const ELEVENLABS_BASE_URL: &str = "wss://api.elevenlabs.io";

/// AI voice sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// `auto` (ElevenLabs when `voice.elevenlabs.agent_id` is set, else echo), `echo` (the
    /// built-in mic check, no account) or `elevenlabs`.
    pub agent: AgentChoice,
    /// The ElevenLabs Conversational AI agent.
    pub elevenlabs: ElevenLabsConfig,
}

/// Which agent voice sessions talk to (`voice.agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentChoice {
    /// ElevenLabs when an agent id is set, else the echo agent.
    Auto,
    /// The built-in echo agent (a microphone check, no account).
    Echo,
    /// ElevenLabs Conversational AI.
    Elevenlabs,
}

/// How to reach the ElevenLabs agent: the one ElevenLabs configuration type (the agent client
/// is built from it). `Debug` redacts the API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElevenLabsConfig {
    /// The agent's id (`agent_…`); empty = not configured.
    pub agent_id: String,
    /// WebSocket base URL: `wss://api.elevenlabs.io`, a residency host such as
    /// `wss://api.eu.residency.elevenlabs.io`, or a test double (`ws://127.0.0.1:PORT`);
    /// optionally with a path prefix. `https://`/`http://` mean the same host.
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
            agent: AgentChoice::Auto,
            elevenlabs: ElevenLabsConfig::default(),
        }
    }
}

impl Default for ElevenLabsConfig {
    fn default() -> Self {
        Self {
            agent_id: String::new(),
            base_url: ELEVENLABS_BASE_URL.into(),
            api_key: Secret::default(),
            allow_overrides: false,
            stall_secs: 20,
        }
    }
}

impl VoiceConfig {
    /// Whether voice sessions talk to ElevenLabs (otherwise to the echo agent).
    pub fn uses_elevenlabs(&self) -> bool {
        match self.agent {
            AgentChoice::Elevenlabs => true,
            AgentChoice::Auto => !self.elevenlabs.agent_id.is_empty(),
            AgentChoice::Echo => false,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        let el = &self.elevenlabs;
        if self.agent == AgentChoice::Elevenlabs && el.agent_id.trim().is_empty() {
            return bad(
                "voice.elevenlabs.agent_id",
                "voice.agent = elevenlabs needs an agent id",
            );
        }
        if el.stall_secs == 0 || el.stall_secs > 600 {
            return bad("voice.elevenlabs.stall_secs", "must be between 1 and 600");
        }
        if self.uses_elevenlabs()
            && let Err(e) = el.endpoints()
        {
            return bad("voice.elevenlabs.base_url", &e);
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

/// The two URLs of an ElevenLabs agent, derived from the configured base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevenLabsEndpoints {
    /// `ws(s)://host/v1/convai/conversation?agent_id=…` (public agents).
    pub conversation: Url,
    /// `http(s)://host/v1/convai/conversation/get-signed-url?agent_id=…` (private agents).
    pub signed_url: Url,
}

impl ElevenLabsConfig {
    /// Both URLs of the agent; the base must be ws/wss/http/https with a host and no query,
    /// and the agent id must not be empty. The error names the key at fault.
    pub fn endpoints(&self) -> Result<ElevenLabsEndpoints, String> {
        let bad = |m: &str| format!("voice.elevenlabs.base_url: {m}");
        if self.agent_id.trim().is_empty() {
            return Err("voice.elevenlabs.agent_id is empty".into());
        }
        let base = Url::parse(self.base_url.trim()).map_err(|e| bad(&e.to_string()))?;
        if base.host_str().is_none() || base.query().is_some() || base.fragment().is_some() {
            return Err(bad("needs a host and no query or fragment"));
        }
        let (ws, http) = match base.scheme() {
            "wss" | "https" => ("wss", "https"),
            "ws" | "http" => ("ws", "http"),
            _ => return Err(bad("must start with wss://, ws://, https:// or http://")),
        };
        let build = |scheme: &str, tail: &[&str]| {
            let mut u = base.clone();
            u.set_scheme(scheme).expect("ws/wss/http/https swap freely");
            u.path_segments_mut()
                .expect("a URL with a host has path segments")
                .pop_if_empty()
                .extend(["v1", "convai", "conversation"])
                .extend(tail);
            u.query_pairs_mut().append_pair("agent_id", &self.agent_id);
            u
        };
        Ok(ElevenLabsEndpoints {
            conversation: build(ws, &[]),
            signed_url: build(http, &["get-signed-url"]),
        })
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
    }

    fn endpoints(base: &str, agent: &str) -> Result<super::ElevenLabsEndpoints, String> {
        super::ElevenLabsConfig {
            base_url: base.into(),
            agent_id: agent.into(),
            ..Default::default()
        }
        .endpoints()
    }

    #[test]
    fn endpoints_for_production_residency_and_the_double() {
        let e = endpoints(super::ELEVENLABS_BASE_URL, "agent_1").unwrap();
        assert_eq!(
            e.conversation.as_str(),
            "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_1"
        );
        assert_eq!(
            e.signed_url.as_str(),
            "https://api.elevenlabs.io/v1/convai/conversation/get-signed-url?agent_id=agent_1"
        );
        let eu = endpoints("https://api.eu.residency.elevenlabs.io/", "a b").unwrap();
        assert_eq!(
            eu.conversation.as_str(),
            "wss://api.eu.residency.elevenlabs.io/v1/convai/conversation?agent_id=a+b"
        );
        let local = endpoints("ws://127.0.0.1:4321/prefix", "x").unwrap();
        assert_eq!(
            local.signed_url.as_str(),
            "http://127.0.0.1:4321/prefix/v1/convai/conversation/get-signed-url?agent_id=x"
        );
    }

    #[test]
    fn bad_bases_and_empty_agent_ids_are_refused() {
        for (base, id) in [
            ("ftp://x", "a"),
            ("not a url", "a"),
            ("wss://x?y=1", "a"),
            ("wss://api.elevenlabs.io", " "),
        ] {
            assert!(endpoints(base, id).is_err(), "{base} {id}");
        }
    }

    #[test]
    fn debug_of_the_config_redacts_the_api_key() {
        let c = super::ElevenLabsConfig {
            agent_id: "agent_1".into(),
            api_key: crate::config::Secret::new("sk_live_secret"),
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("sk_live_secret"), "{d}");
        assert!(d.contains("redacted"), "{d}");
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
