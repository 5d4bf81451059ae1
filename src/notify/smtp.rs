//! Sending email over SMTP with lettre: STARTTLS that must succeed, implicit TLS, or plain
//! for a local relay; AUTH from the environment only; every connection and command bounded
//! by `notify.smtp.timeout_secs`. A refusal with a 5xx reply is final; everything else (4xx,
//! a connection that fails or stalls, TLS trouble) is worth another try.

use super::SendError;
use crate::config::{SmtpConfig, SmtpSecurity};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// An SMTP client with its connection pool.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
}

/// Why the SMTP client could not be set up (a configuration mistake).
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("cannot read notify.smtp.ca_path {path}: {source}")]
    Ca {
        path: String,
        source: std::io::Error,
    },
    #[error("notify.smtp: {0}")]
    Tls(String),
    #[error("{0}")]
    Sms(String),
}

impl SmtpSender {
    /// The client for `cfg` (which must be enabled).
    pub fn new(cfg: &SmtpConfig) -> Result<Self, SmtpSetupError> {
        let timeout = Duration::from_secs(cfg.timeout_secs);
        let tls = || -> Result<TlsParameters, SmtpSetupError> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if !cfg.ca_path.as_os_str().is_empty() {
                let pem = std::fs::read(&cfg.ca_path).map_err(|source| SmtpSetupError::Ca {
                    path: cfg.ca_path.display().to_string(),
                    source,
                })?;
                let cert =
                    Certificate::from_pem(&pem).map_err(|e| SmtpSetupError::Tls(e.to_string()))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| SmtpSetupError::Tls(e.to_string()))
        };
        let tls = match cfg.security {
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::Plain => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(timeout));
        if !cfg.username.is_empty() {
            b = b.credentials(Credentials::new(
                cfg.username.clone(),
                cfg.password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: b.build(),
            timeout,
        })
    }

    /// Sends one message.
    pub async fn send(&self, m: Message) -> Result<(), SendError> {
        // lettre bounds each command; this bounds the whole exchange.
        let limit = self.timeout * 3;
        match tokio::time::timeout(limit, self.transport.send(m)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Final(smtp_error(&e))),
            Ok(Err(e)) => Err(SendError::Retry(smtp_error(&e))),
            Err(_) => Err(SendError::Retry(format!(
                "the SMTP server did not finish within {} s",
                limit.as_secs()
            ))),
        }
    }
}

/// The error in words, with the server's reply code when there is one.
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
