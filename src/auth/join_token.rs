//! Room join tokens: short-lived HS256 JWTs scoped to one room and one identity.
//!
//! A token names the room, the participant's identity (a user id, or a random guest id),
//! their display name and role, and is valid from `nbf` to `exp`. The signalling socket
//! checks it before allocating any media resource.
//!
//! A token minted for a booking may also carry `fallback`, the booking's Jitsi Meet link, so
//! the room page can offer it to anyone holding the link (guests too). The server never reads
//! it: verification ignores it, and tokens without it verify as before.

use super::jwt::{self, JwtError};
use serde::{Deserialize, Serialize};

pub use crate::sfu::RoomRole;

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Token type marker, so no other HS256 token of this server is accepted as a join token.
    pub typ: String,
    /// Room name.
    pub room: String,
    /// Stable identity of the participant (rejoining with it replaces the old session).
    pub sub: String,
    /// Display name.
    pub name: String,
    pub role: RoomRole,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub const TYP: &str = "parlor-join";

/// Longest accepted room name; room names are `[A-Za-z0-9_-]`.
pub const MAX_ROOM_LEN: usize = 64;

/// Whether `room` is a well-formed room name.
pub fn valid_room_name(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= MAX_ROOM_LEN
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a join token was refused (each variant is a message for the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinTokenError {
    #[error("the join link has expired; ask for a new one")]
    Expired,
    #[error("the join link is not valid yet")]
    NotYetValid,
    #[error("the join link is not valid")]
    Invalid,
    #[error("the join link is for another room")]
    WrongRoom,
}

/// The claims of a token valid for `ttl_secs` from `now`.
pub fn claims(
    room: &str,
    identity: &str,
    name: &str,
    role: RoomRole,
    now: i64,
    ttl_secs: i64,
) -> JoinClaims {
    JoinClaims {
        typ: TYP.into(),
        room: room.into(),
        sub: identity.into(),
        name: name.into(),
        role,
        iat: now,
        nbf: now - 30,
        exp: now + ttl_secs,
    }
}

/// Mints a token valid for `ttl_secs` from `now`.
pub fn mint(
    key: &[u8],
    room: &str,
    identity: &str,
    name: &str,
    role: RoomRole,
    now: i64,
    ttl_secs: i64,
) -> String {
    jwt::sign(&claims(room, identity, name, role, now, ttl_secs), key)
}

/// Join claims plus the optional `fallback` claim: the booking's Jitsi Meet link, shown by
/// the room page when this server's room cannot be used. Only for display; never trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsWithFallback {
    #[serde(flatten)]
    pub claims: JoinClaims,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// Mints a token with `claims` and, when given, the `fallback` claim.
pub fn mint_with_fallback(key: &[u8], claims: JoinClaims, fallback: Option<String>) -> String {
    jwt::sign(&ClaimsWithFallback { claims, fallback }, key)
}

/// Verifies a token for `room` at `now`.
pub fn verify(key: &[u8], token: &str, room: &str, now: i64) -> Result<JoinClaims, JoinTokenError> {
    let claims: JoinClaims = jwt::verify(token, key, now).map_err(|e| match e {
        JwtError::Expired => JoinTokenError::Expired,
        JwtError::NotYetValid => JoinTokenError::NotYetValid,
        _ => JoinTokenError::Invalid,
    })?;
    if claims.typ != TYP || !valid_room_name(&claims.room) || claims.name.is_empty() {
        return Err(JoinTokenError::Invalid);
    }
    if claims.room != room {
        return Err(JoinTokenError::WrongRoom);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"k";

    #[test]
    fn a_fresh_token_verifies_for_its_room_only() {
        let t = mint(KEY, "room1", "u_1", "Ana", RoomRole::Client, 1000, 600);
        let c = verify(KEY, &t, "room1", 1001).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.name.as_str(), c.role),
            ("u_1", "Ana", RoomRole::Client)
        );
        assert_eq!(
            verify(KEY, &t, "room2", 1001),
            Err(JoinTokenError::WrongRoom)
        );
    }

    #[test]
    fn expired_early_tampered_and_foreign_tokens_are_refused() {
        let t = mint(KEY, "room1", "u_1", "Ana", RoomRole::Coach, 1000, 600);
        assert_eq!(verify(KEY, &t, "room1", 1600), Err(JoinTokenError::Expired));
        assert_eq!(
            verify(KEY, &t, "room1", 900),
            Err(JoinTokenError::NotYetValid)
        );
        assert_eq!(
            verify(b"other", &t, "room1", 1001),
            Err(JoinTokenError::Invalid)
        );
        assert_eq!(
            verify(KEY, "garbage", "room1", 1001),
            Err(JoinTokenError::Invalid)
        );
        let other_kind = jwt::sign(&serde_json::json!({"room": "room1", "exp": 2000}), KEY);
        assert_eq!(
            verify(KEY, &other_kind, "room1", 1001),
            Err(JoinTokenError::Invalid)
        );
    }

    #[test]
    fn the_fallback_claim_rides_along_and_verification_ignores_it() {
        let c = claims("room1", "u_1", "Ana", RoomRole::Client, 1000, 600);
        let with = mint_with_fallback(KEY, c.clone(), Some("https://meet.example/room1".into()));
        assert_eq!(verify(KEY, &with, "room1", 1001), Ok(c.clone()));
        let read: ClaimsWithFallback = jwt::verify(&with, KEY, 1001).unwrap();
        assert_eq!(read.fallback.as_deref(), Some("https://meet.example/room1"));
        // A token without the claim (every token minted before it existed) still reads.
        let without = mint(KEY, "room1", "u_1", "Ana", RoomRole::Client, 1000, 600);
        let read: ClaimsWithFallback = jwt::verify(&without, KEY, 1001).unwrap();
        assert_eq!((read.claims, read.fallback), (c, None));
    }

    #[test]
    fn room_names_are_restricted() {
        assert!(valid_room_name("a1b2-c_d"));
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(!valid_room_name(bad), "{bad:?}");
        }
    }
}
