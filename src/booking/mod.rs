//! Booking: coaches, availability and slots, bookings with their links and calendar objects,
//! ratings, notes and commitments.
//!
//! Pure parts ([`slots`], [`ics`], [`links`], [`phone`]) have no IO. The services
//! ([`Bookings`], [`Coaches`]) apply the rules and call the store; they see no HTTP types.
//! Authorization lives here too: a [`Viewer`] sees only what their role allows, and a booking
//! they may not see is reported as not found, so they learn nothing about it.

pub mod admission;
pub mod coaches;
mod follow_up;
pub mod ics;
pub mod links;
pub mod notices;
pub mod phone;
pub mod service;
pub mod slots;
pub mod view;

pub use coaches::Coaches;
pub use service::Bookings;

use crate::ids::CoachId;
use crate::model::account::{AccountRole, User};
use crate::model::booking::Booking;
use crate::store::StoreError;

/// Errors of the booking services.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Slot(slots::SlotError),
    #[error("this slot has just been taken; please choose another")]
    SlotTaken,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("{0}")]
    Conflict(String),
    #[error("the session already starts at that time")]
    SameStart,
    #[error("you already have a session at that time (with another coach); choose another time")]
    ClientBusy,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for BookingError {
    fn from(e: StoreError) -> Self {
        BookingError::Store(e)
    }
}

impl From<slots::SlotError> for BookingError {
    fn from(e: slots::SlotError) -> Self {
        match e {
            slots::SlotError::Taken => BookingError::SlotTaken,
            other => BookingError::Slot(other),
        }
    }
}

/// Who is asking: the user and, for a coach account, their coach profile.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub coach_id: Option<CoachId>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.role == AccountRole::Admin
    }

    /// Whether this booking is theirs to see: their own, with them as coach, or any (admin).
    pub fn can_see(&self, b: &Booking) -> bool {
        self.is_admin() || b.client_id == self.user.id || self.is_coach_of(b)
    }

    /// Whether they are the coach of this booking.
    pub fn is_coach_of(&self, b: &Booking) -> bool {
        self.coach_id.as_ref() == Some(&b.coach_id)
    }

    /// Whether they may manage this coach profile (admin, or the coach themself).
    pub fn can_manage_coach(&self, coach: &CoachId) -> bool {
        self.is_admin() || self.coach_id.as_ref() == Some(coach)
    }
}
