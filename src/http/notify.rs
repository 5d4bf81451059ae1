//! Notification endpoints: password reset by email, email address confirmation, one-click unsubscribe from reminders, and
//! the admins' view of the outbox (deliveries, their attempts, retrying a failed one).

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth, ClientIp, SameOrigin};
use crate::store::StoreError;
use crate::store::outbox::{Attempt, Delivery};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

type Err = super::error::ErrorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/password-reset", post(request_reset))
        .route("/api/auth/password-reset/confirm", post(confirm_reset))
        .route("/api/auth/verify-email", post(verify_email))
        .route("/api/auth/verify-email/resend", post(resend_verification))
        .route(
            "/api/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/api/admin/deliveries", get(deliveries))
        .route("/api/admin/deliveries/{id}", get(delivery))
        .route("/api/admin/deliveries/{id}/retry", post(retry))
}

/// Ask for a password reset link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Set a new password with the token from a reset email.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token from the link (`/reset-password#token=…`).
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
    /// At least 10 characters, at most 256 bytes.
    #[schema(min_length = 10)]
    pub new_password: String,
}

/// The answer to a reset request, the same whether or not the address has an account.
#[derive(Serialize, ToSchema)]
pub struct ResetAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    pub message: &'static str,
}

/// Email a password reset link (valid 30 minutes, single use) to the address, if it has an
/// account. The answer is the same either way, so it does not tell who has an account.
#[utoipa::path(post, operation_id = "password_reset_request", path = "/api/auth/password-reset", tag = "accounts", request_body = ResetRequest,
    responses((status = 202, description = "Accepted (whether or not the address has an account)", body = ResetAccepted),
        (status = 400, description = "Malformed body", body = Err),
        (status = 403, description = "A cross-site request", body = Err),
        (status = 422, description = "Not an email address", body = Err),
        (status = 429, description = "Too many requests from this address; retry after `Retry-After` seconds", body = Err)))]
async fn request_reset(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    ClientIp(ip): ClientIp,
    AppJson(r): AppJson<ResetRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !same {
        return Err(ApiError::forbidden(
            "cross-site request refused (Origin does not match)",
        ));
    }
    let now = s.clock.now();
    let cfg = s.config.clone();
    s.accounts
        .request_password_reset(&r.email, &ip, now, move |user, token| {
            crate::notify::accounts::password_reset(&cfg, user, token, now)
        })?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ResetAccepted {
            status: "accepted",
            message: "If this address has an account, a link to choose a new password is on \
                      its way. It works for 30 minutes.",
        }),
    ))
}

/// Choose a new password with the token from a reset email. Every login session of the
/// account ends; sign in with the new password.
#[utoipa::path(post, operation_id = "password_reset_confirm", path = "/api/auth/password-reset/confirm", tag = "accounts", request_body = ResetConfirm,
    responses((status = 204, description = "The password is changed; every login session has ended"),
        (status = 400, description = "Malformed body, or the token is used, expired or wrong (`invalid_token`)", body = Err),
        (status = 403, description = "A cross-site request", body = Err),
        (status = 422, description = "The new password is too short or too long", body = Err),
        (status = 503, description = "Busy hashing passwords; retry after `Retry-After` seconds", body = Err)))]
async fn confirm_reset(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    AppJson(r): AppJson<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    if !same {
        return Err(ApiError::forbidden(
            "cross-site request refused (Origin does not match)",
        ));
    }
    s.accounts
        .confirm_password_reset(&r.token, &r.new_password, s.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirm an email address with the token of a confirmation link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    /// The token from the link (`/verify-email#token=…`).
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
}

/// Confirm your email address with the token from the confirmation email (valid 24 hours).
/// Any one of your links works once and uses the others up.
#[utoipa::path(post, operation_id = "verify_email", path = "/api/auth/verify-email", tag = "accounts", request_body = VerifyEmail,
    responses((status = 204, description = "The address is confirmed"),
        (status = 400, description = "Malformed body, or the token is used, expired or wrong (`invalid_token`)", body = Err),
        (status = 403, description = "A cross-site request", body = Err)))]
async fn verify_email(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    AppJson(r): AppJson<VerifyEmail>,
) -> Result<StatusCode, ApiError> {
    if !same {
        return Err(ApiError::forbidden(
            "cross-site request refused (Origin does not match)",
        ));
    }
    s.accounts.verify_email(&r.token, s.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Email a new confirmation link to the address, if it has an account that is not confirmed
/// yet (at most one a minute per account). The answer is the same either way.
#[utoipa::path(post, operation_id = "verify_email_resend", path = "/api/auth/verify-email/resend", tag = "accounts", request_body = ResetRequest,
    responses((status = 202, description = "Accepted (whether or not the address has an unconfirmed account)", body = ResetAccepted),
        (status = 400, description = "Malformed body", body = Err),
        (status = 403, description = "A cross-site request", body = Err),
        (status = 409, description = "Email verification is off on this server (`verification_off`)", body = Err),
        (status = 422, description = "Not an email address", body = Err),
        (status = 429, description = "Too many requests from this address; retry after `Retry-After` seconds", body = Err)))]
async fn resend_verification(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    ClientIp(ip): ClientIp,
    AppJson(r): AppJson<ResetRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !same {
        return Err(ApiError::forbidden(
            "cross-site request refused (Origin does not match)",
        ));
    }
    let now = s.clock.now();
    let cfg = s.config.clone();
    let mail = move |user: &crate::model::account::User, token: &str| {
        crate::notify::accounts::verify_email(&cfg, user, token, now)
    };
    s.accounts.resend_verification(&r.email, &ip, now, mail)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ResetAccepted {
            status: "accepted",
            message: "If this address has an account waiting for confirmation, a new link is \
                      on its way. It works for 24 hours.",
        }),
    ))
}

fn unsubscribe_user(s: &AppState, token: &str) -> Result<String, ApiError> {
    crate::notify::unsubscribe::verify(s.signing_key.expose().as_bytes(), token)
        .ok_or_else(|| ApiError::not_found("unsubscribe link"))
}

fn page(body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Reminders · parlor</title><link rel=\"stylesheet\" href=\"/assets/base.css\">\
         <link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body>\
         <main class=\"page narrow\">{body}</main></body></html>"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// The page an unsubscribe link opens: a button that turns reminders off (opening the link
/// changes nothing, so mail scanners that follow links do not unsubscribe anyone).
#[utoipa::path(get, operation_id = "unsubscribe_page", path = "/api/unsubscribe/{token}", tag = "accounts", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Err)))]
async fn unsubscribe_page(
    State(s): State<AppState>,
    AppPath(token): AppPath<String>,
) -> Result<Response, ApiError> {
    unsubscribe_user(&s, &token)?;
    Ok(page(
        "<h1>Session reminders</h1><p>Stop the reminder emails before your sessions? \
         Confirmations and cancellations still come.</p>\
         <form method=\"post\"><button class=\"btn btn-primary\" type=\"submit\">\
         Turn reminders off</button></form>",
    ))
}

/// Turn the link owner's session reminders off (RFC 8058 one-click: mail apps POST
/// `List-Unsubscribe=One-Click` here). Turn them on again on the account page.
#[utoipa::path(post, operation_id = "unsubscribe", path = "/api/unsubscribe/{token}", tag = "accounts", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Err)))]
async fn unsubscribe(
    State(s): State<AppState>,
    AppPath(token): AppPath<String>,
) -> Result<Response, ApiError> {
    let user = unsubscribe_user(&s, &token)?;
    match s.store.set_reminders(&user, false).await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    s.store
        .audit(
            Some(&user),
            "reminders_off",
            None,
            Some("unsubscribe link"),
            s.clock.now(),
        )
        .await?;
    Ok(page(
        "<h1>Reminders are off</h1><p>You will get no more session reminders. \
         You can turn them on again on your <a href=\"/account\">account page</a>.</p>",
    ))
}

/// Which deliveries to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `queued`, `delivered`, `failed` or `dropped`; all when absent.
    #[param(pattern = "^(queued|delivered|failed|dropped)$")]
    pub status: Option<String>,
    /// At most this many, newest first (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn admin_only(auth: &Auth) -> Result<(), ApiError> {
    if auth.principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins see deliveries"))
    }
}

/// Outbox messages, newest first (admins only). Message bodies are not shown.
#[utoipa::path(get, operation_id = "delivery_list", path = "/api/admin/deliveries", tag = "admin", params(DeliveryQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 400, body = Err),
        (status = 401, body = Err), (status = 403, body = Err), (status = 422, body = Err)))]
async fn deliveries(
    State(s): State<AppState>,
    auth: Auth,
    AppQuery(q): AppQuery<DeliveryQuery>,
) -> Result<axum::Json<Vec<Delivery>>, ApiError> {
    admin_only(&auth)?;
    let invalid = |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m);
    if let Some(st) = &q.status
        && !matches!(st.as_str(), "queued" | "delivered" | "failed" | "dropped")
    {
        return Err(invalid(
            "status must be queued, delivered, failed or dropped",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit must be 1-500"));
    }
    Ok(axum::Json(
        s.store.deliveries(q.status.as_deref(), None, limit).await?,
    ))
}

/// A delivery and its attempts.
#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

/// One outbox message and every delivery attempt (admins only).
#[utoipa::path(get, operation_id = "delivery_get", path = "/api/admin/deliveries/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err)))]
async fn delivery(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<DeliveryDetail>, ApiError> {
    admin_only(&auth)?;
    let (delivery, attempts) = s.store.delivery(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("delivery"),
        e => e.into(),
    })?;
    Ok(axum::Json(DeliveryDetail { delivery, attempts }))
}

/// Try a failed message again now, with a fresh `notify.give_up_hours` (admins only).
#[utoipa::path(post, operation_id = "delivery_retry", path = "/api/admin/deliveries/{id}/retry", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Delivery), (status = 401, body = Err), (status = 403, body = Err),
        (status = 404, body = Err), (status = 409, description = "The message has not failed (`not_failed`), or it is a password reset (`not_retryable`)", body = Err)))]
async fn retry(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<Delivery>, ApiError> {
    admin_only(&auth)?;
    let now = s.clock.now();
    let give_up = now + chrono::Duration::hours(i64::from(s.config.notify.give_up_hours));
    match s.store.retry_delivery(&id, now, give_up).await {
        Ok(d) => {
            s.store
                .audit(
                    Some(auth.principal.user.id.as_str()),
                    "delivery_retried",
                    Some(&id),
                    None,
                    now,
                )
                .await?;
            Ok(axum::Json(d))
        }
        Err(StoreError::NotFound) => match s.store.delivery(&id).await {
            Ok((d, _))
                if d.kind == crate::notify::kind::PASSWORD_RESET
                    || d.kind == crate::notify::kind::VERIFY_EMAIL =>
            {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "not_retryable",
                    "a password reset or address confirmation email is not sent again; the \
                     person asks for a new link",
                ))
            }
            Ok(_) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_failed",
                "only a failed message can be retried",
            )),
            Err(StoreError::NotFound) => Err(ApiError::not_found("delivery")),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}
