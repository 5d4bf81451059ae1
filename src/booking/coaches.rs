//! Coach profiles, availability and the free-slot query.

use super::service::schedule_of;
use super::slots::{self, Slot};
use super::{BookingError, Viewer};
use crate::ids::{CoachId, UserId};
use crate::model::account::AccountRole;
use crate::model::booking::{Availability, Coach, CoachPolicy};
use crate::store::coaches::CoachProfile;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Fields of a coach profile as sent by admins (create) or by admins/the coach (patch).
/// On patch, absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachInput {
    /// Link the profile to a coach account (admins only).
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub title: Option<String>,
    pub specialties: Option<Vec<String>>,
    pub experience_years: Option<u32>,
    pub bio: Option<String>,
    /// http(s) URL of a photo; empty string clears it.
    pub photo_url: Option<String>,
    /// International phone number (stored in E.164); empty string clears it.
    pub phone: Option<String>,
    /// IANA time zone.
    #[schema(value_type = Option<crate::validate::schema::TimeZoneName>)]
    pub time_zone: Option<String>,
    /// The booking policy, all fields together; absent: the defaults on create, unchanged
    /// on patch.
    pub policy: Option<CoachPolicy>,
    /// Inactive coaches are hidden and cannot be booked (admins only).
    pub active: Option<bool>,
}

/// The coaches service.
pub struct Coaches {
    store: Store,
}

fn not_found(e: StoreError) -> BookingError {
    match e {
        StoreError::NotFound => BookingError::NotFound("coach"),
        e => BookingError::Store(e),
    }
}

/// A coach as one viewer may see it. Everyone: the public profile (name, title, bio, photo,
/// specialties, zone, policy, ratings) and whether phone sessions are offered. The phone
/// number: the coach, admins, and clients who hold a phone booking with the coach. The
/// weekly availability rules and the login account: the coach and admins (others see the
/// bookable slots, `GET /api/coaches/{id}/slots`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CoachView {
    pub id: CoachId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<crate::ids::UserId>,
    pub name: String,
    pub title: String,
    pub specialties: Vec<String>,
    pub experience_years: u32,
    pub bio: String,
    pub photo_url: Option<String>,
    /// Whether the coach takes phone sessions.
    pub offers_phone: bool,
    /// E.164; only for those who may call the coach (see above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// IANA time zone.
    pub time_zone: String,
    pub policy: crate::model::booking::CoachPolicy,
    /// Only for the coach and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<crate::model::booking::Availability>,
    pub active: bool,
    /// Completed sessions.
    pub sessions_held: i64,
    pub rating_count: i64,
    pub rating_average: Option<f64>,
}

impl Coaches {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Active coaches.
    pub async fn list(&self) -> Result<Vec<Coach>, BookingError> {
        Ok(self.store.active_coaches().await?)
    }

    /// Active coaches as `viewer` (none: anonymous) may see them; with `inactive_too` (admins
    /// only, checked by the caller) the inactive ones as well.
    pub async fn list_for(
        &self,
        viewer: Option<&Viewer>,
        inactive_too: bool,
    ) -> Result<Vec<CoachView>, BookingError> {
        let coaches = if inactive_too {
            self.store.all_coaches().await?
        } else {
            self.list().await?
        };
        let mut out = Vec::new();
        for c in coaches {
            out.push(self.view(viewer, c).await?);
        }
        Ok(out)
    }

    /// What `viewer` may see of `c`.
    pub async fn view(&self, viewer: Option<&Viewer>, c: Coach) -> Result<CoachView, BookingError> {
        let manages = viewer.is_some_and(|v| v.can_manage_coach(&c.id));
        let may_call = manages
            || match viewer {
                Some(v) if c.phone.is_some() => {
                    self.store.has_phone_booking(&v.user.id, &c.id).await?
                }
                _ => false,
            };
        Ok(CoachView {
            offers_phone: c.phone.is_some(),
            phone: c.phone.filter(|_| may_call),
            user_id: c.user_id.filter(|_| manages),
            availability: manages.then_some(c.availability),
            id: c.id,
            name: c.name,
            title: c.title,
            specialties: c.specialties,
            experience_years: c.experience_years,
            bio: c.bio,
            photo_url: c.photo_url,
            time_zone: c.time_zone,
            policy: c.policy,
            active: c.active,
            sessions_held: c.sessions_held,
            rating_count: c.rating_count,
            rating_average: c.rating_average,
        })
    }

    /// One coach; inactive ones only for those who manage them.
    pub async fn get(&self, viewer: Option<&Viewer>, id: &CoachId) -> Result<Coach, BookingError> {
        let c = self.store.coach(id).await.map_err(not_found)?;
        if c.active || viewer.is_some_and(|v| v.can_manage_coach(id)) {
            Ok(c)
        } else {
            Err(BookingError::NotFound("coach"))
        }
    }

    /// Creates a coach (admins only).
    pub async fn create(
        &self,
        viewer: &Viewer,
        input: CoachInput,
        now: DateTime<Utc>,
    ) -> Result<Coach, BookingError> {
        if !viewer.is_admin() {
            return Err(BookingError::Forbidden(
                "only admins can add coaches".into(),
            ));
        }
        self.insert(true, input, now).await
    }

    /// The operator's one step from the command line (`parlor coach add`): a coach profile
    /// for an account, open the given weekly hours, bookable at once.
    pub async fn create_bookable(
        &self,
        input: CoachInput,
        weekly: Vec<crate::model::booking::WeeklyRule>,
        now: DateTime<Utc>,
    ) -> Result<Coach, BookingError> {
        slots::validate_rules(&weekly, &[]).map_err(BookingError::Invalid)?;
        let coach = self.insert(true, input, now).await?;
        let availability = Availability {
            time_zone: coach.time_zone.clone(),
            weekly,
            overrides: Vec::new(),
        };
        self.store
            .set_availability(&coach.id, &availability, now)
            .await
            .map_err(not_found)
    }

    async fn insert(
        &self,
        admin: bool,
        input: CoachInput,
        now: DateTime<Utc>,
    ) -> Result<Coach, BookingError> {
        let base = CoachProfile {
            user_id: None,
            name: String::new(),
            title: String::new(),
            specialties: Vec::new(),
            experience_years: 0,
            bio: String::new(),
            photo_url: None,
            phone: None,
            time_zone: "UTC".into(),
            policy: CoachPolicy::default(),
            active: true,
        };
        if input.name.is_none() {
            return Err(BookingError::Invalid("name is required".into()));
        }
        let profile = self.merge(admin, base, input).await?;
        self.store
            .insert_coach(&profile, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    BookingError::Conflict("that account already has a coach profile".into())
                }
                e => e.into(),
            })
    }

    /// Updates a coach (admins, or the coach themself for their own profile).
    pub async fn update(
        &self,
        viewer: &Viewer,
        id: &CoachId,
        input: CoachInput,
        now: DateTime<Utc>,
    ) -> Result<Coach, BookingError> {
        let c = self.get(Some(viewer), id).await?;
        if !viewer.can_manage_coach(id) {
            return Err(BookingError::Forbidden("you cannot edit this coach".into()));
        }
        let base = CoachProfile {
            user_id: c.user_id,
            name: c.name,
            title: c.title,
            specialties: c.specialties,
            experience_years: c.experience_years,
            bio: c.bio,
            photo_url: c.photo_url,
            phone: c.phone,
            time_zone: c.time_zone,
            policy: c.policy,
            active: c.active,
        };
        let profile = self.merge(viewer.is_admin(), base, input).await?;
        self.store
            .update_coach(id, &profile, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    BookingError::Conflict("that account already has a coach profile".into())
                }
                e => not_found(e),
            })
    }

    /// Applies `i` to `p`; `admin`: the caller may link accounts and (de)activate.
    async fn merge(
        &self,
        admin: bool,
        mut p: CoachProfile,
        i: CoachInput,
    ) -> Result<CoachProfile, BookingError> {
        let invalid = BookingError::Invalid;
        if (i.user_id.is_some() || i.active.is_some()) && !admin {
            return Err(BookingError::Forbidden(
                "only admins can link accounts or (de)activate coaches".into(),
            ));
        }
        if let Some(u) = i.user_id {
            let user = self.store.user(&u).await.map_err(|e| match e {
                StoreError::NotFound => BookingError::Invalid("user_id does not exist".into()),
                e => e.into(),
            })?;
            if user.role != AccountRole::Coach {
                return Err(invalid("user_id must name a coach account".into()));
            }
            p.user_id = Some(u);
        }
        if let Some(n) = i.name {
            p.name = crate::validate::name(&n).map_err(invalid)?;
        }
        if let Some(t) = i.title {
            p.title = crate::validate::text("title", &t, 120).map_err(invalid)?;
        }
        if let Some(s) = i.specialties {
            if s.len() > 20 {
                return Err(invalid("at most 20 specialties".into()));
            }
            p.specialties = s
                .iter()
                .map(|x| crate::validate::text("specialty", x, 60))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
        }
        if let Some(y) = i.experience_years {
            if y > 80 {
                return Err(invalid("experience_years must be at most 80".into()));
            }
            p.experience_years = y;
        }
        if let Some(b) = i.bio {
            p.bio = crate::validate::text("bio", &b, 5000).map_err(invalid)?;
        }
        if let Some(u) = i.photo_url {
            p.photo_url = if u.is_empty() {
                None
            } else {
                Some(crate::validate::http_url("photo_url", &u).map_err(invalid)?)
            };
        }
        if let Some(ph) = i.phone {
            p.phone = if ph.is_empty() {
                None
            } else {
                Some(super::phone::to_e164(&ph).map_err(invalid)?)
            };
        }
        if let Some(tz) = i.time_zone {
            crate::validate::time_zone(&tz).map_err(invalid)?;
            p.time_zone = tz;
        }
        if let Some(pol) = i.policy {
            pol.validate().map_err(invalid)?;
            p.policy = pol;
        }
        if let Some(a) = i.active {
            p.active = a;
        }
        Ok(p)
    }

    /// Replaces weekly rules and date overrides (admins or the coach themself).
    pub async fn set_availability(
        &self,
        viewer: &Viewer,
        id: &CoachId,
        a: Availability,
        now: DateTime<Utc>,
    ) -> Result<Coach, BookingError> {
        self.get(Some(viewer), id).await?;
        if !viewer.can_manage_coach(id) {
            return Err(BookingError::Forbidden(
                "you cannot edit this coach's availability".into(),
            ));
        }
        crate::validate::time_zone(&a.time_zone).map_err(BookingError::Invalid)?;
        if a.overrides.len() > 366 {
            return Err(BookingError::Invalid("at most 366 date overrides".into()));
        }
        slots::validate_rules(&a.weekly, &a.overrides).map_err(BookingError::Invalid)?;
        self.store
            .set_availability(id, &a, now)
            .await
            .map_err(not_found)
    }

    /// Free slots of an active coach starting in [from, to).
    pub async fn free_slots(
        &self,
        id: &CoachId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, BookingError> {
        for (field, t) in [("from", from), ("to", to)] {
            crate::validate::instant(field, t).map_err(BookingError::Invalid)?;
        }
        let coach = self.get(None, id).await?;
        let (lo, _) = super::service::day_either_side(from)?;
        let (_, hi) = super::service::day_either_side(to)?;
        let busy = self.store.busy_intervals(id, lo, hi).await?;
        Ok(schedule_of(&coach)?.free_slots(from, to, now, &busy)?)
    }
}
