//! The outbox's HTTP client, shared by its HTTP channels (webhooks, SMS): one HTTP/1.1 request
//! per connection on hyper and tokio-rustls (ring, Mozilla roots), to an address the caller
//! has already resolved and vetted, bounded in time and in the size of the answer read.
//!
//! Hand-written on hyper rather than a full client crate (reqwest) because the caller must
//! choose the address connected to (the webhook SSRF check resolves a name once, checks every
//! address, and connects to one of those), and because a message is one request: no pool,
//! no redirects, no cookies to get wrong.

use super::SendError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// The most of an answer that is read (answers are parsed for an error code or logged).
const MAX_ANSWER: usize = 64 * 1024;

/// What the other side answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after: Option<u64>,
    pub body: Bytes,
}

impl Answer {
    /// The start of the body, for a log line or an error message.
    pub fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).to_string()
    }
}

/// Sends single requests over HTTP or HTTPS with a time limit.
pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Self {
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
        }
    }

    /// A request for `u` (path and query, `Host`, `User-Agent` set), to be completed by the
    /// caller with its own headers and body.
    pub fn request(method: hyper::Method, u: &url::Url) -> hyper::http::request::Builder {
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host_header(u))
            .header(
                hyper::header::USER_AGENT,
                concat!("parlor/", env!("CARGO_PKG_VERSION")),
            )
    }

    /// Sends `request` for `u` to `addr`. A connection that fails or an answer that does not
    /// come within the time limit is worth another try later.
    pub async fn send(
        &self,
        u: &url::Url,
        addr: SocketAddr,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, SendError> {
        match tokio::time::timeout(self.timeout, self.exchange(u, addr, request)).await {
            Ok(r) => r.map_err(SendError::Retry),
            Err(_) => Err(SendError::Retry(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    async fn exchange(
        &self,
        u: &url::Url,
        addr: SocketAddr,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, String> {
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
            one_request(TokioIo::new(tls), request).await
        } else {
            one_request(TokioIo::new(tcp), request).await
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

async fn one_request<T>(io: T, request: hyper::Request<Full<Bytes>>) -> Result<Answer, String>
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
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}
