//! What is kept of a voice session: who talked to which agent, when, how it ended, and the
//! transcript (user and agent lines with their time from the session's start).

use crate::ids::{UserId, VoiceSessionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::rooms::Speaker;

/// One voice session as listed in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VoiceSession {
    pub id: VoiceSessionId,
    #[serde(skip)]
    pub user_id: UserId,
    /// `echo` (built in) or `elevenlabs`.
    pub agent: String,
    /// The room the browser joins.
    pub room: String,
    /// The agent's conversation id, once the agent started.
    pub conversation_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended, in words (`hung up`, `agent unreachable`, …).
    pub end_reason: Option<String>,
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TranscriptLine {
    pub seq: i64,
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds since the session started.
    pub at_ms: i64,
    /// The agent's event id of the line (corrections replace the line with the same id).
    pub event_id: Option<i64>,
}
