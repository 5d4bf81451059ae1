//! Webhook delivery per the Standard Webhooks specification: a POST of the event's JSON with
//! `webhook-id` (the outbox row's id, the same on every retry), `webhook-timestamp` (unix
//! seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` under the endpoint's `whsec_` secret.
//!
//! Targets are checked against server-side request forgery: the host is resolved here and the
//! connection goes to an address that was checked (so a DNS answer cannot change between the
//! check and the connection); loopback, private, link-local, unique-local, CGNAT, multicast
//! and unspecified addresses are refused unless `notify.webhooks.allow_private` is set.
//!
//! Requests go through the outbox's [`HttpClient`](super::http::HttpClient), to the vetted
//! address.

use super::SendError;
use super::http::HttpClient;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A new endpoint secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    format!("whsec_{}", B64.encode(crate::ids::random_bytes::<24>()))
}

/// The key bytes of a `whsec_` secret.
fn key_of(secret: &str) -> Result<Vec<u8>, String> {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    B64.decode(raw)
        .map_err(|e| format!("the endpoint's secret is not base64: {e}"))
}

/// The `webhook-signature` value of a message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key_of(secret)?)
        .expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Whether a webhook may be sent to `ip` when private targets are not allowed.
pub fn public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF 192.0.0/24
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_address(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // 6to4 (2002::/16) carries an IPv4 address that is reached through a relay.
            if seg[0] == 0x2002 {
                let [a, b] = seg[1].to_be_bytes();
                let [c, d] = seg[2].to_be_bytes();
                return public_address(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0] == 0x0064 && seg[1] == 0xff9b) // NAT64 (reaches IPv4 behind)
                || (seg[0] & 0xffc0) == 0xfec0 // site local fec0::/10 (deprecated, still routed inside)
                || (seg[0] == 0x2001 && seg[1] == 0) // Teredo 2001::/32
                || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // discard 100::/64
                || seg[..6] == [0; 6]) // IPv4-compatible ::a.b.c.d (deprecated)
        }
    }
}

/// Checks a URL's form: http or https, a host, no credentials, no fragment.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("the URL must be http:// or https://".into());
    }
    if u.host_str().is_none() {
        return Err("the URL needs a host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL must not carry a user name or password".into());
    }
    if u.fragment().is_some() {
        return Err("the URL must not have a #fragment".into());
    }
    if raw.len() > 2000 {
        return Err("the URL is longer than 2000 characters".into());
    }
    Ok(u)
}

/// The address to connect to for `u`: its host resolved, and the first address that may be
/// used. Every address of a name must be allowed (a name that also points inside is refused).
pub async fn resolve(u: &url::Url, allow_private: bool) -> Result<SocketAddr, String> {
    let host = u.host_str().ok_or("no host")?;
    let port = u.port_or_known_default().ok_or("no port")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((bare, port)),
    )
    .await
    .map_err(|_| format!("resolving {host} took longer than 5 s"))?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?
    .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !public_address(a.ip())) {
        return Err(format!(
            "{host} is a private, loopback or otherwise internal address ({}); only public \
             addresses are allowed (see notify.webhooks.allow_private and \
             notify.push.allow_private)",
            bad.ip()
        ));
    }
    Ok(addrs[0])
}

/// Why a webhook was not accepted.
#[derive(Debug)]
pub struct WebhookFailure {
    pub error: SendError,
    /// The endpoint answered 410 Gone.
    pub gone: bool,
}

/// Sends webhooks.
pub struct WebhookSender {
    http: HttpClient,
    allow_private: bool,
}

impl WebhookSender {
    pub fn new(timeout: Duration, allow_private: bool) -> Self {
        Self {
            http: HttpClient::new(timeout),
            allow_private,
        }
    }

    /// POSTs `body` as message `id` to `url`, signed with `secret` at `timestamp`. A 2xx
    /// answer is a delivery; 410 Gone is final and says so (the receiver says the endpoint is
    /// no more); anything else is tried again.
    pub async fn send(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &str,
    ) -> Result<(), WebhookFailure> {
        self.deliver(url, secret, id, timestamp, body)
            .await
            .map_err(|error| WebhookFailure { error, gone: false })
            .and_then(|answer| match answer.status {
                200..=299 => Ok(()),
                410 => Err(WebhookFailure {
                    error: SendError::Final(format!("HTTP 410 Gone: {}", answer.excerpt())),
                    gone: true,
                }),
                s => Err(WebhookFailure {
                    error: SendError::Retry(format!("HTTP {s}: {}", answer.excerpt())),
                    gone: false,
                }),
            })
    }

    async fn deliver(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &str,
    ) -> Result<super::http::Answer, SendError> {
        let u = check_url(url).map_err(SendError::Final)?;
        let signature = sign(secret, id, timestamp, body).map_err(SendError::Final)?;
        let addr = resolve(&u, self.allow_private)
            .await
            .map_err(SendError::Retry)?;
        let request = HttpClient::request(hyper::Method::POST, &u)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| SendError::Final(e.to_string()))?;
        self.http.send(&u, addr, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_specifications_example() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_usable() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(key_of(&a).unwrap().len(), 24);
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "fec0::1",
            "2001::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "::7f00:1",
            "100::1",
        ] {
            assert!(!public_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "2002:5db8:d822::1",
        ] {
            assert!(public_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_plain_http_or_https() {
        assert!(check_url("https://hooks.example.org/in?x=1").is_ok());
        for bad in [
            "ftp://x.org/",
            "https://user:pw@x.org/",
            "https://x.org/#frag",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused_unless_allowed() {
        let u = check_url("http://localhost:9/").unwrap();
        let err = resolve(&u, false).await.unwrap_err();
        assert!(err.contains("private"), "{err}");
        assert!(resolve(&u, true).await.is_ok());
        let lit = check_url("http://[::1]:9/").unwrap();
        assert!(resolve(&lit, false).await.is_err());
    }
}
