//! Coaching commitments of clients.

use super::{Store, StoreError, StoreResult, instant, secs};
use crate::ids::{CommitmentId, UserId};
use crate::model::booking::{Commitment, CommitmentStatus};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

fn commitment_from_row(row: &AnyRow) -> StoreResult<Commitment> {
    let due: Option<String> = row.try_get("due_date")?;
    let status: String = row.try_get("status")?;
    Ok(Commitment {
        id: CommitmentId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        text: row.try_get("text")?,
        due_date: due
            .map(|d| {
                d.parse::<NaiveDate>()
                    .map_err(|e| StoreError::Corrupt(format!("due {e}")))
            })
            .transpose()?,
        status: match status.as_str() {
            "open" => CommitmentStatus::Open,
            "done" => CommitmentStatus::Done,
            other => return Err(StoreError::Corrupt(format!("status {other}"))),
        },
        created_at: instant(row.try_get("created_at")?)?,
        updated_at: instant(row.try_get("updated_at")?)?,
    })
}

fn status_str(s: CommitmentStatus) -> &'static str {
    match s {
        CommitmentStatus::Open => "open",
        CommitmentStatus::Done => "done",
    }
}

impl Store {
    /// Adds an open commitment for `user`.
    pub async fn insert_commitment(
        &self,
        user: &UserId,
        text: &str,
        due: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> StoreResult<Commitment> {
        let id = CommitmentId::generate();
        sqlx::query(
            "INSERT INTO commitments (id, user_id, text, due_date, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'open', $5, $5)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(text)
        .bind(due.map(|d| d.to_string()))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        self.commitment(user, &id).await
    }

    /// A commitment of `user` (`NotFound` for anyone else's).
    pub async fn commitment(&self, user: &UserId, id: &CommitmentId) -> StoreResult<Commitment> {
        let row = sqlx::query(
            "SELECT id, user_id, text, due_date, status, created_at, updated_at FROM commitments \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .fetch_one(self.pool())
        .await?;
        commitment_from_row(&row)
    }

    /// All commitments of `user`: open first, then by due date.
    pub async fn commitments(&self, user: &UserId) -> StoreResult<Vec<Commitment>> {
        let rows = sqlx::query(
            "SELECT id, user_id, text, due_date, status, created_at, updated_at FROM commitments \
             WHERE user_id = $1 ORDER BY status DESC, due_date, created_at, id",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(commitment_from_row).collect()
    }

    /// Edits text, due date (Some(None) clears it) and/or status of a commitment of `user`.
    pub async fn update_commitment(
        &self,
        user: &UserId,
        id: &CommitmentId,
        text: Option<&str>,
        due: Option<Option<NaiveDate>>,
        status: Option<CommitmentStatus>,
        now: DateTime<Utc>,
    ) -> StoreResult<Commitment> {
        let current = self.commitment(user, id).await?;
        let due = due.unwrap_or(current.due_date);
        sqlx::query(
            "UPDATE commitments SET text = $3, due_date = $4, status = $5, updated_at = $6 \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(text.unwrap_or(&current.text))
        .bind(due.map(|d| d.to_string()))
        .bind(status_str(status.unwrap_or(current.status)))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        self.commitment(user, id).await
    }

    /// Deletes a commitment of `user` (`NotFound` for anyone else's).
    pub async fn delete_commitment(&self, user: &UserId, id: &CommitmentId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM commitments WHERE id = $1 AND user_id = $2")
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
