//! Sign-up, login/logout (session cookie), the caller's profile, API keys, the calendar feed
//! token, and admin account creation.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, Auth, ClientIp, SESSION_COOKIE, SameOrigin, cookie};
use crate::auth::{AuthError, Signup};
use crate::config::EmailVerification;
use crate::ids::ApiKeyId;
use crate::model::account::{AccountRole, ApiKeyInfo, User};
use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/signup", post(signup))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/me", get(me).patch(update_me))
        .route("/api/me/password", axum::routing::put(change_password))
        .route("/api/me/calendar-feed", post(rotate_feed))
        .route("/api/keys", post(create_key).get(list_keys))
        .route("/api/keys/{id}", delete(revoke_key))
        .route(
            "/api/admin/users",
            post(admin_create_user).get(admin_list_users),
        )
        .route("/api/admin/users/{id}/disable", post(admin_disable_user))
        .route("/api/admin/users/{id}/enable", post(admin_enable_user))
        .route(
            "/api/admin/users/{id}/role",
            axum::routing::put(admin_set_role),
        )
        .route("/api/admin/users/{id}/password", post(admin_reset_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub name: String,
    /// At least 10 characters.
    pub password: String,
    /// IANA time zone; defaults to UTC.
    pub time_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The caller and, for coaches, their coach profile id.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    pub coach_id: Option<String>,
    /// Whether this server sends SMS (so `sms_reminders` can be turned on).
    pub sms_available: bool,
    /// Whether sign-ups confirm their address here (`user.email_verified` tells if you did).
    pub email_verification: EmailVerification,
}

/// The session cookie (`Secure` under an https public URL); `max_age` 0 clears it.
pub(super) fn session_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.cookies_secure() {
        "; Secure"
    } else {
        ""
    };
    let v = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&v).expect("cookie value is ASCII")
}

fn cross_site() -> ApiError {
    ApiError::forbidden("cross-site request refused (Origin does not match)")
}

/// The answer to a sign-up, the same whether or not the email already had an account.
#[derive(Serialize, ToSchema)]
pub struct SignupAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    pub message: &'static str,
}

/// Create a client account. The answer is the same for a new and an already registered email
/// (so sign-up does not reveal who has an account): 202, no cookie; then sign in.
#[utoipa::path(post, path = "/api/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 202, description = "Accepted (the same answer whether or not the email already has an account)", body = SignupAccepted),
        (status = 400, description = "Malformed body", body = super::error::ErrorBody),
        (status = 403, description = "Sign-up is turned off, or a cross-site request", body = super::error::ErrorBody),
        (status = 422, description = "A field is invalid; `error.message` names it", body = super::error::ErrorBody),
        (status = 429, description = "Too many sign-ups from this address; retry after `Retry-After` seconds", body = super::error::ErrorBody),
        (status = 503, description = "Busy hashing passwords; retry after `Retry-After` seconds", body = super::error::ErrorBody)))]
async fn signup(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    ClientIp(ip): ClientIp,
    AppJson(r): AppJson<SignupRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !same {
        return Err(cross_site());
    }
    if !s.config.auth.signup_enabled {
        return Err(AuthError::SignupDisabled.into());
    }
    let now = s.clock.now();
    let tz = r.time_zone.as_deref().unwrap_or("UTC");
    let new = Signup {
        email: &r.email,
        name: &r.name,
        password: &r.password,
        time_zone: tz,
        role: AccountRole::Client,
    };
    // Created or already taken: answered alike; the owner of a taken address is told by email.
    let cfg = s.config.clone();
    let mail = move |user: &User, token: &str| {
        crate::notify::accounts::verify_email(&cfg, user, token, now)
    };
    let verification = s.config.auth.email_verification;
    let outcome = s.accounts.signup(&new, &ip, now, Some(&mail)).await?;
    if let crate::auth::SignupOutcome::EmailTaken = outcome {
        let email = crate::validate::email(&r.email).unwrap_or_default();
        if let Ok((user, _)) = s.store.user_for_login(&email).await
            && !user.disabled
        {
            let rows = crate::notify::accounts::signup_attempt(&s.config, &user, now);
            s.store.enqueue(&rows, now).await?;
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SignupAccepted {
            status: "accepted",
            message: match verification {
                EmailVerification::Off => "Sign-up received. Sign in with your email and password.",
                EmailVerification::Optional => {
                    "Sign-up received. Sign in with your email and password, and confirm your \
                     address with the link we are emailing you."
                }
                EmailVerification::Required => {
                    "Sign-up received. Confirm your address with the link we are emailing you, \
                     then sign in."
                }
            },
        }),
    ))
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, description = "Signed in; the session cookie is set", body = MeResponse),
        (status = 400, description = "Malformed body", body = super::error::ErrorBody),
        (status = 401, description = "Wrong email or password (the same answer for both)", body = super::error::ErrorBody),
        (status = 403, description = "The account is disabled (`account_disabled`), or a cross-site request", body = super::error::ErrorBody),
        (status = 429, description = "Too many failed attempts; retry after `Retry-After` seconds", body = super::error::ErrorBody),
        (status = 503, description = "Busy hashing passwords; retry after `Retry-After` seconds", body = super::error::ErrorBody)))]
async fn login(
    State(s): State<AppState>,
    SameOrigin(same): SameOrigin,
    ClientIp(ip): ClientIp,
    AppJson(r): AppJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !same {
        return Err(cross_site());
    }
    let (user, token) = s
        .accounts
        .login(&r.email, &r.password, &ip, s.clock.now())
        .await?;
    let coach_id = s.store.coach_by_user(&user.id).await.ok().map(|c| c.id.0);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        session_cookie(&s, &token, s.accounts.session_ttl().num_seconds()),
    );
    Ok((
        headers,
        axum::Json(MeResponse {
            user,
            coach_id,
            sms_available: s.config.notify.sms.enabled(),
            email_verification: s.config.auth.email_verification,
        }),
    ))
}

/// Sign out: the session is revoked on the server and the cookie cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts",
    responses((status = 204), (status = 403, body = super::error::ErrorBody)))]
async fn logout(State(s): State<AppState>, parts: Parts) -> Result<impl IntoResponse, ApiError> {
    if !super::extract::same_origin(&parts, &s.config.public_origin())
        && parts.headers.contains_key(header::ORIGIN)
    {
        return Err(cross_site());
    }
    if let Some(token) = cookie(&parts, SESSION_COOKIE) {
        s.accounts.logout(token).await?;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok((StatusCode::NO_CONTENT, headers))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/me", tag = "accounts",
    responses((status = 200, body = MeResponse), (status = 401, body = super::error::ErrorBody)))]
async fn me(State(s): State<AppState>, auth: Auth) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        coach_id: auth.viewer.coach_id.map(|c| c.0),
        user: auth.principal.user,
        sms_available: s.config.notify.sms.enabled(),
        email_verification: s.config.auth.email_verification,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// 1-100 characters.
    #[schema(schema_with = crate::validate::schema::name_or_null)]
    pub name: Option<String>,
    /// IANA time zone.
    #[schema(value_type = Option<crate::validate::schema::TimeZoneName>)]
    pub time_zone: Option<String>,
    /// Session reminders by email on or off (confirmations and cancellations always come).
    pub email_reminders: Option<bool>,
    /// Your mobile number for SMS reminders, international (`+44 7700 900123`); stored in
    /// E.164. An empty string removes it (and turns SMS reminders off).
    pub phone: Option<String>,
    /// Session reminders by SMS on or off (needs a number and SMS on this server).
    pub sms_reminders: Option<bool>,
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters, at most 256 bytes.
    #[schema(min_length = 10)]
    pub new_password: String,
}

/// Change your password (the current one is required). Every other login session ends; this
/// one stays. API keys are not affected (revoke them under `/api/keys`).
#[utoipa::path(put, path = "/api/me/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "Changed; every other login session has ended"),
        (status = 400, description = "Malformed body", body = super::error::ErrorBody),
        (status = 401, description = "Not signed in", body = super::error::ErrorBody),
        (status = 403, description = "The current password is wrong (`wrong_password`), or a cross-site request", body = super::error::ErrorBody),
        (status = 422, description = "The new password breaks the policy; `error.message` says how", body = super::error::ErrorBody),
        (status = 429, description = "Too many wrong current passwords; retry after `Retry-After` seconds", body = super::error::ErrorBody),
        (status = 503, description = "Busy hashing passwords; retry after `Retry-After` seconds", body = super::error::ErrorBody)))]
async fn change_password(
    State(s): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppJson(r): AppJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    s.accounts
        .change_password(
            &auth.principal.user,
            &r.current_password,
            &r.new_password,
            &ip,
            super::extract::cookie_in(&headers, SESSION_COOKIE),
            s.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/api/me", tag = "accounts", request_body = UpdateMeRequest,
    responses((status = 200, body = MeResponse), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
async fn update_me(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<UpdateMeRequest>,
) -> Result<axum::Json<MeResponse>, ApiError> {
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m);
    let name = r
        .name
        .as_deref()
        .map(crate::validate::name)
        .transpose()
        .map_err(invalid)?;
    if let Some(tz) = &r.time_zone {
        crate::validate::time_zone(tz).map_err(invalid)?;
    }
    let sms = sms_change(&s, &auth.principal.user, &r)?;
    if let Some((phone, on)) = sms {
        let mut next = auth.principal.user.clone();
        next.phone = phone.clone();
        next.sms_reminders = on;
        let now = s.clock.now();
        let rows = s.bookings.notices().sms_for_user(&next, now).await?;
        s.store
            .set_sms(next.id.as_str(), phone.as_deref(), on, &rows, now)
            .await?;
    }
    if let Some(on) = r.email_reminders {
        s.store
            .set_reminders(auth.principal.user.id.as_str(), on)
            .await?;
    }
    let user = s
        .store
        .update_profile(
            &auth.principal.user.id,
            name.as_deref(),
            r.time_zone.as_deref(),
        )
        .await?;
    Ok(axum::Json(MeResponse {
        user,
        coach_id: auth.viewer.coach_id.map(|c| c.0),
        sms_available: s.config.notify.sms.enabled(),
        email_verification: s.config.auth.email_verification,
    }))
}

/// The new (number, SMS reminders) of a profile update, when it changes them; refuses a
/// number that is not one, and SMS reminders without a number or without SMS on the server.
fn sms_change(
    s: &AppState,
    user: &User,
    r: &UpdateMeRequest,
) -> Result<Option<(Option<String>, bool)>, ApiError> {
    if r.phone.is_none() && r.sms_reminders.is_none() {
        return Ok(None);
    }
    let phone = match r.phone.as_deref().map(str::trim) {
        None => user.phone.clone(),
        Some("") => None,
        Some(p) => Some(
            crate::booking::phone::to_e164(p)
                .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone", m))?,
        ),
    };
    let on = match r.sms_reminders {
        Some(true) if !s.config.notify.sms.enabled() => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sms_unavailable",
                "this server does not send SMS",
            ));
        }
        Some(true) if phone.is_none() => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "phone_required",
                "give a mobile number to get reminders by SMS",
            ));
        }
        Some(on) => on,
        // Removing the number turns SMS reminders off with it.
        None => user.sms_reminders && phone.is_some(),
    };
    Ok((phone != user.phone || on != user.sms_reminders).then_some((phone, on)))
}

#[derive(Serialize, ToSchema)]
pub struct FeedResponse {
    /// Private iCalendar feed URL; anyone holding it can read the calendar.
    pub feed_url: String,
}

/// Issue a new private calendar feed link (the previous link stops working).
#[utoipa::path(post, path = "/api/me/calendar-feed", tag = "accounts",
    responses((status = 200, body = FeedResponse), (status = 401, body = super::error::ErrorBody)))]
async fn rotate_feed(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<FeedResponse>, ApiError> {
    let token = s.accounts.rotate_feed_token(&auth.principal.user).await?;
    Ok(axum::Json(FeedResponse {
        feed_url: format!("{}/cal/{token}.ics", s.config.public_origin()),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A label, e.g. "calendar sync" (1-100 characters).
    #[schema(schema_with = crate::validate::schema::name)]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key; shown only in this response. Send it as `Authorization: Bearer <key>`.
    pub key: String,
    pub info: ApiKeyInfo,
}

/// Create an API key for integrations.
#[utoipa::path(post, path = "/api/keys", tag = "accounts", request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
async fn create_key(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<CreateKeyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let (info, key) = s
        .accounts
        .create_api_key(&auth.principal.user, &r.name, s.clock.now())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { key, info })))
}

/// The caller's API keys (without the keys themselves).
#[utoipa::path(get, path = "/api/keys", tag = "accounts",
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 401, body = super::error::ErrorBody)))]
async fn list_keys(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<Vec<ApiKeyInfo>>, ApiError> {
    Ok(axum::Json(s.store.api_keys(&auth.principal.user.id).await?))
}

/// Revoke one of the caller's API keys.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
async fn revoke_key(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let now = s.clock.now();
    s.store
        .revoke_api_key(&auth.principal.user.id, &ApiKeyId(id.clone()), now)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::not_found("API key"),
            e => e.into(),
        })?;
    s.store
        .audit(
            Some(auth.principal.user.id.as_str()),
            "api_key_revoked",
            Some(&id),
            None,
            now,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminCreateUser {
    pub email: String,
    pub name: String,
    pub role: AccountRole,
    /// Omit to have one generated and returned once.
    pub password: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminCreatedUser {
    pub user: User,
    /// The generated password, when none was given.
    pub password: Option<String>,
}

/// Filter of the admin's account list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of an email or name (any case); all accounts when absent.
    pub q: Option<String>,
}

fn admin_only(auth: &Auth) -> Result<(), ApiError> {
    if auth.principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage accounts"))
    }
}

/// Accounts, oldest first, at most 500 (admins only).
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = Vec<User>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
async fn admin_list_users(
    State(s): State<AppState>,
    auth: Auth,
    super::extract::AppQuery(q): super::extract::AppQuery<UserQuery>,
) -> Result<axum::Json<Vec<User>>, ApiError> {
    admin_only(&auth)?;
    let q = q.q.unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "q must have at most 200 characters",
        ));
    }
    Ok(axum::Json(s.store.users_matching(q.trim(), 500).await?))
}

/// Disable an account: it cannot sign in, its sessions end, its API keys stop working
/// (admins only; not your own).
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
async fn admin_disable_user(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<User>, ApiError> {
    set_disabled(&s, &auth, id, true).await
}

/// Enable a disabled account again (admins only).
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
async fn admin_enable_user(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<User>, ApiError> {
    set_disabled(&s, &auth, id, false).await
}

/// Disables or enables account `id` on behalf of an admin.
async fn set_disabled(
    s: &AppState,
    auth: &Auth,
    id: String,
    disabled: bool,
) -> Result<axum::Json<User>, ApiError> {
    admin_only(auth)?;
    let u = s
        .accounts
        .set_disabled(
            &auth.principal.user,
            &crate::ids::UserId(id),
            disabled,
            s.clock.now(),
        )
        .await?;
    Ok(axum::Json(u))
}

/// A new role for an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: AccountRole,
}

/// Change an account's role (admins only; not your own).
#[utoipa::path(put, path = "/api/admin/users/{id}/role", tag = "admin", params(("id" = String, Path)),
    request_body = RoleChange,
    responses((status = 200, body = User), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
async fn admin_set_role(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<RoleChange>,
) -> Result<axum::Json<User>, ApiError> {
    admin_only(&auth)?;
    let u = s
        .accounts
        .set_role(
            &auth.principal.user,
            &crate::ids::UserId(id),
            r.role,
            s.clock.now(),
        )
        .await?;
    Ok(axum::Json(u))
}

/// A generated password, shown once.
#[derive(Serialize, ToSchema)]
pub struct ResetPassword {
    pub password: String,
}

/// Reset an account's password to a generated one, returned once; its sessions end (admins
/// only).
#[utoipa::path(post, path = "/api/admin/users/{id}/password", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ResetPassword), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
async fn admin_reset_password(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<ResetPassword>, ApiError> {
    admin_only(&auth)?;
    let password = s
        .accounts
        .admin_reset_password(&auth.principal.user, &crate::ids::UserId(id), s.clock.now())
        .await?;
    Ok(axum::Json(ResetPassword { password }))
}

/// Create an account of any role (admins only).
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", request_body = AdminCreateUser,
    responses((status = 201, body = AdminCreatedUser), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
async fn admin_create_user(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<AdminCreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    if !auth.principal.is_admin() {
        return Err(ApiError::forbidden("only admins can create accounts"));
    }
    let generated = r.password.is_none().then(crate::auth::password::generate);
    let password = r
        .password
        .as_deref()
        .or(generated.as_deref())
        .unwrap_or_default();
    let tz = r.time_zone.as_deref().unwrap_or("UTC");
    let new = Signup {
        email: &r.email,
        name: &r.name,
        password,
        time_zone: tz,
        role: r.role,
    };
    let user = s.accounts.create_user(&new, s.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AdminCreatedUser {
            user,
            password: generated,
        }),
    ))
}
