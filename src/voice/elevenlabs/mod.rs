//! The ElevenLabs Conversational AI (Agents) client: one WebSocket per conversation.
//!
//! [`protocol`] holds the wire messages (pure), [`connect`] reaches the service (signed URL
//! over HTTPS for private agents, then the WebSocket, TLS with rustls/ring and the webpki
//! roots), [`client`] runs the conversation task that translates the wire protocol into
//! [`AgentEvent`](crate::voice::events::AgentEvent)s. Keep-alives and tool calls are answered
//! here and never reach the bridge. The API key travels only in the `xi-api-key` header of the
//! signed-URL request: never in a URL, a log line or `Debug` output. This module does not
//! resample, pace or buffer audio for playout; that is the bridge's job.

pub mod client;
pub mod connect;
pub mod protocol;
pub mod ulaw;

pub use client::ElevenLabsAgent;

use super::agent::AgentError;
use crate::config::Secret;
use std::time::Duration;
use url::Url;

/// The public production endpoint.
pub const DEFAULT_BASE_URL: &str = "wss://api.elevenlabs.io";

/// How to reach one ElevenLabs agent. `Debug` redacts the API key.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// The agent's id (`agent_…`).
    pub agent_id: String,
    /// Scheme and host (optionally a path prefix): `wss://api.elevenlabs.io`, a residency host
    /// such as `wss://api.eu.residency.elevenlabs.io`, or `ws://127.0.0.1:PORT` for the test
    /// double. `https://`/`http://` are accepted and mean the same host.
    pub base_url: String,
    /// Set for a private agent: fetch a signed URL first. Empty for a public agent.
    pub api_key: Secret,
    /// Send prompt/first-message overrides from the context (the agent must allow them, or
    /// the service closes with 1008 `override_error`).
    pub allow_overrides: bool,
    /// End the conversation as [`Stalled`](crate::voice::events::EndReason::Stalled) when
    /// nothing at all arrives for this long (the service pings every few seconds).
    pub stall_timeout: Duration,
    /// Limit for reaching the service (signed URL plus WebSocket handshake).
    pub connect_timeout: Duration,
}

impl Default for ElevenLabsConfig {
    fn default() -> Self {
        Self {
            agent_id: String::new(),
            base_url: DEFAULT_BASE_URL.into(),
            api_key: Secret::default(),
            allow_overrides: false,
            stall_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The two URLs of an agent, derived from the configured base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `ws(s)://host/v1/convai/conversation?agent_id=…` (public agents).
    pub conversation: Url,
    /// `http(s)://host/v1/convai/conversation/get-signed-url?agent_id=…` (private agents).
    pub signed_url: Url,
}

impl Endpoints {
    /// Builds both URLs; the base must be ws/wss/http/https with a host and no query.
    pub fn new(base_url: &str, agent_id: &str) -> Result<Endpoints, AgentError> {
        let bad = |m: &str| AgentError::Config(format!("voice.elevenlabs.base_url: {m}"));
        if agent_id.trim().is_empty() {
            return Err(AgentError::Config(
                "voice.elevenlabs.agent_id is empty".into(),
            ));
        }
        let base = Url::parse(base_url.trim()).map_err(|e| bad(&e.to_string()))?;
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
            u.query_pairs_mut().append_pair("agent_id", agent_id);
            u
        };
        Ok(Endpoints {
            conversation: build(ws, &[]),
            signed_url: build(http, &["get-signed-url"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_for_production_residency_and_the_double() {
        let e = Endpoints::new(DEFAULT_BASE_URL, "agent_1").unwrap();
        assert_eq!(
            e.conversation.as_str(),
            "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_1"
        );
        assert_eq!(
            e.signed_url.as_str(),
            "https://api.elevenlabs.io/v1/convai/conversation/get-signed-url?agent_id=agent_1"
        );
        let eu = Endpoints::new("https://api.eu.residency.elevenlabs.io/", "a b").unwrap();
        assert_eq!(
            eu.conversation.as_str(),
            "wss://api.eu.residency.elevenlabs.io/v1/convai/conversation?agent_id=a+b"
        );
        let local = Endpoints::new("ws://127.0.0.1:4321/prefix", "x").unwrap();
        assert_eq!(
            local.signed_url.as_str(),
            "http://127.0.0.1:4321/prefix/v1/convai/conversation/get-signed-url?agent_id=x"
        );
    }

    #[test]
    fn bad_bases_and_empty_agent_ids_are_config_errors() {
        for (base, id) in [
            ("ftp://x", "a"),
            ("not a url", "a"),
            ("wss://x?y=1", "a"),
            ("wss://api.elevenlabs.io", " "),
        ] {
            assert!(
                matches!(Endpoints::new(base, id), Err(AgentError::Config(_))),
                "{base} {id}"
            );
        }
    }

    #[test]
    fn debug_of_the_config_redacts_the_api_key() {
        let c = ElevenLabsConfig {
            agent_id: "agent_1".into(),
            api_key: Secret::new("sk_live_secret"),
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("sk_live_secret"), "{d}");
        assert!(d.contains("redacted"), "{d}");
    }
}
