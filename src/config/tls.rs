//! HTTPS settings: serving TLS from certificate files (`http.tls`) or from certificates
//! obtained over ACME (`http.acme`), the optional plain-HTTP listener that redirects to HTTPS
//! (and answers HTTP-01 challenges), and the checks [`Config::validate`] runs on them.

use super::{Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// HTTPS from certificate files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first). With `key_path`, `http.addr` serves HTTPS only.
    /// Both files are read again when they change (checked every few seconds) and on SIGHUP.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub key_path: PathBuf,
    /// A second listener for plain HTTP that redirects every request to `http.public_url`
    /// (and answers ACME HTTP-01 challenges), e.g. `0.0.0.0:80`; empty = none.
    pub redirect_addr: String,
}

/// Which challenge proves to the CA that this server holds the names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcmeChallenge {
    /// TLS-ALPN-01 on the HTTPS port itself: nothing else needs to be reachable.
    #[default]
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// HTTP-01 on `http.tls.redirect_addr` (the CA connects to port 80).
    #[serde(rename = "http-01")]
    Http01,
}

/// Certificates obtained and renewed over ACME (RFC 8555).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeConfig {
    /// The DNS names of the certificate; ACME is on when this is not empty.
    pub domains: Vec<String>,
    /// Contact addresses for the CA (`mailto:ops@example.org`).
    pub contact: Vec<String>,
    /// The CA's directory URL.
    pub directory_url: String,
    /// A PEM root to trust for the directory's own HTTPS besides the Mozilla roots (a
    /// private or test CA such as Pebble); empty = none.
    pub directory_ca_path: PathBuf,
    /// `tls-alpn-01` (default) or `http-01`.
    pub challenge: AcmeChallenge,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            contact: Vec::new(),
            directory_url: LETS_ENCRYPT.into(),
            directory_ca_path: PathBuf::new(),
            challenge: AcmeChallenge::TlsAlpn01,
        }
    }
}

impl TlsConfig {
    /// Whether certificate files are configured.
    pub fn from_files(&self) -> bool {
        !self.cert_path.as_os_str().is_empty()
    }
}

impl AcmeConfig {
    /// Whether certificates come from ACME.
    pub fn enabled(&self) -> bool {
        !self.domains.is_empty()
    }
}

impl Config {
    /// Whether `http.addr` serves HTTPS.
    pub fn serves_tls(&self) -> bool {
        self.http.tls.from_files() || self.http.acme.enabled()
    }

    pub(super) fn validate_tls(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        let tls = &self.http.tls;
        let acme = &self.http.acme;
        if tls.cert_path.as_os_str().is_empty() != tls.key_path.as_os_str().is_empty() {
            return bad(
                "http.tls.key_path",
                "set both http.tls.cert_path and http.tls.key_path, or neither",
            );
        }
        if tls.from_files() && acme.enabled() {
            return bad(
                "http.acme.domains",
                "certificates come either from files (http.tls.cert_path) or from ACME, not both",
            );
        }
        if !tls.redirect_addr.is_empty() {
            if tls.redirect_addr.parse::<std::net::SocketAddr>().is_err() {
                return bad(
                    "http.tls.redirect_addr",
                    "must be an address and port such as 0.0.0.0:80",
                );
            }
            if !self.serves_tls() {
                return bad(
                    "http.tls.redirect_addr",
                    "redirects to HTTPS, so it needs http.tls.cert_path or http.acme.domains",
                );
            }
        }
        for d in &acme.domains {
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !ok {
                return bad(
                    "http.acme.domains",
                    "each must be a DNS name such as parlor.example.org (no scheme, port or wildcard)",
                );
            }
        }
        if acme.enabled() {
            match url::Url::parse(&acme.directory_url) {
                Ok(u) if u.scheme() == "https" => {}
                _ => return bad("http.acme.directory_url", "must be an https:// URL"),
            }
            if acme.contact.iter().any(|c| !c.starts_with("mailto:")) {
                return bad(
                    "http.acme.contact",
                    "each must be a mailto: address, e.g. mailto:ops@example.org",
                );
            }
            if acme.challenge == AcmeChallenge::Http01 && tls.redirect_addr.is_empty() {
                return bad(
                    "http.acme.challenge",
                    "http-01 is answered on the plain-HTTP listener: set http.tls.redirect_addr \
                     (e.g. 0.0.0.0:80)",
                );
            }
        }
        if self.serves_tls() && !self.http.public_url.starts_with("https://") {
            return bad(
                "http.public_url",
                "must be the https:// address when parlor serves HTTPS itself",
            );
        }
        Ok(())
    }
}
