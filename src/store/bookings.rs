//! Bookings, the per-coach write transaction that makes double booking impossible, and
//! idempotency keys.
//!
//! [`BookingTx`] starts a write transaction and bumps the coach's `booking_lock` row first:
//! on PostgreSQL that row lock queues concurrent bookers of the same coach; on SQLite the
//! transaction already holds the database write lock (`BEGIN IMMEDIATE`). Whatever the caller
//! then checks against [`BookingTx::busy`] cannot change before commit, and the partial unique
//! index `bookings_active_slot` backs it up.

use super::{Store, StoreError, StoreResult, WriteTx, instant, secs};
use crate::ids::{BookingId, CoachId, UserId};
use crate::model::booking::Busy;
use crate::model::booking::{Booking, BookingStatus, SessionType};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

const BOOKING_COLS: &str = "id, coach_id, client_id, session_type, focus_area, starts_at, \
    ends_at, time_zone, status, room, calendar_uid, sequence, cancel_reason, cancelled_at, \
    rating, rating_comment, coach_notes, created_at, updated_at";

fn booking_from_row(row: &AnyRow) -> StoreResult<Booking> {
    let kind: String = row.try_get("session_type")?;
    let status: String = row.try_get("status")?;
    let opt_instant = |col: &str| -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = row.try_get(col)?;
        v.map(instant).transpose()
    };
    let rating: Option<i64> = row.try_get("rating")?;
    let sequence: i64 = row.try_get("sequence")?;
    Ok(Booking {
        id: BookingId(row.try_get("id")?),
        coach_id: CoachId(row.try_get("coach_id")?),
        client_id: UserId(row.try_get("client_id")?),
        session_type: SessionType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("session_type {kind}")))?,
        focus_area: row.try_get("focus_area")?,
        starts_at: instant(row.try_get("starts_at")?)?,
        ends_at: instant(row.try_get("ends_at")?)?,
        time_zone: row.try_get("time_zone")?,
        status: BookingStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        room: row.try_get("room")?,
        calendar_uid: row.try_get("calendar_uid")?,
        sequence: u32::try_from(sequence).unwrap_or(u32::MAX),
        cancel_reason: row.try_get("cancel_reason")?,
        cancelled_at: opt_instant("cancelled_at")?,
        rating: rating.and_then(|r| u8::try_from(r).ok()),
        rating_comment: row.try_get("rating_comment")?,
        coach_notes: row.try_get("coach_notes")?,
        created_at: instant(row.try_get("created_at")?)?,
        updated_at: instant(row.try_get("updated_at")?)?,
    })
}

const BUSY_SQL: &str = "SELECT starts_at, ends_at FROM bookings WHERE coach_id = $1 \
    AND status <> 'cancelled' AND ends_at > $2 AND starts_at < $3 AND id <> $4";

fn busy_from_row(r: &AnyRow) -> StoreResult<Busy> {
    Ok(Busy {
        start: instant(r.try_get(0)?)?,
        end: instant(r.try_get(1)?)?,
    })
}

/// Which bookings a listing may show.
#[derive(Debug, Clone)]
pub enum BookingFilter {
    /// Everything (admins).
    All,
    /// Bookings of this client.
    Client(UserId),
    /// Bookings with this coach.
    Coach(CoachId),
}

/// Which of the selected bookings to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingScope {
    /// Scheduled and not yet over; soonest first.
    Upcoming,
    /// Ended, whatever became of them (held, cancelled, no-show); latest first.
    Past,
    /// Cancelled and not yet over (the time they had is still to come); soonest first.
    Cancelled,
    /// Ended and took place (not cancelled, not a no-show); latest first.
    TookPlace,
    /// Every one, latest first.
    All,
}

const IDEMPOTENCY_SQL: &str =
    "SELECT request_hash, booking_id FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2";

fn idempotency_from_row(row: &AnyRow) -> StoreResult<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        request_hash: row.try_get("request_hash")?,
        booking_id: BookingId(row.try_get("booking_id")?),
    })
}

/// A remembered `Idempotency-Key`.
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub booking_id: BookingId,
}

/// A write transaction holding the booking lock of one coach.
pub struct BookingTx {
    tx: WriteTx,
}

impl Store {
    /// Starts a booking transaction for `coach` (`NotFound` if the coach does not exist).
    pub async fn booking_tx(&self, coach: &CoachId) -> StoreResult<BookingTx> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("UPDATE coaches SET booking_lock = booking_lock + 1 WHERE id = $1")
            .bind(coach.as_str())
            .execute(&mut *tx.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(BookingTx { tx })
    }

    /// One booking.
    pub async fn booking(&self, id: &BookingId) -> StoreResult<Booking> {
        let sql = format!("SELECT {BOOKING_COLS} FROM bookings WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_one(self.pool())
            .await?;
        booking_from_row(&row)
    }

    /// Whether `client` holds a scheduled phone session with `coach` (and so may see the
    /// coach's number).
    pub async fn has_phone_booking(&self, client: &UserId, coach: &CoachId) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM bookings WHERE client_id = $1 AND coach_id = $2 \
             AND session_type = 'phone' AND status = 'scheduled'",
        )
        .bind(client.as_str())
        .bind(coach.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Whether `client` is a client of `coach`: holds a booking with them that was not
    /// cancelled (past or future). Coaches may see and add such clients' commitments.
    pub async fn is_client_of(&self, client: &UserId, coach: &CoachId) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM bookings WHERE client_id = $1 AND coach_id = $2 \
             AND status <> 'cancelled'",
        )
        .bind(client.as_str())
        .bind(coach.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// The booking that owns a video room.
    pub async fn booking_by_room(&self, room: &str) -> StoreResult<Booking> {
        let sql = format!("SELECT {BOOKING_COLS} FROM bookings WHERE room = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(room)
            .fetch_one(self.pool())
            .await?;
        booking_from_row(&row)
    }

    /// The bookings `filter` selects within `scope` (see [`BookingScope`]) at `now`.
    pub async fn bookings(
        &self,
        filter: &BookingFilter,
        scope: BookingScope,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Booking>> {
        let (who, arg) = match filter {
            BookingFilter::All => ("$1 = ''", String::new()),
            BookingFilter::Client(u) => ("client_id = $1", u.0.clone()),
            BookingFilter::Coach(c) => ("coach_id = $1", c.0.clone()),
        };
        let when = match scope {
            BookingScope::Upcoming => {
                "status = 'scheduled' AND ends_at > $2 ORDER BY starts_at ASC, id"
            }
            BookingScope::Past => "ends_at <= $2 ORDER BY starts_at DESC, id",
            BookingScope::Cancelled => {
                "status = 'cancelled' AND ends_at > $2 ORDER BY starts_at ASC, id"
            }
            BookingScope::All => "(ends_at > $2 OR ends_at <= $2) ORDER BY starts_at DESC, id",
            BookingScope::TookPlace => {
                "ends_at <= $2 AND status IN ('scheduled', 'completed') \
                 ORDER BY starts_at DESC, id"
            }
        };
        let sql = format!("SELECT {BOOKING_COLS} FROM bookings WHERE {who} AND {when} LIMIT $3");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .bind(secs(now))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(booking_from_row).collect()
    }

    /// Non-cancelled bookings of `coach` overlapping [from, to), outside any transaction
    /// (for the read-only slot query).
    pub async fn busy_intervals(
        &self,
        coach: &CoachId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Busy>> {
        let rows = sqlx::query(BUSY_SQL)
            .bind(coach.as_str())
            .bind(secs(from))
            .bind(secs(to))
            .bind("")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(busy_from_row).collect()
    }

    /// A remembered idempotency key of `user`.
    pub async fn idempotency(&self, user: &UserId, key: &str) -> StoreResult<IdempotencyRecord> {
        let row = sqlx::query(IDEMPOTENCY_SQL)
            .bind(user.as_str())
            .bind(key)
            .fetch_one(self.pool())
            .await?;
        idempotency_from_row(&row)
    }

    /// Forgets idempotency keys older than `before`.
    pub async fn purge_idempotency(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(secs(before))
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Sets the rating of a booking.
    pub async fn set_rating(
        &self,
        id: &BookingId,
        rating: u8,
        comment: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Booking> {
        sqlx::query(
            "UPDATE bookings SET rating = $2, rating_comment = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(i64::from(rating))
        .bind(comment)
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        self.booking(id).await
    }

    /// Sets the coach's private notes.
    pub async fn set_notes(
        &self,
        id: &BookingId,
        notes: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Booking> {
        sqlx::query("UPDATE bookings SET coach_notes = $2, updated_at = $3 WHERE id = $1")
            .bind(id.as_str())
            .bind(notes)
            .bind(secs(now))
            .execute(self.pool())
            .await?;
        self.booking(id).await
    }

    /// Marks a held session completed or no-show.
    /// Records a session's outcome, with the webhook event about it (if any).
    pub async fn set_outcome(
        &self,
        id: &BookingId,
        status: BookingStatus,
        now: DateTime<Utc>,
        event: Option<(&super::webhooks::Event, DateTime<Utc>)>,
    ) -> StoreResult<Booking> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE bookings SET status = $2, updated_at = $3 WHERE id = $1 AND status <> 'cancelled' \
             AND status <> $2",
        )
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() > 0
            && let Some((event, give_up_at)) = event
        {
            tx.enqueue_event(event, now, give_up_at).await?;
        }
        tx.commit().await?;
        self.booking(id).await
    }
}

impl BookingTx {
    /// Locks `client`'s bookings for the rest of the transaction (taken after the coach's lock,
    /// always in that order): two bookings of one client with different coaches are then
    /// checked for overlap one after the other.
    pub async fn lock_client(&mut self, client: &UserId) -> StoreResult<()> {
        let r = sqlx::query("UPDATE users SET booking_lock = booking_lock + 1 WHERE id = $1")
            .bind(client.as_str())
            .execute(&mut *self.tx.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Whether `client` holds a scheduled session overlapping [from, to), other than `except`.
    pub async fn client_busy(
        &mut self,
        client: &UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        except: Option<&BookingId>,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM bookings WHERE client_id = $1 AND status = 'scheduled' \
             AND ends_at > $2 AND starts_at < $3 AND id <> $4",
        )
        .bind(client.as_str())
        .bind(secs(from))
        .bind(secs(to))
        .bind(except.map_or("", BookingId::as_str))
        .fetch_one(&mut *self.tx.tx)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Non-cancelled bookings of `coach` overlapping [from, to), optionally minus one booking.
    pub async fn busy(
        &mut self,
        coach: &CoachId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        except: Option<&BookingId>,
    ) -> StoreResult<Vec<Busy>> {
        let rows = sqlx::query(BUSY_SQL)
            .bind(coach.as_str())
            .bind(secs(from))
            .bind(secs(to))
            .bind(except.map_or("", BookingId::as_str))
            .fetch_all(&mut *self.tx.tx)
            .await?;
        rows.iter().map(busy_from_row).collect()
    }

    /// Inserts a new booking (a clash with the unique slot index is `Conflict`).
    pub async fn insert(&mut self, b: &Booking) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO bookings ({BOOKING_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, NULL, NULL, NULL, NULL, NULL, $13, $13)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(b.id.as_str())
            .bind(b.coach_id.as_str())
            .bind(b.client_id.as_str())
            .bind(b.session_type.as_str())
            .bind(b.focus_area.as_deref())
            .bind(secs(b.starts_at))
            .bind(secs(b.ends_at))
            .bind(&b.time_zone)
            .bind(b.status.as_str())
            .bind(b.room.as_deref())
            .bind(&b.calendar_uid)
            .bind(i64::from(b.sequence))
            .bind(secs(b.created_at))
            .execute(&mut *self.tx.tx)
            .await?;
        Ok(())
    }

    /// Moves a booking to a new time and bumps its SEQUENCE; the old slot is freed by the same
    /// statement, inside this transaction.
    /// Moves a scheduled booking that is still at `sequence` (`NotFound` if it was cancelled
    /// or changed since it was read, so that its messages are not built on a stale copy).
    pub async fn reschedule(
        &mut self,
        id: &BookingId,
        starts: DateTime<Utc>,
        ends: DateTime<Utc>,
        sequence: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE bookings SET starts_at = $2, ends_at = $3, sequence = sequence + 1, \
             updated_at = $4 WHERE id = $1 AND status = 'scheduled' AND sequence = $5",
        )
        .bind(id.as_str())
        .bind(secs(starts))
        .bind(secs(ends))
        .bind(secs(now))
        .bind(i64::from(sequence))
        .execute(&mut *self.tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A remembered idempotency key of `user`, read under this transaction's coach lock: a
    /// concurrent request with the same key that won the lock has committed its booking.
    pub async fn idempotency(
        &mut self,
        user: &UserId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let row = sqlx::query(IDEMPOTENCY_SQL)
            .bind(user.as_str())
            .bind(key)
            .fetch_optional(&mut *self.tx.tx)
            .await?;
        row.as_ref().map(idempotency_from_row).transpose()
    }

    /// Remembers an idempotency key for the booking just inserted.
    pub async fn remember_idempotency(
        &mut self,
        user: &UserId,
        key: &str,
        request_hash: &str,
        booking: &BookingId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, booking_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.as_str())
        .bind(key)
        .bind(request_hash)
        .bind(booking.as_str())
        .bind(secs(now))
        .execute(&mut *self.tx.tx)
        .await?;
        Ok(())
    }

    /// Appends an audit entry as part of this transaction.
    pub async fn audit(
        &mut self,
        actor: &str,
        event: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit_log (at, actor_id, event, target) VALUES ($1, $2, $3, $4)")
            .bind(secs(now))
            .bind(actor)
            .bind(event)
            .bind(target)
            .execute(&mut *self.tx.tx)
            .await?;
        Ok(())
    }

    /// Adds outbox rows (the messages about this change) to the transaction.
    pub async fn enqueue(
        &mut self,
        rows: &[super::outbox::NewOutbox],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.tx.enqueue(rows, now).await
    }

    /// Queues a webhook event for the endpoints that take it.
    pub async fn enqueue_event(
        &mut self,
        event: &super::webhooks::Event,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.tx.enqueue_event(event, now, give_up_at).await
    }

    /// Drops the queued reminders of `booking` (it moved).
    pub async fn drop_reminders(
        &mut self,
        booking: &BookingId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.tx.drop_reminders(booking.as_str(), reason, now).await
    }

    /// Commits.
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await
    }
}

impl Store {
    /// Cancels a scheduled booking as it was `read` (bumps SEQUENCE); `NotFound` if it is no
    /// longer scheduled or changed since it was read.
    pub async fn cancel_booking(
        &self,
        read: &Booking,
        reason: &str,
        now: DateTime<Utc>,
        notices: &[super::outbox::NewOutbox],
        event: &super::webhooks::Event,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<Booking> {
        let (id, sequence) = (&read.id, read.sequence);
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $2, cancelled_at = $3, \
             sequence = sequence + 1, updated_at = $3 WHERE id = $1 AND status = 'scheduled' \
             AND sequence = $4",
        )
        .bind(id.as_str())
        .bind(reason)
        .bind(secs(now))
        .bind(i64::from(sequence))
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.drop_reminders(id.as_str(), "the session was cancelled", now)
            .await?;
        tx.enqueue(notices, now).await?;
        tx.enqueue_event(event, now, give_up_at).await?;
        tx.commit().await?;
        self.booking(id).await
    }
}
