//! The durable outbox: rows written inside the transaction of the change that causes them,
//! claimed by delivery workers with a lease, and the record of every delivery attempt.
//!
//! Claiming is one statement. On PostgreSQL the due rows are picked with
//! `FOR UPDATE SKIP LOCKED`, so several server processes on one database never claim the same
//! row; the lease (`lease_owner`, `lease_until`) then keeps it theirs while they deliver, and a
//! row whose worker died is claimed again once its lease has run out. On SQLite the statement
//! runs in a write transaction, which already excludes every other writer.

use super::{Backend, Store, StoreError, StoreResult, WriteTx, instant, secs};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A row to add to the outbox.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub id: String,
    /// `email`, `sms`, `push` or `webhook`.
    pub channel: &'static str,
    /// What the message is, e.g. `booking_confirmation`, `reminder`, `password_reset`.
    pub kind: &'static str,
    /// The address, number, subscription or endpoint it goes to.
    pub recipient: String,
    /// Whose message it is (erasure and reminder preferences); none for webhooks.
    pub user_id: Option<String>,
    /// The booking it is about (its reminders are dropped with it).
    pub booking_id: Option<String>,
    /// The message, rendered (JSON).
    pub payload: String,
    /// Not delivered before this instant (reminders).
    pub not_before: DateTime<Utc>,
    /// After this instant a failing row is given up.
    pub give_up_at: DateTime<Utc>,
}

/// A row a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub user_id: Option<String>,
    pub booking_id: Option<String>,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub give_up_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed for now; try again at the instant.
    Retry(DateTime<Utc>, String),
    /// Failed for good (refused, or out of time).
    Failed(String),
    /// Not wanted any more; the reason.
    Dropped(String),
}

impl Outcome {
    fn status(&self) -> (&'static str, &'static str) {
        match self {
            Outcome::Delivered => ("delivered", "delivered"),
            Outcome::Retry(..) => ("queued", "retry"),
            Outcome::Failed(_) => ("failed", "failed"),
            Outcome::Dropped(_) => ("dropped", "dropped"),
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Retry(_, e) | Outcome::Failed(e) | Outcome::Dropped(e) => Some(e),
        }
    }
}

/// An outbox row as admins see it (no message body: it holds personal data).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: String,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub booking_id: Option<String>,
    /// `queued`, `delivered`, `failed` or `dropped`.
    pub status: String,
    pub attempts: u32,
    /// The next try of a queued row.
    pub not_before: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// `delivered`, `retry`, `failed` or `dropped`.
    pub outcome: String,
    pub error: Option<String>,
}

/// Rows of one channel and status (for `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCount {
    pub channel: String,
    pub count: u64,
}

const DELIVERY_COLS: &str = "id, channel, kind, recipient, booking_id, status, attempts, \
    not_before, last_error, created_at, updated_at";

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn delivery_from_row(r: &AnyRow) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        booking_id: r.try_get("booking_id")?,
        status: r.try_get("status")?,
        attempts: count(r.try_get("attempts")?),
        not_before: instant(r.try_get("not_before")?)?,
        last_error: r.try_get("last_error")?,
        created_at: instant(r.try_get("created_at")?)?,
        updated_at: instant(r.try_get("updated_at")?)?,
    })
}

fn claimed_from_row(r: &AnyRow) -> StoreResult<Claimed> {
    Ok(Claimed {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        user_id: r.try_get("user_id")?,
        booking_id: r.try_get("booking_id")?,
        payload: r.try_get("payload")?,
        attempts: count(r.try_get("attempts")?),
        give_up_at: instant(r.try_get("give_up_at")?)?,
        created_at: instant(r.try_get("created_at")?)?,
    })
}

impl WriteTx {
    /// Adds rows to the outbox inside this transaction.
    pub(crate) async fn enqueue(
        &mut self,
        rows: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for row in rows {
            sqlx::query(
                "INSERT INTO outbox (id, channel, kind, recipient, user_id, booking_id, payload, \
                 status, attempts, not_before, give_up_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $10, $10)",
            )
            .bind(&row.id)
            .bind(row.channel)
            .bind(row.kind)
            .bind(&row.recipient)
            .bind(row.user_id.as_deref())
            .bind(row.booking_id.as_deref())
            .bind(&row.payload)
            .bind(secs(row.not_before))
            .bind(secs(row.give_up_at))
            .bind(secs(now))
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Drops the queued reminders of a booking (it was moved or cancelled).
    pub(crate) async fn drop_reminders(
        &mut self,
        booking: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'dropped', last_error = $2, updated_at = $3 \
             WHERE booking_id = $1 AND kind = 'reminder' AND status = 'queued'",
        )
        .bind(booking)
        .bind(reason)
        .bind(secs(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected())
    }
}

impl Store {
    /// Sets `user`'s mobile number and SMS opt-in, and replaces their queued SMS reminders
    /// with `rows` (built for the new number), in one transaction.
    pub async fn set_sms(
        &self,
        user: &str,
        phone: Option<&str>,
        on: bool,
        rows: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE users SET phone = $2, sms_reminders = $3 WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(user)
        .bind(phone)
        .bind(i64::from(on))
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE outbox SET status = 'dropped', last_error = $2, updated_at = $3 \
             WHERE user_id = $1 AND channel = 'sms' AND kind = 'reminder' AND status = 'queued'",
        )
        .bind(user)
        .bind("the recipient changed their SMS settings")
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.enqueue(rows, now).await?;
        tx.commit().await
    }

    /// The number `user` wants SMS reminders at, if they still do (an active account that
    /// opted in).
    pub async fn sms_number(&self, user: &str) -> StoreResult<Option<String>> {
        let v: Option<Option<String>> = sqlx::query_scalar(
            "SELECT phone FROM users WHERE id = $1 AND sms_reminders = 1 \
             AND erased_at IS NULL AND disabled_at IS NULL",
        )
        .bind(user)
        .fetch_optional(self.pool())
        .await?;
        Ok(v.flatten())
    }

    /// Turns `user`'s SMS reminders off (they told the provider STOP).
    pub async fn stop_sms(&self, user: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET sms_reminders = 0 WHERE id = $1")
            .bind(user)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes finished messages (delivered, failed, dropped) last changed before `cutoff`,
    /// with their attempts, and password reset and confirmation links that expired before
    /// `links_cutoff`. How many messages went.
    pub async fn purge_outbox(
        &self,
        cutoff: DateTime<Utc>,
        links_cutoff: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox \
             WHERE status <> 'queued' AND updated_at < $1)",
        )
        .bind(secs(cutoff))
        .execute(&mut *tx.tx)
        .await?;
        let gone = sqlx::query("DELETE FROM outbox WHERE status <> 'queued' AND updated_at < $1")
            .bind(secs(cutoff))
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM password_resets WHERE expires_at < $1",
            "DELETE FROM email_verifications WHERE expires_at < $1",
        ] {
            sqlx::query(sql)
                .bind(secs(links_cutoff))
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Adds rows to the outbox in a transaction of their own (when they are the only change).
    pub async fn enqueue(&self, rows: &[NewOutbox], now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        tx.enqueue(rows, now).await?;
        tx.commit().await
    }

    /// Claims up to `limit` due rows for `owner` until `lease_until`: queued rows whose time has
    /// come and that nobody holds (or whose holder's lease ran out). Oldest due first.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET lease_owner = $1, lease_until = $3 WHERE id IN (\
             SELECT id FROM outbox WHERE status = 'queued' AND not_before <= $2 \
             AND (lease_until IS NULL OR lease_until <= $2) ORDER BY not_before, id LIMIT $4 {lock}) \
             RETURNING id, channel, kind, recipient, user_id, booking_id, payload, attempts, \
             give_up_at, created_at"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(secs(now))
            .bind(secs(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(claimed_from_row).collect()
    }

    /// Records an attempt at a row `owner` holds and sets the row's state from it (also when
    /// the row was dropped while it was being sent: what happened is recorded). A row whose
    /// lease passed to another worker is left alone (`false`). A password reset's rendered
    /// email (it holds the link) is blanked once it is no longer to be sent.
    pub async fn finish_attempt(
        &self,
        row: &Claimed,
        owner: &str,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (status, label) = outcome.status();
        let not_before = match outcome {
            Outcome::Retry(at, _) => Some(secs(*at)),
            _ => None,
        };
        let attempt = i64::from(row.attempts) + 1;
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE outbox SET status = $3, attempts = $4, not_before = COALESCE($5, not_before), \
             last_error = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7, \
             payload = CASE WHEN kind IN ('password_reset', 'verify_email') AND $3 <> 'queued' THEN '' \
             ELSE payload END WHERE id = $1 AND lease_owner = $2",
        )
        .bind(&row.id)
        .bind(owner)
        .bind(status)
        .bind(attempt)
        .bind(not_before)
        .bind(outcome.error())
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO outbox_attempts (outbox_id, attempt, at, outcome, error) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(attempt)
        .bind(secs(now))
        .bind(label)
        .bind(outcome.error())
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Outbox rows, newest first, optionally of one status and to one recipient (a webhook
    /// endpoint's id).
    pub async fn deliveries(
        &self,
        status: Option<&str>,
        recipient: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM outbox WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR recipient = $2) ORDER BY updated_at DESC, id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status)
            .bind(recipient)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The messages to `user`, oldest first, with their rendered payloads (for their data
    /// export).
    pub async fn messages_to(&self, user: &str) -> StoreResult<Vec<(Delivery, String)>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS}, payload FROM outbox WHERE user_id = $1 ORDER BY created_at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((delivery_from_row(r)?, r.try_get("payload")?)))
            .collect()
    }

    /// One outbox row and its attempts.
    pub async fn delivery(&self, id: &str) -> StoreResult<(Delivery, Vec<Attempt>)> {
        let sql = format!("SELECT {DELIVERY_COLS} FROM outbox WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        let attempts = sqlx::query(
            "SELECT attempt, at, outcome, error FROM outbox_attempts WHERE outbox_id = $1 \
             ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Attempt {
                attempt: count(r.try_get("attempt")?),
                at: instant(r.try_get("at")?)?,
                outcome: r.try_get("outcome")?,
                error: r.try_get("error")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok((delivery_from_row(&row)?, attempts))
    }

    /// Queues a failed row again, to be tried at once and given until `give_up_at`.
    /// `NotFound` unless the row exists and has failed. Password reset emails are never
    /// sent again (their link has expired or will soon; the person asks for a new one).
    pub async fn retry_delivery(
        &self,
        id: &str,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<Delivery> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'queued', not_before = $2, give_up_at = $3, \
             lease_owner = NULL, lease_until = NULL, updated_at = $2 \
             WHERE id = $1 AND status = 'failed' AND kind NOT IN ('password_reset', 'verify_email')",
        )
        .bind(id)
        .bind(secs(now))
        .bind(secs(give_up_at))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(self.delivery(id).await?.0)
    }

    /// How many rows each channel has in `status`.
    pub async fn outbox_counts(&self, status: &str) -> StoreResult<Vec<ChannelCount>> {
        let rows = sqlx::query(
            "SELECT channel, COUNT(*) AS n FROM outbox WHERE status = $1 GROUP BY channel",
        )
        .bind(status)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChannelCount {
                    channel: r.try_get("channel")?,
                    count: u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Whether `user` wants session reminders.
    pub async fn wants_reminders(&self, user: &str) -> StoreResult<bool> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT email_reminders FROM users WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(user)
        .fetch_optional(self.pool())
        .await?;
        Ok(v == Some(1))
    }

    /// Turns `user`'s session reminders on or off.
    pub async fn set_reminders(&self, user: &str, on: bool) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE users SET email_reminders = $2 WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(user)
        .bind(i64::from(on))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
