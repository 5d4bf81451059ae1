//! Bookings: create (idempotent), list, read, reschedule, cancel, rate, notes, outcome,
//! the iCalendar invite, and the private per-user calendar feed.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::booking::Viewer;
use crate::booking::ics;
use crate::booking::service::NewBooking;
use crate::booking::view::{BookingView, Renderer};
use crate::ids::{BookingId, CoachId, UserId, token_hash};
use crate::model::booking::{BookingStatus, SessionType};
use crate::store::StoreError;
use crate::store::bookings::BookingScope;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

type Err = super::error::ErrorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/bookings", post(create).get(list))
        .route("/api/bookings/{id}", get(one))
        .route("/api/bookings/{id}/reschedule", post(reschedule))
        .route("/api/bookings/{id}/cancel", post(cancel))
        .route("/api/bookings/{id}/rating", post(rate))
        .route("/api/bookings/{id}/notes", put(notes))
        .route("/api/bookings/{id}/status", put(outcome))
        .route("/api/bookings/{id}/invite.ics", get(invite))
        .route("/cal/{file}", get(feed))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    pub coach_id: String,
    /// RFC 3339 instant of a free slot.
    pub starts_at: DateTime<Utc>,
    pub session_type: SessionType,
    /// What the client wants to work on (length-limited).
    pub focus_area: Option<String>,
    /// Admins only: the client the booking is for.
    pub client_id: Option<String>,
}

async fn render(
    s: &AppState,
    v: &Viewer,
    b: &crate::model::booking::Booking,
) -> Result<BookingView, ApiError> {
    Ok(Renderer::new(&s.store, &s.config).view(v, b).await?)
}

/// Book a slot. Send an `Idempotency-Key` header to make retries safe.
#[utoipa::path(post, operation_id = "create_booking", path = "/api/bookings", tag = "bookings", request_body = CreateBooking,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 visible ASCII characters")),
    responses((status = 201, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err), (status = 422, body = Err)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    AppJson(r): AppJson<CreateBooking>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().ok().filter(|k| {
                (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
            });
            Some(k.ok_or_else(|| {
                ApiError::bad_request("Idempotency-Key must be 1-255 visible ASCII characters")
            })?)
        }
    };
    crate::validate::instant("starts_at", r.starts_at).map_err(super::error::out_of_range)?;
    let req = NewBooking {
        coach_id: CoachId(r.coach_id),
        starts_at: r.starts_at,
        session_type: r.session_type,
        focus_area: r.focus_area,
        client_id: r.client_id.map(UserId),
    };
    let (b, replayed) = s
        .bookings
        .create(&auth.viewer, req, key, s.clock.now())
        .await?;
    if !replayed {
        s.metrics.bookings_created.inc();
    }
    let view = render(&s, &auth.viewer, &b).await?;
    let mut res = (StatusCode::CREATED, axum::Json(view)).into_response();
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// Which bookings to list.
#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Scheduled and not yet over; soonest first.
    Upcoming,
    /// Ended, whatever became of them (held, cancelled, no-show); latest first.
    Past,
    /// Cancelled whose time is still to come; soonest first.
    Cancelled,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `upcoming` (default), `past` or `cancelled`.
    #[param(inline)]
    pub scope: Option<Scope>,
}

/// The caller's bookings (admins: all; coaches: with them; clients: their own).
#[utoipa::path(get, operation_id = "list_bookings", path = "/api/bookings", tag = "bookings", params(ListQuery),
    responses((status = 200, body = Vec<BookingView>), (status = 400, body = Err), (status = 401, body = Err)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<axum::Json<Vec<BookingView>>, ApiError> {
    let scope = match q.scope.unwrap_or(Scope::Upcoming) {
        Scope::Upcoming => BookingScope::Upcoming,
        Scope::Past => BookingScope::Past,
        Scope::Cancelled => BookingScope::Cancelled,
    };
    let bs = s.bookings.list(&auth.viewer, scope, s.clock.now()).await?;
    Ok(axum::Json(
        Renderer::new(&s.store, &s.config)
            .views(&auth.viewer, &bs)
            .await?,
    ))
}

/// One booking.
#[utoipa::path(get, operation_id = "get_booking", path = "/api/bookings/{id}", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = BookingView), (status = 401, body = Err), (status = 404, body = Err)))]
async fn one(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<BookingView>, ApiError> {
    let b = s.bookings.get(&auth.viewer, &BookingId(id)).await?;
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// RFC 3339 instant of another free slot.
    pub starts_at: DateTime<Utc>,
}

/// Move a booking to another free slot (same calendar UID, SEQUENCE + 1).
#[utoipa::path(post, operation_id = "reschedule_booking", path = "/api/bookings/{id}/reschedule", tag = "bookings", params(("id" = String, Path)),
    request_body = RescheduleRequest,
    responses((status = 200, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err), (status = 422, body = Err)))]
async fn reschedule(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<RescheduleRequest>,
) -> Result<axum::Json<BookingView>, ApiError> {
    crate::validate::instant("starts_at", r.starts_at).map_err(super::error::out_of_range)?;
    let b = s
        .bookings
        .reschedule(&auth.viewer, &BookingId(id), r.starts_at, s.clock.now())
        .await?;
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (required, at most 500 characters).
    #[schema(schema_with = crate::validate::schema::text_500)]
    pub reason: String,
}

/// Cancel a booking (clients: until the coach's cut-off).
#[utoipa::path(post, operation_id = "cancel_booking", path = "/api/bookings/{id}/cancel", tag = "bookings", params(("id" = String, Path)),
    request_body = CancelRequest,
    responses((status = 200, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 404, body = Err), (status = 409, body = Err), (status = 422, body = Err)))]
async fn cancel(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<CancelRequest>,
) -> Result<axum::Json<BookingView>, ApiError> {
    let b = s
        .bookings
        .cancel(&auth.viewer, &BookingId(id), &r.reason, s.clock.now())
        .await?;
    s.metrics.bookings_cancelled.inc();
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 to 5. Required the first time; left out, the earlier rating stays.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<u8>,
    /// Left out, the earlier comment stays; an empty string removes it.
    pub comment: Option<String>,
}

/// Rate a session that has taken place, or change its rating (its client only; one rating
/// per session). A field not sent keeps its earlier value.
#[utoipa::path(post, operation_id = "rate_booking", path = "/api/bookings/{id}/rating", tag = "bookings", params(("id" = String, Path)),
    request_body = RatingRequest,
    responses((status = 200, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err), (status = 422, body = Err)))]
async fn rate(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<RatingRequest>,
) -> Result<axum::Json<BookingView>, ApiError> {
    let b = s
        .bookings
        .rate(
            &auth.viewer,
            &BookingId(id),
            r.rating,
            r.comment.as_deref(),
            s.clock.now(),
        )
        .await?;
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotesRequest {
    /// Private to the coach and admins; at most 10,000 characters, empty clears them.
    #[schema(schema_with = crate::validate::schema::notes)]
    pub notes: String,
}

/// Write the coach's private notes on a session.
#[utoipa::path(put, operation_id = "set_booking_notes", path = "/api/bookings/{id}/notes", tag = "bookings", params(("id" = String, Path)),
    request_body = NotesRequest,
    responses((status = 200, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 422, body = Err)))]
async fn notes(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<NotesRequest>,
) -> Result<axum::Json<BookingView>, ApiError> {
    let b = s
        .bookings
        .set_notes(&auth.viewer, &BookingId(id), &r.notes, s.clock.now())
        .await?;
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// `completed` or `no_show`.
    #[schema(schema_with = outcome_schema)]
    pub status: BookingStatus,
}

/// The two outcomes a coach records.
fn outcome_schema() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["completed", "no_show"]))
}

/// Record whether a session took place (coach or admin).
#[utoipa::path(put, operation_id = "set_booking_status", path = "/api/bookings/{id}/status", tag = "bookings", params(("id" = String, Path)),
    request_body = OutcomeRequest,
    responses((status = 200, body = BookingView), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err), (status = 422, body = Err)))]
async fn outcome(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<OutcomeRequest>,
) -> Result<axum::Json<BookingView>, ApiError> {
    let b = s
        .bookings
        .set_outcome(&auth.viewer, &BookingId(id), r.status, s.clock.now())
        .await?;
    Ok(axum::Json(render(&s, &auth.viewer, &b).await?))
}

fn calendar_response(body: String, filename: &str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    let disp = format!("attachment; filename=\"{filename}\"");
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disp).expect("ASCII filename"),
    );
    (h, body).into_response()
}

/// The iCalendar invite (METHOD:REQUEST; METHOD:CANCEL once cancelled).
#[utoipa::path(get, operation_id = "booking_invite", path = "/api/bookings/{id}/invite.ics", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = Err), (status = 404, body = Err)))]
async fn invite(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    let b = s.bookings.get(&auth.viewer, &BookingId(id)).await?;
    let ev = Renderer::new(&s.store, &s.config)
        .calendar_event(&auth.viewer, &b, s.clock.now())
        .await?;
    let body = if b.status == BookingStatus::Cancelled {
        ics::render_cancel(&ev)
    } else {
        ics::render_request(&ev)
    };
    Ok(calendar_response(body, "invite.ics"))
}

/// The private calendar feed of a user (link from `POST /api/me/calendar-feed`).
#[utoipa::path(get, operation_id = "calendar_feed", path = "/cal/{file}", tag = "bookings", params(("file" = String, Path, description = "<feed token>.ics")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = Err)))]
async fn feed(
    State(s): State<AppState>,
    AppPath(file): AppPath<String>,
) -> Result<Response, ApiError> {
    let token = file
        .strip_suffix(".ics")
        .ok_or_else(|| ApiError::not_found("calendar"))?;
    let user = s
        .store
        .user_by_feed_token(&token_hash(token))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("calendar"),
            e => e.into(),
        })?;
    let coach_id = s.store.coach_by_user(&user.id).await.ok().map(|c| c.id);
    let viewer = Viewer { user, coach_id };
    let now = s.clock.now();
    // Cancelled sessions stay in the feed (STATUS:CANCELLED) so calendars remove them.
    let mut bookings = Vec::new();
    for scope in [
        BookingScope::Upcoming,
        BookingScope::Cancelled,
        BookingScope::Past,
    ] {
        bookings.extend(s.bookings.list(&viewer, scope, now).await?);
    }
    let mut r = Renderer::new(&s.store, &s.config);
    let mut events = Vec::with_capacity(bookings.len());
    for b in &bookings {
        events.push(r.calendar_event(&viewer, b, now).await?);
    }
    Ok(calendar_response(
        ics::render_feed("parlor sessions", &events),
        "parlor.ics",
    ))
}
