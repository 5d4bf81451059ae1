//! The one typed configuration of parlor.
//!
//! Values come from three layers, each overriding the one before: built-in defaults
//! ([`Config::default`]), the TOML file `config/parlor.toml` (optional), and `PARLOR_*`
//! environment variables whose nested keys are joined by a double underscore
//! (`PARLOR_HTTP__ADDR=0.0.0.0:8080` sets `http.addr`). An unknown key in any layer is an error
//! naming the key. [`Config::validate`] rejects nonsense with a message saying what to fix.
//!
//! Secrets ([`Secret`] fields) may come only from the environment; a secret written into the
//! config file is refused, and secrets never appear in `Debug` output or logs. This module reads
//! the config file and the environment and nothing else.

mod load;
mod media;
mod notify;
mod secret;
mod tls;
mod voice;

pub use load::{ConfigError, Origin, explain, load, load_from};
pub use media::{RoomsConfig, RtcConfig};
pub use notify::{NotifyConfig, PushConfig, SmsConfig, SmtpConfig, SmtpSecurity, WebhooksConfig};
pub use secret::Secret;
pub use tls::{AcmeChallenge, AcmeConfig, LETS_ENCRYPT, TlsConfig};
pub use voice::{AgentChoice, ElevenLabsConfig, ElevenLabsEndpoints, VoiceConfig};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite file and generated secrets (created on first run).
    pub data_dir: PathBuf,
    /// HTTP listener and public address.
    pub http: HttpConfig,
    /// Database connection.
    pub database: DatabaseConfig,
    /// Accounts, sessions and login protection.
    pub auth: AuthConfig,
    /// Booking rules that are not per coach.
    pub booking: BookingConfig,
    /// The Jitsi Meet fallback link of video bookings.
    pub jitsi: JitsiConfig,
    /// Media transport (WebRTC): ports, public address, STUN/TURN.
    pub rtc: RtcConfig,
    /// Video room limits and join tokens.
    pub rooms: RoomsConfig,
    /// AI voice sessions: the agent (echo or ElevenLabs).
    pub voice: VoiceConfig,
    /// How long personal records are kept.
    pub retention: RetentionConfig,
    /// Stopping: how long calls may go on after SIGTERM.
    pub shutdown: ShutdownConfig,
    /// Notifications: email, reminders, the outbox worker.
    pub notify: NotifyConfig,
    /// Logging.
    pub log: LogConfig,
}

/// How long personal records are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after which voice-session transcripts are deleted (the sessions stay, without
    /// their words); 0 keeps them until the user deletes their account.
    pub voice_transcript_days: u32,
    /// Days after which sent, failed and dropped notifications (and their delivery attempts)
    /// are deleted; 0 keeps them. Expired reset and confirmation links go after a day.
    pub outbox_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            voice_transcript_days: 90,
            outbox_days: 30,
        }
    }
}

/// Stopping the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// After SIGTERM, how long rooms and voice sessions may go on (no new ones are admitted
    /// and `/readyz` fails) before they are closed; 0 closes them at once.
    pub drain_secs: u64,
}

/// The longest drain accepted (an hour): longer is a typo, and service managers stop waiting.
pub const MAX_DRAIN_SECS: u64 = 3600;

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self { drain_secs: 30 }
    }
}

/// HTTP listener and public address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Socket address to listen on, e.g. `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// The URL browsers use to reach this server (scheme, host, optional port; no path),
    /// e.g. `https://coach.example.org`. Used in join links and for the Origin check;
    /// `https` makes session cookies `Secure`.
    pub public_url: String,
    /// Trust `X-Forwarded-For` from a reverse proxy for the client address (rate limiting).
    pub trust_proxy: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// With `trust_proxy`: the addresses (or CIDR ranges) of your own proxies. The client IP
    /// is the rightmost `X-Forwarded-For` hop that is not one of them.
    pub trusted_proxies: Vec<String>,
    /// Most open client connections (lowered to half the open-file limit when that is less);
    /// at the cap, the longest-idle connection is closed to make room.
    pub max_connections: usize,
    /// Seconds a client has to send a complete request head (from connecting, or from the
    /// first byte of the next request on a kept-alive connection).
    pub header_timeout_secs: u64,
    /// Seconds a request body may take to arrive in full.
    pub body_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit without a request before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a whole request (body and handler) may take before it is answered 408.
    pub request_timeout_secs: u64,
    /// Who may read `/metrics`: client addresses or CIDR ranges (the forwarded client's with
    /// `trust_proxy`). Loopback only by default.
    pub metrics_allow: Vec<String>,
    /// A bearer token that reads `/metrics` from any address (Prometheus `authorization`).
    /// Environment only: `PARLOR_HTTP__METRICS_TOKEN`.
    pub metrics_token: Secret,
    /// HTTPS from certificate files, and the plain-HTTP redirect listener.
    pub tls: TlsConfig,
    /// HTTPS with certificates obtained and renewed over ACME (Let's Encrypt).
    pub acme: AcmeConfig,
}

/// Database connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (embedded default) or `postgres://user@host:port/db`.
    /// A URL carrying a password must come from `PARLOR_DATABASE__URL`, not the file.
    pub url: Secret,
    /// Maximum pooled connections.
    pub max_connections: u32,
}

/// Accounts, sessions and login protection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a login session in hours.
    pub session_ttl_hours: u32,
    /// Allow anyone to sign up as a client (`POST /api/auth/signup`).
    pub signup_enabled: bool,
    /// Failed logins for one account from one client IP within `login_window_secs` before
    /// that address gets 429 for that account (others are unaffected).
    pub login_max_failures_per_account_ip: u32,
    /// Failed logins per account from all addresses within `login_window_secs` before 429
    /// (a ceiling for distributed guessing; much higher than the per-address limit).
    pub login_max_failures_per_account: u32,
    /// Failed logins per client IP within `login_window_secs` before 429.
    pub login_max_failures_per_ip: u32,
    /// Length of the login and sign-up rate-limit window in seconds.
    pub login_window_secs: u64,
    /// Sign-up attempts per client IP within `login_window_secs` before 429.
    pub signup_max_per_ip: u32,
    /// Password hashes computed at once (0 = the number of cores).
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a free slot; beyond that, 503 with `Retry-After`.
    pub hash_queue: usize,
    /// HMAC secret for join tokens and other signatures. Environment only
    /// (`PARLOR_AUTH__SIGNING_SECRET`); when unset, a random one is kept in
    /// `{data_dir}/signing.key` (mode 0600), created on first run.
    pub signing_secret: Secret,
    /// Whether self sign-ups confirm their email address by a link: `off`, `optional` (the
    /// account works at once and is asked to confirm) or `required` (no log-in before).
    /// Needs email (`notify.smtp.host`) unless `off`.
    pub email_verification: EmailVerification,
}

/// How sign-ups confirm their email address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmailVerification {
    /// Nothing is sent; addresses are not checked.
    #[default]
    Off,
    /// A link is sent; the account works before it is followed.
    Optional,
    /// A link is sent; the account cannot log in before it is followed.
    Required,
}

/// Booking rules that are not per coach.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingConfig {
    /// Longest accepted focus area, in characters.
    pub focus_area_max_chars: usize,
    /// How long an `Idempotency-Key` is remembered, in hours.
    pub idempotency_ttl_hours: u32,
}

/// The Jitsi Meet fallback link of video bookings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitsiConfig {
    /// Jitsi Meet host, e.g. `meet.jit.si` or `jitsi.example.org`.
    pub domain: String,
    /// Application id for Jitsi token authentication (`iss` of the JWT); empty = no JWT.
    pub app_id: String,
    /// Shared secret for Jitsi JWTs. Environment only (`PARLOR_JITSI__APP_SECRET`).
    pub app_secret: Secret,
    /// Audience claim of Jitsi JWTs.
    pub audience: String,
    /// Lifetime of a Jitsi JWT after the session ends, in minutes.
    pub token_grace_minutes: u32,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Emit JSON lines instead of human-readable text.
    pub json: bool,
    /// A tracing filter, e.g. `info` or `parlor=debug,tower_http=info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            booking: BookingConfig::default(),
            jitsi: JitsiConfig::default(),
            rtc: RtcConfig::default(),
            rooms: RoomsConfig::default(),
            voice: VoiceConfig::default(),
            retention: RetentionConfig::default(),
            shutdown: ShutdownConfig::default(),
            notify: NotifyConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            trust_proxy: false,
            max_body_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            max_connections: 4096,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            idle_timeout_secs: 60,
            request_timeout_secs: 60,
            metrics_allow: vec!["127.0.0.1/32".into(), "::1/128".into()],
            metrics_token: Secret::default(),
            tls: TlsConfig::default(),
            acme: AcmeConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://data/parlor.db"),
            max_connections: 10,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 7,
            signup_enabled: true,
            login_max_failures_per_account_ip: 5,
            login_max_failures_per_account: 100,
            login_max_failures_per_ip: 20,
            login_window_secs: 15 * 60,
            signup_max_per_ip: 10,
            hash_concurrency: 0,
            hash_queue: 16,
            signing_secret: Secret::default(),
            email_verification: EmailVerification::Off,
        }
    }
}

impl Default for BookingConfig {
    fn default() -> Self {
        Self {
            focus_area_max_chars: 500,
            idempotency_ttl_hours: 24,
        }
    }
}

impl Default for JitsiConfig {
    fn default() -> Self {
        Self {
            domain: "meet.jit.si".into(),
            app_id: String::new(),
            app_secret: Secret::default(),
            audience: "jitsi".into(),
            token_grace_minutes: 60,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            json: false,
            level: "info".into(),
        }
    }
}

/// Keys that hold secrets: refused in the config file, accepted from the environment.
pub(crate) const SECRET_KEYS: &[&str] = &[
    "auth.signing_secret",
    "http.metrics_token",
    "jitsi.app_secret",
    "notify.sms.auth_token",
    "notify.smtp.password",
    "rtc.turn_secret",
    "voice.elevenlabs.api_key",
];

impl Config {
    /// Rejects values that cannot work, with a message naming the key and what to do.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: String| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg,
            })
        };
        let public = match url::Url::parse(&self.http.public_url) {
            Ok(u) => u,
            Err(e) => return bad("http.public_url", format!("not a URL: {e}")),
        };
        if !matches!(public.scheme(), "http" | "https") || public.host_str().is_none() {
            return bad(
                "http.public_url",
                "must be http:// or https:// with a host".into(),
            );
        }
        if public.path() != "/" || public.query().is_some() || public.fragment().is_some() {
            return bad(
                "http.public_url",
                "must not have a path, query or fragment".into(),
            );
        }
        if self.shutdown.drain_secs > MAX_DRAIN_SECS {
            return bad(
                "shutdown.drain_secs",
                format!("at most {MAX_DRAIN_SECS} (an hour); 0 closes calls at once"),
            );
        }
        let db = self.database.url.expose();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return bad(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://".into(),
            );
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be at least 1".into());
        }
        if self.http.max_body_bytes < 1024 {
            return bad("http.max_body_bytes", "must be at least 1024".into());
        }
        if self.http.max_connections < 16 {
            return bad("http.max_connections", "must be at least 16".into());
        }
        for (key, v) in [
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.body_timeout_secs", self.http.body_timeout_secs),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
        ] {
            if !(1..=3600).contains(&v) {
                return bad(key, "must be between 1 and 3600 seconds".into());
            }
        }
        if let Some(e) = self
            .http
            .trusted_proxies
            .iter()
            .find_map(|r| crate::validate::IpRange::parse(r).err())
        {
            return bad("http.trusted_proxies", e);
        }
        if let Some(e) = self
            .http
            .metrics_allow
            .iter()
            .find_map(|r| crate::validate::IpRange::parse(r).err())
        {
            return bad("http.metrics_allow", e);
        }
        if self.auth.session_ttl_hours == 0 {
            return bad("auth.session_ttl_hours", "must be at least 1".into());
        }
        if self.auth.login_window_secs == 0
            || self.auth.login_max_failures_per_account_ip == 0
            || self.auth.signup_max_per_ip == 0
            || self.auth.login_max_failures_per_account == 0
            || self.auth.login_max_failures_per_ip == 0
        {
            return bad(
                "auth.login_*",
                "rate-limit settings must be positive".into(),
            );
        }
        if self.booking.focus_area_max_chars == 0 || self.booking.focus_area_max_chars > 10_000 {
            return bad(
                "booking.focus_area_max_chars",
                "must be between 1 and 10000".into(),
            );
        }
        let domain_ok = !self.jitsi.domain.is_empty()
            && self
                .jitsi
                .domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        if !domain_ok {
            return bad(
                "jitsi.domain",
                "must be a host name such as meet.jit.si".into(),
            );
        }
        if self.jitsi.app_id.is_empty() != self.jitsi.app_secret.is_empty() {
            return bad(
                "jitsi.app_id",
                "set both jitsi.app_id and PARLOR_JITSI__APP_SECRET, or neither".into(),
            );
        }
        self.validate_media()?;
        self.validate_tls()?;
        self.validate_notify()?;
        self.voice.validate()?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                format!("not a valid filter: {:?}", self.log.level),
            );
        }
        Ok(())
    }

    /// The origin (`scheme://host[:port]`) of `http.public_url`, without a trailing slash.
    pub fn public_origin(&self) -> String {
        self.http.public_url.trim_end_matches('/').to_string()
    }

    /// Whether cookies must be marked `Secure`.
    pub fn cookies_secure(&self) -> bool {
        self.http.public_url.starts_with("https://")
    }

    /// Whether browsers will refuse camera and microphone on the public URL: plain http at
    /// an address other than localhost is not a secure context.
    pub fn public_url_blocks_media(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.http.public_url) else {
            return false;
        };
        let local = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => true,
        };
        url.scheme() == "http" && !local
    }
}

#[cfg(test)]
mod public_url_tests {
    #[test]
    fn plain_http_blocks_media_except_on_localhost() {
        let with = |u: &str| {
            let mut c = super::Config::default();
            c.http.public_url = u.into();
            c.public_url_blocks_media()
        };
        assert!(with("http://coaching.example.org"));
        assert!(with("http://192.168.1.20:8080"));
        assert!(!with("https://coaching.example.org"));
        assert!(!with("http://localhost:8080"));
        assert!(!with("http://127.0.0.1:8080"));
        assert!(!with("http://[::1]:8080"));
    }
}
