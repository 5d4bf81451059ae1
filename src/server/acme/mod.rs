//! Certificates obtained and renewed over ACME (RFC 8555), for `http.acme.domains`.
//!
//! One task per server: it serves the stored certificate at once if it covers the configured
//! names, and otherwise (or when a third of its lifetime is left) orders a new one — an
//! account per CA directory (created once, kept 0600 under `data/acme/`), one order for all
//! names, each name proven by TLS-ALPN-01 on the HTTPS port (a self-signed certificate
//! carrying the key authorisation's digest, RFC 8737) or HTTP-01 on the redirect listener.
//! The new certificate is stored, then swapped into the listener. A refusal by the CA is
//! logged with the CA's own words and retried with exponential back-off (1 minute up to 6
//! hours); until a first certificate exists, HTTPS handshakes fail and the log says why. A
//! certificate that is due again the moment it arrives (the machine's clock disagrees with
//! the CA's) is not re-ordered in a loop: the back-off applies.
//!
//! The ACME protocol is instant-acme's (JWS, nonces and retries included); this module only
//! decides when, and answers the challenges.

mod client;
mod store;

pub use store::{AcmeStore, StoredCert};

use super::tls::{CertSlot, Tls, certified_key};
use crate::config::{AcmeChallenge, AcmeConfig};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// First wait after a failure; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Longest sleep between looks at the certificate (the clock may be changed meanwhile).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Why obtaining a certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the CA refused or failed: {0}")]
    Ca(#[from] instant_acme::Error),
    #[error("the CA did not validate {name}: {detail}")]
    Invalid { name: String, detail: String },
    #[error("the CA offers no {0} challenge for a name (set http.acme.challenge to another)")]
    NoChallenge(&'static str),
    #[error("{0}")]
    Local(String),
    #[error("cannot write under data/acme: {0}")]
    Store(#[from] std::io::Error),
}

/// HTTP-01 answers by token, served on the redirect listener at
/// `/.well-known/acme-challenge/{token}`.
#[derive(Debug, Default)]
pub struct Http01Challenges(Mutex<HashMap<String, String>>);

impl Http01Challenges {
    /// The key authorisation for `token`, if a validation is under way.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0.lock().expect("http-01 lock").get(token).cloned()
    }

    fn insert(&self, token: &str, key_authorization: &str) {
        self.0
            .lock()
            .expect("http-01 lock")
            .insert(token.to_string(), key_authorization.to_string());
    }

    fn remove(&self, token: &str) {
        self.0.lock().expect("http-01 lock").remove(token);
    }
}

/// Everything the ACME task works with.
pub struct AcmeManager {
    config: AcmeConfig,
    store: AcmeStore,
    client: client::CaClient,
    tls: Arc<Tls>,
    http01: Arc<Http01Challenges>,
}

impl AcmeManager {
    /// Checks what can be checked before serving (the extra root CA file).
    pub fn new(
        config: &AcmeConfig,
        data_dir: &Path,
        tls: Arc<Tls>,
        http01: Arc<Http01Challenges>,
    ) -> Result<Self, String> {
        let extra = if config.directory_ca_path.as_os_str().is_empty() {
            None
        } else {
            Some(std::fs::read(&config.directory_ca_path).map_err(|e| {
                format!(
                    "http.acme.directory_ca_path {}: {e}",
                    config.directory_ca_path.display()
                )
            })?)
        };
        let client = client::CaClient::new(extra.as_deref()).map_err(|e| {
            format!(
                "http.acme.directory_ca_path {}: {e}",
                config.directory_ca_path.display()
            )
        })?;
        Ok(Self {
            config: config.clone(),
            store: AcmeStore::new(data_dir),
            client,
            tls,
            http01,
        })
    }

    /// Keeps a valid certificate in the listener until the task is dropped.
    pub async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        let mut installed_renew_at = None;
        loop {
            let now = chrono::Utc::now().timestamp();
            let stored = self.store.cert().filter(|c| c.covers(&self.config.domains));
            if let Some(c) = &stored
                && installed_renew_at != Some(c.renew_at())
            {
                match certified_key(&c.chain_pem, &c.key_pem, "data/acme/cert.pem") {
                    Ok(k) if c.not_after > now => {
                        install(&self.tls.certs, k);
                        installed_renew_at = Some(c.renew_at());
                        tracing::info!(
                            domains = ?self.config.domains,
                            expires = %when(c.not_after),
                            "serving the stored ACME certificate"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "stored ACME certificate unusable"),
                }
            }
            let due = stored.as_ref().is_none_or(|c| c.renew_at() <= now);
            if !due {
                let wait = stored.as_ref().map_or(0, |c| c.renew_at() - now);
                sleep_secs(wait, MAX_SLEEP).await;
                continue;
            }
            match self.obtain().await {
                Ok(c) => {
                    tracing::info!(
                        domains = ?self.config.domains,
                        expires = %when(c.not_after),
                        renew = %when(c.renew_at()),
                        "ACME certificate obtained"
                    );
                    if c.renew_at() <= chrono::Utc::now().timestamp() {
                        tracing::error!(
                            "the new certificate is already due for renewal: is this machine's \
                             clock right? (retrying after a back-off, not at once)"
                        );
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    } else {
                        backoff = FIRST_BACKOFF;
                    }
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        domains = ?self.config.domains,
                        directory = %self.config.directory_url,
                        retry_in_secs = backoff.as_secs(),
                        "could not obtain a certificate over ACME"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// The account for the configured directory: the stored one, or a new one (stored).
    async fn account(&self) -> Result<Account, AcmeError> {
        let url = &self.config.directory_url;
        if let Some(json) = self.store.account(url)
            && let Ok(creds) = serde_json::from_slice::<AccountCredentials>(&json)
        {
            return Ok(Account::builder_with_http(Box::new(self.client.clone()))
                .from_credentials(creds)
                .await?);
        }
        let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
        let (account, creds) = Account::builder_with_http(Box::new(self.client.clone()))
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                url.clone(),
                None,
            )
            .await?;
        let json = serde_json::to_vec(&creds).map_err(|e| AcmeError::Local(e.to_string()))?;
        self.store.save_account(url, &json)?;
        tracing::info!(directory = %url, "ACME account created");
        Ok(account)
    }

    /// Orders, proves and fetches a certificate for the configured names; stores and serves it.
    async fn obtain(&self) -> Result<StoredCert, AcmeError> {
        let account = self.account().await?;
        let ids: Vec<Identifier> = self
            .config
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account.new_order(&NewOrder::new(&ids)).await?;
        let (kind, name) = match self.config.challenge {
            AcmeChallenge::TlsAlpn01 => (ChallengeType::TlsAlpn01, "tls-alpn-01"),
            AcmeChallenge::Http01 => (ChallengeType::Http01, "http-01"),
        };
        let mut answered = Answered::new(&self.tls, &self.http01);
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            if authz.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or(AcmeError::NoChallenge(name))?;
            let domain = challenge.identifier().to_string();
            let key_auth = challenge.key_authorization();
            match self.config.challenge {
                AcmeChallenge::TlsAlpn01 => {
                    let cert = alpn_challenge_cert(&domain, key_auth.digest().as_ref())?;
                    answered.alpn(&domain, cert);
                }
                AcmeChallenge::Http01 => {
                    answered.http01(&challenge.token, key_auth.as_str());
                }
            }
            challenge.set_ready().await?;
        }
        let poll = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(120));
        let status = order.poll_ready(&poll).await?;
        if status != OrderStatus::Ready {
            return Err(AcmeError::Invalid {
                name: self.config.domains.join(", "),
                detail: format!("the order ended {status:?}"),
            });
        }
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&poll).await?;
        drop(answered);
        let key = certified_key(
            chain_pem.as_bytes(),
            key_pem.as_bytes(),
            "the CA's certificate",
        )
        .map_err(|e| AcmeError::Local(e.to_string()))?;
        self.store
            .save_cert(chain_pem.as_bytes(), key_pem.as_bytes())?;
        install(&self.tls.certs, key);
        StoredCert::parse(chain_pem.into_bytes(), key_pem.into_bytes()).map_err(AcmeError::Local)
    }
}

fn install(slot: &CertSlot, key: rustls::sign::CertifiedKey) {
    slot.set(Arc::new(key));
}

/// Challenge answers in place for one order; taken down when dropped, however it ended.
struct Answered<'a> {
    tls: &'a Tls,
    http01: &'a Http01Challenges,
    names: Vec<String>,
    tokens: Vec<String>,
}

impl<'a> Answered<'a> {
    fn new(tls: &'a Tls, http01: &'a Http01Challenges) -> Self {
        Self {
            tls,
            http01,
            names: Vec::new(),
            tokens: Vec::new(),
        }
    }

    fn alpn(&mut self, name: &str, cert: rustls::sign::CertifiedKey) {
        self.tls.challenges.insert(name, Arc::new(cert));
        self.names.push(name.to_string());
    }

    fn http01(&mut self, token: &str, key_authorization: &str) {
        self.http01.insert(token, key_authorization);
        self.tokens.push(token.to_string());
    }
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            self.tls.challenges.remove(n);
        }
        for t in &self.tokens {
            self.http01.remove(t);
        }
    }
}

/// The self-signed certificate answering a TLS-ALPN-01 challenge for `name`: the name as its
/// only SAN and the critical `acmeIdentifier` extension holding `digest` (RFC 8737 §3).
fn alpn_challenge_cert(name: &str, digest: &[u8]) -> Result<rustls::sign::CertifiedKey, AcmeError> {
    let local = |e: rcgen::Error| AcmeError::Local(format!("challenge certificate: {e}"));
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(local)?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let key = rcgen::KeyPair::generate().map_err(local)?;
    let cert = params.self_signed(&key).map_err(local)?;
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    // `CertifiedKey::new`, not `from_der`: the latter parses the certificate as a web PKI
    // end-entity and refuses the critical acmeIdentifier extension this one must carry.
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| AcmeError::Local(format!("challenge certificate key: {e}")))?;
    Ok(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    ))
}

/// Unix seconds as RFC 3339 text, for the log.
fn when(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(|| secs.to_string(), |t| t.to_rfc3339())
}

/// Sleeps `secs` seconds (at least one, at most `cap`).
async fn sleep_secs(secs: i64, cap: Duration) {
    let d = Duration::from_secs(u64::try_from(secs.max(1)).unwrap_or(1)).min(cap);
    tokio::time::sleep(d).await;
}
