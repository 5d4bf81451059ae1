//! Who is told what about a booking: the confirmation, move or cancellation email (with the
//! calendar invite as each party sees it) for the client and the coach's account, and the
//! reminders before the session. The rows are returned for the caller to write in the same
//! transaction as the booking change; nothing is sent from here.

use super::BookingError;
use super::Viewer;
use super::ics;
use super::links;
use super::view::Renderer;
use crate::config::{Config, Secret};
use crate::ids::UserId;
use crate::model::account::User;
use crate::model::booking::{Booking, Coach, SessionType};
use crate::notify::messages::{self, Recipient, Session};
use crate::notify::{email_row, kind, unsubscribe};
use crate::store::outbox::NewOutbox;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// What happened to a booking.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    Booked,
    Moved { was: DateTime<Utc> },
    Cancelled { reason: &'a str },
}

/// Builds the outbox rows of booking changes.
pub struct Notices {
    store: Store,
    cfg: std::sync::Arc<Config>,
    key: Secret,
}

struct Party {
    viewer: Viewer,
    recipient: Recipient,
}

impl Notices {
    pub fn new(store: Store, cfg: std::sync::Arc<Config>, key: Secret) -> Self {
        Self { store, cfg, key }
    }

    fn party(user: User, coach: Option<&Coach>) -> Party {
        let zone = crate::validate::time_zone(&user.time_zone).unwrap_or(chrono_tz::UTC);
        Party {
            recipient: Recipient {
                name: user.name.clone(),
                email: user.email.clone(),
                zone,
            },
            viewer: Viewer {
                coach_id: coach.map(|c| c.id.clone()),
                user,
            },
        }
    }

    /// The rows for `change` of `b` (as it is after the change), at `now`. Empty when email
    /// is off.
    pub async fn booking(
        &self,
        change: Change<'_>,
        b: &Booking,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOutbox>, BookingError> {
        let cfg = &self.cfg;
        if !cfg.notify.smtp.enabled() {
            return Ok(Vec::new());
        }
        let coach = self.store.coach(&b.coach_id).await?;
        let client = self.store.user(&b.client_id).await?;
        let mut parties = vec![(Self::party(client.clone(), None), coach.name.clone())];
        if let Some(u) = &coach.user_id {
            match self.store.user(u).await {
                Ok(cu) if !cu.disabled => {
                    parties.push((Self::party(cu, Some(&coach)), client.name.clone()))
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let origin = cfg.public_origin();
        let org = &cfg.notify.organisation;
        let give_up = now + Duration::hours(i64::from(cfg.notify.give_up_hours));
        let mut renderer = Renderer::new(&self.store, cfg);
        let mut rows = Vec::new();
        for (p, with) in &parties {
            let session = Session {
                with: with.clone(),
                kind: b.session_type.as_str(),
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                join_url: b
                    .room
                    .as_deref()
                    .filter(|_| b.session_type == SessionType::Video)
                    .map(|r| links::join_url(&origin, r)),
                phone: coach
                    .phone
                    .clone()
                    .filter(|_| b.session_type == SessionType::Phone),
                focus: b.focus_area.clone(),
                manage_url: format!("{origin}/upcoming"),
            };
            let ev = renderer.calendar_event(&p.viewer, b, now).await?;
            let to = &p.recipient;
            let (k, draft) = match change {
                Change::Booked => (
                    kind::BOOKED,
                    messages::booked(to, &session, ics::render_request(&ev), org),
                ),
                Change::Moved { was } => (
                    kind::MOVED,
                    messages::moved(to, &session, was, ics::render_request(&ev), org),
                ),
                Change::Cancelled { reason } => (
                    kind::CANCELLED,
                    messages::cancelled(to, &session, reason, ics::render_cancel(&ev), org),
                ),
            };
            let user = Some(p.viewer.user.id.as_str());
            let booking = Some(b.id.as_str());
            rows.push(email_row(k, &draft.render(), user, booking, now, give_up));
            if matches!(change, Change::Cancelled { .. }) || !p.viewer.user.email_reminders {
                continue;
            }
            let unsub = self.unsubscribe_link(&p.viewer.user.id);
            for &m in &cfg.notify.reminder_minutes {
                let due = b.starts_at - Duration::minutes(i64::from(m));
                if due <= now {
                    continue;
                }
                let mail = messages::reminder(to, &session, m, unsub.clone(), org).render();
                rows.push(email_row(
                    kind::REMINDER,
                    &mail,
                    user,
                    booking,
                    due,
                    b.starts_at,
                ));
            }
        }
        Ok(rows)
    }

    /// The one-click link that turns `user`'s reminders off.
    pub fn unsubscribe_link(&self, user: &UserId) -> String {
        format!(
            "{}/api/unsubscribe/{}",
            self.cfg.public_origin(),
            unsubscribe::token(self.key.expose().as_bytes(), user.as_str())
        )
    }
}
