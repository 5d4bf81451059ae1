//! The HTTPS client the ACME library talks to the CA through: one HTTP/1.1 request per
//! connection on hyper and tokio-rustls (ring provider), trusting the Mozilla roots plus, if
//! configured, one more root (a private CA, or Pebble in tests). Written here rather than
//! taking instant-acme's `hyper-rustls` client, which would bring a second TLS stack
//! configuration (the platform verifier, HTTP/2) for a few requests a month. Every request
//! has a time limit and a size limit on the answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest a request to the CA may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer accepted (a certificate chain is a few KiB).
const MAX_BODY: usize = 1024 * 1024;

/// An HTTPS client for the CA's directory.
#[derive(Clone)]
pub struct CaClient {
    tls: Arc<rustls::ClientConfig>,
}

impl CaClient {
    /// Trusts the Mozilla roots and `extra_root_pem` (if given).
    pub fn new(extra_root_pem: Option<&[u8]>) -> Result<Self, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = extra_root_pem {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("not a PEM certificate: {e}"))?;
            if certs.is_empty() {
                return Err("holds no PEM certificate".into());
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("not a usable root certificate: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(config),
        })
    }

    async fn send(&self, req: Request<BodyWrapper<Bytes>>) -> Result<BytesResponse, String> {
        let uri = req.uri().clone();
        if uri.scheme_str() != Some("https") {
            return Err(format!("{uri}: the CA must be reached over https"));
        }
        let host = uri.host().ok_or("a URL without a host")?.to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{host}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (mut parts, body) = req.into_parts();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = path.parse().map_err(|e| format!("{e}"))?;
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or(host);
        parts.headers.insert(
            hyper::header::HOST,
            authority.parse().map_err(|e| format!("{e}"))?,
        );
        let response = sender
            .send_request(Request::from_parts(parts, body))
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(BytesResponse::from(hyper::Response::from_parts(
            parts,
            http_body_util::Full::new(bytes),
        )))
    }
}

impl HttpClient for CaClient {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let me = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, me.send(req)).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(instant_acme::Error::Other(e.into())),
                Err(_) => Err(instant_acme::Error::Other(
                    "the CA did not answer within 30 s".into(),
                )),
            }
        })
    }
}
