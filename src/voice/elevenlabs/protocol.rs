//! The ElevenLabs Conversational AI WebSocket messages, both directions, as plain values.
//!
//! Pure: text in, values out (and back), no sockets. Parsing is tolerant the way the official
//! SDKs are: an unknown `type` is [`ServerMessage::Unknown`], optional fields may be missing,
//! `ping_ms` may be null, ids may be numbers or numeric strings. Only a message whose known
//! shape is broken (an `audio` without audio) is an error, and callers log and skip it.
//! The user's audio chunk is the one message without a `type` field. Both the client and the
//! project's test double use these types, so they cannot drift apart.

use super::ulaw;
use crate::voice::events::{AgentEvent, AudioCodec, AudioFormat};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A message that does not fit its declared shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed {kind} message: {detail}")]
pub struct Malformed {
    pub kind: String,
    pub detail: String,
}

fn malformed(kind: &str, detail: impl ToString) -> Malformed {
    Malformed {
        kind: kind.into(),
        detail: detail.to_string(),
    }
}

/// Accepts `17`, `"17"` and `17.0` as an id.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| serde::de::Error::custom("negative id")),
        Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!("not an id: {other}"))),
    }
}

fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

// ----------------------------------------------------------------------------------------------
// Client → server

/// `conversation_config_override` (every part optional; the agent must allow overrides).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<TtsOverride>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptOverride {
    #[serde(default)]
    pub prompt: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TtsOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
}

/// The first message of every conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiationData {
    /// Raw JSON so the double can tell an empty `{}` (the SDKs always send one) from overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_config_override: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_llm_extra_body: Option<Value>,
    /// Values are strings, numbers or booleans on the wire; parlor sends strings.
    #[serde(default)]
    pub dynamic_variables: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl InitiationData {
    /// Whether the message asks to override agent settings (an empty object does not).
    pub fn has_overrides(&self) -> bool {
        match &self.conversation_config_override {
            Some(Value::Object(m)) => m.values().any(|v| match v {
                Value::Object(inner) => !inner.is_empty(),
                Value::Null => false,
                _ => true,
            }),
            Some(Value::Null) | None => false,
            Some(_) => true,
        }
    }
}

/// Every typed client message (the audio chunk is [`ClientFrame::Audio`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConversationInitiationClientData(InitiationData),
    Pong {
        #[serde(deserialize_with = "lenient_u64")]
        event_id: u64,
    },
    ClientToolResult {
        tool_call_id: String,
        #[serde(default)]
        result: Value,
        #[serde(default)]
        is_error: bool,
    },
    ContextualUpdate {
        #[serde(default)]
        text: String,
    },
    UserMessage {
        #[serde(default)]
        text: String,
    },
    UserActivity,
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages serialise")
    }
}

/// `{"user_audio_chunk":"<base64>"}` — no `type` field.
pub fn audio_chunk_json(format: AudioFormat, pcm: &[i16]) -> String {
    json!({ "user_audio_chunk": B64.encode(encode_audio(format, pcm)) }).to_string()
}

/// What a client sent, as the double sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// A `user_audio_chunk`, still encoded (bytes in the input format).
    Audio(Vec<u8>),
    Message(ClientMessage),
    /// A well-formed JSON object of a type this module does not know.
    Unknown(String),
}

/// Parses one client text frame; invalid JSON or a broken known message is an error.
pub fn parse_client(text: &str) -> Result<ClientFrame, Malformed> {
    let v: Value = serde_json::from_str(text).map_err(|e| malformed("client", e))?;
    let Value::Object(obj) = &v else {
        return Err(malformed("client", "not a JSON object"));
    };
    if let Some(chunk) = obj.get("user_audio_chunk") {
        let b = chunk
            .as_str()
            .ok_or_else(|| malformed("user_audio_chunk", "not a string"))?;
        return B64
            .decode(b)
            .map(ClientFrame::Audio)
            .map_err(|e| malformed("user_audio_chunk", e));
    }
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("client", "no type"))?
        .to_string();
    match serde_json::from_value::<ClientMessage>(v) {
        Ok(m) => Ok(ClientFrame::Message(m)),
        Err(e) if e.to_string().starts_with("unknown variant") => Ok(ClientFrame::Unknown(kind)),
        Err(e) => Err(malformed(&kind, e)),
    }
}

// ----------------------------------------------------------------------------------------------
// Server → client

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub conversation_id: String,
    pub agent_output_audio_format: String,
    pub user_input_audio_format: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioEvent {
    pub audio_base_64: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub event_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub tool_name: String,
    pub tool_call_id: String,
    #[serde(default)]
    pub parameters: Value,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub event_id: Option<u64>,
}

/// Every server message parlor cares about; anything else is [`ServerMessage::Unknown`].
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    Metadata(Metadata),
    Audio(AudioEvent),
    UserTranscript {
        event_id: u64,
        text: String,
    },
    TentativeUserTranscript {
        event_id: u64,
        text: String,
    },
    AgentResponse {
        event_id: u64,
        text: String,
    },
    AgentResponseCorrection {
        event_id: u64,
        original: String,
        corrected: String,
    },
    Interruption {
        event_id: u64,
    },
    Ping {
        event_id: u64,
        ping_ms: Option<u64>,
    },
    ClientToolCall(ToolCall),
    VadScore {
        score: f64,
    },
    /// `{"type":"error", …}`: a human-readable description of the error, whatever its shape.
    Error {
        message: String,
    },
    /// A valid message of another type (`internal_tentative_agent_response`, …).
    Unknown(String),
}

/// Reads `obj[wrapper]` as `T`.
fn inner<T: for<'de> Deserialize<'de>>(
    obj: &Map<String, Value>,
    kind: &str,
    wrapper: &str,
) -> Result<T, Malformed> {
    let v = obj
        .get(wrapper)
        .cloned()
        .ok_or_else(|| malformed(kind, format!("no {wrapper}")))?;
    serde_json::from_value(v).map_err(|e| malformed(kind, e))
}

#[derive(Deserialize)]
struct Text {
    #[serde(default, deserialize_with = "lenient_u64")]
    event_id: u64,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn text_event(
    obj: &Map<String, Value>,
    kind: &str,
    wrapper: &str,
    field: &str,
) -> Result<(u64, String), Malformed> {
    let t: Text = inner(obj, kind, wrapper)?;
    let text = t
        .rest
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(kind, format!("no {field}")))?;
    Ok((t.event_id, text.to_string()))
}

fn error_text(obj: &Map<String, Value>) -> String {
    let nested = obj.values().filter_map(Value::as_object);
    for o in std::iter::once(obj).chain(nested) {
        for key in ["message", "reason", "error", "detail"] {
            if let Some(s) = o.get(key).and_then(Value::as_str) {
                return s.to_string();
            }
        }
    }
    Value::Object(obj.clone()).to_string()
}

impl ServerMessage {
    /// Parses one server text frame. Unknown types are `Ok(Unknown)`; broken known ones `Err`.
    pub fn parse(text: &str) -> Result<ServerMessage, Malformed> {
        let v: Value = serde_json::from_str(text).map_err(|e| malformed("server", e))?;
        let obj = v
            .as_object()
            .ok_or_else(|| malformed("server", "not a JSON object"))?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("server", "no type"))?;
        Ok(match kind {
            "conversation_initiation_metadata" => {
                Self::Metadata(inner(obj, kind, "conversation_initiation_metadata_event")?)
            }
            "audio" => Self::Audio(inner(obj, kind, "audio_event")?),
            "user_transcript" => {
                let (event_id, text) =
                    text_event(obj, kind, "user_transcription_event", "user_transcript")?;
                Self::UserTranscript { event_id, text }
            }
            "tentative_user_transcript" => {
                let (event_id, text) = text_event(
                    obj,
                    kind,
                    "tentative_user_transcription_event",
                    "user_transcript",
                )?;
                Self::TentativeUserTranscript { event_id, text }
            }
            "agent_response" => {
                let (event_id, text) =
                    text_event(obj, kind, "agent_response_event", "agent_response")?;
                Self::AgentResponse { event_id, text }
            }
            "agent_response_correction" => {
                let w = "agent_response_correction_event";
                let (event_id, original) = text_event(obj, kind, w, "original_agent_response")?;
                let (_, corrected) = text_event(obj, kind, w, "corrected_agent_response")?;
                Self::AgentResponseCorrection {
                    event_id,
                    original,
                    corrected,
                }
            }
            "interruption" => {
                let t: Text = inner(obj, kind, "interruption_event")?;
                Self::Interruption {
                    event_id: t.event_id,
                }
            }
            "ping" => {
                #[derive(Deserialize)]
                struct Ping {
                    #[serde(deserialize_with = "lenient_u64")]
                    event_id: u64,
                    #[serde(default, deserialize_with = "lenient_opt_u64")]
                    ping_ms: Option<u64>,
                }
                let p: Ping = inner(obj, kind, "ping_event")?;
                Self::Ping {
                    event_id: p.event_id,
                    ping_ms: p.ping_ms,
                }
            }
            "client_tool_call" => Self::ClientToolCall(inner(obj, kind, "client_tool_call")?),
            "vad_score" => {
                let score = obj
                    .get("vad_score_event")
                    .and_then(|e| e.get("vad_score"))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                Self::VadScore { score }
            }
            "error" => Self::Error {
                message: error_text(obj),
            },
            other => Self::Unknown(other.to_string()),
        })
    }

    /// The wire form (used by the test double).
    pub fn to_json(&self) -> String {
        let v = match self {
            Self::Metadata(m) => {
                json!({"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event": m})
            }
            Self::Audio(a) => json!({"type": "audio", "audio_event": a}),
            Self::UserTranscript { event_id, text } => json!({"type": "user_transcript",
                "user_transcription_event": {"user_transcript": text, "event_id": event_id}}),
            Self::TentativeUserTranscript { event_id, text } => {
                json!({"type": "tentative_user_transcript",
                "tentative_user_transcription_event": {"user_transcript": text, "event_id": event_id}})
            }
            Self::AgentResponse { event_id, text } => json!({"type": "agent_response",
                "agent_response_event": {"agent_response": text, "event_id": event_id}}),
            Self::AgentResponseCorrection {
                event_id,
                original,
                corrected,
            } => json!({"type": "agent_response_correction",
                "agent_response_correction_event": {"original_agent_response": original,
                    "corrected_agent_response": corrected, "event_id": event_id}}),
            Self::Interruption { event_id } => {
                json!({"type": "interruption", "interruption_event": {"event_id": event_id}})
            }
            Self::Ping { event_id, ping_ms } => {
                json!({"type": "ping", "ping_event": {"event_id": event_id, "ping_ms": ping_ms}})
            }
            Self::ClientToolCall(t) => json!({"type": "client_tool_call", "client_tool_call": t}),
            Self::VadScore { score } => {
                json!({"type": "vad_score", "vad_score_event": {"vad_score": score}})
            }
            Self::Error { message } => {
                json!({"type": "error", "error_event": {"message": message}})
            }
            Self::Unknown(kind) => json!({"type": kind}),
        };
        v.to_string()
    }

    /// The bridge's view of this message, if it has one. `output` is the negotiated agent
    /// output format (audio is decoded with it).
    pub fn to_agent_event(&self, output: AudioFormat) -> Option<Result<AgentEvent, Malformed>> {
        Some(Ok(match self {
            Self::Audio(a) => {
                let bytes = match B64.decode(&a.audio_base_64) {
                    Ok(b) => b,
                    Err(e) => return Some(Err(malformed("audio", e))),
                };
                AgentEvent::Audio {
                    event_id: a.event_id,
                    pcm: decode_audio(output, &bytes),
                }
            }
            Self::UserTranscript { event_id, text } => AgentEvent::UserTranscript {
                event_id: *event_id,
                text: text.trim().into(),
                tentative: false,
            },
            Self::TentativeUserTranscript { event_id, text } => AgentEvent::UserTranscript {
                event_id: *event_id,
                text: text.trim().into(),
                tentative: true,
            },
            Self::AgentResponse { event_id, text } => AgentEvent::AgentResponse {
                event_id: *event_id,
                text: text.trim().into(),
            },
            Self::AgentResponseCorrection {
                event_id,
                original,
                corrected,
            } => AgentEvent::AgentResponseCorrection {
                event_id: *event_id,
                original: original.trim().into(),
                corrected: corrected.trim().into(),
            },
            Self::Interruption { event_id } => AgentEvent::Interruption {
                event_id: *event_id,
            },
            _ => return None,
        }))
    }
}

/// Bytes of one audio payload → samples (PCM16LE; a stray odd byte is dropped).
pub fn decode_audio(format: AudioFormat, bytes: &[u8]) -> Vec<i16> {
    match format.codec {
        AudioCodec::Pcm16 => bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
        AudioCodec::Ulaw => ulaw::decode(bytes),
    }
}

/// Samples → bytes of one audio payload.
pub fn encode_audio(format: AudioFormat, pcm: &[i16]) -> Vec<u8> {
    match format.codec {
        AudioCodec::Pcm16 => pcm.iter().flat_map(|s| s.to_le_bytes()).collect(),
        AudioCodec::Ulaw => ulaw::encode(pcm),
    }
}

/// Base64 of samples in `format` (the double's `audio_base_64`).
pub fn encode_audio_b64(format: AudioFormat, pcm: &[i16]) -> String {
    B64.encode(encode_audio(format, pcm))
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
