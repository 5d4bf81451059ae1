//! Privacy and coaching context: data export, erasure, commitments, and the admin audit log.

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::booking::view::{BookingView, Renderer};
use crate::ids::{CommitmentId, UserId};
use crate::model::account::{ApiKeyInfo, User};
use crate::model::booking::{Coach, Commitment, CommitmentStatus};
use crate::store::{AuditEntry, StoreError};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

type Err = super::error::ErrorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/me/export", get(export))
        .route("/api/me", axum::routing::delete(erase))
        .route(
            "/api/commitments",
            get(list_commitments).post(create_commitment),
        )
        .route(
            "/api/commitments/{id}",
            patch(update_commitment).delete(delete_commitment),
        )
        .route("/api/admin/audit", get(audit))
}

/// Login session metadata (the token itself is never stored).
#[derive(Serialize, ToSchema)]
pub struct SessionExport {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Every personal datum parlor holds about the caller.
#[derive(Serialize, ToSchema)]
pub struct PersonalExport {
    pub exported_at: DateTime<Utc>,
    pub user: User,
    pub login_sessions: Vec<SessionExport>,
    pub api_keys: Vec<ApiKeyInfo>,
    pub bookings: Vec<BookingView>,
    pub commitments: Vec<Commitment>,
    pub coach_profile: Option<Coach>,
    pub audit_events: Vec<AuditEntry>,
    pub voice_sessions: Vec<VoiceExport>,
    /// What coaches noted about you in your sessions: personal data about you, so part of
    /// your right of access (GDPR Art. 15), given read-only as written.
    pub coach_notes_about_you: Vec<CoachNoteExport>,
    /// The messages parlor sent or is to send you (confirmations, reminders, password resets),
    /// with their state.
    pub messages: Vec<MessageExport>,
    /// The browsers you turned notifications on in (their push service addresses).
    pub push_subscriptions: Vec<crate::store::push::Subscription>,
}

/// A message to the person, as their export shows it.
#[derive(Serialize, ToSchema)]
pub struct MessageExport {
    pub channel: String,
    pub kind: String,
    pub to: String,
    /// An email's subject.
    pub subject: Option<String>,
    /// `queued`, `delivered`, `failed` or `dropped`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A coach's note about the caller, from one of their sessions.
#[derive(Serialize, ToSchema)]
pub struct CoachNoteExport {
    pub booking_id: crate::ids::BookingId,
    pub starts_at: DateTime<Utc>,
    pub notes: String,
}

/// A voice session with its transcript.
#[derive(Serialize, ToSchema)]
pub struct VoiceExport {
    #[serde(flatten)]
    pub session: crate::model::voice::VoiceSession,
    pub transcript: Vec<crate::model::voice::TranscriptLine>,
}

/// Download everything held about you, as JSON.
#[utoipa::path(get, operation_id = "export_my_data", path = "/api/me/export", tag = "privacy",
    responses((status = 200, body = PersonalExport), (status = 401, body = Err)))]
async fn export(State(s): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    let now = s.clock.now();
    let id = &auth.principal.user.id;
    let data = s.store.personal_data(id, now).await?;
    let messages = s
        .store
        .messages_to(id.as_str())
        .await?
        .into_iter()
        .map(|(d, payload)| MessageExport {
            subject: serde_json::from_str::<crate::notify::email::Email>(&payload)
                .ok()
                .map(|e| e.subject),
            channel: d.channel,
            kind: d.kind,
            to: d.recipient,
            status: d.status,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
        .collect();
    let push_subscriptions = s.store.push_subscriptions(id).await?;
    let bookings = Renderer::new(&s.store, &s.config)
        .views(&auth.viewer, &data.bookings)
        .await?;
    s.store
        .audit(Some(id.as_str()), "export", Some(id.as_str()), None, now)
        .await?;
    let body = PersonalExport {
        exported_at: now,
        push_subscriptions,
        user: data.user,
        login_sessions: data
            .login_sessions
            .into_iter()
            .map(|(c, e)| SessionExport {
                created_at: c,
                expires_at: e,
            })
            .collect(),
        api_keys: data.api_keys,
        coach_notes_about_you: data
            .bookings
            .iter()
            .filter(|b| b.client_id == *id)
            .filter_map(|b| {
                Some(CoachNoteExport {
                    booking_id: b.id.clone(),
                    starts_at: b.starts_at,
                    notes: b.coach_notes.clone().filter(|n| !n.is_empty())?,
                })
            })
            .collect(),
        bookings,
        commitments: data.commitments,
        coach_profile: data.coach_profile,
        audit_events: data.audit,
        voice_sessions: data
            .voice
            .into_iter()
            .map(|(session, transcript)| VoiceExport {
                session,
                transcript,
            })
            .collect(),
        messages,
    };
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"parlor-export.json\""),
    );
    Ok((h, axum::Json(body)))
}

/// Erase your account: personal data removed, future sessions cancelled, sessions and keys revoked.
#[utoipa::path(delete, operation_id = "erase_my_account", path = "/api/me", tag = "privacy",
    responses((status = 204), (status = 401, body = Err), (status = 403, body = Err)))]
async fn erase(State(s): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    let now = s.clock.now();
    let id = &auth.principal.user.id;
    s.voice.hang_up_all_of(id).await;
    // The other party of each cancelled session is told, by message and webhook.
    let (cancelled, notices) = s
        .bookings
        .notices()
        .erasure(&auth.principal.user, now)
        .await?;
    let events: Vec<_> = cancelled
        .iter()
        .map(|b| crate::notify::events::booking("booking.cancelled", b, None, now))
        .collect();
    let give_up = now + chrono::Duration::hours(i64::from(s.config.notify.give_up_hours));
    s.store
        .erase_user(id, now, &notices, &events, give_up)
        .await?;
    s.store
        .audit(Some(id.as_str()), "erasure", Some(id.as_str()), None, now)
        .await?;
    let mut h = HeaderMap::new();
    h.insert(
        header::SET_COOKIE,
        super::accounts::session_cookie(&s, "", 0),
    );
    Ok((StatusCode::NO_CONTENT, h))
}

/// Whose commitments a request is about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommitmentQuery {
    /// A client of the caller (the caller is their coach, or an admin). Default: the caller.
    pub client_id: Option<String>,
}

/// The user whose commitments `client_id` names, as `auth` may reach them: themself; a client
/// of theirs (a coach with a booking with that client, cancelled ones aside); anyone (admin).
/// Anyone else is answered 404 `not_found`, as if the client did not exist.
async fn commitment_owner(
    s: &AppState,
    auth: &Auth,
    client_id: Option<&str>,
) -> Result<UserId, ApiError> {
    let me = &auth.principal.user.id;
    let Some(client) = client_id.filter(|c| *c != me.as_str()) else {
        return Ok(me.clone());
    };
    let client = UserId(client.to_owned());
    let allowed = if auth.viewer.is_admin() {
        true
    } else if let Some(coach) = &auth.viewer.coach_id {
        s.store.is_client_of(&client, coach).await?
    } else {
        false
    };
    if !allowed {
        return Err(ApiError::not_found("client"));
    }
    match s.store.user(&client).await {
        Ok(_) => Ok(client),
        Err(StoreError::NotFound) => Err(ApiError::not_found("client")),
        Err(e) => Err(e.into()),
    }
}

/// Commitments, open first: the caller's, or (`client_id`) a client's as their coach or an
/// admin.
#[utoipa::path(get, path = "/api/commitments", tag = "commitments", params(CommitmentQuery),
    responses((status = 200, description = "The commitments, open first, then by due date", body = Vec<Commitment>),
        (status = 400, description = "Malformed query", body = Err),
        (status = 401, description = "Not signed in", body = Err),
        (status = 404, description = "No such client of the caller", body = Err)))]
async fn list_commitments(
    State(s): State<AppState>,
    auth: Auth,
    AppQuery(q): AppQuery<CommitmentQuery>,
) -> Result<axum::Json<Vec<Commitment>>, ApiError> {
    let owner = commitment_owner(&s, &auth, q.client_id.as_deref()).await?;
    Ok(axum::Json(s.store.commitments(&owner).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommitment {
    /// 1-500 characters.
    #[schema(schema_with = crate::validate::schema::text_500)]
    pub text: String,
    pub due_date: Option<NaiveDate>,
    /// Add it for this client (the caller is their coach, or an admin). Default: the caller.
    pub client_id: Option<String>,
}

fn commitment_text(t: &str) -> Result<String, ApiError> {
    let t = crate::validate::text("text", t, 500)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m))?;
    if t.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "text is required",
        ));
    }
    Ok(t)
}

/// Add a commitment: for oneself, or as a coach for one's client (admins: for anyone).
#[utoipa::path(post, path = "/api/commitments", tag = "commitments", request_body = NewCommitment,
    responses((status = 201, description = "Added", body = Commitment),
        (status = 400, description = "Malformed body", body = Err),
        (status = 401, description = "Not signed in", body = Err),
        (status = 404, description = "No such client of the caller", body = Err),
        (status = 422, description = "Text empty or too long", body = Err)))]
async fn create_commitment(
    State(s): State<AppState>,
    auth: Auth,
    AppJson(r): AppJson<NewCommitment>,
) -> Result<impl IntoResponse, ApiError> {
    let text = commitment_text(&r.text)?;
    let owner = commitment_owner(&s, &auth, r.client_id.as_deref()).await?;
    let c = s
        .store
        .insert_commitment(&owner, &text, r.due_date, s.clock.now())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// `null` clears the due date; absence keeps it.
fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<NaiveDate>>, D::Error> {
    Option::<NaiveDate>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentPatch {
    /// 1-500 characters.
    #[schema(schema_with = crate::validate::schema::text_500_or_null)]
    pub text: Option<String>,
    /// A date, or null to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub due_date: Option<Option<NaiveDate>>,
    pub status: Option<CommitmentStatus>,
}

/// Edit a commitment or mark it done.
#[utoipa::path(patch, path = "/api/commitments/{id}", tag = "commitments", params(("id" = String, Path)),
    request_body = CommitmentPatch,
    responses((status = 200, body = Commitment), (status = 400, body = Err), (status = 401, body = Err),
        (status = 404, body = Err), (status = 422, body = Err)))]
async fn update_commitment(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
    AppJson(r): AppJson<CommitmentPatch>,
) -> Result<axum::Json<Commitment>, ApiError> {
    let text = r.text.as_deref().map(commitment_text).transpose()?;
    let c = s
        .store
        .update_commitment(
            &auth.principal.user.id,
            &CommitmentId(id),
            text.as_deref(),
            r.due_date,
            r.status,
            s.clock.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("commitment"),
            e => e.into(),
        })?;
    Ok(axum::Json(c))
}

/// Delete one of one's own commitments.
#[utoipa::path(delete, path = "/api/commitments/{id}", tag = "commitments", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Err),
        (status = 404, description = "No such commitment of the caller", body = Err)))]
async fn delete_commitment(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    s.store
        .delete_commitment(&auth.principal.user.id, &CommitmentId(id))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("commitment"),
            e => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many entries (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only entries with an id below this (for paging).
    pub before: Option<i64>,
    /// Only entries of this actor (a user id).
    #[param(min_length = 1, max_length = 100)]
    pub actor: Option<String>,
    /// Only entries of this event, e.g. `login_failed`.
    #[param(min_length = 1, max_length = 100)]
    pub event: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant (RFC 3339); not after `since` matches nothing.
    pub until: Option<DateTime<Utc>>,
}

/// The security audit log, newest first (admins only).
#[utoipa::path(get, operation_id = "audit_log", path = "/api/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = Err), (status = 401, body = Err), (status = 403, body = Err)))]
async fn audit(
    State(s): State<AppState>,
    auth: Auth,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEntry>>, ApiError> {
    if !auth.principal.is_admin() {
        return Err(ApiError::forbidden("only admins can read the audit log"));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    for (name, v) in [("actor", &q.actor), ("event", &q.event)] {
        if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 100) {
            return Err(ApiError::bad_request(format!(
                "{name} must have 1 to 100 characters"
            )));
        }
    }
    let filter = crate::store::AuditFilter {
        actor: q.actor,
        event: q.event,
        since: q.since,
        until: q.until,
    };
    Ok(axum::Json(
        s.store.audit_entries(limit, q.before, &filter).await?,
    ))
}
