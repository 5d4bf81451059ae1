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
//! The HTTP client is one HTTP/1.1 request per connection on hyper and tokio-rustls (ring,
//! Mozilla roots), bounded in time and in the size of the answer read; the same shape as
//! the ACME client's, but connecting to a vetted address.

use super::SendError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// The most of an endpoint's answer that is read (it is only logged).
const MAX_ANSWER: usize = 64 * 1024;

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
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0] == 0x0064 && seg[1] == 0xff9b)) // NAT64 (reaches IPv4 behind)
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
            "{host} is a private, loopback or otherwise internal address ({}); webhooks go \
             only to public addresses unless notify.webhooks.allow_private is set",
            bad.ip()
        ));
    }
    Ok(addrs[0])
}

/// Sends webhooks.
pub struct WebhookSender {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    allow_private: bool,
}

impl WebhookSender {
    pub fn new(timeout: Duration, allow_private: bool) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            tls: Arc::new(config),
            timeout,
            allow_private,
        }
    }

    /// POSTs `body` as message `id` to `url`, signed with `secret` at `timestamp`. A 2xx
    /// answer is a delivery; 410 Gone is final (the receiver says the endpoint is no more);
    /// anything else is tried again.
    pub async fn send(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &str,
    ) -> Result<(), SendError> {
        let u = check_url(url).map_err(SendError::Final)?;
        let signature = sign(secret, id, timestamp, body).map_err(SendError::Final)?;
        let addr = resolve(&u, self.allow_private)
            .await
            .map_err(SendError::Retry)?;
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, host_header(&u))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("parlor/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| SendError::Final(e.to_string()))?;
        let exchange = self.exchange(&u, addr, request);
        let (status, answer) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r.map_err(SendError::Retry)?,
            Err(_) => {
                return Err(SendError::Retry(format!(
                    "no answer within {} s",
                    self.timeout.as_secs()
                )));
            }
        };
        let said = String::from_utf8_lossy(&answer[..answer.len().min(200)]).to_string();
        match status {
            200..=299 => Ok(()),
            410 => Err(SendError::Final(format!("HTTP 410 Gone: {said}"))),
            s => Err(SendError::Retry(format!("HTTP {s}: {said}"))),
        }
    }

    async fn exchange(
        &self,
        u: &url::Url,
        addr: SocketAddr,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<(u16, Bytes), String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if u.scheme() == "https" {
            let host = u.host_str().unwrap_or_default();
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let name = rustls::pki_types::ServerName::try_from(bare)
                .map_err(|e| format!("{host}: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            post(TokioIo::new(tls), request).await
        } else {
            post(TokioIo::new(tcp), request).await
        }
    }
}

fn host_header(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or_default();
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

async fn post<T>(io: T, request: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok((status, body))
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
        ] {
            assert!(!public_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
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
