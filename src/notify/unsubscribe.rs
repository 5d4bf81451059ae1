//! One-click unsubscribe links (RFC 8058) for reminders: the token is the user's id and an
//! HMAC of it under the server's signing key, so the link needs no table and cannot be made
//! for someone else. It turns reminders off and nothing else.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const CONTEXT: &[u8] = b"parlor unsubscribe v1\0";

fn mac(key: &[u8], user: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key");
    m.update(CONTEXT);
    m.update(user.as_bytes());
    m
}

/// The token of `user`'s unsubscribe link.
pub fn token(key: &[u8], user: &str) -> String {
    let sig = mac(key, user).finalize().into_bytes();
    format!(
        "{user}.{}",
        data_encoding::BASE32_NOPAD
            .encode(&sig[..20])
            .to_lowercase()
    )
}

/// The user a token was made for, if it is genuine.
pub fn verify(key: &[u8], token: &str) -> Option<String> {
    let (user, sig) = token.rsplit_once('.')?;
    let sig = data_encoding::BASE32_NOPAD
        .decode(sig.to_uppercase().as_bytes())
        .ok()?;
    if sig.len() != 20 || user.is_empty() || user.len() > 64 {
        return None;
    }
    mac(key, user).verify_truncated_left(&sig).ok()?;
    Some(user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_user_and_only_under_its_key() {
        let t = token(b"key", "u123");
        assert_eq!(verify(b"key", &t).as_deref(), Some("u123"));
        assert_eq!(verify(b"other", &t), None);
        let forged = t.replacen("u123", "u124", 1);
        assert_eq!(verify(b"key", &forged), None);
        assert_eq!(verify(b"key", "u123"), None);
        assert_eq!(verify(b"key", "u123.!!"), None);
        assert_eq!(verify(b"key", ""), None);
    }
}
