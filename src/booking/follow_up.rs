//! After a session: the client's rating, the coach's private notes and the recorded outcome
//! (completed or no-show), each allowed only to the right person and at the right time.

use super::service::Bookings;
use super::{BookingError, Viewer};
use crate::ids::BookingId;
use crate::model::booking::{Booking, BookingStatus};
use chrono::{DateTime, Utc};

impl Bookings {
    /// The client rates a session once it has ended.
    /// Rates a session that took place, or changes its rating: one rating per session, by
    /// its client. A field not sent keeps its value (the first rating needs `rating`); an
    /// empty `comment` removes the comment.
    pub async fn rate(
        &self,
        viewer: &Viewer,
        id: &BookingId,
        rating: Option<u8>,
        comment: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Booking, BookingError> {
        let b = self.get(viewer, id).await?;
        if b.client_id != viewer.user.id {
            return Err(BookingError::Forbidden(
                "only the client of a session can rate it".into(),
            ));
        }
        let Some(rating) = rating.or(b.rating) else {
            return Err(BookingError::Invalid(
                "rating is required for the first rating of a session".into(),
            ));
        };
        if !(1..=5).contains(&rating) {
            return Err(BookingError::Invalid(
                "rating must be between 1 and 5".into(),
            ));
        }
        if b.ends_at > now
            || !matches!(
                b.status,
                BookingStatus::Scheduled | BookingStatus::Completed
            )
        {
            return Err(BookingError::Conflict(
                "only a session that has taken place can be rated".into(),
            ));
        }
        let comment = match comment {
            Some(c) => {
                Some(crate::validate::text("comment", c, 1000).map_err(BookingError::Invalid)?)
                    .filter(|c| !c.is_empty())
            }
            None => b.rating_comment.clone(),
        };
        Ok(self
            .store
            .set_rating(id, rating, comment.as_deref(), now)
            .await?)
    }

    /// The coach's private notes (coach of the booking or admin).
    pub async fn set_notes(
        &self,
        viewer: &Viewer,
        id: &BookingId,
        notes: &str,
        now: DateTime<Utc>,
    ) -> Result<Booking, BookingError> {
        let b = self.get(viewer, id).await?;
        if !viewer.is_admin() && !viewer.is_coach_of(&b) {
            return Err(BookingError::Forbidden(
                "only the coach can write session notes".into(),
            ));
        }
        let notes = crate::validate::text("notes", notes, 10_000).map_err(BookingError::Invalid)?;
        Ok(self.store.set_notes(id, &notes, now).await?)
    }

    /// Records the outcome of a session that has started: completed or no-show.
    pub async fn set_outcome(
        &self,
        viewer: &Viewer,
        id: &BookingId,
        status: BookingStatus,
        now: DateTime<Utc>,
    ) -> Result<Booking, BookingError> {
        let b = self.get(viewer, id).await?;
        if !viewer.is_admin() && !viewer.is_coach_of(&b) {
            return Err(BookingError::Forbidden(
                "only the coach can record the outcome".into(),
            ));
        }
        if !matches!(status, BookingStatus::Completed | BookingStatus::NoShow) {
            return Err(BookingError::Invalid(
                "status must be completed or no_show".into(),
            ));
        }
        if b.status == BookingStatus::Cancelled || b.starts_at > now {
            return Err(BookingError::Conflict(
                "only a session that has started can be marked".into(),
            ));
        }
        let done = Booking { status, ..b };
        let event = crate::notify::events::booking("booking.completed", &done, None, now);
        let event = (status == BookingStatus::Completed).then_some((&event, self.give_up(now)));
        Ok(self.store.set_outcome(id, status, now, event).await?)
    }
}
