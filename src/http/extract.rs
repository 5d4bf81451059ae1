//! Request extractors: JSON/query/path that answer malformed input with [`ApiError`], and
//! [`Auth`], the authenticated caller (session cookie or `Authorization: Bearer` API key).
//!
//! Cookie-authenticated requests that change state must come from this site: the `Origin`
//! header must be the origin of `http.public_url`, scheme included (or, without `Origin`,
//! `Sec-Fetch-Site: same-origin`). API-key requests are not subject to this check.

use super::AppState;
use super::error::ApiError;
use crate::booking::Viewer;
use crate::model::account::{AccountRole, AuthMethod, Principal};
use crate::store::StoreError;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};

/// JSON body; malformed input is a 400 in the API error shape, oversized a 413. The body
/// must be a JSON object: serde would otherwise fill a struct from an array by position.
pub struct AppJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_json",
                "the request body must be a JSON object",
            ));
        }
        serde_json::from_value(value).map(AppJson).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("invalid request body: {e}"),
            )
        })
    }
}

/// Query string; malformed input is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// Path parameters; malformed input is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "parlor_session";

/// The authenticated caller, with their coach profile when they are a coach.
pub struct Auth {
    pub principal: Principal,
    pub viewer: Viewer,
}

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// The value of a cookie in these request headers, if present.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.split(';').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then_some(v)
            })
        })
}

/// Whether a browser request comes from this site (see module docs): its `Origin` is the
/// configured public origin — scheme, host and port — and nothing the request itself says
/// (such as `Host`) can widen that.
pub fn same_origin(parts: &Parts, public_origin: &str) -> bool {
    match parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        Some(origin) => {
            let origin = url::Url::parse(origin.trim()).map(|u| u.origin());
            let public = url::Url::parse(public_origin).map(|u| u.origin());
            matches!((origin, public), (Ok(o), Ok(p)) if o.is_tuple() && o == p)
        }
        None => parts
            .headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "same-origin" || v == "none"),
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = state.clock.now();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.strip_prefix("Bearer ")
                    .ok_or_else(ApiError::unauthenticated)
            })
            .transpose()?;
        let (user, method) = if let Some(key) = bearer {
            (
                state.accounts.user_by_api_key(key.trim(), now).await?,
                AuthMethod::ApiKey,
            )
        } else if let Some(c) = cookie(parts, SESSION_COOKIE) {
            if changes_state(&parts.method) && !same_origin(parts, &state.config.public_origin()) {
                return Err(ApiError::forbidden(
                    "cross-site request refused (Origin does not match)",
                ));
            }
            (
                state.accounts.user_by_cookie(c, now).await?,
                AuthMethod::Cookie,
            )
        } else {
            return Err(ApiError::unauthenticated());
        };
        let coach_id = if user.role == AccountRole::Coach {
            match state.store.coach_by_user(&user.id).await {
                Ok(c) => Some(c.id),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let viewer = Viewer {
            user: user.clone(),
            coach_id,
        };
        Ok(Auth {
            principal: Principal { user, method },
            viewer,
        })
    }
}

/// The caller if authenticated, `None` otherwise (bad credentials are still an error).
pub struct MaybeAuth(pub Option<Auth>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let has_credentials = parts.headers.contains_key(header::AUTHORIZATION)
            || cookie(parts, SESSION_COOKIE).is_some();
        if !has_credentials {
            return Ok(MaybeAuth(None));
        }
        match Auth::from_request_parts(parts, state).await {
            Ok(a) => Ok(MaybeAuth(Some(a))),
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => Ok(MaybeAuth(None)),
            Err(e) => Err(e),
        }
    }
}

/// The client's IP for rate limiting (see [`super::client_ip`]).
pub fn client_ip(parts: &Parts, policy: &super::client_ip::ProxyPolicy) -> String {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    policy
        .client(peer, &forwarded)
        .map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// The client IP as an extractor.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.proxy)))
    }
}

/// Whether the request is same-origin (for login/signup, which set cookies).
pub struct SameOrigin(pub bool);

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let has_origin = parts.headers.contains_key(header::ORIGIN);
        Ok(SameOrigin(
            !has_origin || same_origin(parts, &state.config.public_origin()),
        ))
    }
}
