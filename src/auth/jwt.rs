//! Compact JWS with HS256 (RFC 7519/7515): the only algorithm parlor signs or accepts.
//!
//! Used for room join tokens and Jitsi fallback tokens. Verification checks the header's
//! `alg`, the signature in constant time, then `exp` and `nbf` against a caller-given clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is malformed")]
    Malformed,
    #[error("token uses an unsupported algorithm")]
    Algorithm,
    #[error("token signature is invalid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
}

/// Signs `claims` with HS256.
pub fn sign<T: Serialize>(claims: &T, key: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise to JSON"));
    let signing_input = format!("{header}.{payload}");
    let sig = mac(key, signing_input.as_bytes()).finalize().into_bytes();
    format!("{signing_input}.{}", B64.encode(sig))
}

/// Verifies an HS256 token and decodes its claims; `exp` is required, `nbf` optional.
pub fn verify<T: DeserializeOwned>(token: &str, key: &[u8], now_unix: i64) -> Result<T, JwtError> {
    if token.len() > 8 * 1024 {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(h).map_err(|_| JwtError::Malformed)?)
            .map_err(|_| JwtError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(JwtError::Algorithm);
    }
    let sig = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let signing_input_len = h.len() + 1 + p.len();
    mac(key, &token.as_bytes()[..signing_input_len])
        .verify_slice(&sig)
        .map_err(|_| JwtError::Signature)?;
    let payload = B64.decode(p).map_err(|_| JwtError::Malformed)?;
    let raw: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
    let exp = raw
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or(JwtError::Malformed)?;
    if now_unix >= exp {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = raw.get("nbf").and_then(serde_json::Value::as_i64)
        && now_unix < nbf
    {
        return Err(JwtError::NotYetValid);
    }
    serde_json::from_value(raw).map_err(|_| JwtError::Malformed)
}

fn mac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct C {
        sub: String,
        exp: i64,
        nbf: i64,
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let c = C {
            sub: "a".into(),
            exp: 200,
            nbf: 100,
        };
        let t = sign(&c, b"k");
        assert_eq!(verify::<C>(&t, b"k", 150).unwrap(), c);
        assert_eq!(verify::<C>(&t, b"other", 150), Err(JwtError::Signature));
        assert_eq!(verify::<C>(&t, b"k", 200), Err(JwtError::Expired));
        assert_eq!(verify::<C>(&t, b"k", 99), Err(JwtError::NotYetValid));
        assert_eq!(verify::<C>("a.b", b"k", 150), Err(JwtError::Malformed));
        let mut tampered = t.clone();
        tampered.insert(t.find('.').unwrap() + 3, 'x');
        assert!(verify::<C>(&tampered, b"k", 150).is_err());
        let none_alg = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(verify::<C>(&none_alg, b"k", 150), Err(JwtError::Algorithm));
    }
}
