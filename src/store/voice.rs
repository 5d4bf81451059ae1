//! Voice sessions and transcripts.

use super::{Store, StoreError, StoreResult, instant, secs};
use crate::ids::{UserId, VoiceSessionId};
use crate::model::voice::{Speaker, TranscriptLine, VoiceSession};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! columns {
    () => {
        "id, user_id, agent, room, conversation_id, started_at, ended_at, end_reason"
    };
}

fn session_from_row(row: &AnyRow) -> StoreResult<VoiceSession> {
    let ended: Option<i64> = row.try_get("ended_at")?;
    Ok(VoiceSession {
        id: VoiceSessionId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        agent: row.try_get("agent")?,
        room: row.try_get("room")?,
        conversation_id: row.try_get("conversation_id")?,
        started_at: instant(row.try_get("started_at")?)?,
        ended_at: ended.map(instant).transpose()?,
        end_reason: row.try_get("end_reason")?,
    })
}

impl Store {
    /// Records a new voice session of `user` in `room`.
    pub async fn insert_voice_session(
        &self,
        user: &UserId,
        agent: &str,
        room: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<VoiceSession> {
        let id = VoiceSessionId::generate();
        sqlx::query(
            "INSERT INTO voice_sessions (id, user_id, agent, room, started_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(agent)
        .bind(room)
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        self.voice_session(user, &id).await
    }

    /// The user of the voice session held in `room`, and whether it has ended.
    pub async fn voice_room(&self, room: &str) -> StoreResult<Option<(UserId, bool)>> {
        let row = sqlx::query("SELECT user_id, ended_at FROM voice_sessions WHERE room = $1")
            .bind(room)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            let ended: Option<i64> = r.try_get("ended_at")?;
            Ok((UserId(r.try_get("user_id")?), ended.is_some()))
        })
        .transpose()
    }

    /// A voice session of `user` (`NotFound` for anyone else's).
    pub async fn voice_session(
        &self,
        user: &UserId,
        id: &VoiceSessionId,
    ) -> StoreResult<VoiceSession> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM voice_sessions WHERE id = $1 AND user_id = $2"
        ))
        .bind(id.as_str())
        .bind(user.as_str())
        .fetch_one(self.pool())
        .await?;
        session_from_row(&row)
    }

    /// The voice sessions of `user`, newest first.
    pub async fn voice_sessions(
        &self,
        user: &UserId,
        limit: i64,
    ) -> StoreResult<Vec<VoiceSession>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM voice_sessions WHERE user_id = $1 ORDER BY started_at DESC, id LIMIT $2"
        ))
        .bind(user.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Notes the agent's conversation id.
    pub async fn set_voice_conversation(
        &self,
        id: &VoiceSessionId,
        conversation_id: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE voice_sessions SET conversation_id = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(conversation_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends a session (once: a second call changes nothing), with the webhook event that says
    /// so: `event` makes it from the session's user and start.
    pub async fn end_voice_session(
        &self,
        id: &VoiceSessionId,
        reason: &str,
        now: DateTime<Utc>,
        event: impl FnOnce(&str, DateTime<Utc>) -> super::webhooks::Event,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query(
            "UPDATE voice_sessions SET ended_at = $2, end_reason = $3 \
             WHERE id = $1 AND ended_at IS NULL RETURNING user_id, started_at",
        )
        .bind(id.as_str())
        .bind(secs(now))
        .bind(reason)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if let Some(row) = ended {
            let user: String = row.try_get("user_id")?;
            let started = instant(row.try_get("started_at")?)?;
            tx.enqueue_event(&event(&user, started), now, give_up_at)
                .await?;
        }
        tx.commit().await
    }

    /// Appends a transcript line, or replaces the agent line with the same event id (a
    /// correction). Returns the line's sequence number.
    pub async fn upsert_voice_line(
        &self,
        id: &VoiceSessionId,
        speaker: Speaker,
        text: &str,
        at_ms: i64,
        event_id: Option<i64>,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        if let Some(ev) = event_id {
            let existing = sqlx::query(
                "SELECT seq FROM voice_turns WHERE session_id = $1 AND role = $2 AND event_id = $3",
            )
            .bind(id.as_str())
            .bind(speaker.as_str())
            .bind(ev)
            .fetch_optional(&mut *tx.tx)
            .await?;
            if let Some(row) = existing {
                let seq: i64 = row.try_get("seq")?;
                sqlx::query("UPDATE voice_turns SET text = $3 WHERE session_id = $1 AND seq = $2")
                    .bind(id.as_str())
                    .bind(seq)
                    .bind(text)
                    .execute(&mut *tx.tx)
                    .await?;
                tx.commit().await?;
                return Ok(seq);
            }
        }
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM voice_turns WHERE session_id = $1",
        )
        .bind(id.as_str())
        .fetch_one(&mut *tx.tx)
        .await?
        .try_get("next")?;
        sqlx::query(
            "INSERT INTO voice_turns (session_id, seq, role, text, at_ms, event_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(next)
        .bind(speaker.as_str())
        .bind(text)
        .bind(at_ms)
        .bind(event_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// The transcript of a session, in order.
    pub async fn voice_transcript(&self, id: &VoiceSessionId) -> StoreResult<Vec<TranscriptLine>> {
        let rows = sqlx::query(
            "SELECT seq, role, text, at_ms, event_id FROM voice_turns WHERE session_id = $1 \
             ORDER BY seq",
        )
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(TranscriptLine {
                    seq: r.try_get("seq")?,
                    speaker: match role.as_str() {
                        "user" => Speaker::User,
                        "agent" => Speaker::Agent,
                        other => return Err(StoreError::Corrupt(format!("role {other}"))),
                    },
                    text: r.try_get("text")?,
                    at_ms: r.try_get("at_ms")?,
                    event_id: r.try_get("event_id")?,
                })
            })
            .collect()
    }

    /// Deletes the transcripts of sessions that started before `cutoff` (the sessions stay,
    /// without their words). Returns how many lines were removed.
    pub async fn purge_voice_transcripts(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM voice_turns WHERE session_id IN \
             (SELECT id FROM voice_sessions WHERE started_at < $1)",
        )
        .bind(secs(cutoff))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
