//! Video rooms over HTTP: join tokens for a booking's participants (carrying the booking's
//! Jitsi Meet fallback link in a `fallback` claim), and the signalling WebSocket `/rtc`
//! (protocol in `docs/signalling.md`).

use super::AppState;
use super::error::ApiError;
use super::extract::{AppPath, Auth};
use crate::auth::join_token::{self, RoomRole};
use crate::booking::admission::JoinWindow;
use crate::booking::links::{self, JitsiUser};
use crate::model::booking::SessionType;
use crate::store::StoreError;
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/rooms/{room}/token", post(token))
        .route("/api/admin/live", get(live))
        .route("/rtc", get(rtc))
}

/// What is live on this server now (admins only).
#[derive(Serialize, ToSchema)]
pub struct Live {
    /// Open rooms (video rooms and voice sessions' rooms, whose names start `voice-`).
    pub rooms: Vec<crate::rooms::RoomOverview>,
    /// Voice sessions whose agent is running.
    pub voice_sessions: usize,
    /// Whether the server is stopping (no new calls).
    pub draining: bool,
}

/// Live rooms, their participants and tracks, and running voice sessions (admins only).
#[utoipa::path(get, operation_id = "admin_live", path = "/api/admin/live", tag = "admin",
    responses((status = 200, body = Live), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)))]
async fn live(State(s): State<AppState>, auth: Auth) -> Result<axum::Json<Live>, ApiError> {
    if !auth.principal.is_admin() {
        return Err(ApiError::forbidden("only admins see the live rooms"));
    }
    Ok(axum::Json(Live {
        rooms: s.rooms.overview(),
        voice_sessions: s.voice.live_count(),
        draining: s.rooms.is_draining(),
    }))
}

/// A join token and the link that carries it.
#[derive(Serialize, ToSchema)]
pub struct RoomToken {
    pub room: String,
    pub token: String,
    /// `{public_url}/r/{room}#token=…` (the fragment never reaches server logs).
    pub join_url: String,
    pub role: RoomRole,
    pub expires_at: DateTime<Utc>,
}

/// A join token for the room of a video booking (its coach, its client, or an admin).
#[utoipa::path(post, operation_id = "room_token", path = "/api/rooms/{room}/token", tag = "rooms", params(("room" = String, Path)),
    responses((status = 200, body = RoomToken), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
async fn token(
    State(s): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<String>,
) -> Result<axum::Json<RoomToken>, ApiError> {
    if !join_token::valid_room_name(&room) {
        return Err(ApiError::not_found("room"));
    }
    let booking = s.store.booking_by_room(&room).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("room"),
        e => e.into(),
    })?;
    let v = &auth.viewer;
    let role = if v.is_coach_of(&booking) {
        RoomRole::Coach
    } else if booking.client_id == v.user.id {
        RoomRole::Client
    } else if v.is_admin() {
        RoomRole::Guest
    } else {
        return Err(ApiError::not_found("room"));
    };
    // Tokens only from shortly before the session until shortly after it, never for a
    // cancelled or completed one; and never valid past the room's closing.
    let window = JoinWindow::from_config(&s.config);
    let now = s.clock.now();
    window
        .check(&booking, now)
        .map_err(|r| ApiError::new(axum::http::StatusCode::CONFLICT, r.code.as_str(), r.message))?;
    let closes = window.bounds(&booking).1;
    let now = now.timestamp();
    let ttl = (i64::from(s.config.rooms.join_token_ttl_minutes) * 60)
        .min(closes.timestamp() - now)
        .max(1);
    let claims = join_token::claims(&room, v.user.id.as_str(), &v.user.name, role, now, ttl);
    // The same Jitsi Meet link the booking shows this viewer, so the room page can offer it
    // to whoever holds the join link, logged in or not.
    let fallback = (booking.session_type == SessionType::Video).then(|| {
        let user = JitsiUser {
            id: v.user.id.as_str(),
            name: &v.user.name,
            email: &v.user.email,
            moderator: v.is_admin() || v.is_coach_of(&booking),
        };
        links::jitsi_url(
            &s.config.jitsi,
            &room,
            &user,
            booking.starts_at,
            booking.ends_at,
        )
    });
    let token = join_token::mint_with_fallback(s.signing_key.expose().as_bytes(), claims, fallback);
    Ok(axum::Json(RoomToken {
        join_url: format!("{}/r/{room}#token={token}", s.config.public_origin()),
        room,
        token,
        role,
        expires_at: DateTime::from_timestamp(now + ttl, 0).unwrap_or_default(),
    }))
}

/// Upgrades to the signalling WebSocket (frames over 64 KiB close the socket). Signalling is a
/// few small messages a second, so the socket's buffers are 8 KiB instead of tungstenite's
/// 128 KiB each (a larger message still fits: the read buffer grows to hold it), and every
/// message is written at once.
async fn rtc(State(s): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let ctx = s.signal.clone();
    ws.max_message_size(crate::signal::protocol::MAX_MESSAGE_BYTES)
        .max_frame_size(crate::signal::protocol::MAX_MESSAGE_BYTES)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| crate::signal::participant::run(socket, ctx))
}
