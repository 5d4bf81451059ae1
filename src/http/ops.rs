//! Operations endpoints: liveness, readiness (database reachable), Prometheus metrics and the
//! OpenAPI document.

use super::AppState;
use super::error::ApiError;
use super::extract::ClientIp;
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

/// Prometheus text exposition, for clients in `http.metrics_allow` or with the bearer token
/// `http.metrics_token`.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String), (status = 403, body = super::error::ErrorBody)))]
async fn metrics(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if !metrics_allowed(&s, &ip, &headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are served to the addresses in http.metrics_allow or with the bearer \
             token http.metrics_token",
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        s.metrics.render(),
    ))
}

/// Whether a request from `ip` with `headers` may read the metrics.
fn metrics_allowed(s: &AppState, ip: &str, headers: &axum::http::HeaderMap) -> bool {
    let token = s.config.http.metrics_token.expose();
    if !token.is_empty()
        && let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    {
        use subtle::ConstantTimeEq;
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return true;
        }
    }
    // An IPv4 client of a dual-stack listener appears as ::ffff:a.b.c.d.
    let Ok(ip) = ip.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()) else {
        return false;
    };
    s.config
        .http
        .metrics_allow
        .iter()
        .filter_map(|r| crate::validate::IpRange::parse(r).ok())
        .any(|r| r.contains(ip))
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi() -> impl IntoResponse {
    axum::Json(super::openapi::document())
}
