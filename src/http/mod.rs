//! The HTTP edge: the axum router, shared state, middleware (metrics, security headers, body
//! limit, panic guard), and one module per resource. Handlers translate between JSON and the
//! services; they hold no SQL and no business rules.

mod accounts;
mod assets;
mod bookings;
pub mod client_ip;
mod coaches;
pub mod error;
pub mod extract;
mod notify;
pub mod openapi;
mod ops;
mod privacy;
mod push;
mod rooms;
mod voice;
mod webhooks;

use crate::auth::Accounts;
use crate::booking::{Bookings, Coaches};
use crate::clock::Clock;
use crate::config::{Config, Secret};
use crate::store::Store;
use crate::telemetry::Metrics;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub accounts: Arc<Accounts>,
    pub bookings: Arc<Bookings>,
    pub coaches: Arc<Coaches>,
    pub metrics: Metrics,
    pub clock: Clock,
    /// HMAC key for tokens this server signs.
    pub signing_key: Secret,
    /// The live rooms (video rooms and the voice agent's rooms).
    pub rooms: Arc<crate::rooms::Rooms>,
    /// Signalling: the peer-connection factory, keys, ICE settings.
    pub signal: Arc<crate::signal::SignalContext>,
    /// AI voice sessions.
    pub voice: Arc<crate::voice::service::VoiceService>,
    /// How the client address of a request is found.
    pub proxy: Arc<client_ip::ProxyPolicy>,
    /// The outbox's counters (the delivery worker updates them).
    pub notify_metrics: crate::notify::worker::NotifyMetrics,
    /// The Web Push (VAPID) key pair.
    pub vapid: Arc<crate::notify::push::Vapid>,
}

impl AppState {
    /// Builds the services over an open store.
    /// Builds the services over an open store, with `agent` behind voice sessions.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        signing_key: Secret,
        vapid: Arc<crate::notify::push::Vapid>,
        clock: Clock,
        agent: Arc<dyn crate::voice::VoiceAgent>,
    ) -> Self {
        let metrics = Metrics::new();
        let rooms = Arc::new(crate::rooms::Rooms::new(
            config.rooms.max_rooms as usize,
            config.rooms.max_participants as usize,
            crate::rooms::RoomGauges::new(&metrics),
        ));
        let signal = Arc::new(crate::signal::SignalContext::new(
            &config,
            rooms.clone(),
            signing_key.clone(),
            clock.clone(),
            Arc::new(crate::booking::admission::RoomAdmission::new(
                store.clone(),
                clock.clone(),
                crate::booking::admission::JoinWindow::from_config(&config),
            )),
        ));
        let voice = crate::voice::service::VoiceService::new(
            store.clone(),
            rooms.clone(),
            clock.clone(),
            agent,
            crate::voice::metrics::VoiceMetrics::new(&metrics),
            config.notify.give_up_hours,
        );
        let proxy =
            client_ip::ProxyPolicy::new(config.http.trust_proxy, &config.http.trusted_proxies)
                .expect("validated configuration");
        Self {
            notify_metrics: crate::notify::worker::NotifyMetrics::new(&metrics),
            proxy: Arc::new(proxy),
            accounts: Arc::new(Accounts::new(store.clone(), &config.auth)),
            bookings: Arc::new(Bookings::new(
                store.clone(),
                config.clone(),
                signing_key.clone(),
            )),
            coaches: Arc::new(Coaches::new(store.clone())),
            rooms,
            signal,
            voice,
            metrics,
            config,
            store,
            clock,
            signing_key,
            vapid,
        }
    }
}

/// The whole application router. Layers, from the outside in: metrics and security headers
/// (so every response is counted and carries them, 500s from a caught panic included), the
/// whole-request deadline (408), the request-body deadline, the body size limit, the panic
/// guard.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(ops::routes())
        .merge(accounts::routes())
        .merge(coaches::routes())
        .merge(bookings::routes())
        .merge(privacy::routes())
        .merge(assets::routes())
        .merge(rooms::routes())
        .merge(voice::routes())
        .merge(notify::routes())
        .merge(webhooks::routes())
        .merge(push::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    with_edge_layers(routes, state)
}

/// Wraps `routes` in the layers every route has (see [`router`]); public so that tests can
/// put a route of their own (one that panics, say) behind the very same edge.
pub fn with_edge_layers(routes: Router<AppState>, state: AppState) -> Router {
    let max_body = state.config.http.max_body_bytes;
    let request_timeout = std::time::Duration::from_secs(state.config.http.request_timeout_secs);
    let body_timeout = std::time::Duration::from_secs(state.config.http.body_timeout_secs);
    routes
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized,
        ))
        .layer(RequestBodyDeadlineLayer::new(body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// A body announced far larger (16×) than `http.max_body_bytes` is refused before any of it
/// is read: the size limit alone would wait for the bytes to arrive, up to 10^15 of them.
/// A body only somewhat over the limit is left to that limit, which reads up to the limit
/// before answering 413: answering at once would close the socket on a client still
/// sending, and its kernel would reset the connection before the client read the 413.
async fn refuse_oversized(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let absurd = (state.config.http.max_body_bytes as u64).saturating_mul(16);
    if announced.is_some_and(|n| n > absurd) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "request bodies are limited to {} bytes",
                state.config.http.max_body_bytes
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Metrics by matched route, and security headers on every response.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let mut res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    state
        .metrics
        .http_requests
        .with_label_values(&[&route, &method, &status])
        .inc();
    state
        .metrics
        .http_latency
        .with_label_values(&[&route, &method])
        .observe(start.elapsed().as_secs_f64());
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if route.starts_with("/api/") || route.starts_with("/cal/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
