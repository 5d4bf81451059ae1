//! The append-only security audit log. Entries name users by opaque id only, never by
//! email, name or address, so they survive erasure without keeping personal data.

use super::{Store, StoreResult, instant, secs};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// One audit entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The acting user's id, when known.
    pub actor_id: Option<String>,
    /// e.g. `login`, `login_failed`, `booking_created`, `booking_cancelled`, `export`, `erasure`.
    pub event: String,
    /// The object acted on (a booking id, a user id).
    pub target: Option<String>,
    /// Non-personal detail, e.g. `rate_limited`.
    pub detail: Option<String>,
}

impl Store {
    /// Appends an entry.
    pub async fn audit(
        &self,
        actor: Option<&str>,
        event: &str,
        target: Option<&str>,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, event, target, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secs(now))
        .bind(actor)
        .bind(event)
        .bind(target)
        .bind(detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Entries where `user` is the actor or the target, oldest first (for data export).
    pub async fn audit_entries_about(
        &self,
        user: &crate::ids::UserId,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, event, target, detail FROM audit_log \
             WHERE actor_id = $1 OR target = $1 ORDER BY id",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The newest entries first, at most `limit`, older than `before_id` when given.
    pub async fn audit_entries(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, event, target, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: instant(r.try_get("at")?)?,
        actor_id: r.try_get("actor_id")?,
        event: r.try_get("event")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
    })
}
