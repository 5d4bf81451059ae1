//! Links of a booking: the room on this server, the Jitsi Meet fallback (with an optional
//! HS256 JWT in the form Jitsi's token authentication expects) and `tel:` for phone sessions.
//!
//! The coach (and admins) are the Jitsi room's moderators. Prosody has no single standard
//! claim for that, so the token carries the three that the maintained plugins read: a
//! top-level `moderator: true` (`token_moderation`), `context.user.moderator` (Jitsi as a
//! Service) and `context.user.affiliation: "owner"` (`token_affiliation`); everyone else gets
//! `false` / `"member"`.

use crate::auth::jwt;
use crate::config::JitsiConfig;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// `{public_url}/r/{room}`.
pub fn join_url(public_origin: &str, room: &str) -> String {
    format!("{public_origin}/r/{room}")
}

/// `tel:+…` for an E.164 number.
pub fn phone_url(e164: &str) -> String {
    format!("tel:{e164}")
}

/// Who opens the fallback link.
pub struct JitsiUser<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    /// The booking's coach or an admin: a moderator of the Jitsi room.
    pub moderator: bool,
}

#[derive(Serialize)]
struct JitsiClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    room: &'a str,
    exp: i64,
    nbf: i64,
    moderator: bool,
    context: JitsiContext<'a>,
}

#[derive(Serialize)]
struct JitsiContext<'a> {
    user: JitsiUserClaim<'a>,
}

#[derive(Serialize)]
struct JitsiUserClaim<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    moderator: bool,
    affiliation: &'a str,
}

/// The Jitsi Meet link for `room`: the same room name, pre-join screen off, the display name
/// filled in, and a `jwt` when an app id and secret are configured. The token is valid from
/// an hour before the start until `token_grace_minutes` after the end.
pub fn jitsi_url(
    cfg: &JitsiConfig,
    room: &str,
    user: &JitsiUser<'_>,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> String {
    let mut url = format!("https://{}/{room}", cfg.domain);
    if !cfg.app_id.is_empty() && !cfg.app_secret.is_empty() {
        let claims = JitsiClaims {
            iss: &cfg.app_id,
            aud: &cfg.audience,
            sub: &cfg.domain,
            room,
            exp: ends.timestamp() + i64::from(cfg.token_grace_minutes) * 60,
            nbf: starts.timestamp() - 3600,
            moderator: user.moderator,
            context: JitsiContext {
                user: JitsiUserClaim {
                    id: user.id,
                    name: user.name,
                    email: user.email,
                    moderator: user.moderator,
                    affiliation: if user.moderator { "owner" } else { "member" },
                },
            },
        };
        url.push_str("?jwt=");
        url.push_str(&jwt::sign(&claims, cfg.app_secret.expose().as_bytes()));
    }
    let name_json = serde_json::to_string(user.name).expect("a string serialises");
    let encoded: String = url::form_urlencoded::byte_serialize(name_json.as_bytes()).collect();
    url.push_str("#config.prejoinConfig.enabled=false&userInfo.displayName=");
    url.push_str(&encoded.replace('+', "%20"));
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use chrono::TimeZone;

    fn cfg(with_secret: bool) -> JitsiConfig {
        JitsiConfig {
            domain: "meet.example.org".into(),
            app_id: if with_secret {
                "parlor".into()
            } else {
                String::new()
            },
            app_secret: if with_secret {
                Secret::new("shh")
            } else {
                Secret::default()
            },
            audience: "jitsi".into(),
            token_grace_minutes: 60,
        }
    }

    #[test]
    fn fallback_without_secret_has_room_prejoin_off_and_name() {
        let u = JitsiUser {
            id: "u_1",
            name: "Ana B",
            email: "a@x.org",
            moderator: false,
        };
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let url = jitsi_url(&cfg(false), "abc123", &u, t, t);
        assert_eq!(
            url,
            "https://meet.example.org/abc123#config.prejoinConfig.enabled=false&userInfo.displayName=%22Ana%20B%22"
        );
    }

    #[test]
    fn fallback_jwt_carries_the_claims_jitsi_expects() {
        let u = JitsiUser {
            id: "u_1",
            name: "Ana",
            email: "a@x.org",
            moderator: false,
        };
        let s = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let e = s + chrono::Duration::hours(1);
        let url = jitsi_url(&cfg(true), "abc123", &u, s, e);
        let token = url.split("jwt=").nth(1).unwrap().split('#').next().unwrap();
        let claims: serde_json::Value = jwt::verify(token, b"shh", s.timestamp()).unwrap();
        assert_eq!(claims["iss"], "parlor");
        assert_eq!(claims["aud"], "jitsi");
        assert_eq!(claims["sub"], "meet.example.org");
        assert_eq!(claims["room"], "abc123");
        assert_eq!(claims["exp"], e.timestamp() + 3600);
        assert_eq!(claims["context"]["user"]["id"], "u_1");
        assert_eq!(claims["context"]["user"]["name"], "Ana");
        assert_eq!(claims["context"]["user"]["email"], "a@x.org");
        assert_eq!(claims["moderator"], false, "a client is no moderator");
        assert_eq!(claims["context"]["user"]["moderator"], false);
        assert_eq!(claims["context"]["user"]["affiliation"], "member");
        let coach = JitsiUser {
            moderator: true,
            ..u
        };
        let url = jitsi_url(&cfg(true), "abc123", &coach, s, e);
        let token = url.split("jwt=").nth(1).unwrap().split('#').next().unwrap();
        let claims: serde_json::Value = jwt::verify(token, b"shh", s.timestamp()).unwrap();
        assert_eq!(claims["moderator"], true, "the coach moderates");
        assert_eq!(claims["context"]["user"]["moderator"], true);
        assert_eq!(claims["context"]["user"]["affiliation"], "owner");
    }
}
