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
mod secret;
mod voice;

pub use load::{ConfigError, load, load_from};
pub use secret::Secret;
pub use voice::{ElevenLabsSection, VoiceConfig};

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
    /// Logging.
    pub log: LogConfig,
}

/// Media transport (WebRTC).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtcConfig {
    /// UDP port range for all media sockets, `"min-max"` (open it in the firewall).
    pub udp_ports: String,
    /// Public IPv4/IPv6 address behind a 1:1 NAT, written into the ICE candidates the server
    /// sends; empty = announce the local addresses.
    pub announced_ip: String,
    /// STUN server URLs handed to clients (`stun:host:port`); none by default, so no third
    /// party learns who calls.
    pub ice_servers: Vec<String>,
    /// TURN server URLs (`turn:host:3478?transport=udp`, `turns:…`), used with
    /// `PARLOR_RTC__TURN_SECRET` (env only) to hand out time-limited credentials.
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN server's REST API (coturn `static-auth-secret`). Env only.
    pub turn_secret: Secret,
    /// Lifetime of TURN credentials in seconds.
    pub turn_ttl_secs: u32,
    /// A participant whose ICE stays disconnected or failed this long is removed.
    pub ice_timeout_secs: u32,
    /// Sent packets kept per stream to answer retransmission requests (NACK): a power of two
    /// from 32 to 1024. The SFU keeps one history per subscriber and video track, so this is a
    /// large part of its memory per participant; 128 covers ~0.6 s of a 2 Mbit/s call (about
    /// 200 packets/s), several round trips on any usable path.
    pub nack_history: u16,
}

/// Video room limits and join tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Most participants in one room.
    pub max_participants: u32,
    /// Most rooms open at once on this server.
    pub max_rooms: u32,
    /// Lifetime of join tokens minted by the API, in minutes.
    pub join_token_ttl_minutes: u32,
}

/// How long personal records are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after which voice-session transcripts are deleted (the sessions stay, without
    /// their words); 0 keeps them until the user deletes their account.
    pub voice_transcript_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            voice_transcript_days: 90,
        }
    }
}

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            udp_ports: "40000-40999".into(),
            announced_ip: String::new(),
            ice_servers: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: Secret::default(),
            turn_ttl_secs: 6 * 3600,
            ice_timeout_secs: 30,
            nack_history: 128,
        }
    }
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            max_participants: 8,
            max_rooms: 100,
            join_token_ttl_minutes: 240,
        }
    }
}

impl RtcConfig {
    /// The UDP port range, when `udp_ports` is well formed.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        let (a, b) = self.udp_ports.split_once('-')?;
        let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
        (a >= 1024 && a <= b).then_some((a, b))
    }

    /// The announced public address, if set and valid.
    pub fn announced_ip(&self) -> Option<std::net::IpAddr> {
        self.announced_ip.parse().ok()
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
    /// Failed logins per account within `login_window_secs` before 429.
    pub login_max_failures_per_account: u32,
    /// Failed logins per client IP within `login_window_secs` before 429.
    pub login_max_failures_per_ip: u32,
    /// Length of the login rate-limit window in seconds.
    pub login_window_secs: u64,
    /// HMAC secret for join tokens and other signatures. Environment only
    /// (`PARLOR_AUTH__SIGNING_SECRET`); when unset, a random one is kept in
    /// `{data_dir}/signing.key` (mode 0600), created on first run.
    pub signing_secret: Secret,
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
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_window_secs: 15 * 60,
            signing_secret: Secret::default(),
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
    "jitsi.app_secret",
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
        if self.auth.session_ttl_hours == 0 {
            return bad("auth.session_ttl_hours", "must be at least 1".into());
        }
        if self.auth.login_window_secs == 0
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
        self.voice.validate()?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                format!("not a valid filter: {:?}", self.log.level),
            );
        }
        Ok(())
    }

    fn validate_media(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        let Some((lo, hi)) = self.rtc.port_range() else {
            return bad(
                "rtc.udp_ports",
                "must be \"min-max\" with 1024 <= min <= max <= 65535",
            );
        };
        if usize::from(hi - lo) + 1 < 4 {
            return bad(
                "rtc.udp_ports",
                "needs at least 4 ports (each participant uses 2)",
            );
        }
        if !self.rtc.announced_ip.is_empty() && self.rtc.announced_ip().is_none() {
            return bad(
                "rtc.announced_ip",
                "must be an IP address such as 203.0.113.7",
            );
        }
        if self
            .rtc
            .ice_servers
            .iter()
            .any(|u| !(u.starts_with("stun:") || u.starts_with("stuns:")))
        {
            return bad("rtc.ice_servers", "entries must be stun: or stuns: URLs");
        }
        if self
            .rtc
            .turn_urls
            .iter()
            .any(|u| !(u.starts_with("turn:") || u.starts_with("turns:")))
        {
            return bad("rtc.turn_urls", "entries must be turn: or turns: URLs");
        }
        if !self.rtc.turn_urls.is_empty() && self.rtc.turn_secret.is_empty() {
            return bad(
                "rtc.turn_urls",
                "TURN needs PARLOR_RTC__TURN_SECRET (coturn static-auth-secret)",
            );
        }
        if self.rtc.turn_ttl_secs < 60 || self.rtc.ice_timeout_secs == 0 {
            return bad(
                "rtc.turn_ttl_secs",
                "TURN credentials must live at least 60 s; ice_timeout_secs > 0",
            );
        }
        let n = self.rtc.nack_history;
        if !n.is_power_of_two() || !(32..=1024).contains(&n) {
            return bad("rtc.nack_history", "must be a power of two from 32 to 1024");
        }
        if !(2..=64).contains(&self.rooms.max_participants) {
            return bad("rooms.max_participants", "must be between 2 and 64");
        }
        if self.rooms.max_rooms == 0 || self.rooms.join_token_ttl_minutes == 0 {
            return bad(
                "rooms.max_rooms",
                "rooms.max_rooms and rooms.join_token_ttl_minutes must be positive",
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
}
