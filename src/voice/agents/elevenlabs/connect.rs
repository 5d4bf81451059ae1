//! Reaching the service: the signed-URL request of private agents and the WebSocket handshake.
//!
//! TLS is rustls with the ring provider (already used by the media stack) and the Mozilla
//! roots from `webpki-roots`, so nothing depends on the host's certificate store. The signed
//! URL is fetched with a single HTTP/1.1 request on hyper; the API key is sent only as the
//! `xi-api-key` header and no error message built here contains it or the signed URL (the
//! signed URL is a bearer credential for about 15 minutes).

use super::Endpoints;
use crate::config::Secret;
use crate::voice::agents::AgentError;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

/// The WebSocket type of a conversation.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Largest signed-URL response accepted.
const MAX_SIGNED_URL_BODY: usize = 64 * 1024;

/// A rustls client configuration with the ring provider and the webpki roots.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The URL to open: the public conversation URL, or a freshly signed one for a private agent
/// (returned exactly as the service wrote it: it is opaque).
pub async fn conversation_url(
    endpoints: &Endpoints,
    api_key: &Secret,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<String, AgentError> {
    if api_key.is_empty() {
        return Ok(endpoints.conversation.to_string());
    }
    let body = https_get(&endpoints.signed_url, api_key, tls).await?;
    #[derive(serde::Deserialize)]
    struct SignedUrl {
        signed_url: String,
    }
    let parsed: SignedUrl = serde_json::from_slice(&body).map_err(|_| {
        AgentError::Unreachable("signed-URL response is not the expected JSON".into())
    })?;
    let url = Url::parse(&parsed.signed_url)
        .map_err(|_| AgentError::Unreachable("signed URL does not parse".into()))?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err(AgentError::Unreachable(
            "signed URL is not ws:// or wss://".into(),
        ));
    }
    Ok(parsed.signed_url)
}

/// Bytes read from the agent's socket at a time.
pub const READ_BUFFER: usize = 16 * 1024;

/// Opens the WebSocket (no extra headers: a signed URL carries its own credential).
pub async fn open_socket(url: &str, tls: &Arc<rustls::ClientConfig>) -> Result<Socket, AgentError> {
    // tungstenite zero-fills `read_buffer_size` bytes of its buffer before every read: at the
    // default 128 KiB that was 7% of the server's CPU at 100 voice sessions, for messages of a
    // few KiB. A larger message still fits (the buffer grows to its length).
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let connector = Connector::Rustls(tls.clone());
    let host = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    match tokio_tungstenite::connect_async_tls_with_config(
        url,
        Some(ws_config),
        true,
        Some(connector),
    )
    .await
    {
        Ok((ws, _response)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(AgentError::Unreachable(
            format!("{host} refused the WebSocket: HTTP {}", resp.status()),
        )),
        Err(e) => Err(AgentError::Unreachable(format!(
            "{host}: {}",
            describe_ws_error(&e)
        ))),
    }
}

/// A tungstenite error without anything that could echo the URL.
fn describe_ws_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Io(io) => io.to_string(),
        E::Tls(t) => format!("TLS: {t}"),
        E::Url(_) => "unusable URL".into(),
        E::Protocol(p) => format!("handshake: {p}"),
        other => other.to_string(),
    }
}

/// `GET url` with the API key header; returns the body of a 2xx response.
async fn https_get(
    url: &Url,
    api_key: &Secret,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Bytes, AgentError> {
    let host = url
        .host_str()
        .ok_or_else(|| AgentError::Config("signed-URL endpoint has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let unreachable = |what: &str, e: &dyn std::fmt::Display| {
        AgentError::Unreachable(format!("{host}: {what}: {e}"))
    };
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let request = Request::get(path)
        .header(hyper::header::HOST, host_header)
        .header("xi-api-key", api_key.expose())
        .header(hyper::header::ACCEPT, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("parlor/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|_| AgentError::Config("API key is not a valid header value".into()))?;
    // IPv6 literals come bracketed from the URL; sockets and TLS names want them bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare, port))
        .await
        .map_err(|e| unreachable("connect", &e))?;
    let _ = tcp.set_nodelay(true);
    let (status, body) = if url.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(bare.to_string())
            .map_err(|e| unreachable("server name", &e))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable("TLS", &e))?;
        request_over(stream, request).await
    } else {
        request_over(tcp, request).await
    }
    .map_err(|e| unreachable("signed-URL request", &e))?;
    if !status.is_success() {
        return Err(AgentError::Unreachable(format!(
            "{host}: signed-URL request answered HTTP {status}"
        )));
    }
    Ok(body)
}

async fn request_over<S>(
    io: S,
    request: Request<Empty<Bytes>>,
) -> Result<(hyper::StatusCode, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_SIGNED_URL_BODY)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    driver.abort();
    result
}
