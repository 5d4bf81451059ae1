//! Time-limited TURN credentials in the coturn REST-API scheme ("TURN REST API", used with
//! coturn's `use-auth-secret` / `static-auth-secret`): the username is `expiry:identity`, the
//! password is base64(HMAC-SHA1(shared secret, username)). The TURN server checks the MAC and
//! the expiry; parlor never stores these credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// A username/password pair for `iceServers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredential {
    pub username: String,
    pub password: String,
}

/// Credentials for `identity` valid until `now + ttl_secs`.
pub fn credential(secret: &[u8], identity: &str, now: i64, ttl_secs: i64) -> TurnCredential {
    // A colon in the identity would confuse the expiry prefix; identities are ids, but be safe.
    let identity: String = identity.chars().filter(|c| *c != ':').collect();
    let username = format!("{}:{identity}", now + ttl_secs);
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    TurnCredential {
        password: B64.encode(mac.finalize().into_bytes()),
        username,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_coturn_rest_api_scheme() {
        // Reference value: printf '%s' '1700000600:u_1' | openssl dgst -sha1 -hmac secret -binary | base64
        let c = credential(b"secret", "u_1", 1_700_000_000, 600);
        assert_eq!(c.username, "1700000600:u_1");
        assert_eq!(c.password, "bRD0LQYZqqKHsbQXJYlGX8gScdY=");
        assert_eq!(credential(b"secret", "a:b", 0, 1).username, "1:ab");
    }
}
