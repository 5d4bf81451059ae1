//! What a viewer is shown of a booking: times in their zone, the links that apply to them,
//! the policy deadlines, and the calendar object for invites and feeds. Private coach notes
//! appear only for the coach and admins.

use super::ics::{Attendee, CalendarEvent, EventStatus, PartStat, Person};
use super::links::{self, JitsiUser};
use super::slots::display_in;
use super::{BookingError, Viewer};
use crate::config::Config;
use crate::ids::{BookingId, CoachId, UserId};
use crate::model::account::User;
use crate::model::booking::{Booking, BookingStatus, Coach, SessionType};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A person on a booking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyView {
    pub id: String,
    pub name: String,
}

/// A booking as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BookingView {
    pub id: BookingId,
    pub coach: PartyView,
    pub client: PartyView,
    pub session_type: SessionType,
    pub focus_area: Option<String>,
    /// UTC instants (RFC 3339).
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The viewer's time zone and the local wall-clock times in it.
    pub time_zone: String,
    pub local_starts_at: String,
    pub local_ends_at: String,
    pub status: BookingStatus,
    /// Video: the room on this server.
    pub join_url: Option<String>,
    /// Video: the same room on Jitsi Meet.
    pub fallback_url: Option<String>,
    /// Phone: `tel:` link to the coach in E.164.
    pub phone_url: Option<String>,
    /// Until when the client may cancel / reschedule (the coach's cut-offs).
    pub cancel_until: DateTime<Utc>,
    pub reschedule_until: DateTime<Utc>,
    pub calendar_uid: String,
    pub sequence: u32,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rating: Option<u8>,
    pub rating_comment: Option<String>,
    /// Private to the coach and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coach_notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Loads the coach and client of bookings once each and renders views.
pub struct Renderer<'a> {
    store: &'a Store,
    cfg: &'a Config,
    coaches: HashMap<CoachId, Coach>,
    users: HashMap<UserId, User>,
}

impl<'a> Renderer<'a> {
    pub fn new(store: &'a Store, cfg: &'a Config) -> Self {
        Self {
            store,
            cfg,
            coaches: HashMap::new(),
            users: HashMap::new(),
        }
    }

    async fn parties(&mut self, b: &Booking) -> Result<(Coach, User), BookingError> {
        if !self.coaches.contains_key(&b.coach_id) {
            let c = self.store.coach(&b.coach_id).await?;
            self.coaches.insert(b.coach_id.clone(), c);
        }
        if !self.users.contains_key(&b.client_id) {
            let u = self.store.user(&b.client_id).await?;
            self.users.insert(b.client_id.clone(), u);
        }
        Ok((
            self.coaches[&b.coach_id].clone(),
            self.users[&b.client_id].clone(),
        ))
    }

    /// The view of `b` for `viewer`.
    pub async fn view(
        &mut self,
        viewer: &Viewer,
        b: &Booking,
    ) -> Result<BookingView, BookingError> {
        let (coach, client) = self.parties(b).await?;
        let zone = crate::validate::time_zone(&viewer.user.time_zone).unwrap_or(chrono_tz::UTC);
        let is_video = b.session_type == SessionType::Video;
        let room = b.room.as_deref().filter(|_| is_video);
        let fallback = room.map(|r| {
            let u = JitsiUser {
                id: viewer.user.id.as_str(),
                name: &viewer.user.name,
                email: &viewer.user.email,
                moderator: viewer.is_admin() || viewer.is_coach_of(b),
            };
            links::jitsi_url(&self.cfg.jitsi, r, &u, b.starts_at, b.ends_at)
        });
        let notes_visible = viewer.is_admin() || viewer.is_coach_of(b);
        Ok(BookingView {
            id: b.id.clone(),
            coach: PartyView {
                id: coach.id.to_string(),
                name: coach.name.clone(),
            },
            client: PartyView {
                id: client.id.to_string(),
                name: client.name.clone(),
            },
            session_type: b.session_type,
            focus_area: b.focus_area.clone(),
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            time_zone: zone.name().to_string(),
            local_starts_at: display_in(zone, b.starts_at),
            local_ends_at: display_in(zone, b.ends_at),
            status: b.status,
            join_url: room.map(|r| links::join_url(&self.cfg.public_origin(), r)),
            fallback_url: fallback,
            phone_url: coach
                .phone
                .as_deref()
                .filter(|_| !is_video)
                .map(links::phone_url),
            cancel_until: b.starts_at
                - Duration::minutes(i64::from(coach.policy.cancel_notice_minutes)),
            reschedule_until: b.starts_at
                - Duration::minutes(i64::from(coach.policy.reschedule_notice_minutes)),
            calendar_uid: b.calendar_uid.clone(),
            sequence: b.sequence,
            cancel_reason: b.cancel_reason.clone(),
            cancelled_at: b.cancelled_at,
            rating: b.rating,
            rating_comment: b.rating_comment.clone(),
            coach_notes: b.coach_notes.clone().filter(|_| notes_visible),
            created_at: b.created_at,
        })
    }

    /// Views of many bookings.
    pub async fn views(
        &mut self,
        viewer: &Viewer,
        bs: &[Booking],
    ) -> Result<Vec<BookingView>, BookingError> {
        let mut out = Vec::with_capacity(bs.len());
        for b in bs {
            out.push(self.view(viewer, b).await?);
        }
        Ok(out)
    }

    /// The iCalendar event of `b` as `viewer` sees it in their calendar (organizer: the
    /// coach; attendee: the client). The title names the other party: the client sees their
    /// coach, the coach their client; an admin sees both. The focus area is in the description.
    pub async fn calendar_event(
        &mut self,
        viewer: &Viewer,
        b: &Booking,
        now: DateTime<Utc>,
    ) -> Result<CalendarEvent, BookingError> {
        let (coach, client) = self.parties(b).await?;
        let coach_email = match &coach.user_id {
            Some(u) => match self.store.user(u).await {
                Ok(user) => user.email,
                Err(StoreError::NotFound) => self.no_reply(),
                Err(e) => return Err(e.into()),
            },
            None => self.no_reply(),
        };
        let location = match b.session_type {
            SessionType::Video => b
                .room
                .as_deref()
                .map(|r| links::join_url(&self.cfg.public_origin(), r)),
            SessionType::Phone => coach.phone.as_deref().map(links::phone_url),
        };
        let other = if viewer.is_coach_of(b) {
            client.name.clone()
        } else if viewer.user.id == b.client_id {
            coach.name.clone()
        } else {
            format!("{} and {}", coach.name, client.name)
        };
        let mut description = format!("{} session with {other}", b.session_type.as_str());
        if let Some(f) = &b.focus_area {
            description.push_str("\nFocus: ");
            description.push_str(f);
        }
        Ok(CalendarEvent {
            uid: b.calendar_uid.clone(),
            sequence: b.sequence,
            dtstamp: now,
            start: b.starts_at,
            end: b.ends_at,
            summary: format!("Coaching with {other}"),
            description,
            url: location.clone().filter(|l| l.starts_with("http")),
            location,
            organizer: Person {
                name: coach.name.clone(),
                email: coach_email,
            },
            attendees: vec![Attendee {
                person: Person {
                    name: client.name.clone(),
                    email: client.email.clone(),
                },
                partstat: PartStat::Accepted,
                rsvp: false,
            }],
            status: if b.status == BookingStatus::Cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            },
        })
    }

    fn no_reply(&self) -> String {
        let host = url::Url::parse(&self.cfg.http.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        format!("no-reply@{host}")
    }
}
