//! The join handshake of a `/rtc` session: the first message must be `join` with a token,
//! within a time limit; the token is read for its room, verified against that room and the
//! clock, admitted (what the room stands for is still live, the person still exists), and a
//! guest's chosen display name checked — all before anything is allocated.

use super::SignalContext;
use super::protocol::{self, ClientMessage, ErrorCode};
use crate::auth::join_token::{self, JoinClaims};
use axum::extract::ws::{Message, WebSocket};
use std::time::Duration;

/// How long a new socket may take to send `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for the first message and turns it into verified claims, or an error code and a
/// message for the client.
pub(super) async fn first_join(
    ws: &mut WebSocket,
    ctx: &SignalContext,
) -> Result<JoinClaims, (ErrorCode, String)> {
    let msg = tokio::time::timeout(JOIN_TIMEOUT, ws.recv())
        .await
        .map_err(|_| {
            (
                ErrorCode::JoinTimeout,
                "send join with a token within 10 seconds".to_string(),
            )
        })?;
    if let Some(Err(e)) = &msg {
        super::participant::close_after_read_error(ws, e).await;
    }
    let Some(Ok(Message::Text(text))) = msg else {
        return Err((
            ErrorCode::InvalidToken,
            "the first message must be join with a token".into(),
        ));
    };
    let (token, requested_name) = match protocol::parse_client(text.as_str()) {
        Ok(ClientMessage::Join { token, name }) => (token, name),
        _ => {
            return Err((
                ErrorCode::InvalidToken,
                "the first message must be join with a token".into(),
            ));
        }
    };
    let room = room_of(&token).ok_or((
        ErrorCode::InvalidToken,
        "the join link is not valid".to_string(),
    ))?;
    let mut claims = join_token::verify(
        ctx.signing_key.expose().as_bytes(),
        &token,
        &room,
        ctx.clock.now().timestamp(),
    )
    .map_err(|e| (ErrorCode::InvalidToken, e.to_string()))?;
    ctx.admission
        .admit(&claims)
        .await
        .map_err(|r| (r.code, r.message))?;
    // Only guests choose their name; coaches and clients are named by their account.
    if claims.role == join_token::RoomRole::Guest {
        let chosen = protocol::guest_name(requested_name.as_deref())
            .map_err(|message| (ErrorCode::InvalidName, message))?;
        if let Some(name) = chosen {
            claims.name = name;
        }
    }
    Ok(claims)
}

/// The room a token names (read unverified, then verified against itself by `verify`).
fn room_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("room")?
        .as_str()
        .filter(|r| join_token::valid_room_name(r))
        .map(str::to_string)
}
