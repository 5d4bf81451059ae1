//! AI voice sessions over HTTP: start one, list your history, read a transcript, end one.
//! The media itself flows through the session's room (`/rtc`, join token in the reply).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{AppPath, Auth};
use crate::ids::VoiceSessionId;
use crate::model::voice::{TranscriptLine, VoiceSession};
use crate::store::StoreError;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/voice/sessions", post(start).get(list))
        .route("/api/voice/sessions/{id}", get(one))
        .route("/api/voice/sessions/{id}/end", post(end))
}

/// What the browser needs to join a new voice session.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedVoice {
    pub session: VoiceSession,
    /// Join token for the session's room (`/rtc`).
    pub token: String,
    /// `{public_url}/voice/{id}#token=…`.
    pub join_url: String,
}

/// A voice session with its transcript.
#[derive(Serialize, ToSchema)]
pub struct VoiceTranscript {
    #[serde(flatten)]
    pub session: VoiceSession,
    /// Whether the agent is still in the room.
    pub live: bool,
    pub transcript: Vec<TranscriptLine>,
}

/// Start a voice session with the AI coach; join its room with the returned token.
#[utoipa::path(post, operation_id = "start_voice_session", path = "/api/voice/sessions", tag = "voice",
    responses((status = 201, body = StartedVoice), (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(super) async fn start(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<(StatusCode, axum::Json<StartedVoice>), ApiError> {
    if s.rooms.is_draining() {
        return Err(super::ops::restarting());
    }
    let now = s.clock.now();
    let user = &auth.principal.user;
    let session = s.voice.start(user, now).await?;
    let ttl = i64::from(s.config.rooms.join_token_ttl_minutes) * 60;
    let token = crate::auth::join_token::mint(
        s.signing_key.expose().as_bytes(),
        &session.room,
        user.id.as_str(),
        &user.name,
        crate::sfu::RoomRole::Client,
        now.timestamp(),
        ttl,
    );
    let join_url = format!(
        "{}/voice/{}#token={token}",
        s.config.http.public_url.trim_end_matches('/'),
        session.id
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(StartedVoice {
            session,
            token,
            join_url,
        }),
    ))
}

/// Your voice sessions, newest first.
#[utoipa::path(get, operation_id = "list_voice_sessions", path = "/api/voice/sessions", tag = "voice",
    responses((status = 200, body = Vec<VoiceSession>), (status = 401, body = ErrorBody)))]
pub(super) async fn list(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<Vec<VoiceSession>>, ApiError> {
    Ok(axum::Json(
        s.store.voice_sessions(&auth.principal.user.id, 200).await?,
    ))
}

async fn own(s: &AppState, auth: &Auth, id: &str) -> Result<VoiceSession, ApiError> {
    s.store
        .voice_session(&auth.principal.user.id, &VoiceSessionId(id.to_string()))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("voice session"),
            e => e.into(),
        })
}

/// One of your voice sessions with its transcript (404 for anyone else's).
#[utoipa::path(get, operation_id = "get_voice_session", path = "/api/voice/sessions/{id}", tag = "voice", params(("id" = String, Path)),
    responses((status = 200, body = VoiceTranscript), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn one(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<VoiceTranscript>, ApiError> {
    let session = own(&s, &auth, &id).await?;
    let transcript = s.store.voice_transcript(&session.id).await?;
    Ok(axum::Json(VoiceTranscript {
        live: s.voice.is_live(&session.id),
        session,
        transcript,
    }))
}

/// End one of your live voice sessions now (the agent hangs up and leaves the room).
#[utoipa::path(post, operation_id = "end_voice_session", path = "/api/voice/sessions/{id}/end", tag = "voice", params(("id" = String, Path)),
    responses((status = 202), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn end(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let session = own(&s, &auth, &id).await?;
    s.voice.end(&session);
    Ok(StatusCode::ACCEPTED)
}
