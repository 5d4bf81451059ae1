//! Client → server messages: what parlor sends, and how the test double reads it.

use super::{B64, Malformed, encode_audio, lenient_u64, malformed};
use crate::voice::core::events::AudioFormat;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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
    // Fifty of these a second per session: written straight into one string (base64 needs
    // no JSON escaping) rather than through a JSON tree.
    const HEAD: &str = "{\"user_audio_chunk\":\"";
    let bytes = encode_audio(format, pcm);
    let mut out = String::with_capacity(HEAD.len() + bytes.len().div_ceil(3) * 4 + 2);
    out.push_str(HEAD);
    B64.encode_string(&bytes, &mut out);
    out.push_str("\"}");
    out
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
