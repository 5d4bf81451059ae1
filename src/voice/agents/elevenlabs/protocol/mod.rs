//! The ElevenLabs Conversational AI WebSocket messages, both directions, as plain values.
//!
//! Pure: text in, values out (and back), no sockets. Parsing is tolerant the way the official
//! SDKs are: an unknown `type` is [`ServerMessage::Unknown`], optional fields may be missing,
//! `ping_ms` may be null, ids may be numbers or numeric strings. Only a message whose known
//! shape is broken (an `audio` without audio) is an error, and callers log and skip it.
//! The user's audio chunk is the one message without a `type` field. Both the client and the
//! project's test double use these types, so they cannot drift apart.

mod client_msg;
mod server_msg;

pub use client_msg::{ClientFrame, ClientMessage, InitiationData, audio_chunk_json, parse_client};
pub use server_msg::{AudioEvent, Metadata, ServerMessage, ToolCall};

use super::ulaw;
use crate::voice::core::events::{AudioCodec, AudioFormat};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A message that does not fit its declared shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed {kind} message: {detail}")]
pub struct Malformed {
    pub kind: String,
    pub detail: String,
}

pub(crate) fn malformed(kind: &str, detail: impl ToString) -> Malformed {
    Malformed {
        kind: kind.into(),
        detail: detail.to_string(),
    }
}

/// Accepts `17`, `"17"` and `17.0` as an id.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| serde::de::Error::custom("negative id")),
        Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!("not an id: {other}"))),
    }
}

pub(crate) fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
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
mod tests;
