//! Webhook endpoints, and the outbox rows of an event: one row per active endpoint that
//! takes the event's type, written inside the transaction of the change.

use super::outbox::NewOutbox;
use super::{Store, StoreError, StoreResult, WriteTx, instant, secs};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A configured endpoint (its secret is not part of this view).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// The event types it receives; `["*"]` for all.
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    /// Why the server turned it off (it kept answering 410 Gone), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An event to deliver to the endpoints that take it.
#[derive(Debug, Clone)]
pub struct Event {
    /// e.g. `booking.created`.
    pub kind: &'static str,
    /// The request body: `{"type", "timestamp", "data"}`.
    pub body: String,
    pub booking_id: Option<String>,
}

const COLS: &str = "id, url, events, description, active, disabled_reason, created_at, updated_at";

/// `,a,b,` ↔ `["a", "b"]`; `*` ↔ `["*"]`.
pub fn events_column(events: &[String]) -> String {
    if events.iter().any(|e| e == "*") {
        "*".into()
    } else {
        format!(",{},", events.join(","))
    }
}

fn events_list(col: &str) -> Vec<String> {
    if col == "*" {
        return vec!["*".into()];
    }
    col.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn endpoint_from_row(r: &AnyRow) -> StoreResult<Endpoint> {
    Ok(Endpoint {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        events: events_list(&r.try_get::<String, _>("events")?),
        description: r.try_get("description")?,
        active: r.try_get::<i64, _>("active")? != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: instant(r.try_get("created_at")?)?,
        updated_at: instant(r.try_get("updated_at")?)?,
    })
}

impl WriteTx {
    /// Queues `event` for every active endpoint that takes its type.
    pub(crate) async fn enqueue_event(
        &mut self,
        event: &Event,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let pattern = format!("%,{},%", event.kind);
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints WHERE active = 1 AND (events = '*' OR events LIKE $1) \
             ORDER BY id",
        )
        .bind(&pattern)
        .fetch_all(&mut *self.tx)
        .await?;
        let rows: Vec<NewOutbox> = ids
            .into_iter()
            .map(|endpoint| NewOutbox {
                id: format!("msg_{}", crate::ids::random_base32::<16>()),
                channel: "webhook",
                kind: event.kind,
                recipient: endpoint,
                user_id: None,
                booking_id: event.booking_id.clone(),
                payload: event.body.clone(),
                not_before: now,
                give_up_at,
            })
            .collect();
        self.enqueue(&rows, now).await?;
        Ok(rows.len())
    }
}

impl Store {
    /// Queues `event` in a transaction of its own (when nothing else changes with it).
    pub async fn enqueue_event(
        &self,
        event: &Event,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let mut tx = self.begin_write().await?;
        let n = tx.enqueue_event(event, now, give_up_at).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Whether an active endpoint takes events of `kind` (a read, before writing anything).
    pub async fn has_endpoint_for(&self, kind: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE active = 1 \
             AND (events = '*' OR events LIKE $1)",
        )
        .bind(format!("%,{kind},%"))
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Adds an endpoint.
    pub async fn insert_endpoint(&self, e: &Endpoint, secret: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, secret, events, description, active, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(secret)
        .bind(events_column(&e.events))
        .bind(&e.description)
        .bind(i64::from(e.active))
        .bind(secs(e.created_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every endpoint, oldest first.
    pub async fn endpoints(&self) -> StoreResult<Vec<Endpoint>> {
        let sql = format!("SELECT {COLS} FROM webhook_endpoints ORDER BY created_at, id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(endpoint_from_row)
            .collect()
    }

    /// One endpoint.
    pub async fn endpoint(&self, id: &str) -> StoreResult<Endpoint> {
        let sql = format!("SELECT {COLS} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        endpoint_from_row(&row)
    }

    /// An endpoint with its signing secret (for delivery).
    pub async fn endpoint_with_secret(&self, id: &str) -> StoreResult<(Endpoint, String)> {
        let sql = format!("SELECT {COLS}, secret FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        Ok((endpoint_from_row(&row)?, row.try_get("secret")?))
    }

    /// Stores an endpoint's new URL, events, description and state.
    pub async fn update_endpoint(&self, e: &Endpoint, now: DateTime<Utc>) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, active = $5, \
             updated_at = $6, gone_count = CASE WHEN $5 = 1 THEN 0 ELSE gone_count END, \
             disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END WHERE id = $1",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(events_column(&e.events))
        .bind(&e.description)
        .bind(i64::from(e.active))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Counts a 410 Gone from endpoint `id`; at `limit` in a row the endpoint is turned off
    /// and its queued deliveries dropped. Whether this answer turned it off.
    pub async fn webhook_gone(
        &self,
        id: &str,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE webhook_endpoints SET gone_count = gone_count + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        let off = sqlx::query(
            "UPDATE webhook_endpoints SET active = 0, updated_at = $3, disabled_reason = $4 \
             WHERE id = $1 AND active = 1 AND gone_count >= $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .bind(secs(now))
        .bind(format!("answered 410 Gone {limit} times in a row"))
        .execute(&mut *tx.tx)
        .await?
        .rows_affected()
            > 0;
        if off {
            sqlx::query(
                "UPDATE outbox SET status = 'dropped', last_error = 'the endpoint was turned off', \
                 updated_at = $2 WHERE channel = 'webhook' AND recipient = $1 AND status = 'queued'",
            )
            .bind(id)
            .bind(secs(now))
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await?;
        Ok(off)
    }

    /// A delivery to `id` was accepted: its run of 410 answers, if any, ends.
    pub async fn webhook_ok(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_endpoints SET gone_count = 0 WHERE id = $1 AND gone_count > 0")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes an endpoint; its queued deliveries are dropped.
    pub async fn delete_endpoint(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE outbox SET status = 'dropped', last_error = 'the endpoint was deleted', \
             updated_at = $2 WHERE channel = 'webhook' AND recipient = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }
}
