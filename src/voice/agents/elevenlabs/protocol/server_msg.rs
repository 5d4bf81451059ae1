//! Server → client messages: what the service sends, parsed tolerantly, and how each becomes
//! an [`AgentEvent`] for the bridge.

use super::{B64, Malformed, decode_audio, lenient_opt_u64, lenient_u64, malformed};
use crate::voice::core::events::{AgentEvent, AudioFormat};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

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
/// The shape of an `audio` message, for [`ServerMessage::parse`]'s fast path (other fields
/// are ignored, as the general path ignores them).
#[derive(Deserialize)]
struct AudioWire<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    audio_event: Option<AudioEvent>,
}

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
        // Audio is nearly every message (fifty a second per session): parsed straight into
        // its type. Anything else, or audio this shape does not fit, takes the general path.
        if let Ok(AudioWire {
            kind,
            audio_event: Some(audio),
        }) = serde_json::from_str::<AudioWire>(text)
            && kind == "audio"
        {
            return Ok(Self::Audio(audio));
        }
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
