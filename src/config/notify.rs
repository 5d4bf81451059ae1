//! Notification settings: the outbox worker (`notify`), email over SMTP (`notify.smtp`), SMS
//! (`notify.sms`), webhooks (`notify.webhooks`), and the checks [`Config::validate`] runs on them.

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
    /// The most messages the worker sends a second, over every channel (0: no limit): a
    /// backlog drains at this pace instead of taking the cores from requests.
    pub max_per_second: u32,
    /// Email over SMTP; off while `host` is empty.
    pub smtp: SmtpConfig,
    /// SMS reminders through Twilio's Messages API; off while `account_sid` is empty.
    pub sms: SmsConfig,
    /// Web Push to the browsers people turn notifications on in.
    pub push: PushConfig,
    /// Signed webhooks to the endpoints admins configure.
    pub webhooks: WebhooksConfig,
}

/// Web Push (VAPID key in `{data_dir}/vapid.p8`, made on first start).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Offer notifications in the browser and send them.
    pub enabled: bool,
    /// The contact push services see in the VAPID token (`mailto:…` or `https://…`); empty:
    /// the public URL when it is https, else `mailto:` the email sender.
    pub subject: String,
    /// Allow push endpoints on loopback, private and other internal addresses (for a local
    /// push service in tests; refused otherwise, like webhook targets).
    pub allow_private: bool,
    /// How long a push service has to answer, in seconds.
    pub timeout_secs: u64,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            subject: String::new(),
            allow_private: false,
            timeout_secs: 10,
        }
    }
}

impl Config {
    /// The VAPID contact: `notify.push.subject`, or one made from the public URL or sender.
    pub fn push_subject(&self) -> String {
        if !self.notify.push.subject.is_empty() {
            return self.notify.push.subject.clone();
        }
        let origin = self.public_origin();
        if origin.starts_with("https://") {
            return origin;
        }
        let from = self
            .notify
            .smtp
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.to_string())
            .unwrap_or_else(|_| "webpush@localhost".into());
        format!("mailto:{from}")
    }
}

/// SMS through Twilio's Messages API (or anything that speaks it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// The API's base URL: `https://api.twilio.com/`, a regional edge, or a test double.
    pub base_url: String,
    /// The account SID (`AC…`); SMS is off while it is empty.
    pub account_sid: String,
    /// The auth token (environment only: `PARLOR_NOTIFY__SMS__AUTH_TOKEN`).
    pub auth_token: Secret,
    /// The sending number (E.164) or alphanumeric sender ID; or leave empty and set
    /// `messaging_service_sid`.
    pub from: String,
    /// A Messaging Service to send from instead of `from` (`MG…`).
    pub messaging_service_sid: String,
    /// How long the API has to answer, in seconds.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com/".into(),
            account_sid: String::new(),
            auth_token: Secret::default(),
            from: String::new(),
            messaging_service_sid: String::new(),
            timeout_secs: 10,
        }
    }
}

impl SmsConfig {
    /// Whether SMS is configured.
    pub fn enabled(&self) -> bool {
        !self.account_sid.is_empty()
    }
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
    /// Turn an endpoint off after this many 410 Gone answers in a row.
    pub disable_after: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_secs: 10,
            disable_after: 3,
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
            max_per_second: 20,
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
            push: PushConfig::default(),
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
        if n.max_per_second > 10_000 {
            return bad("notify.max_per_second", "0 (no limit) to 10000".into());
        }
        if !(1..=60).contains(&n.push.timeout_secs) {
            return bad("notify.push.timeout_secs", "1-60".into());
        }
        let subject = &n.push.subject;
        if !subject.is_empty()
            && !subject.starts_with("mailto:")
            && !subject.starts_with("https://")
        {
            return bad(
                "notify.push.subject",
                "a `mailto:` address or an `https://` URL".into(),
            );
        }
        if !(1..=100).contains(&n.webhooks.disable_after) {
            return bad("notify.webhooks.disable_after", "1-100".into());
        }
        if !(1..=60).contains(&n.webhooks.timeout_secs) {
            return bad("notify.webhooks.timeout_secs", "1-60".into());
        }
        self.validate_sms()?;
        if self.auth.email_verification != super::EmailVerification::Off
            && !self.notify.smtp.enabled()
        {
            return bad(
                "auth.email_verification",
                "needs email: set notify.smtp.host, or leave it `off`".into(),
            );
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

    fn validate_sms(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        let s = &self.notify.sms;
        if !s.enabled() {
            return Ok(());
        }
        match url::Url::parse(&s.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => return bad("notify.sms.base_url", "an http:// or https:// URL"),
        }
        if !s.account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return bad("notify.sms.account_sid", "letters and digits only (AC…)");
        }
        if s.auth_token.expose().is_empty() {
            return bad(
                "notify.sms.account_sid",
                "set PARLOR_NOTIFY__SMS__AUTH_TOKEN as well, or leave the account SID empty",
            );
        }
        let e164 = |f: &str| {
            f.strip_prefix('+').is_some_and(|d| {
                (8..=15).contains(&d.len())
                    && d.bytes().all(|b| b.is_ascii_digit())
                    && !d.starts_with('0')
            })
        };
        let sender_id = |f: &str| {
            (1..=11).contains(&f.len())
                && f.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
                && f.chars().any(|c| c.is_ascii_alphabetic())
        };
        match (s.from.is_empty(), s.messaging_service_sid.is_empty()) {
            (true, true) | (false, false) => {
                return bad(
                    "notify.sms.from",
                    "set either `from` or `messaging_service_sid` (not both)",
                );
            }
            (false, true) if !e164(&s.from) && !sender_id(&s.from) => {
                return bad(
                    "notify.sms.from",
                    "an international number (+…) or an alphanumeric sender ID of 1-11 characters",
                );
            }
            _ => {}
        }
        if !(1..=120).contains(&s.timeout_secs) {
            return bad("notify.sms.timeout_secs", "1-120");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_sms(from: &str, service: &str, token: &str) -> Config {
        let mut c = Config::default();
        c.notify.sms.account_sid = "AC0123".into();
        c.notify.sms.auth_token = Secret::new(token);
        c.notify.sms.from = from.into();
        c.notify.sms.messaging_service_sid = service.into();
        c
    }

    fn key_of(c: &Config) -> Option<String> {
        match c.validate() {
            Err(ConfigError::Invalid { key, .. }) => Some(key),
            _ => None,
        }
    }

    #[test]
    fn sms_needs_a_token_and_exactly_one_sender() {
        assert_eq!(key_of(&with_sms("+15005550006", "", "t")), None);
        assert_eq!(key_of(&with_sms("Acme", "", "t")), None);
        assert_eq!(key_of(&with_sms("", "MG1", "t")), None);
        assert_eq!(
            key_of(&with_sms("+15005550006", "", "")).as_deref(),
            Some("notify.sms.account_sid")
        );
        for (from, service) in [
            ("", ""),
            ("+15005550006", "MG1"),
            ("0123", ""),
            ("A-much-too-long-id", ""),
        ] {
            assert_eq!(
                key_of(&with_sms(from, service, "t")).as_deref(),
                Some("notify.sms.from"),
                "{from} {service}"
            );
        }
        let mut c = with_sms("+15005550006", "", "t");
        c.notify.sms.base_url = "ftp://x".into();
        assert_eq!(key_of(&c).as_deref(), Some("notify.sms.base_url"));
    }

    #[test]
    fn email_verification_needs_email() {
        let mut c = Config::default();
        c.auth.email_verification = super::super::EmailVerification::Required;
        assert_eq!(key_of(&c).as_deref(), Some("auth.email_verification"));
        c.notify.smtp.host = "127.0.0.1".into();
        c.notify.smtp.from = "a@b.example".into();
        assert_eq!(key_of(&c), None);
    }
}
