//! The `parlor` command line: `serve` (default), `migrate`, `user add`, `token`, and `dev`
//! tools for developers and CI (`dev fake-elevenlabs`).

use crate::auth::{Accounts, Signup};
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::model::account::AccountRole;
use crate::server;
use crate::store::Store;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

/// `parlor --version`: the release, the commit it was built from, and the libopus inside.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("BUILT_GIT_REVISION"),
    ", libopus ",
    env!("BUILT_LIBOPUS_VERSION"),
    ")"
);

/// parlor: self-hosted coaching server (booking, video rooms, AI voice).
#[derive(Parser, Debug)]
#[command(version = VERSION, about)]
pub struct Cli {
    /// Configuration file; PARLOR_* environment variables override it. Without this option
    /// `config/parlor.toml` is read if it exists; a file named here must exist.
    #[arg(long, global = true, env = "PARLOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log JSON lines (same as `log.json = true`).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage coaches.
    Coach {
        #[command(subcommand)]
        action: CoachAction,
    },
    /// Mint a join link for a video room (for operators; bookings get theirs from the API).
    Token {
        /// Room name (letters, digits, `-`, `_`).
        #[arg(long)]
        room: String,
        /// Display name of the participant.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "guest")]
        role: RoomRoleArg,
        /// Stable identity (defaults to a random guest id).
        #[arg(long)]
        identity: Option<String>,
        /// Validity in minutes (default: rooms.join_token_ttl_minutes).
        #[arg(long)]
        ttl_minutes: Option<u32>,
    },
    /// Developer and CI tools (test doubles); not for production.
    Dev {
        #[command(subcommand)]
        action: DevAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Validate the configuration (exit 2 naming the key at fault) and print every effective
    /// value with where it came from (default, file, environment variable); secrets redacted.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum DevAction {
    /// Run the ElevenLabs Conversational AI test double (WebSocket + signed-URL endpoint).
    FakeElevenlabs(FakeElevenlabsArgs),
    /// Run the Twilio Messages API test double (SMS), for trying SMS reminders without an
    /// account: set `notify.sms.base_url` to the printed URL.
    FakeTwilio(FakeTwilioArgs),
}

/// Options of `parlor dev fake-twilio`.
#[derive(clap::Args, Debug, Clone)]
pub struct FakeTwilioArgs {
    /// Address to listen on (port 0 picks a free one; the chosen URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The account SID requests must use.
    #[arg(long, default_value = "AC00000000000000000000000000000000")]
    pub account_sid: String,
    /// The auth token requests must carry (or FAKE_TWILIO_AUTH_TOKEN).
    #[arg(long, env = "FAKE_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: String,
}

/// Options of `parlor dev fake-elevenlabs` (the double itself lives with the binary, in
/// `src/dev/`).
#[derive(clap::Args, Debug, Clone)]
pub struct FakeElevenlabsArgs {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Accept only this agent id (default: any).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Act as a private agent: require a signed URL fetched with this `xi-api-key`
    /// (or the FAKE_ELEVENLABS_API_KEY environment variable).
    #[arg(long, env = "FAKE_ELEVENLABS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Accept prompt/first-message overrides.
    #[arg(long)]
    pub allow_overrides: bool,
    /// Agent input format announced in the metadata.
    #[arg(long, default_value = "pcm_16000")]
    pub input_format: String,
    /// Agent output format announced in the metadata.
    #[arg(long, default_value = "pcm_16000")]
    pub output_format: String,
    /// Milliseconds between pings.
    #[arg(long, default_value_t = 2000)]
    pub ping_ms: u64,
    /// Milliseconds between the end of the user's turn and the reply.
    #[arg(long, default_value_t = 300)]
    pub think_ms: u64,
    /// Length of each reply in milliseconds.
    #[arg(long, default_value_t = 1200)]
    pub reply_ms: u32,
    /// Streaming echo for benchmarks: every chunk goes straight back, no turns, no think time.
    #[arg(long)]
    pub streaming_echo: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RoomRoleArg {
    Coach,
    Client,
    Guest,
}

impl From<RoomRoleArg> for crate::auth::join_token::RoomRole {
    fn from(r: RoomRoleArg) -> Self {
        match r {
            RoomRoleArg::Coach => Self::Coach,
            RoomRoleArg::Client => Self::Client,
            RoomRoleArg::Guest => Self::Guest,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create an account. The password is read from stdin when piped, otherwise generated and
    /// printed once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// IANA time zone.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// List accounts (id, role, email, name), oldest first.
    List,
    /// Set a new password for an account (e.g. a forgotten admin password): read from stdin
    /// when piped, otherwise generated and printed once. Every login session of the account
    /// ends.
    Passwd {
        #[arg(long)]
        email: String,
    },
    /// Disable an account: it cannot sign in, its sessions end, its API keys stop working.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Change an account's role.
    Role {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum CoachAction {
    /// Create a bookable coach in one step: a coach account (password read from stdin when
    /// piped, else generated and printed once; an existing coach account is used as it is)
    /// and its profile, open the given weekly hours.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        title: String,
        /// International phone number for phone sessions (none: video only).
        #[arg(long)]
        phone: Option<String>,
        /// IANA time zone of the coach and of `--hours`.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Weekly opening hours, e.g. "Mon-Fri 09:00-17:00" or
        /// "Mon-Thu 09:00-12:00, Mon-Thu 13:00-17:00, Sat 10:00-12:00".
        #[arg(long, default_value = "Mon-Fri 09:00-17:00")]
        hours: String,
    },
}

/// Parses weekly hours: comma-separated `DAY[-DAY] HH:MM-HH:MM` entries.
pub fn parse_hours(text: &str) -> Result<Vec<crate::model::booking::WeeklyRule>, String> {
    use chrono::{NaiveTime, Weekday};
    let day = |d: &str| {
        d.trim()
            .parse::<Weekday>()
            .map_err(|_| format!("{d:?} is not a weekday (Mon, Tue, … Sun)"))
    };
    let time = |t: &str| {
        NaiveTime::parse_from_str(t.trim(), "%H:%M")
            .map_err(|_| format!("{t:?} is not a time (HH:MM)"))
    };
    let mut rules = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (days, span) = entry
            .split_once(' ')
            .ok_or_else(|| format!("{entry:?}: write it as DAY[-DAY] HH:MM-HH:MM"))?;
        let (first, last) = match days.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(days)?, day(days)?),
        };
        let (from, to) = span
            .split_once('-')
            .ok_or_else(|| format!("{entry:?}: the hours need a start and an end"))?;
        let (start, end) = (time(from)?, time(to)?);
        let mut d = first;
        loop {
            rules.push(crate::model::booking::WeeklyRule {
                weekday: d,
                start,
                end,
            });
            if d == last {
                break;
            }
            d = d.succ();
        }
    }
    if rules.is_empty() {
        return Err("no opening hours given".into());
    }
    Ok(rules)
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    Admin,
    Coach,
    Client,
}

impl From<RoleArg> for AccountRole {
    fn from(r: RoleArg) -> AccountRole {
        match r {
            RoleArg::Admin => AccountRole::Admin,
            RoleArg::Coach => AccountRole::Coach,
            RoleArg::Client => AccountRole::Client,
        }
    }
}

/// The configuration file read when none is named.
pub const DEFAULT_CONFIG: &str = "config/parlor.toml";

/// Loads the configuration for a command.
pub fn load_config(cli: &Cli) -> Result<Config, config::ConfigError> {
    let mut c = match &cli.config {
        Some(path) => config::load(path, true)?,
        None => config::load(std::path::Path::new(DEFAULT_CONFIG), false)?,
    };
    c.log.json |= cli.log_json;
    Ok(c)
}

/// Which configuration a command runs with, in words: the file (if any) and the
/// environment overrides.
pub fn config_source(cli: &Cli) -> String {
    let file = match &cli.config {
        Some(p) => p.display().to_string(),
        None if std::path::Path::new(DEFAULT_CONFIG).is_file() => DEFAULT_CONFIG.to_string(),
        None => "built-in defaults (no config file)".to_string(),
    };
    let overrides: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("PARLOR_") && k != "PARLOR_CONFIG")
        .collect();
    if overrides.is_empty() {
        file
    } else {
        format!("{file}, overridden by {}", overrides.join(", "))
    }
}

/// Runs the chosen command.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let source = config_source(&cli);
    let config = Arc::new(config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = server::prepare(config.clone(), Clock::system()).await?;
            let listener = server::bind(config.http.addr).await?;
            tracing::info!(addr = %config.http.addr, public_url = %config.http.public_url, "parlor listening");
            server::serve_until_signalled(state, listener).await?;
        }
        Command::Token {
            room,
            name,
            role,
            identity,
            ttl_minutes,
        } => {
            use crate::auth::join_token;
            if !join_token::valid_room_name(&room) {
                anyhow::bail!("room names use letters, digits, '-' and '_' (at most 64)");
            }
            let name = crate::validate::name(&name).map_err(|e| anyhow::anyhow!(e))?;
            let key = crate::auth::signing_key::load_or_create(
                &config.auth.signing_secret,
                &config.data_dir,
            )?;
            let identity =
                identity.unwrap_or_else(|| format!("g_{}", crate::ids::random_base32::<10>()));
            let ttl = i64::from(ttl_minutes.unwrap_or(config.rooms.join_token_ttl_minutes)) * 60;
            let now = Clock::system().now().timestamp();
            let token = join_token::mint(
                key.expose().as_bytes(),
                &room,
                &identity,
                &name,
                role.into(),
                now,
                ttl,
            );
            // The link goes to stdout (for pipes); where its host came from, to stderr.
            eprintln!(
                "link for http.public_url = {} (configuration: {source})",
                config.http.public_url
            );
            println!("{}/r/{room}#token={token}", config.public_origin());
        }
        // The test doubles are not part of the library: the binary runs them before `run`.
        Command::Dev { .. } => anyhow::bail!("`parlor dev` runs only from the parlor binary"),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let path = cli
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            let text = std::fs::read_to_string(&path).ok();
            let file = text
                .as_deref()
                .map(|t| (path.to_str().unwrap_or("the config file"), t));
            println!("# configuration: {source}; valid");
            let rows = config::explain(&config, file, std::env::vars());
            let width = rows
                .iter()
                .map(|(k, v, _)| k.len() + v.len() + 3)
                .max()
                .unwrap_or(0);
            for (key, value, origin) in rows {
                let line = format!("{key} = {value}");
                println!("{line:width$}  # {origin}");
            }
        }
        Command::Migrate => {
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            println!("migrations applied");
        }
        Command::User {
            action:
                UserAction::Add {
                    email,
                    name,
                    role,
                    time_zone,
                },
        } => {
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            let (password, generated) = read_or_generate_password()?;
            let accounts = Accounts::new(store, &config.auth);
            let signup = Signup {
                email: &email,
                name: &name,
                password: &password,
                time_zone: &time_zone,
                role: role.into(),
            };
            let user = accounts.create_user(&signup, Clock::system().now()).await?;
            println!(
                "created {} {} ({})",
                user.role.as_str(),
                user.email,
                user.id
            );
            if generated {
                println!("password (shown once): {password}");
            }
        }
        Command::Coach {
            action:
                CoachAction::Add {
                    email,
                    name,
                    title,
                    phone,
                    time_zone,
                    hours,
                },
        } => {
            let weekly = parse_hours(&hours).map_err(anyhow::Error::msg)?;
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            let now = Clock::system().now();
            let account = crate::validate::email(&email).map_err(anyhow::Error::msg)?;
            let (user, password) = match store.user_for_login(&account).await {
                Ok((u, _)) if u.role == AccountRole::Coach => (u, None),
                Ok((u, _)) => anyhow::bail!(
                    "{account} is a {} account; change its role first (parlor user role)",
                    u.role.as_str()
                ),
                Err(crate::store::StoreError::NotFound) => {
                    let (password, generated) = read_or_generate_password()?;
                    let accounts = Accounts::new(store.clone(), &config.auth);
                    let signup = Signup {
                        email: &account,
                        name: &name,
                        password: &password,
                        time_zone: &time_zone,
                        role: AccountRole::Coach,
                    };
                    let u = accounts.create_user(&signup, now).await?;
                    (u, generated.then_some(password))
                }
                Err(e) => return Err(e.into()),
            };
            let input = crate::booking::coaches::CoachInput {
                user_id: Some(user.id.clone()),
                name: Some(name),
                title: Some(title),
                phone,
                time_zone: Some(time_zone),
                ..Default::default()
            };
            let coach = crate::booking::Coaches::new(store)
                .create_bookable(input, weekly, now)
                .await?;
            println!(
                "created bookable coach {} ({}) for {} ({})",
                coach.name, coach.id, user.email, user.id
            );
            if let Some(p) = password {
                println!("password (shown once): {p}");
            }
        }
        Command::User {
            action: UserAction::List,
        } => {
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            for u in store.users().await? {
                println!("{}\t{}\t{}\t{}", u.id, u.role.as_str(), u.email, u.name);
            }
        }
        Command::User {
            action:
                action @ (UserAction::Disable { .. }
                | UserAction::Enable { .. }
                | UserAction::Role { .. }),
        } => {
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            let now = Clock::system().now();
            let email = match &action {
                UserAction::Disable { email }
                | UserAction::Enable { email }
                | UserAction::Role { email, .. } => email,
                _ => unreachable!("matched above"),
            };
            let email = crate::validate::email(email).map_err(anyhow::Error::msg)?;
            let (user, _) = match store.user_for_login(&email).await {
                Ok(found) => found,
                Err(crate::store::StoreError::NotFound) => {
                    anyhow::bail!("no account has the email {email}")
                }
                Err(e) => return Err(e.into()),
            };
            let (user, event, detail) = match action {
                UserAction::Disable { .. } => (
                    store.set_disabled(&user.id, Some(now)).await?,
                    "account_disabled",
                    None,
                ),
                UserAction::Enable { .. } => (
                    store.set_disabled(&user.id, None).await?,
                    "account_enabled",
                    None,
                ),
                UserAction::Role { role, .. } => {
                    let role: AccountRole = role.into();
                    (
                        store.set_role(&user.id, role).await?,
                        "role_changed",
                        Some(role.as_str()),
                    )
                }
                _ => unreachable!("matched above"),
            };
            store
                .audit(None, event, Some(user.id.as_str()), detail, now)
                .await?;
            println!(
                "{} {} ({}): {}",
                user.role.as_str(),
                user.email,
                user.id,
                if user.disabled { "disabled" } else { "active" }
            );
        }
        Command::User {
            action: UserAction::Passwd { email },
        } => {
            let store = Store::connect(config.database.url.expose(), 1).await?;
            store.migrate().await?;
            let (password, generated) = read_or_generate_password()?;
            let accounts = Accounts::new(store, &config.auth);
            let user = accounts
                .reset_password(&email, &password, Clock::system().now())
                .await?;
            println!("password set for {} ({})", user.email, user.id);
            if generated {
                println!("password (shown once): {password}");
            }
        }
    }
    Ok(())
}

fn read_or_generate_password() -> std::io::Result<(String, bool)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((crate::auth::password::generate(), true));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        Ok((crate::auth::password::generate(), true))
    } else {
        Ok((pw, false))
    }
}
