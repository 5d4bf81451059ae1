//! Web Push (RFC 8030) with VAPID (RFC 8292) and an encrypted payload (RFC 8291,
//! `aes128gcm`): reminders and "your coach has joined" on the devices people turned
//! notifications on for.
//!
//! The payload is encrypted for the subscription's `p256dh` key and `auth` secret with the
//! `web-push-native` crate (RustCrypto). The VAPID key is an ECDSA P-256 key generated on first
//! start into `{data_dir}/vapid.p8` (PKCS#8, mode 0600); the `Authorization: vapid t=<JWT>,
//! k=<public key>` header is signed here with ring (ES256 is one fixed-size signature over
//! `header.claims`, so a JWT library would add nothing but dependencies). The push service's
//! answer decides the message's fate ([`judge`]): 201 (any 2xx) delivered; 404 and 410 mean
//! the subscription is gone (it is removed, the message fails); 413 and other 4xx are final;
//! 429 and 5xx are retried. Push endpoints come from browsers, so, like webhook targets, they
//! are refused on internal addresses unless `notify.push.allow_private` is set.

use super::SendError;
use super::http::{Answer, HttpClient};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const VAPID_HOURS: i64 = 12;

/// What a notification shows, as the service worker (`web/sw.js`) reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// Opened when the notification is clicked.
    pub url: String,
    /// Notifications with the same tag replace each other.
    pub tag: String,
}

/// The server's VAPID key pair.
pub struct Vapid {
    key: EcdsaKeyPair,
    public: String,
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Vapid {
    /// Loads `{data_dir}/vapid.p8`, or creates it (mode 0600) on first start. `subject` is the
    /// contact push services may use (`mailto:` or `https:`).
    pub fn load_or_create(data_dir: &Path, subject: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("vapid.p8");
        let der = match std::fs::read(&path) {
            Ok(der) => {
                let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                    tracing::warn!(path = %path.display(), "VAPID key was readable by others; set mode 0600");
                }
                der
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| std::io::Error::other("cannot generate a VAPID key"))?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(doc.as_ref())?;
                f.sync_all()?;
                tracing::info!(path = %path.display(), "created a new VAPID key for Web Push");
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(e),
        };
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|e| {
                    std::io::Error::other(format!(
                        "{} is not a P-256 key ({e}); delete it to generate a new one (existing \
                     browser subscriptions then stop working)",
                        path.display()
                    ))
                })?;
        Ok(Self {
            public: B64URL.encode(key.public_key().as_ref()),
            key,
            subject: subject.to_string(),
        })
    }

    /// The public key browsers subscribe with (`applicationServerKey`), base64url.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a push to `endpoint`, valid for 12 hours from `now`.
    pub fn authorization(&self, endpoint: &url::Url, now: DateTime<Utc>) -> Result<String, String> {
        let audience = endpoint.origin().ascii_serialization();
        let header = B64URL.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": audience,
            "exp": (now + chrono::Duration::hours(VAPID_HOURS)).timestamp(),
            "sub": self.subject,
        });
        let claims = B64URL.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "cannot sign the VAPID token".to_string())?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            B64URL.encode(sig.as_ref()),
            self.public
        ))
    }
}

/// A browser's push subscription as the outbox needs it.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub endpoint: &'a str,
    /// The browser's P-256 public key, base64url (uncompressed point).
    pub p256dh: &'a str,
    /// The browser's 16-byte auth secret, base64url.
    pub auth: &'a str,
}

/// Checks a subscription's keys; the reason when they cannot be used.
pub fn check_keys(p256dh: &str, auth: &str) -> Result<(), String> {
    keys(p256dh, auth).map(|_| ())
}

fn keys(
    p256dh: &str,
    auth: &str,
) -> Result<(web_push_native::p256::PublicKey, web_push_native::Auth), String> {
    let decode = |s: &str| {
        B64URL
            .decode(s.trim_end_matches('='))
            .map_err(|_| "keys must be base64url".to_string())
    };
    let public = web_push_native::p256::PublicKey::from_sec1_bytes(&decode(p256dh)?)
        .map_err(|_| "keys.p256dh is not a P-256 public key".to_string())?;
    let secret: [u8; 16] = decode(auth)?
        .try_into()
        .map_err(|_| "keys.auth must be 16 bytes".to_string())?;
    Ok((public, web_push_native::Auth::from(secret)))
}

/// Why a push was not accepted.
#[derive(Debug)]
pub struct PushFailure {
    pub error: SendError,
    /// The subscription no longer exists (404, 410): remove it.
    pub gone: bool,
}

/// What a push service's answer means.
pub fn judge(a: &Answer) -> Result<(), PushFailure> {
    let what = format!("HTTP {}: {}", a.status, a.excerpt());
    let (error, gone) = match a.status {
        200..=299 => return Ok(()),
        404 | 410 => (
            SendError::Final(format!("the subscription has expired ({what})")),
            true,
        ),
        429 => (
            SendError::Retry(match a.retry_after {
                Some(s) => format!("{what} (retry after {s} s)"),
                None => what,
            }),
            false,
        ),
        400..=499 => (SendError::Final(what), false),
        _ => (SendError::Retry(what), false),
    };
    Err(PushFailure { error, gone })
}

/// Sends Web Push messages.
pub struct PushSender {
    http: HttpClient,
    allow_private: bool,
}

impl PushSender {
    pub fn new(timeout: Duration, allow_private: bool) -> Self {
        Self {
            http: HttpClient::new(timeout),
            allow_private,
        }
    }

    /// Encrypts `message` for `to` and POSTs it with a VAPID signature, to be kept by the push
    /// service for `ttl` seconds at most. `urgency` is RFC 8030's (`normal`, `high`).
    pub async fn send(
        &self,
        vapid: &Vapid,
        to: &Target<'_>,
        message: &PushMessage,
        ttl: u64,
        urgency: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PushFailure> {
        let fail = |e: String| PushFailure {
            error: SendError::Final(e),
            gone: false,
        };
        let u = super::webhook::check_url(to.endpoint).map_err(fail)?;
        let (public, auth) = keys(to.p256dh, to.auth).map_err(fail)?;
        let plain = serde_json::to_vec(message).expect("a push message serialises");
        let body = web_push_native::encrypt(plain, &public, &auth)
            .map_err(|e| fail(format!("cannot encrypt the payload: {e}")))?;
        let authorization = vapid.authorization(&u, now).map_err(fail)?;
        let request = HttpClient::request(hyper::Method::POST, &u)
            .header("TTL", ttl.to_string())
            .header("Urgency", urgency)
            .header(hyper::header::CONTENT_ENCODING, "aes128gcm")
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header(hyper::header::AUTHORIZATION, authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| fail(e.to_string()))?;
        let addr = super::webhook::resolve(&u, self.allow_private)
            .await
            .map_err(|e| PushFailure {
                error: SendError::Retry(e),
                gone: false,
            })?;
        let answer = self
            .http
            .send(&u, addr, request)
            .await
            .map_err(|error| PushFailure { error, gone: false })?;
        judge(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: Bytes::new(),
        }
    }

    #[test]
    fn answers_decide_the_fate() {
        assert!(judge(&answer(201)).is_ok());
        for s in [404, 410] {
            let f = judge(&answer(s)).unwrap_err();
            assert!(f.gone && matches!(f.error, SendError::Final(_)), "{s}");
        }
        for s in [400, 403, 413] {
            let f = judge(&answer(s)).unwrap_err();
            assert!(!f.gone && matches!(f.error, SendError::Final(_)), "{s}");
        }
        for s in [429, 500, 503] {
            assert!(
                matches!(judge(&answer(s)).unwrap_err().error, SendError::Retry(_)),
                "{s}"
            );
        }
    }

    #[test]
    fn the_vapid_key_is_made_once_private_and_signs_a_verifiable_token() {
        let dir = tempfile::tempdir().unwrap();
        let a = Vapid::load_or_create(dir.path(), "mailto:ops@example.org").unwrap();
        let b = Vapid::load_or_create(dir.path(), "mailto:ops@example.org").unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let mode = std::fs::metadata(dir.path().join("vapid.p8"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let raw = B64URL.decode(a.public_key()).unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");

        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let endpoint = url::Url::parse("https://push.example.net:8443/send/abc?x=1").unwrap();
        let h = a.authorization(&endpoint, now).unwrap();
        let (t, k) = h
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(k, a.public_key());
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.org");
        assert_eq!(
            claims["exp"],
            (now + chrono::Duration::hours(12)).timestamp()
        );
        let verify =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, raw);
        let signed = format!("{}.{}", parts[0], parts[1]);
        verify
            .verify(signed.as_bytes(), &B64URL.decode(parts[2]).unwrap())
            .expect("the signature verifies");
    }

    #[test]
    fn keys_are_checked() {
        // A real browser's subscription keys (web-push-native's documentation example).
        let p256dh = "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
        assert!(check_keys(p256dh, "_ordMnz7uTCmrpBTeUV4Bw").is_ok());
        assert!(check_keys(p256dh, "c2hvcnQ").is_err());
        assert!(check_keys("BAAA", "_ordMnz7uTCmrpBTeUV4Bw").is_err());
        assert!(check_keys("not base64!", "_ordMnz7uTCmrpBTeUV4Bw").is_err());
    }
}
