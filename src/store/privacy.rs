//! GDPR export (every personal datum about a user) and erasure.

use super::{Store, StoreResult, secs};
use crate::ids::UserId;
use crate::model::account::{ApiKeyInfo, User};
use crate::model::booking::{Booking, Coach, Commitment};
use crate::model::voice::{TranscriptLine, VoiceSession};
use crate::store::AuditEntry;
use crate::store::bookings::{BookingFilter, BookingScope};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// Everything stored about one user, as the store knows it.
pub struct PersonalData {
    pub user: User,
    pub login_sessions: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    pub api_keys: Vec<ApiKeyInfo>,
    pub bookings: Vec<Booking>,
    pub commitments: Vec<Commitment>,
    pub coach_profile: Option<Coach>,
    pub audit: Vec<AuditEntry>,
    /// Voice sessions with their transcripts.
    pub voice: Vec<(VoiceSession, Vec<TranscriptLine>)>,
}

impl Store {
    /// Collects every row that holds data about `id`.
    pub async fn personal_data(
        &self,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<PersonalData> {
        let user = self.user(id).await?;
        let sessions = sqlx::query(
            "SELECT created_at, expires_at FROM login_sessions WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((super::instant(r.try_get(0)?)?, super::instant(r.try_get(1)?)?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let coach_profile = match self.coach_by_user(id).await {
            Ok(c) => Some(c),
            Err(super::StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let mut bookings = Vec::new();
        let mut filters = vec![BookingFilter::Client(id.clone())];
        if let Some(c) = &coach_profile {
            filters.push(BookingFilter::Coach(c.id.clone()));
        }
        for f in &filters {
            bookings.extend(self.bookings(f, BookingScope::All, now, i64::MAX).await?);
        }
        let audit = self.audit_entries_about(id).await?;
        let mut voice = Vec::new();
        for v in self.voice_sessions(id, i64::MAX).await? {
            let lines = self.voice_transcript(&v.id).await?;
            voice.push((v, lines));
        }
        Ok(PersonalData {
            voice,
            login_sessions: sessions,
            api_keys: self.api_keys(id).await?,
            bookings,
            commitments: self.commitments(id).await?,
            coach_profile,
            audit,
            user,
        })
    }

    /// Erases `id`: blanks personal columns, cancels their future sessions, strips personal
    /// text from their bookings, deletes commitments, sessions, keys and idempotency records.
    /// Opaque ids stay so that other people's history (a coach's past sessions) stays whole.
    /// `notices` (the other parties' cancellation messages) and `events` (webhooks) about the
    /// cancelled sessions are written in the same transaction.
    pub async fn erase_user(
        &self,
        id: &UserId,
        now: DateTime<Utc>,
        notices: &[super::outbox::NewOutbox],
        events: &[super::webhooks::Event],
        give_up: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let uid = id.as_str();
        let t = secs(now);
        let erased_email = format!("erased+{uid}@invalid");
        let statements: [(&'static str, bool); 16] = [
            (
                "DELETE FROM voice_turns WHERE session_id IN \
                 (SELECT id FROM voice_sessions WHERE user_id = $1)",
                false,
            ),
            ("DELETE FROM voice_sessions WHERE user_id = $1", false),
            ("DELETE FROM login_sessions WHERE user_id = $1", false),
            ("DELETE FROM api_keys WHERE user_id = $1", false),
            ("DELETE FROM commitments WHERE user_id = $1", false),
            ("DELETE FROM idempotency_keys WHERE user_id = $1", false),
            ("DELETE FROM password_resets WHERE user_id = $1", false),
            ("DELETE FROM email_verifications WHERE user_id = $1", false),
            ("DELETE FROM push_subscriptions WHERE user_id = $1", false),
            // Their messages, sent or not (the attempts go with them).
            (
                "DELETE FROM outbox_attempts WHERE outbox_id IN \
                 (SELECT id FROM outbox WHERE user_id = $1)",
                false,
            ),
            ("DELETE FROM outbox WHERE user_id = $1", false),
            (
                "UPDATE bookings SET status = 'cancelled', cancelled_at = $2, \
                 sequence = sequence + 1, updated_at = $2 \
                 WHERE status = 'scheduled' AND starts_at > $2 AND (client_id = $1 \
                 OR coach_id IN (SELECT id FROM coaches WHERE user_id = $1))",
                true,
            ),
            (
                "UPDATE bookings SET focus_area = NULL, rating_comment = NULL, coach_notes = NULL, \
                 cancel_reason = CASE WHEN cancel_reason IS NULL THEN NULL ELSE 'erased' END, \
                 updated_at = $2 WHERE client_id = $1",
                true,
            ),
            (
                "UPDATE bookings SET cancel_reason = 'account erased' \
                 WHERE status = 'cancelled' AND cancelled_at = $2 \
                 AND coach_id IN (SELECT id FROM coaches WHERE user_id = $1)",
                true,
            ),
            (
                "UPDATE coaches SET name = 'Erased coach', title = '', bio = '', \
                 specialties = '[]', photo_url = NULL, phone = NULL, active = 0, updated_at = $2 \
                 WHERE user_id = $1",
                true,
            ),
            (
                "UPDATE users SET name = 'Erased user', password_hash = NULL, phone = NULL, sms_reminders = 0, \
                 feed_token_hash = NULL, time_zone = 'UTC', erased_at = $2 WHERE id = $1",
                true,
            ),
        ];
        for (sql, with_time) in statements {
            let q = sqlx::query(sql).bind(uid);
            let q = if with_time { q.bind(t) } else { q };
            q.execute(&mut *tx.tx).await?;
        }
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(uid)
            .bind(&erased_email)
            .execute(&mut *tx.tx)
            .await?;
        tx.enqueue(notices, now).await?;
        for e in events {
            tx.enqueue_event(e, now, give_up).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
