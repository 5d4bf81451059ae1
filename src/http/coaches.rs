//! Coaches: list, profile, admin create/patch, availability, and free slots.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth, MaybeAuth};
use crate::booking::coaches::{CoachInput, CoachView};
use crate::ids::CoachId;
use crate::model::booking::{Availability, Coach};
use crate::store::bookings::{BookingFilter, BookingScope};
use crate::timefmt::Rfc3339;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/coaches", get(list).post(create))
        .route("/api/coaches/{id}", get(one).patch(update))
        .route("/api/coaches/{id}/availability", put(set_availability))
        .route("/api/coaches/{id}/slots", get(slots))
}

/// Which coaches to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Inactive coaches too (admins only; 403 for anyone else).
    pub include_inactive: Option<bool>,
}

/// Active coaches: the public profile for everyone; the phone number and the weekly
/// availability rules only for those allowed (see `CoachView`).
#[utoipa::path(get, operation_id = "list_coaches", path = "/api/coaches", tag = "coaches", params(ListQuery),
    responses((status = 200, body = Vec<CoachView>), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    super::extract::AppQuery(q): super::extract::AppQuery<ListQuery>,
) -> Result<axum::Json<Vec<CoachView>>, ApiError> {
    let inactive_too = q.include_inactive == Some(true);
    if inactive_too && !auth.as_ref().is_some_and(|a| a.principal.is_admin()) {
        return Err(ApiError::forbidden("only admins list inactive coaches"));
    }
    Ok(axum::Json(
        s.coaches
            .list_for(auth.as_ref().map(|a| &a.viewer), inactive_too)
            .await?,
    ))
}

/// One coach's profile, as the caller may see it (see `CoachView`).
#[utoipa::path(get, operation_id = "get_coach", path = "/api/coaches/{id}", tag = "coaches", params(("id" = String, Path)),
    responses((status = 200, body = CoachView), (status = 404, body = super::error::ErrorBody)))]
async fn one(
    State(s): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<CoachView>, ApiError> {
    let viewer = auth.as_ref().map(|a| &a.viewer);
    let c = s.coaches.get(viewer, &CoachId(id)).await?;
    Ok(axum::Json(s.coaches.view(viewer, c).await?))
}

/// Add a coach (admins only).
#[utoipa::path(post, operation_id = "create_coach", path = "/api/coaches", tag = "coaches", request_body = CoachInput,
    responses((status = 201, body = Coach), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(input): AppJson<CoachInput>,
) -> Result<impl IntoResponse, ApiError> {
    let c = s.coaches.create(&auth.viewer, input, s.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// Options of a coach update.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateQuery {
    /// With `"active": false`: cancel the coach's future sessions, each like any cancellation
    /// (the invite turns into a cancellation, an audit entry). Without it, deactivating a coach
    /// who still has future sessions is refused with 409 `coach_has_sessions`.
    pub cancel_sessions: Option<bool>,
}

/// Edit a coach profile and policy (admins, or the coach themself). Deactivating a coach
/// with future sessions needs `?cancel_sessions=true`.
#[utoipa::path(patch, operation_id = "update_coach", path = "/api/coaches/{id}", tag = "coaches", params(("id" = String, Path), UpdateQuery), request_body = CoachInput,
    responses((status = 200, body = Coach), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<UpdateQuery>,
    AppJson(input): AppJson<CoachInput>,
) -> Result<axum::Json<Coach>, ApiError> {
    let (id, now, viewer) = (CoachId(id), s.clock.now(), &auth.viewer);
    // Only admins change `active` (the update refuses anyone else, changing nothing).
    let deactivating = input.active == Some(false)
        && viewer.is_admin()
        && s.coaches.get(Some(viewer), &id).await?.active;
    let sessions = if deactivating {
        let filter = BookingFilter::Coach(id.clone());
        s.store
            .bookings(&filter, BookingScope::Upcoming, now, i64::MAX)
            .await?
    } else {
        Vec::new()
    };
    if !sessions.is_empty() && q.cancel_sessions != Some(true) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "coach_has_sessions",
            format!(
                "this coach has {} future session(s): cancel them first, or deactivate with \
                 ?cancel_sessions=true to cancel them all",
                sessions.len()
            ),
        ));
    }
    let coach = s.coaches.update(viewer, &id, input, now).await?;
    for b in sessions {
        s.bookings
            .cancel(viewer, &b.id, "The coach is no longer available.", now)
            .await?;
    }
    Ok(axum::Json(coach))
}

/// Replace weekly hours and date overrides, in an IANA time zone (admins, or the coach).
#[utoipa::path(put, path = "/api/coaches/{id}/availability", tag = "coaches", params(("id" = String, Path)),
    request_body = Availability,
    responses((status = 200, body = Coach), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
async fn set_availability(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(a): AppJson<Availability>,
) -> Result<axum::Json<Coach>, ApiError> {
    Ok(axum::Json(
        s.coaches
            .set_availability(&auth.viewer, &CoachId(id), a, s.clock.now())
            .await?,
    ))
}

/// Slot query parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// Start of the range: an RFC 3339 instant, or a date (midnight in `tz`). Default: now.
    pub from: Option<String>,
    /// End of the range (exclusive), same forms. Default: `from` + 7 days. At most 62 days.
    pub to: Option<String>,
    /// IANA zone for display times and for plain dates. Default: UTC.
    pub tz: Option<String>,
}

/// One free slot. Timestamps are rendered without allocation (`timefmt`): a week of slots
/// holds hundreds of them.
#[derive(Serialize, ToSchema)]
pub struct SlotView {
    /// UTC instants (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Rfc3339,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Rfc3339,
    /// Wall-clock times in the requested zone, RFC 3339 with offset.
    #[schema(value_type = String)]
    pub local_starts_at: Rfc3339,
    #[schema(value_type = String)]
    pub local_ends_at: Rfc3339,
}

/// Free slots of a coach.
#[derive(Serialize, ToSchema)]
pub struct SlotsResponse {
    pub coach_id: String,
    pub time_zone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub slots: Vec<SlotView>,
}

fn parse_bound(raw: &str, tz: chrono_tz::Tz, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let t = parse_instant_or_date(raw, tz, name)?;
    crate::validate::instant(name, t).map_err(super::error::out_of_range)
}

fn parse_instant_or_date(
    raw: &str,
    tz: chrono_tz::Tz,
    name: &str,
) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = raw.parse::<NaiveDate>().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be an RFC 3339 instant or a YYYY-MM-DD date"
        ))
    })?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Midnight can fall into a DST gap in a few zones: take the first instant after it.
    (0..=3)
        .find_map(|h| {
            midnight
                .checked_add_signed(Duration::hours(h))?
                .and_local_timezone(tz)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::bad_request(format!("{name} does not exist in {tz}")))
}

/// Free slots of a coach in a range, as UTC instants with display times in `tz`.
#[utoipa::path(get, operation_id = "coach_slots", path = "/api/coaches/{id}/slots", tag = "coaches", params(("id" = String, Path), SlotQuery),
    responses((status = 200, body = SlotsResponse), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
async fn slots(
    State(s): State<AppState>,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<SlotQuery>,
) -> Result<axum::Json<SlotsResponse>, ApiError> {
    let tz_name = q.tz.as_deref().unwrap_or("UTC");
    let tz = crate::validate::time_zone(tz_name).map_err(ApiError::bad_request)?;
    let now = s.clock.now();
    let from = q
        .from
        .as_deref()
        .map(|f| parse_bound(f, tz, "from"))
        .transpose()?
        .unwrap_or(now);
    let to =
        q.to.as_deref()
            .map(|t| parse_bound(t, tz, "to"))
            .transpose()?
            .unwrap_or_else(|| from.checked_add_signed(Duration::days(7)).unwrap_or(from));
    let coach_id = CoachId(id);
    let free = s.coaches.free_slots(&coach_id, from, to, now).await?;
    let slots = free
        .into_iter()
        .map(|sl| SlotView {
            starts_at: Rfc3339::utc(sl.start),
            ends_at: Rfc3339::utc(sl.end),
            local_starts_at: Rfc3339::local(tz, sl.start),
            local_ends_at: Rfc3339::local(tz, sl.end),
        })
        .collect();
    Ok(axum::Json(SlotsResponse {
        coach_id: coach_id.0,
        time_zone: tz.name().into(),
        from,
        to,
        slots,
    }))
}
