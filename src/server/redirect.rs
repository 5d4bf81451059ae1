//! The plain-HTTP listener beside the built-in HTTPS (`http.tls.redirect_addr`, e.g. port
//! 80): every request is sent permanently (308, method and body kept) to the same path and
//! query on `http.public_url`, except ACME HTTP-01 validations, which are answered here.

use super::acme::Http01Challenges;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

#[derive(Clone)]
struct Redirect {
    /// `http.public_url` without a trailing slash.
    target: Arc<str>,
    http01: Arc<Http01Challenges>,
}

/// The redirect listener's routes.
pub fn router(public_url: &str, http01: Arc<Http01Challenges>) -> Router {
    let state = Redirect {
        target: public_url.trim_end_matches('/').into(),
        http01,
    };
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(redirect)
        .with_state(state)
}

async fn challenge(State(s): State<Redirect>, Path(token): Path<String>) -> Response {
    match s.http01.answer(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn redirect(State(s): State<Redirect>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", s.target);
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}
