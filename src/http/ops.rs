//! Operations endpoints: liveness, readiness (database reachable), Prometheus metrics and the
//! OpenAPI document.

use super::AppState;
use super::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The refusal of new calls while the server drains (after SIGTERM).
pub(super) fn restarting() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "restarting",
        "the server is restarting; try again in a moment",
    )
}

/// The server can serve: the database answers and can write, and it is not stopping (while
/// it drains after SIGTERM, a load balancer should send new users elsewhere).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = String), (status = 503, body = super::error::ErrorBody)))]
async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    if s.rooms.is_draining() {
        return Err(restarting());
    }
    s.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        match e {
            crate::store::StoreError::Unwritable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the database cannot write (disk full or read-only)",
            ),
            _ => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unreachable",
                "the database does not answer",
            ),
        }
    })?;
    Ok("ready")
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        s.metrics.render(),
    )
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi() -> impl IntoResponse {
    axum::Json(super::openapi::document())
}
