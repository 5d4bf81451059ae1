//! Notification settings: the outbox worker (`notify`), email over SMTP (`notify.smtp`), and
//! the checks [`Config::validate`] runs on them.

use super::{Config, ConfigError, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Notifications and their delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The organisation's name, as messages sign and greet with it.
    pub organisation: String,
    /// Reminders before each scheduled session, in minutes before its start (empty: none).
    pub reminder_minutes: Vec<u32>,
    /// How long a message that keeps failing is retried before it is marked failed.
    pub give_up_hours: u32,
    /// How long a worker holds a message it is delivering before another may take it (a
    /// worker that died is taken over after this).
    pub lease_secs: u32,
    /// How often the worker looks for due messages when nothing wakes it, in milliseconds.
    pub poll_ms: u64,
    /// Email over SMTP; off while `host` is empty.
    pub smtp: SmtpConfig,
    /// Signed webhooks to the endpoints admins configure.
    pub webhooks: WebhooksConfig,
}

/// Webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Allow endpoints on loopback, private and other internal addresses (off: such targets
    /// are refused, against server-side request forgery).
    pub allow_private: bool,
    /// How long an endpoint has to answer, in seconds.
    pub timeout_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_secs: 10,
        }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            organisation: "parlor".into(),
            reminder_minutes: vec![24 * 60, 60],
            give_up_hours: 24,
            lease_secs: 60,
            poll_ms: 1000,
            smtp: SmtpConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: only for a relay on this host or a private network.
    Plain,
}

/// Email over SMTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The SMTP server's name; email is off while it is empty.
    pub host: String,
    /// Its port (587 for STARTTLS, 465 for TLS, 25 for a local relay).
    pub port: u16,
    /// `starttls`, `tls` or `plain`.
    pub security: SmtpSecurity,
    /// The login name for AUTH; empty = no AUTH.
    pub username: String,
    /// The password for AUTH (environment only: `PARLOR_NOTIFY__SMTP__PASSWORD`).
    pub password: Secret,
    /// The sender, e.g. `Coaching <sessions@example.org>`.
    pub from: String,
    /// Where replies go (empty: to the sender).
    pub reply_to: String,
    /// A PEM root certificate to trust for the server besides the Mozilla roots (a private
    /// relay's own CA); empty = none.
    pub ca_path: PathBuf,
    /// Connection and command timeout, in seconds.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            reply_to: String::new(),
            ca_path: PathBuf::new(),
            timeout_secs: 30,
        }
    }
}

impl SmtpConfig {
    /// Whether email is configured.
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }
}

/// The most reminders a session may have, and the earliest one (a week before).
const MAX_REMINDERS: usize = 5;
const MAX_REMINDER_MINUTES: u32 = 7 * 24 * 60;

impl Config {
    pub(super) fn validate_notify(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: String| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg,
            })
        };
        let n = &self.notify;
        if n.organisation.trim().is_empty() || n.organisation.chars().count() > 100 {
            return bad("notify.organisation", "1-100 characters".into());
        }
        if n.reminder_minutes.len() > MAX_REMINDERS
            || n.reminder_minutes
                .iter()
                .any(|&m| m == 0 || m > MAX_REMINDER_MINUTES)
        {
            return bad(
                "notify.reminder_minutes",
                format!("at most {MAX_REMINDERS} values, each 1-{MAX_REMINDER_MINUTES} minutes"),
            );
        }
        if !(1..=24 * 14).contains(&n.give_up_hours) {
            return bad("notify.give_up_hours", "1-336 (two weeks)".into());
        }
        if !(5..=3600).contains(&n.lease_secs) {
            return bad("notify.lease_secs", "5-3600".into());
        }
        if !(50..=60_000).contains(&n.poll_ms) {
            return bad("notify.poll_ms", "50-60000".into());
        }
        if !(1..=60).contains(&n.webhooks.timeout_secs) {
            return bad("notify.webhooks.timeout_secs", "1-60".into());
        }
        let s = &n.smtp;
        if !s.enabled() {
            return Ok(());
        }
        if s.port == 0 {
            return bad("notify.smtp.port", "must not be 0".into());
        }
        if s.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad(
                "notify.smtp.from",
                "must be an address such as `Coaching <sessions@example.org>`".into(),
            );
        }
        if !s.reply_to.is_empty() && s.reply_to.parse::<lettre::message::Mailbox>().is_err() {
            return bad("notify.smtp.reply_to", "must be an email address".into());
        }
        if s.username.is_empty() != s.password.expose().is_empty() {
            return bad(
                "notify.smtp.username",
                "set both the username and PARLOR_NOTIFY__SMTP__PASSWORD, or neither".into(),
            );
        }
        if !(1..=600).contains(&s.timeout_secs) {
            return bad("notify.smtp.timeout_secs", "1-600".into());
        }
        Ok(())
    }
}
