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

    /// The newest entries first, at most `limit`, older than `before_id` when given, and only
    /// those `filter` lets through.
    pub async fn audit_entries(
        &self,
        limit: i64,
        before_id: Option<i64>,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditEntry>> {
        // Only the conditions asked for are in the text: an always-true `$n IS NULL OR …`
        // leaves PostgreSQL unable to type an unbound parameter.
        let mut sql = String::from(
            "SELECT id, at, actor_id, event, target, detail FROM audit_log WHERE id < $1",
        );
        let mut n = 1;
        let mut cond = |column: &str, op: &str| {
            n += 1;
            sql.push_str(&format!(" AND {column} {op} ${n}"));
        };
        if filter.actor.is_some() {
            cond("actor_id", "=");
        }
        if filter.event.is_some() {
            cond("event", "=");
        }
        if filter.since.is_some() {
            cond("at", ">=");
        }
        if filter.until.is_some() {
            cond("at", "<");
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        // Audited: `sql` is made of the fixed fragments above only; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before_id.unwrap_or(i64::MAX));
        if let Some(a) = &filter.actor {
            q = q.bind(a.as_str());
        }
        if let Some(e) = &filter.event {
            q = q.bind(e.as_str());
        }
        if let Some(t) = filter.since {
            q = q.bind(secs(t));
        }
        if let Some(t) = filter.until {
            q = q.bind(secs(t));
        }
        let rows = q.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor's (a user id).
    pub actor: Option<String>,
    /// Only this event (`login_failed`, `booking_cancelled`, …).
    pub event: Option<String>,
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub until: Option<DateTime<Utc>>,
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
