//! HTTPS on the server's own listener (rustls, ring provider). The certificate served sits in
//! a [`CertSlot`] that is swapped whole — by a reload of the certificate files ([`files`]) or
//! by an ACME renewal (`super::acme`) — so connections in progress keep the certificate they
//! started with and new ones get the new one, without a restart.
//!
//! A connection whose ClientHello offers only `acme-tls/1` is an ACME validator checking a
//! TLS-ALPN-01 challenge (RFC 8737): it is answered with the challenge certificate for the
//! name it asks for, and closed after the handshake — it never reaches HTTP. Every other
//! connection is offered `http/1.1` (parlor's HTTP server is HTTP/1.1, with WebSocket
//! upgrades).

pub mod files;

use rustls::server::{Acceptor, ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

/// The ALPN protocol of TLS-ALPN-01 validation.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Why a certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} holds no PEM {kind}")]
    Missing { what: String, kind: &'static str },
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
}

/// The certificate chain and key in `chain_pem` / `key_pem`, checked against each other
/// (`what` names their origin in errors).
pub fn certified_key(
    chain_pem: &[u8],
    key_pem: &[u8],
    what: &str,
) -> Result<CertifiedKey, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |msg: String| TlsError::Invalid {
        what: what.to_string(),
        msg,
    };
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::Missing {
            what: what.to_string(),
            kind: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
            what: what.to_string(),
            kind: "private key",
        },
        e => invalid(format!("not a PEM private key: {e}")),
    })?;
    CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider()).map_err(|e| {
        invalid(format!(
            "the key does not fit the certificate or is not supported: {e}"
        ))
    })
}

/// The certificate served now; empty until one is loaded or obtained.
#[derive(Debug, Default)]
pub struct CertSlot(RwLock<Option<Arc<CertifiedKey>>>);

impl CertSlot {
    /// Serves `key` from the next handshake on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().expect("cert slot lock") = Some(key);
    }

    /// The certificate served now.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.0.read().expect("cert slot lock").clone()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// TLS-ALPN-01 challenge certificates by the DNS name they prove.
#[derive(Debug, Default)]
pub struct AlpnChallenges(Mutex<HashMap<String, Arc<CertifiedKey>>>);

impl AlpnChallenges {
    pub fn insert(&self, name: &str, key: Arc<CertifiedKey>) {
        self.0
            .lock()
            .expect("challenge lock")
            .insert(name.to_ascii_lowercase(), key);
    }

    pub fn remove(&self, name: &str) {
        self.0
            .lock()
            .expect("challenge lock")
            .remove(&name.to_ascii_lowercase());
    }
}

impl ResolvesServerCert for AlpnChallenges {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        self.0.lock().expect("challenge lock").get(&name).cloned()
    }
}

/// The TLS side of the HTTPS listener.
pub struct Tls {
    http: Arc<rustls::ServerConfig>,
    challenge: Arc<rustls::ServerConfig>,
    /// The certificate served to browsers.
    pub certs: Arc<CertSlot>,
    /// Certificates answering TLS-ALPN-01 validations.
    pub challenges: Arc<AlpnChallenges>,
}

impl Default for Tls {
    fn default() -> Self {
        Self::new()
    }
}

impl Tls {
    pub fn new() -> Self {
        let certs = Arc::new(CertSlot::default());
        let challenges = Arc::new(AlpnChallenges::default());
        let config = |resolver: Arc<dyn ResolvesServerCert>, alpn: &[u8]| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut c = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
                .with_no_client_auth()
                .with_cert_resolver(resolver);
            c.alpn_protocols = vec![alpn.to_vec()];
            Arc::new(c)
        };
        Self {
            http: config(certs.clone(), b"http/1.1"),
            challenge: config(challenges.clone(), ACME_TLS_ALPN),
            certs,
            challenges,
        }
    }

    /// Runs the TLS handshake on an accepted connection: the stream to serve HTTP on, or
    /// `None` when it was an ACME validation (answered and closed).
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<Option<TlsStream<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(Acceptor::default(), io).await?;
        let validation = start
            .client_hello()
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validation {
            let mut s = start.into_stream(self.challenge.clone()).await?;
            let _ = s.shutdown().await;
            return Ok(None);
        }
        Ok(Some(start.into_stream(self.http.clone()).await?))
    }
}
