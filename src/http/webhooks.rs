//! Admin endpoints for webhooks: add an endpoint (its signing secret is shown once), list,
//! change, turn off, delete, and each endpoint's delivery log.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::notify::events::TYPES;
use crate::notify::webhook;
use crate::store::StoreError;
use crate::store::outbox::Delivery;
use crate::store::webhooks::Endpoint;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

type Err = super::error::ErrorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/webhooks", get(list).post(create))
        .route(
            "/api/admin/webhooks/{id}",
            get(one).patch(update).delete(remove),
        )
        .route("/api/admin/webhooks/{id}/deliveries", get(deliveries))
}

fn admin_only(auth: &Auth) -> Result<(), ApiError> {
    if auth.principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage webhooks"))
    }
}

fn invalid(code: &'static str, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, m)
}

/// A new endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://…` (or `http://`); private and loopback targets are refused unless
    /// `notify.webhooks.allow_private` is set.
    #[schema(min_length = 1, max_length = 2000)]
    pub url: String,
    /// Event types to receive, or `["*"]` for all: `booking.created`, `booking.rescheduled`,
    /// `booking.cancelled`, `booking.completed`, `room.started`, `room.ended`,
    /// `participant.joined`, `participant.left`, `voice_session.ended`.
    #[schema(min_items = 1, max_items = 20)]
    pub events: Vec<String>,
    /// A note for admins (at most 200 characters).
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// A change to an endpoint; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    #[schema(min_length = 1, max_length = 2000)]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 20)]
    pub events: Option<Vec<String>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// Off: nothing is queued for it, and what is queued is dropped when due.
    pub active: Option<bool>,
}

/// A new endpoint with its secret (shown this once).
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    pub endpoint: Endpoint,
    /// `whsec_…`: verify each delivery's `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

async fn checked_url(s: &AppState, raw: &str) -> Result<String, ApiError> {
    let u = webhook::check_url(raw).map_err(|m| invalid("invalid", m))?;
    webhook::resolve(&u, s.config.notify.webhooks.allow_private)
        .await
        .map_err(|m| invalid("invalid_target", m))?;
    Ok(u.to_string())
}

fn checked_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() || events.len() > 20 {
        return Err(invalid(
            "invalid",
            "events must list 1-20 event types, or [\"*\"]",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e != "*" && !TYPES.contains(&e.as_str()) {
            return Err(invalid(
                "invalid",
                format!("unknown event type {e:?}; known: {}", TYPES.join(", ")),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn checked_description(d: Option<&str>) -> Result<String, ApiError> {
    crate::validate::text("description", d.unwrap_or(""), 200).map_err(|m| invalid("invalid", m))
}

/// Add a webhook endpoint (admins only). The answer holds its signing secret, shown once.
#[utoipa::path(post, operation_id = "webhook_create", path = "/api/admin/webhooks", tag = "admin", request_body = NewEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err),
        (status = 422, description = "A bad URL or event type (`invalid`), or a target inside this network (`invalid_target`)", body = Err)))]
async fn create(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<NewEndpoint>,
) -> Result<(StatusCode, axum::Json<CreatedEndpoint>), ApiError> {
    admin_only(&auth)?;
    let events = checked_events(&r.events)?;
    let description = checked_description(r.description.as_deref())?;
    let url = checked_url(&s, &r.url).await?;
    let now = s.clock.now();
    let endpoint = Endpoint {
        id: format!("wh_{}", crate::ids::random_base32::<10>()),
        url,
        events,
        description,
        active: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let secret = webhook::new_secret();
    s.store.insert_endpoint(&endpoint, &secret).await?;
    s.store
        .audit(
            Some(auth.principal.user.id.as_str()),
            "webhook_created",
            Some(&endpoint.id),
            None,
            now,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedEndpoint { endpoint, secret }),
    ))
}

/// Webhook endpoints, oldest first (admins only; secrets are not shown).
#[utoipa::path(get, operation_id = "webhook_list", path = "/api/admin/webhooks", tag = "admin",
    responses((status = 200, body = Vec<Endpoint>), (status = 401, body = Err), (status = 403, body = Err)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<Vec<Endpoint>>, ApiError> {
    admin_only(&auth)?;
    Ok(axum::Json(s.store.endpoints().await?))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("webhook endpoint"),
        e => e.into(),
    }
}

/// One webhook endpoint (admins only).
#[utoipa::path(get, operation_id = "webhook_get", path = "/api/admin/webhooks/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Endpoint), (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err)))]
async fn one(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<Endpoint>, ApiError> {
    admin_only(&auth)?;
    Ok(axum::Json(s.store.endpoint(&id).await.map_err(not_found)?))
}

/// Change an endpoint: URL, events, description, on or off (admins only).
#[utoipa::path(patch, operation_id = "webhook_update", path = "/api/admin/webhooks/{id}", tag = "admin", params(("id" = String, Path)), request_body = EndpointChange,
    responses((status = 200, body = Endpoint), (status = 400, body = Err), (status = 401, body = Err), (status = 403, body = Err),
        (status = 404, body = Err), (status = 422, body = Err)))]
async fn update(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<EndpointChange>,
) -> Result<axum::Json<Endpoint>, ApiError> {
    admin_only(&auth)?;
    let mut e = s.store.endpoint(&id).await.map_err(not_found)?;
    if let Some(events) = &r.events {
        e.events = checked_events(events)?;
    }
    if r.description.is_some() {
        e.description = checked_description(r.description.as_deref())?;
    }
    if let Some(url) = &r.url {
        e.url = checked_url(&s, url).await?;
    }
    if let Some(active) = r.active {
        e.active = active;
    }
    let now = s.clock.now();
    s.store.update_endpoint(&e, now).await.map_err(not_found)?;
    s.store
        .audit(
            Some(auth.principal.user.id.as_str()),
            "webhook_changed",
            Some(&id),
            None,
            now,
        )
        .await?;
    Ok(axum::Json(s.store.endpoint(&id).await.map_err(not_found)?))
}

/// Delete an endpoint; its queued deliveries are dropped (admins only).
#[utoipa::path(delete, operation_id = "webhook_delete", path = "/api/admin/webhooks/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err)))]
async fn remove(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&auth)?;
    let now = s.clock.now();
    s.store.delete_endpoint(&id, now).await.map_err(not_found)?;
    s.store
        .audit(
            Some(auth.principal.user.id.as_str()),
            "webhook_deleted",
            Some(&id),
            None,
            now,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many deliveries to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// At most this many, newest first (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// An endpoint's delivery log, newest first; each entry's attempts are at
/// `GET /api/admin/deliveries/{id}` (admins only).
#[utoipa::path(get, operation_id = "webhook_deliveries", path = "/api/admin/webhooks/{id}/deliveries", tag = "admin", params(("id" = String, Path), LogQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err), (status = 422, body = Err)))]
async fn deliveries(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<LogQuery>,
) -> Result<axum::Json<Vec<Delivery>>, ApiError> {
    admin_only(&auth)?;
    s.store.endpoint(&id).await.map_err(not_found)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(invalid("invalid", "limit must be 1-500"));
    }
    Ok(axum::Json(
        s.store.deliveries(None, Some(&id), limit).await?,
    ))
}
