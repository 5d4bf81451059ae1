//! Who may still enter a room, checked when a participant joins (after the join token's
//! signature, room and validity were verified): a token outlives neither what it was minted for
//! nor the person it names.
//!
//! - A booking's room opens `rooms.join_lead_minutes` before the start and closes
//!   `rooms.join_grace_minutes` after the end; a cancelled or completed booking's room is
//!   closed. The same window bounds when the API mints its tokens ([`JoinWindow`]).
//! - A voice session's room is open until the session ends.
//! - A token naming an account that has been erased no longer joins.
//! - A room that belongs to neither (an operator's `parlor token` link) is open to any valid
//!   token.

use crate::auth::join_token::JoinClaims;
use crate::clock::Clock;
use crate::model::booking::{Booking, BookingStatus};
use crate::signal::protocol::ErrorCode;
use crate::signal::{Admission, Refusal};
use crate::store::users::Standing;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// When a booking's room may be entered.
#[derive(Debug, Clone, Copy)]
pub struct JoinWindow {
    pub lead: Duration,
    pub grace: Duration,
}

impl JoinWindow {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            lead: Duration::minutes(i64::from(cfg.rooms.join_lead_minutes)),
            grace: Duration::minutes(i64::from(cfg.rooms.join_grace_minutes)),
        }
    }

    /// Opening and closing instants of `b`'s room.
    pub fn bounds(&self, b: &Booking) -> (DateTime<Utc>, DateTime<Utc>) {
        (b.starts_at - self.lead, b.ends_at + self.grace)
    }

    /// Why `b`'s room cannot be entered at `now`, if it cannot.
    pub fn check(&self, b: &Booking, now: DateTime<Utc>) -> Result<(), Refusal> {
        match b.status {
            BookingStatus::Cancelled => {
                return Err(Refusal::new(
                    ErrorCode::Cancelled,
                    "this session was cancelled",
                ));
            }
            BookingStatus::Scheduled => {}
            _ => return Err(Refusal::new(ErrorCode::SessionOver, "this session is over")),
        }
        let (opens, closes) = self.bounds(b);
        if now < opens {
            return Err(Refusal::new(
                ErrorCode::TooEarly,
                format!(
                    "the room opens at {} ({} minutes before the start)",
                    opens.to_rfc3339(),
                    self.lead.num_minutes()
                ),
            ));
        }
        if now > closes {
            return Err(Refusal::new(ErrorCode::SessionOver, "this session is over"));
        }
        Ok(())
    }
}

/// The admission check of the signalling server, backed by the store.
pub struct RoomAdmission {
    store: Store,
    clock: Clock,
    window: JoinWindow,
}

impl RoomAdmission {
    pub fn new(store: Store, clock: Clock, window: JoinWindow) -> Self {
        Self {
            store,
            clock,
            window,
        }
    }

    /// For a room that belongs to a booking or a voice session: a token must not name an
    /// erased or a disabled account.
    async fn person_exists(&self, claims: &JoinClaims) -> Result<(), Refusal> {
        match self
            .store
            .user_standing(&claims.sub)
            .await
            .map_err(unavailable)?
        {
            Standing::Erased => Err(Refusal::new(
                ErrorCode::AccountGone,
                "the account this link was made for no longer exists",
            )),
            Standing::Disabled => Err(Refusal::new(
                ErrorCode::AccountDisabled,
                "the account this link was made for is disabled; ask your administrator",
            )),
            Standing::Active | Standing::Unknown => Ok(()),
        }
    }
}

fn unavailable(e: StoreError) -> Refusal {
    tracing::error!(error = %e, "join admission: storage failure");
    Refusal::new(
        ErrorCode::Unavailable,
        "the server cannot check this link now; try again",
    )
}

#[async_trait::async_trait]
impl Admission for RoomAdmission {
    async fn admit(&self, claims: &JoinClaims) -> Result<(), Refusal> {
        let now = self.clock.now();
        match self.store.booking_by_room(&claims.room).await {
            Ok(b) => {
                self.window.check(&b, now)?;
                return self.person_exists(claims).await;
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(unavailable(e)),
        }
        match self
            .store
            .voice_room(&claims.room)
            .await
            .map_err(unavailable)?
        {
            Some((_, true)) => Err(Refusal::new(
                ErrorCode::SessionOver,
                "this voice session has ended",
            )),
            Some((_, false)) => self.person_exists(claims).await,
            // Not a room of this server's records: an operator's ad-hoc link.
            None => Ok(()),
        }
    }
}
