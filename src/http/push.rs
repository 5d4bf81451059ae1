//! Web Push endpoints: the server's VAPID public key (for `pushManager.subscribe`), and each
//! person's subscriptions (add, list, remove). A subscription is checked before it is kept:
//! an `https` endpoint on a public address (unless `notify.push.allow_private`) and keys that
//! encrypt (a P-256 point and a 16-byte secret). Adding one writes its session reminders in
//! the same transaction.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth};
use crate::store::StoreError;
use crate::store::push::{NewSubscription, Subscription};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

type Err = super::error::ErrorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/push/key", get(key))
        .route("/api/push/subscriptions", get(list).post(subscribe))
        .route("/api/push/subscriptions/{id}", delete(unsubscribe))
}

/// The VAPID public key browsers subscribe with.
#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// Whether this server sends Web Push.
    pub enabled: bool,
    /// The `applicationServerKey` (base64url, uncompressed P-256 point); null when off.
    pub public_key: Option<String>,
}

/// The server's Web Push key.
#[utoipa::path(get, operation_id = "push_key", path = "/api/push/key", tag = "notifications",
    responses((status = 200, body = PushKey)))]
async fn key(State(s): State<AppState>) -> axum::Json<PushKey> {
    let enabled = s.config.notify.push.enabled;
    axum::Json(PushKey {
        enabled,
        public_key: enabled.then(|| s.vapid.public_key().to_string()),
    })
}

/// A browser's `PushSubscription.toJSON()`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscribeRequest {
    /// The push service URL (https).
    #[schema(max_length = 2000)]
    pub endpoint: String,
    /// Ignored (browsers send it; push services rarely set it).
    #[allow(dead_code)]
    #[serde(default)]
    pub expiration_time: Option<f64>,
    pub keys: SubscriptionKeys,
}

/// The browser's payload encryption keys (RFC 8291).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// Its P-256 public key, base64url.
    #[schema(max_length = 200)]
    pub p256dh: String,
    /// Its 16-byte authentication secret, base64url.
    #[schema(max_length = 100)]
    pub auth: String,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_subscription",
        msg.into(),
    )
}

/// Turn notifications on for this browser: reminders before your sessions and "your coach
/// has joined". The same endpoint again replaces its keys; a person keeps at most 10
/// browsers (the oldest goes).
#[utoipa::path(post, operation_id = "push_subscribe", path = "/api/push/subscriptions", tag = "notifications",
    request_body = SubscribeRequest,
    responses((status = 201, body = Subscription),
        (status = 400, description = "Malformed body", body = Err),
        (status = 401, body = Err),
        (status = 409, description = "Web Push is off on this server (`push_off`)", body = Err),
        (status = 422, description = "The endpoint or keys cannot be used (`invalid_subscription`)", body = Err)))]
async fn subscribe(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<SubscribeRequest>,
) -> Result<(StatusCode, axum::Json<Subscription>), ApiError> {
    let cfg = &s.config.notify.push;
    if !cfg.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "push_off",
            "Web Push is off on this server",
        ));
    }
    if r.endpoint.len() > 2000 || r.keys.p256dh.len() > 200 || r.keys.auth.len() > 100 {
        return Err(invalid("the endpoint or a key is too long"));
    }
    let u = crate::notify::webhook::check_url(&r.endpoint).map_err(invalid)?;
    if u.scheme() != "https" && !cfg.allow_private {
        return Err(invalid("the endpoint must be an https:// URL"));
    }
    crate::notify::push::check_keys(&r.keys.p256dh, &r.keys.auth).map_err(invalid)?;
    crate::notify::webhook::resolve(&u, cfg.allow_private)
        .await
        .map_err(invalid)?;
    let now = s.clock.now();
    let id = format!("ps_{}", crate::ids::random_base32::<16>());
    let user = &auth.principal.user;
    let rows = s
        .bookings
        .notices()
        .push_for_subscription(user, &id, now)
        .await?;
    let sub = s
        .store
        .add_push_subscription(
            &NewSubscription {
                id: &id,
                user: &user.id,
                endpoint: &r.endpoint,
                p256dh: &r.keys.p256dh,
                auth: &r.keys.auth,
            },
            &rows,
            now,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(sub)))
}

/// Your browsers with notifications on, newest first.
#[utoipa::path(get, operation_id = "push_subscriptions", path = "/api/push/subscriptions", tag = "notifications",
    responses((status = 200, body = Vec<Subscription>), (status = 401, body = Err)))]
async fn list(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<Vec<Subscription>>, ApiError> {
    Ok(axum::Json(
        s.store.push_subscriptions(&auth.principal.user.id).await?,
    ))
}

/// Turn notifications off for one of your browsers; its queued notifications are dropped.
#[utoipa::path(delete, operation_id = "push_unsubscribe", path = "/api/push/subscriptions/{id}", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Err), (status = 404, body = Err)))]
async fn unsubscribe(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    match s
        .store
        .delete_push_subscription(&auth.principal.user.id, &id, s.clock.now())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(ApiError::not_found("subscription")),
        Err(e) => Err(e.into()),
    }
}
