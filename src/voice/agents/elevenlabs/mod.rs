//! The ElevenLabs Conversational AI (Agents) client: one WebSocket per conversation.
//!
//! [`protocol`] holds the wire messages (pure), [`connect`] reaches the service (signed URL
//! over HTTPS for private agents, then the WebSocket, TLS with rustls/ring and the webpki
//! roots), [`client`] runs the conversation task that translates the wire protocol into
//! [`AgentEvent`](crate::voice::core::events::AgentEvent)s. Keep-alives and tool calls are answered
//! here and never reach the bridge. The API key travels only in the `xi-api-key` header of the
//! signed-URL request: never in a URL, a log line or `Debug` output. This module does not
//! resample, pace or buffer audio for playout; that is the bridge's job.

pub mod client;
pub mod connect;
pub mod protocol;
pub mod ulaw;

pub use client::ElevenLabsAgent;

use std::time::Duration;

/// The one ElevenLabs configuration type and the URLs derived from it live in `config`.
pub use crate::config::{ElevenLabsConfig, ElevenLabsEndpoints as Endpoints};

/// Limit for reaching the service (signed URL plus WebSocket handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
