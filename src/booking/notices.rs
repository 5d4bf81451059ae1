//! Who is told what about a booking: the confirmation, move or cancellation email (with the
//! calendar invite as each party sees it) for the client and the coach's account, and the
//! reminders before the session by email, SMS and Web Push. The rows are returned for the caller to write in the same
//! transaction as the booking change; nothing is sent from here.

use super::BookingError;
use super::Viewer;
use super::ics;
use super::links;
use super::view::Renderer;
use crate::config::{Config, Secret};
use crate::ids::UserId;
use crate::model::account::User;
use crate::model::booking::{Booking, BookingStatus, Coach, SessionType};
use crate::notify::messages::{self, Recipient, Session};
use crate::notify::{email_row, kind, push_row, sms_row, unsubscribe};
use crate::store::bookings::{BookingFilter, BookingScope};
use crate::store::outbox::NewOutbox;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// The most upcoming sessions of one person given SMS reminders when they opt in.
const MAX_UPCOMING: i64 = 500;

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

    /// The rows for `change` of `b` (as it is after the change), at `now`. Empty when neither
    /// email nor SMS is configured.
    pub async fn booking(
        &self,
        change: Change<'_>,
        b: &Booking,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOutbox>, BookingError> {
        let cfg = &self.cfg;
        let (email, sms, push) = (
            cfg.notify.smtp.enabled(),
            cfg.notify.sms.enabled(),
            cfg.notify.push.enabled,
        );
        if !email && !sms && !push {
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
        let org = &cfg.notify.organisation;
        let give_up = now + Duration::hours(i64::from(cfg.notify.give_up_hours));
        let mut renderer = Renderer::new(&self.store, cfg);
        let mut rows = Vec::new();
        for (p, with) in &parties {
            let session = self.session(b, &coach, with);
            let cancelled = matches!(change, Change::Cancelled { .. });
            if sms && !cancelled {
                rows.extend(self.sms_reminders(&p.viewer.user, &p.recipient, &session, b, now));
            }
            if push && !cancelled {
                for sub in self.store.push_subscriptions(&p.viewer.user.id).await? {
                    rows.extend(self.push_reminders(
                        &p.viewer.user,
                        &sub.id,
                        &p.recipient,
                        &session,
                        b,
                        now,
                    ));
                }
            }
            if !email {
                continue;
            }
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
            if cancelled || !p.viewer.user.email_reminders {
                continue;
            }
            let unsub = self.unsubscribe_link(&p.viewer.user.id);
            for (m, due) in self.reminder_times(b, now) {
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

    /// The SMS reminders `user` (with `phone` and SMS opt-in as given) should get for every
    /// upcoming session they are in, as client or as coach: written when they turn SMS
    /// reminders on or change their number. Empty when SMS is not configured.
    pub async fn sms_for_user(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOutbox>, BookingError> {
        if !self.cfg.notify.sms.enabled() || !user.sms_reminders || user.phone.is_none() {
            return Ok(Vec::new());
        }
        let to = Self::party(user.clone(), None).recipient;
        Ok(self
            .upcoming(user, now)
            .await?
            .iter()
            .flat_map(|(b, session)| self.sms_reminders(user, &to, session, b, now))
            .collect())
    }

    /// The Web Push reminders a new subscription `subscription` of `user` gets for every
    /// upcoming session they are in.
    pub async fn push_for_subscription(
        &self,
        user: &User,
        subscription: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewOutbox>, BookingError> {
        let to = Self::party(user.clone(), None).recipient;
        Ok(self
            .upcoming(user, now)
            .await?
            .iter()
            .flat_map(|(b, session)| self.push_reminders(user, subscription, &to, session, b, now))
            .collect())
    }

    /// `user`'s upcoming scheduled sessions, as client and as coach, each described as they
    /// see it.
    async fn upcoming(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Booking, Session)>, BookingError> {
        let mut bookings = self
            .store
            .bookings(
                &BookingFilter::Client(user.id.clone()),
                BookingScope::Upcoming,
                now,
                MAX_UPCOMING,
            )
            .await?;
        let own_coach = match self.store.coach_by_user(&user.id).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(c) = &own_coach {
            bookings.extend(
                self.store
                    .bookings(
                        &BookingFilter::Coach(c.id.clone()),
                        BookingScope::Upcoming,
                        now,
                        MAX_UPCOMING,
                    )
                    .await?,
            );
        }
        let mut out = Vec::with_capacity(bookings.len());
        for b in bookings {
            let is_coach = own_coach.as_ref().is_some_and(|c| c.id == b.coach_id);
            let (coach, with) = if is_coach {
                let c = own_coach.clone().expect("checked above");
                let client = self.store.user(&b.client_id).await?;
                (c, client.name)
            } else {
                let c = self.store.coach(&b.coach_id).await?;
                let name = c.name.clone();
                (c, name)
            };
            let session = self.session(&b, &coach, &with);
            out.push((b, session));
        }
        Ok(out)
    }

    /// What erasing `user`'s account tells others: each upcoming session they are in, as
    /// it will be once cancelled, and the cancellation messages for the other party (none for
    /// `user`, whose address goes).
    pub async fn erasure(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Booking>, Vec<NewOutbox>), BookingError> {
        let reason = "the other person's account was deleted";
        let mut cancelled = Vec::new();
        let mut rows = Vec::new();
        for (b, _) in self.upcoming(user, now).await? {
            if b.starts_at <= now {
                continue;
            }
            let c = Booking {
                status: BookingStatus::Cancelled,
                sequence: b.sequence + 1,
                cancel_reason: Some(reason.into()),
                updated_at: now,
                ..b
            };
            rows.extend(
                self.booking(Change::Cancelled { reason }, &c, now)
                    .await?
                    .into_iter()
                    .filter(|r| r.user_id.as_deref() != Some(user.id.as_str())),
            );
            cancelled.push(c);
        }
        Ok((cancelled, rows))
    }

    /// How `b` is described to someone who meets `with` there.
    fn session(&self, b: &Booking, coach: &Coach, with: &str) -> Session {
        let origin = self.cfg.public_origin();
        Session {
            with: with.to_string(),
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
        }
    }

    /// The configured reminder leads of `b` still ahead of `now`: (minutes before, due at).
    fn reminder_times(&self, b: &Booking, now: DateTime<Utc>) -> Vec<(u32, DateTime<Utc>)> {
        self.cfg
            .notify
            .reminder_minutes
            .iter()
            .map(|&m| (m, b.starts_at - Duration::minutes(i64::from(m))))
            .filter(|(_, due)| *due > now)
            .collect()
    }

    /// The Web Push reminder rows for `b` on `user`'s subscription `subscription`.
    fn push_reminders(
        &self,
        user: &User,
        subscription: &str,
        to: &Recipient,
        session: &Session,
        b: &Booking,
        now: DateTime<Utc>,
    ) -> Vec<NewOutbox> {
        if !self.cfg.notify.push.enabled {
            return Vec::new();
        }
        self.reminder_times(b, now)
            .into_iter()
            .map(|(m, due)| {
                let msg = messages::reminder_push(to, session, m, format!("session-{}", b.id));
                push_row(
                    kind::REMINDER,
                    subscription,
                    &msg,
                    user.id.as_str(),
                    Some(b.id.as_str()),
                    due,
                    b.starts_at,
                )
            })
            .collect()
    }

    /// `user`'s SMS reminder rows for `b`, if they opted in with a number.
    fn sms_reminders(
        &self,
        user: &User,
        to: &Recipient,
        session: &Session,
        b: &Booking,
        now: DateTime<Utc>,
    ) -> Vec<NewOutbox> {
        let Some(phone) = user.phone.as_deref().filter(|_| user.sms_reminders) else {
            return Vec::new();
        };
        let org = &self.cfg.notify.organisation;
        self.reminder_times(b, now)
            .into_iter()
            .map(|(m, due)| {
                let text = messages::reminder_sms(to, session, m, org);
                sms_row(
                    kind::REMINDER,
                    phone,
                    &text,
                    user.id.as_str(),
                    Some(b.id.as_str()),
                    due,
                    b.starts_at,
                )
            })
            .collect()
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
