//! Creating, moving and cancelling bookings (rating and annotating them afterwards: see
//! `follow_up`).
//!
//! Every write that depends on the coach's calendar runs inside a [`crate::store::bookings::BookingTx`]:
//! the slot is checked against the busy intervals read in the same locked transaction, so two
//! requests for one slot cannot both succeed.

use super::notices::{Change, Notices};
use super::slots::Schedule;
use super::{BookingError, Viewer};
use crate::config::Config;
use crate::ids::{BookingId, CoachId, UserId, new_room_name};
use crate::model::account::AccountRole;
use crate::model::booking::{Booking, BookingStatus, Coach, SessionType};
use crate::notify::events;
use crate::store::bookings::{BookingFilter, BookingScope};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A booking request, already parsed from JSON.
#[derive(Debug, Clone, Serialize)]
pub struct NewBooking {
    pub coach_id: CoachId,
    pub starts_at: DateTime<Utc>,
    pub session_type: SessionType,
    pub focus_area: Option<String>,
    /// Admins may book for a client; everyone else books for themselves.
    pub client_id: Option<UserId>,
}

/// The bookings service.
pub struct Bookings {
    pub(super) store: Store,
    cfg: Arc<Config>,
    notices: Notices,
}

/// The schedule of a coach as the slot computation needs it.
pub(crate) fn schedule_of(coach: &Coach) -> Result<Schedule<'_>, BookingError> {
    let zone = crate::validate::time_zone(&coach.availability.time_zone)
        .map_err(|_| BookingError::Store(StoreError::Corrupt("coach time zone".into())))?;
    Ok(Schedule {
        zone,
        weekly: &coach.availability.weekly,
        overrides: &coach.availability.overrides,
        policy: coach.policy.slot_policy(),
    })
}

impl Bookings {
    pub fn new(store: Store, cfg: Arc<Config>, signing_key: crate::config::Secret) -> Self {
        Self {
            notices: Notices::new(store.clone(), cfg.clone(), signing_key),
            store,
            cfg,
        }
    }

    /// When a webhook about a change at `now` stops being retried.
    pub(super) fn give_up(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::hours(i64::from(self.cfg.notify.give_up_hours))
    }

    /// The messages about bookings (for the unsubscribe link).
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// Books a slot. With an idempotency key, a repeat of the same request returns the first
    /// booking (`true` = replayed) and a different request with that key is refused.
    pub async fn create(
        &self,
        viewer: &Viewer,
        req: NewBooking,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Booking, bool), BookingError> {
        let client_id = match (viewer.user.role, &req.client_id) {
            (AccountRole::Admin, Some(c)) => {
                let client = self.store.user(c).await.map_err(not_found("client"))?;
                if client.role != AccountRole::Client {
                    return Err(BookingError::Invalid(
                        "client_id must name a client account".into(),
                    ));
                }
                client.id
            }
            (AccountRole::Client, None) => viewer.user.id.clone(),
            (AccountRole::Client, Some(_)) => {
                return Err(BookingError::Forbidden(
                    "clients book only for themselves".into(),
                ));
            }
            (AccountRole::Admin, None) => {
                return Err(BookingError::Invalid("admins must give client_id".into()));
            }
            (AccountRole::Coach, _) => {
                return Err(BookingError::Forbidden(
                    "coach accounts cannot book sessions".into(),
                ));
            }
        };
        let focus = match &req.focus_area {
            Some(f) => {
                let f =
                    crate::validate::text("focus_area", f, self.cfg.booking.focus_area_max_chars)
                        .map_err(BookingError::Invalid)?;
                (!f.is_empty()).then_some(f)
            }
            None => None,
        };
        crate::validate::instant("starts_at", req.starts_at).map_err(BookingError::Invalid)?;
        let request_hash = idempotency_key.map(|_| request_hash(&req, &client_id));
        if let (Some(key), Some(hash)) = (idempotency_key, &request_hash)
            && let Some(found) = self.replay(&client_id, key, hash).await?
        {
            return Ok((found, true));
        }
        let coach = self
            .store
            .coach(&req.coach_id)
            .await
            .map_err(not_found("coach"))?;
        if !coach.active {
            return Err(BookingError::NotFound("coach"));
        }
        if req.session_type == SessionType::Phone && coach.phone.is_none() {
            return Err(BookingError::Invalid(
                "this coach does not take phone sessions".into(),
            ));
        }
        let client = self.store.user(&client_id).await?;
        let booking = Booking {
            id: BookingId::generate(),
            coach_id: coach.id.clone(),
            client_id: client_id.clone(),
            session_type: req.session_type,
            focus_area: focus,
            starts_at: req.starts_at,
            ends_at: ends_at(req.starts_at, &coach)?,
            time_zone: client.time_zone.clone(),
            status: BookingStatus::Scheduled,
            room: (req.session_type == SessionType::Video).then(new_room_name),
            calendar_uid: String::new(),
            sequence: 0,
            cancel_reason: None,
            cancelled_at: None,
            rating: None,
            rating_comment: None,
            coach_notes: None,
            created_at: now,
            updated_at: now,
        };
        let booking = Booking {
            calendar_uid: format!("{}@parlor", booking.id),
            ..booking
        };
        let notices = self.notices.booking(Change::Booked, &booking, now).await?;
        let mut tx = self
            .store
            .booking_tx(&coach.id)
            .await
            .map_err(not_found("coach"))?;
        // A parallel retry with this key may have won the lock and committed: answer its booking.
        if let (Some(key), Some(hash)) = (idempotency_key, &request_hash)
            && let Some(rec) = tx.idempotency(&client_id, key).await?
        {
            drop(tx);
            if rec.request_hash != *hash {
                return Err(BookingError::IdempotencyMismatch);
            }
            return Ok((self.store.booking(&rec.booking_id).await?, true));
        }
        let (lo, hi) = day_either_side(req.starts_at)?;
        let busy = tx.busy(&coach.id, lo, hi, None).await?;
        schedule_of(&coach)?.check_bookable(req.starts_at, now, &busy)?;
        tx.lock_client(&client_id).await?;
        if tx
            .client_busy(&client_id, booking.starts_at, booking.ends_at, None)
            .await?
        {
            return Err(BookingError::ClientBusy);
        }
        tx.insert(&booking).await.map_err(slot_conflict)?;
        tx.enqueue(&notices, now).await?;
        let event = events::booking("booking.created", &booking, None, now);
        tx.enqueue_event(&event, now, self.give_up(now)).await?;
        if let (Some(key), Some(hash)) = (idempotency_key, &request_hash) {
            tx.remember_idempotency(&client_id, key, hash, &booking.id, now)
                .await?;
        }
        match tx.commit().await {
            Ok(()) => {}
            Err(e) => return Err(slot_conflict(e)),
        }
        self.store
            .audit(
                Some(viewer.user.id.as_str()),
                "booking_created",
                Some(booking.id.as_str()),
                None,
                now,
            )
            .await?;
        Ok((booking, false))
    }

    async fn replay(
        &self,
        client: &UserId,
        key: &str,
        hash: &str,
    ) -> Result<Option<Booking>, BookingError> {
        match self.store.idempotency(client, key).await {
            Ok(rec) if rec.request_hash == hash => {
                Ok(Some(self.store.booking(&rec.booking_id).await?))
            }
            Ok(_) => Err(BookingError::IdempotencyMismatch),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A booking the viewer may see (anything else is "not found").
    pub async fn get(&self, viewer: &Viewer, id: &BookingId) -> Result<Booking, BookingError> {
        let b = self.store.booking(id).await.map_err(not_found("booking"))?;
        if viewer.can_see(&b) {
            Ok(b)
        } else {
            Err(BookingError::NotFound("booking"))
        }
    }

    /// The viewer's upcoming or past bookings.
    pub async fn list(
        &self,
        viewer: &Viewer,
        scope: BookingScope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Booking>, BookingError> {
        let filter = match (viewer.user.role, &viewer.coach_id) {
            (AccountRole::Admin, _) => BookingFilter::All,
            (AccountRole::Coach, Some(c)) => BookingFilter::Coach(c.clone()),
            _ => BookingFilter::Client(viewer.user.id.clone()),
        };
        Ok(self.store.bookings(&filter, scope, now, 500).await?)
    }

    /// Moves a scheduled booking to another free slot in one transaction (same calendar UID,
    /// SEQUENCE + 1). Clients must respect the coach's reschedule cut-off.
    pub async fn reschedule(
        &self,
        viewer: &Viewer,
        id: &BookingId,
        starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Booking, BookingError> {
        crate::validate::instant("starts_at", starts_at).map_err(BookingError::Invalid)?;
        let b = self.get(viewer, id).await?;
        if b.status != BookingStatus::Scheduled {
            return Err(BookingError::Conflict(format!(
                "a {} booking cannot be rescheduled",
                b.status.as_str()
            )));
        }
        if starts_at == b.starts_at {
            return Err(BookingError::SameStart);
        }
        let coach = self.store.coach(&b.coach_id).await?;
        if !viewer.is_admin() && !viewer.is_coach_of(&b) {
            let cutoff =
                b.starts_at - Duration::minutes(i64::from(coach.policy.reschedule_notice_minutes));
            if now > cutoff {
                return Err(BookingError::Conflict(format!(
                    "sessions can be rescheduled until {} before the start",
                    notice_in_words(coach.policy.reschedule_notice_minutes)
                )));
            }
        }
        let ends_at = ends_at(starts_at, &coach)?;
        let (lo, hi) = day_either_side(starts_at)?;
        let moved = Booking {
            starts_at,
            ends_at,
            sequence: b.sequence + 1,
            updated_at: now,
            ..b.clone()
        };
        let notices = self
            .notices
            .booking(Change::Moved { was: b.starts_at }, &moved, now)
            .await?;
        let mut tx = self.store.booking_tx(&coach.id).await?;
        let busy = tx.busy(&coach.id, lo, hi, Some(id)).await?;
        schedule_of(&coach)?.check_bookable(starts_at, now, &busy)?;
        tx.lock_client(&b.client_id).await?;
        if tx
            .client_busy(&b.client_id, starts_at, ends_at, Some(id))
            .await?
        {
            return Err(BookingError::ClientBusy);
        }
        match tx.reschedule(id, starts_at, ends_at, b.sequence, now).await {
            Err(StoreError::NotFound) => return Err(changed_meanwhile()),
            r => r.map_err(slot_conflict)?,
        }
        tx.drop_reminders(id, "the session moved", now).await?;
        tx.enqueue(&notices, now).await?;
        let event = events::booking("booking.rescheduled", &moved, Some(b.starts_at), now);
        tx.enqueue_event(&event, now, self.give_up(now)).await?;
        tx.commit().await.map_err(slot_conflict)?;
        self.store
            .audit(
                Some(viewer.user.id.as_str()),
                "booking_rescheduled",
                Some(id.as_str()),
                None,
                now,
            )
            .await?;
        Ok(self.store.booking(id).await?)
    }

    /// Cancels a scheduled booking with a reason. Clients must respect the cancel cut-off.
    pub async fn cancel(
        &self,
        viewer: &Viewer,
        id: &BookingId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Booking, BookingError> {
        let reason = crate::validate::text("reason", reason, 500).map_err(BookingError::Invalid)?;
        if reason.is_empty() {
            return Err(BookingError::Invalid("reason is required".into()));
        }
        let b = self.get(viewer, id).await?;
        if b.status != BookingStatus::Scheduled {
            return Err(BookingError::Conflict(format!(
                "a {} booking cannot be cancelled",
                b.status.as_str()
            )));
        }
        if !viewer.is_admin() && !viewer.is_coach_of(&b) {
            let coach = self.store.coach(&b.coach_id).await?;
            let cutoff =
                b.starts_at - Duration::minutes(i64::from(coach.policy.cancel_notice_minutes));
            if now > cutoff {
                return Err(BookingError::Conflict(format!(
                    "sessions can be cancelled until {} before the start",
                    notice_in_words(coach.policy.cancel_notice_minutes)
                )));
            }
        }
        let read = b.clone();
        let gone = Booking {
            status: BookingStatus::Cancelled,
            sequence: b.sequence + 1,
            cancel_reason: Some(reason.clone()),
            cancelled_at: Some(now),
            updated_at: now,
            ..b
        };
        let notices = self
            .notices
            .booking(Change::Cancelled { reason: &reason }, &gone, now)
            .await?;
        let event = events::booking("booking.cancelled", &gone, None, now);
        let b = self
            .store
            .cancel_booking(&read, &reason, now, &notices, &event, self.give_up(now))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => changed_meanwhile(),
                e => e.into(),
            })?;
        self.store
            .audit(
                Some(viewer.user.id.as_str()),
                "booking_cancelled",
                Some(id.as_str()),
                None,
                now,
            )
            .await?;
        Ok(b)
    }
}

/// A booking that was cancelled or moved between reading it and writing the change.
fn changed_meanwhile() -> BookingError {
    BookingError::Conflict(
        "the booking changed meanwhile (it was moved or cancelled); reload it and try again".into(),
    )
}

/// When a session starting at `start` with `coach` ends.
fn ends_at(start: DateTime<Utc>, coach: &Coach) -> Result<DateTime<Utc>, BookingError> {
    start
        .checked_add_signed(Duration::minutes(i64::from(coach.policy.session_minutes)))
        .ok_or_else(|| BookingError::Invalid("starts_at is out of range".into()))
}

/// The day either side of `t`, the window whose bookings can overlap a session at `t`.
pub(super) fn day_either_side(
    t: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), BookingError> {
    let out = || BookingError::Invalid("the time is out of range".into());
    Ok((
        t.checked_sub_signed(Duration::days(1)).ok_or_else(out)?,
        t.checked_add_signed(Duration::days(1)).ok_or_else(out)?,
    ))
}

fn request_hash(req: &NewBooking, client: &UserId) -> String {
    let body = serde_json::to_vec(&(req, client)).expect("request serialises");
    data_encoding::HEXLOWER.encode(&Sha256::digest(&body))
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> BookingError {
    move |e| match e {
        StoreError::NotFound => BookingError::NotFound(what),
        e => BookingError::Store(e),
    }
}

fn slot_conflict(e: StoreError) -> BookingError {
    match e {
        StoreError::Conflict(c) if c.contains("idempotency") || c.contains("idem_key") => {
            BookingError::Conflict(
                "a request with this Idempotency-Key is in progress; retry".into(),
            )
        }
        StoreError::Conflict(_) => BookingError::SlotTaken,
        e => BookingError::Store(e),
    }
}

/// A notice period in words: "24 hours", "90 minutes", "1 hour".
fn notice_in_words(minutes: u32) -> String {
    let plural = |n: u32, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    if minutes.is_multiple_of(60) && minutes > 0 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

#[cfg(test)]
mod notice_tests {
    #[test]
    fn notice_periods_read_as_words() {
        assert_eq!(super::notice_in_words(1440), "24 hours");
        assert_eq!(super::notice_in_words(60), "1 hour");
        assert_eq!(super::notice_in_words(90), "90 minutes");
        assert_eq!(super::notice_in_words(30), "30 minutes");
        assert_eq!(super::notice_in_words(1), "1 minute");
        assert_eq!(super::notice_in_words(0), "0 minutes");
    }
}
