//! The one error type of the HTTP edge: `{"error": {"code": "...", "message": "..."}}` with a
//! fitting status. Internal details are logged, never sent.

use crate::auth::AuthError;
use crate::booking::BookingError;
use crate::booking::slots::SlotError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// The JSON error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Machine-readable code and human message.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first (session cookie or API key)",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// 422 `out_of_range`: a date outside what the API accepts.
pub fn out_of_range(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out_of_range", message)
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Unwritable(m) => {
                tracing::error!(error = %m, "the database cannot write");
                ApiError {
                    retry_after: Some(30),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage_unavailable",
                        "the server cannot save data right now; try again later",
                    )
                }
            }
            e => {
                tracing::error!(error = %e, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let msg = e.to_string();
        match e {
            AuthError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", msg)
            }
            AuthError::RateLimited(wait) => ApiError {
                retry_after: Some(wait),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg)
            },
            AuthError::Busy => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", msg)
            },
            AuthError::EmailTaken => ApiError::new(StatusCode::CONFLICT, "email_taken", msg),
            AuthError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg)
            }
            AuthError::SignupDisabled => ApiError::forbidden(msg),
            AuthError::WrongPassword => ApiError::new(StatusCode::FORBIDDEN, "wrong_password", msg),
            AuthError::Disabled => ApiError::new(StatusCode::FORBIDDEN, "account_disabled", msg),
            AuthError::OwnAccount(_) => ApiError::new(StatusCode::CONFLICT, "own_account", msg),
            AuthError::Unauthenticated => ApiError::unauthenticated(),
            AuthError::InvalidVerificationToken => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_token", msg)
            }
            AuthError::EmailUnverified => {
                ApiError::new(StatusCode::FORBIDDEN, "email_unverified", msg)
            }
            AuthError::VerificationOff => {
                ApiError::new(StatusCode::CONFLICT, "verification_off", msg)
            }
            AuthError::InvalidResetToken => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_token", msg)
            }
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        let msg = e.to_string();
        match e {
            BookingError::NotFound(what) => ApiError::not_found(what),
            BookingError::Forbidden(_) => ApiError::forbidden(msg),
            BookingError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg)
            }
            BookingError::Slot(SlotError::InvalidRange) => ApiError::bad_request(msg),
            BookingError::Slot(s) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, slot_code(s), msg)
            }
            BookingError::SlotTaken => ApiError::new(StatusCode::CONFLICT, "slot_taken", msg),
            BookingError::IdempotencyMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_mismatch",
                msg,
            ),
            BookingError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            BookingError::SameStart => ApiError::new(StatusCode::CONFLICT, "same_start", msg),
            BookingError::ClientBusy => ApiError::new(StatusCode::CONFLICT, "client_overlap", msg),
            BookingError::Store(s) => s.into(),
        }
    }
}

fn slot_code(s: SlotError) -> &'static str {
    match s {
        SlotError::InPast => "slot_in_past",
        SlotError::TooSoon => "slot_too_soon",
        SlotError::BeyondWindow => "slot_beyond_window",
        SlotError::NotASlot => "not_a_slot",
        SlotError::Taken => "slot_taken",
        SlotError::InvalidRange => "invalid_range",
    }
}

/// Whether a rejected body failed because it did not arrive within `http.body_timeout_secs`.
fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if body_timed_out(&r) {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            );
        }
        let status = r.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_json",
        };
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}
