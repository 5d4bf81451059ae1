//! Layering: defaults → TOML file → `PARLOR_*` environment, then typed deserialisation.
//!
//! Environment values are typed by the default configuration: a key whose default is an
//! integer must parse as one, a boolean accepts `true/false/1/0`, a string is taken verbatim.

use super::{Config, SECRET_KEYS};
use serde::Deserialize;
use std::path::Path;
use toml::{Table, Value};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {msg}")]
    File { path: String, msg: String },
    #[error("environment variable {var}: {msg}")]
    Env { var: String, msg: String },
    #[error("config key `{key}`: {msg}")]
    Invalid { key: String, msg: String },
}

/// The environment variable prefix.
const PREFIX: &str = "PARLOR_";
/// `PARLOR_*` variables that are not configuration keys (the config file path itself).
const NOT_KEYS: &[&str] = &["PARLOR_CONFIG"];

/// Loads `path` and the process environment, then validates. A file the operator named
/// (`required`: `--config` or `PARLOR_CONFIG`) must exist; the default path may be absent.
pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
        Err(e) => {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                msg: e.to_string(),
            });
        }
    };
    let file = text.as_deref().map(|t| (path.display().to_string(), t));
    load_layers(file, std::env::vars())
}

/// Builds a validated configuration from file text and environment pairs (testable core).
pub fn load_from(
    file: Option<&str>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    load_layers(file.map(|t| ("the config file".to_string(), t)), env)
}

/// [`load_from`] with the file's name (for its errors).
fn load_layers(
    file: Option<(String, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let defaults = match Value::try_from(Config::default()) {
        Ok(Value::Table(t)) => t,
        _ => unreachable!("Config::default() serialises to a TOML table"),
    };
    let mut tree = defaults.clone();
    if let Some((path, text)) = file {
        let parsed: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path,
                msg: e.to_string(),
            })?;
        refuse_secrets_in_file(&parsed)?;
        merge(&mut tree, parsed);
    }
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && !NOT_KEYS.contains(&k.as_str()))
        .collect();
    vars.sort();
    // Which variable set which key, so an invalid value names the variable to fix.
    let mut origin: Vec<(String, String)> = Vec::new();
    for (var, raw) in vars {
        origin.push((env_key(&var), var.clone()));
        apply_env(&mut tree, &defaults, &var, raw)?;
    }
    let from_env = |e: ConfigError| match e {
        ConfigError::Invalid { key, msg } => match origin.iter().find(|(k, _)| *k == key) {
            Some((_, var)) => ConfigError::Invalid {
                msg: format!("{msg} (set by {var})"),
                key,
            },
            None => ConfigError::Invalid { key, msg },
        },
        other => other,
    };
    let de = Value::Table(tree);
    let config: Config = serde_path_to_error::deserialize(de)
        .map_err(|e| {
            let key = e.path().to_string();
            ConfigError::Invalid {
                key,
                msg: e.into_inner().to_string(),
            }
        })
        .map_err(from_env)?;
    config.validate().map_err(from_env)?;
    Ok(config)
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The configuration file (its path).
    File(String),
    /// A `PARLOR_*` environment variable (its name).
    Env(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file {p}"),
            Origin::Env(v) => f.write_str(v),
        }
    }
}

/// Every key of the effective configuration as `(key, value, origin)`, in key order, with
/// secrets redacted (`[redacted]`, or `(not set)`) and a password in `database.url` hidden:
/// what `parlor config check` prints. `file` is the configuration file's path and text.
pub fn explain(
    config: &Config,
    file: Option<(&str, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String, Origin)> {
    fn flatten(prefix: &str, t: &Table, out: &mut Vec<(String, Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(inner) => flatten(&key, inner, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let mut values = Vec::new();
    if let Ok(Value::Table(t)) = Value::try_from(config) {
        flatten("", &t, &mut values);
    }
    let mut from_file = Vec::new();
    if let Some((path, text)) = file
        && let Ok(t) = text.parse::<Table>()
    {
        let mut keys = Vec::new();
        flatten("", &t, &mut keys);
        from_file = keys
            .into_iter()
            .map(|(k, _)| (k, path.to_string()))
            .collect();
    }
    let from_env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && !NOT_KEYS.contains(&k.as_str()))
        .map(|(k, _)| (env_key(&k), k))
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
        .into_iter()
        .map(|(key, value)| {
            let origin = if let Some((_, var)) = from_env.iter().find(|(k, _)| *k == key) {
                Origin::Env(var.clone())
            } else if let Some((_, p)) = from_file.iter().find(|(k, _)| *k == key) {
                Origin::File(p.clone())
            } else {
                Origin::Default
            };
            let shown = if SECRET_KEYS.contains(&key.as_str()) {
                match &value {
                    Value::String(s) if s.is_empty() => "(not set)".to_string(),
                    _ => "[redacted]".to_string(),
                }
            } else if key == "database.url" {
                match value.as_str().and_then(|u| url::Url::parse(u).ok()) {
                    Some(mut u) if u.password().is_some() => {
                        let _ = u.set_password(Some("redacted"));
                        Value::String(u.to_string()).to_string()
                    }
                    _ => value.to_string(),
                }
            } else {
                value.to_string()
            };
            (key, shown, origin)
        })
        .collect()
}

/// The dotted key a `PARLOR_*` variable sets (`PARLOR_HTTP__ADDR` → `http.addr`).
fn env_key(var: &str) -> String {
    var[PREFIX.len()..]
        .split("__")
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(".")
}

fn refuse_secrets_in_file(file: &Table) -> Result<(), ConfigError> {
    for key in SECRET_KEYS {
        if lookup(file, key).is_some() {
            let var = format!("{PREFIX}{}", key.replace('.', "__").to_uppercase());
            return Err(ConfigError::Invalid {
                key: (*key).into(),
                msg: format!("is a secret: set it with {var}, not in the config file"),
            });
        }
    }
    if let Some(Value::String(url)) = lookup(file, "database.url")
        && url::Url::parse(url).is_ok_and(|u| u.password().is_some())
    {
        return Err(ConfigError::Invalid {
            key: "database.url".into(),
            msg: "contains a password: set it with PARLOR_DATABASE__URL instead".into(),
        });
    }
    Ok(())
}

fn lookup<'a>(table: &'a Table, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut cur = table.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(dst)), Value::Table(src)) => merge(dst, src),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn apply_env(
    tree: &mut Table,
    defaults: &Table,
    var: &str,
    raw: String,
) -> Result<(), ConfigError> {
    let path: Vec<String> = var[PREFIX.len()..]
        .split("__")
        .map(str::to_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::Env {
            var: var.into(),
            msg: "empty key segment".into(),
        });
    }
    let dotted = path.join(".");
    let value = match lookup(defaults, &dotted) {
        Some(Value::Integer(_)) => {
            raw.trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| ConfigError::Env {
                    var: var.into(),
                    msg: format!("`{dotted}` needs an integer"),
                })?
        }
        Some(Value::Boolean(_)) => match raw.trim() {
            "true" | "1" => Value::Boolean(true),
            "false" | "0" => Value::Boolean(false),
            _ => {
                return Err(ConfigError::Env {
                    var: var.into(),
                    msg: format!("`{dotted}` needs true or false"),
                });
            }
        },
        Some(Value::Float(_)) => {
            raw.trim()
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| ConfigError::Env {
                    var: var.into(),
                    msg: format!("`{dotted}` needs a number"),
                })?
        }
        Some(Value::Array(_)) => parse_array(&raw).ok_or_else(|| ConfigError::Env {
            var: var.into(),
            msg: format!("`{dotted}` needs a TOML array such as [\"a\", \"b\"]"),
        })?,
        Some(Value::Table(_)) => {
            return Err(ConfigError::Env {
                var: var.into(),
                msg: format!("`{dotted}` is a section; set its keys with {var}__KEY"),
            });
        }
        _ => Value::String(raw),
    };
    let (last, parents) = path.split_last().expect("path has at least one segment");
    let mut cur = tree;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Env {
                    var: var.into(),
                    msg: format!("`{p}` is not a section"),
                });
            }
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

fn parse_array(raw: &str) -> Option<Value> {
    #[derive(Deserialize)]
    struct Wrap {
        v: Value,
    }
    let w: Wrap = toml::from_str(&format!("v = {raw}")).ok()?;
    matches!(w.v, Value::Array(_)).then_some(w.v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_listen_on_loopback_8080() {
        let c = load_from(None, env(&[])).unwrap();
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.url.expose(), "sqlite://data/parlor.db");
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let file = "[http]\naddr = \"0.0.0.0:9000\"\npublic_url = \"https://x.example\"\n";
        let c = load_from(Some(file), env(&[("PARLOR_HTTP__ADDR", "127.0.0.1:7000")])).unwrap();
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:7000");
        assert!(c.cookies_secure());
    }

    #[test]
    fn env_values_are_typed_by_the_defaults() {
        let c = load_from(
            None,
            env(&[
                ("PARLOR_AUTH__SESSION_TTL_HOURS", "2"),
                ("PARLOR_LOG__JSON", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(c.auth.session_ttl_hours, 2);
        assert!(c.log.json);
        let e = load_from(None, env(&[("PARLOR_AUTH__SESSION_TTL_HOURS", "many")])).unwrap_err();
        assert!(
            e.to_string().contains("PARLOR_AUTH__SESSION_TTL_HOURS"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = load_from(Some("[http]\nadress = \"x\"\n"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("adress"), "{e}");
        let e = load_from(None, env(&[("PARLOR_HTTP__PORTT", "1")])).unwrap_err();
        assert!(e.to_string().contains("portt"), "{e}");
        let e = load_from(Some("colour = 1\n"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn secrets_are_refused_in_the_file_but_taken_from_env() {
        let e = load_from(
            Some("[jitsi]\napp_secret = \"s\"\napp_id = \"a\"\n"),
            env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("PARLOR_JITSI__APP_SECRET"), "{e}");
        let e = load_from(
            Some("[database]\nurl = \"postgres://u:pw@h/db\"\n"),
            env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("PARLOR_DATABASE__URL"), "{e}");
        let c = load_from(
            Some("[jitsi]\napp_id = \"a\"\n"),
            env(&[("PARLOR_JITSI__APP_SECRET", "s3cret")]),
        )
        .unwrap();
        assert_eq!(c.jitsi.app_secret.expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn media_settings_parse_from_env() {
        let c = load_from(
            None,
            env(&[
                ("PARLOR_RTC__UDP_PORTS", "50000-50100"),
                ("PARLOR_RTC__ANNOUNCED_IP", "203.0.113.7"),
                (
                    "PARLOR_RTC__ICE_SERVERS",
                    "[\"stun:stun.example.org:3478\"]",
                ),
                ("PARLOR_RTC__TURN_URLS", "[\"turn:turn.example.org:3478\"]"),
                ("PARLOR_RTC__TURN_SECRET", "s"),
            ]),
        )
        .unwrap();
        assert_eq!(c.rtc.port_range(), Some((50000, 50100)));
        assert_eq!(c.rtc.announced_ip().unwrap().to_string(), "203.0.113.7");
        assert_eq!(c.rtc.ice_servers, vec!["stun:stun.example.org:3478"]);
        let e = load_from(Some("[rtc]\nturn_secret = \"x\"\n"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("PARLOR_RTC__TURN_SECRET"), "{e}");
    }

    #[test]
    fn validate_catches_nonsense() {
        for (k, v) in [
            ("PARLOR_HTTP__PUBLIC_URL", "ftp://x"),
            ("PARLOR_HTTP__PUBLIC_URL", "https://x/path"),
            ("PARLOR_DATABASE__URL", "mysql://x"),
            ("PARLOR_DATABASE__MAX_CONNECTIONS", "0"),
            ("PARLOR_JITSI__APP_ID", "only-id"),
            ("PARLOR_JITSI__DOMAIN", "bad domain"),
            ("PARLOR_LOG__LEVEL", "[[["),
            ("PARLOR_HTTP__ADDR", "not-an-addr"),
            ("PARLOR_RTC__UDP_PORTS", "5000"),
            ("PARLOR_RTC__UDP_PORTS", "6000-5000"),
            ("PARLOR_RTC__ANNOUNCED_IP", "example.org"),
            ("PARLOR_RTC__ICE_SERVERS", "[\"http://x\"]"),
            ("PARLOR_RTC__TURN_URLS", "[\"turn:x:3478\"]"),
            ("PARLOR_ROOMS__MAX_PARTICIPANTS", "1"),
        ] {
            assert!(load_from(None, env(&[(k, v)])).is_err(), "{k}={v} accepted");
        }
    }
}
