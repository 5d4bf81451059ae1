//! Web Push subscriptions: the browsers each person turned notifications on in. Adding one
//! writes its reminders in the same transaction; removing one (by the person, or because the
//! push service says it expired) drops its queued messages.

use super::outbox::NewOutbox;
use super::{Store, StoreError, StoreResult, instant, secs};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// The most subscriptions one person keeps; a new one beyond replaces the oldest.
pub const MAX_PER_USER: i64 = 10;

/// A stored subscription.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    /// The push service's URL for this browser.
    pub endpoint: String,
    #[serde(skip)]
    pub p256dh: String,
    #[serde(skip)]
    pub auth: String,
    pub created_at: DateTime<Utc>,
}

/// A subscription to add.
pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub user: &'a UserId,
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
}

const COLS: &str = "id, user_id, endpoint, p256dh, auth, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> StoreResult<Subscription> {
    Ok(Subscription {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        endpoint: r.try_get("endpoint")?,
        p256dh: r.try_get("p256dh")?,
        auth: r.try_get("auth")?,
        created_at: instant(r.try_get("created_at")?)?,
    })
}

/// Drops the queued messages of a subscription that is going away.
async fn drop_queued(tx: &mut super::WriteTx, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'dropped', last_error = 'the subscription was removed', \
         updated_at = $2 WHERE channel = 'push' AND recipient = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(secs(now))
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    Ok(())
}

impl Store {
    /// Adds a subscription with its messages (`rows`, addressed to `new.id`) in one
    /// transaction. The same endpoint subscribed again replaces the old row; beyond
    /// [`MAX_PER_USER`] the person's oldest subscription goes.
    pub async fn add_push_subscription(
        &self,
        new: &NewSubscription<'_>,
        rows: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> StoreResult<Subscription> {
        let mut tx = self.begin_write().await?;
        let same: Option<String> =
            sqlx::query_scalar("SELECT id FROM push_subscriptions WHERE endpoint = $1")
                .bind(new.endpoint)
                .fetch_optional(&mut *tx.tx)
                .await?;
        if let Some(old) = same {
            drop_queued(&mut tx, &old, now).await?;
        }
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(new.user.as_str())
        .fetch_all(&mut *tx.tx)
        .await?;
        for old in ids
            .iter()
            .skip(usize::try_from(MAX_PER_USER - 1).unwrap_or(0))
        {
            drop_queued(&mut tx, old, now).await?;
        }
        sqlx::query(
            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.user.as_str())
        .bind(new.endpoint)
        .bind(new.p256dh)
        .bind(new.auth)
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.enqueue(rows, now).await?;
        tx.commit().await?;
        self.push_subscription(new.id).await
    }

    /// One subscription.
    pub async fn push_subscription(&self, id: &str) -> StoreResult<Subscription> {
        let sql = format!("SELECT {COLS} FROM push_subscriptions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        from_row(&row)
    }

    /// A person's subscriptions, newest first.
    pub async fn push_subscriptions(&self, user: &UserId) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "SELECT {COLS} FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Removes `user`'s subscription `id` and its queued messages (`NotFound` when it is not
    /// theirs).
    pub async fn delete_push_subscription(
        &self,
        user: &UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM push_subscriptions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx.tx)
                .await?;
        if owner.as_deref() != Some(user.as_str()) {
            return Err(StoreError::NotFound);
        }
        drop_queued(&mut tx, id, now).await?;
        tx.commit().await
    }

    /// Removes a subscription the push service says is gone, with its queued messages.
    pub async fn expire_push_subscription(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        drop_queued(&mut tx, id, now).await?;
        tx.commit().await
    }

    /// Whether a message of `kind` about `booking` was already queued for subscription `id`.
    pub async fn push_sent(&self, kind: &str, booking: &str, id: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE channel = 'push' AND kind = $1 \
             AND booking_id = $2 AND recipient = $3",
        )
        .bind(kind)
        .bind(booking)
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }
}
