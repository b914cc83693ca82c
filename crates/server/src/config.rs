//! Configuration (spec §9): built-in defaults → `maestro.toml` (`--config` / `MAESTRO_CONFIG`)
//! → `MAESTRO_*` variables (`__` nests: `MAESTRO_HTTP__BODY_LIMIT_BYTES`) → the reference and
//! seed variable names (`PORT`, `HOST`, `DATA_DIR`, …). Later layers win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Storage backend (`store.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// The reference data directory (default).
    Fs,
    /// PostgreSQL (not available in this build yet).
    Postgres,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Authentication mode (spec §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No authentication: only on loopback without `external_url`.
    None,
    /// JWT bearer tokens (not available in this build yet).
    Jwt,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Bind address (default `127.0.0.1`).
    pub host: String,
    /// Port (default 3000; 0 picks a free one).
    pub port: u16,
    /// Advertised URL; default `http://localhost:<port>`.
    pub server_url: Option<String>,
    /// Public URL when exposed through a tunnel.
    pub external_url: Option<String>,
    /// Data directory (default `~/.maestro/data`).
    pub data_dir: PathBuf,
    /// Session manifests directory (default `~/.maestro/sessions`).
    pub session_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// Storage.
    pub store: StoreConfig,
    /// HTTP layer.
    pub http: HttpConfig,
    /// Real-time delivery.
    pub realtime: RealtimeConfig,
    /// Event bus.
    pub bus: BusConfig,
    /// Spawn.
    pub spawn: SpawnConfig,
    /// PostgreSQL.
    pub postgres: PostgresConfig,
    /// Redis.
    pub redis: RedisConfig,
    /// Authentication.
    pub auth: AuthConfig,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `error | warn | info | debug | trace` or a tracing filter directive.
    pub level: String,
    /// `pretty | json`.
    pub format: LogFormat,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `fs | postgres`.
    pub backend: StoreBackend,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Maximum request body in bytes (default 1 MiB).
    pub body_limit_bytes: usize,
    /// CORS allowlist; empty mirrors any origin.
    pub cors_origins: Vec<String>,
    /// How long in-flight requests may take to finish on shutdown, ms.
    pub shutdown_grace_ms: u64,
}

/// `[realtime]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Serve the legacy raw WebSocket at `ws://HOST:PORT/` (default true).
    pub legacy_ws: bool,
    /// Frames a slow WebSocket client may fall behind before it loses the oldest.
    pub client_buffer: usize,
}

/// `[bus]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Events a slow in-process subscriber may lag before it loses the oldest.
    pub subscriber_capacity: usize,
    /// Replay log: keep at least this many events per project.
    pub replay_min_events: usize,
    /// Replay log: keep every event younger than this, ms.
    pub replay_min_age_ms: i64,
    /// Replay log: hard cap per project.
    pub replay_max_events: usize,
}

/// `[spawn]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnConfig {
    /// The `maestro` CLI used for `manifest generate` (`MAESTRO_CLI_PATH`).
    pub cli_path: String,
    /// Time limit of `manifest generate`, ms.
    pub timeout_ms: u64,
}

/// `[postgres]` (used when `store.backend = "postgres"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection URL.
    pub url: Option<String>,
    /// Pool size.
    pub pool_size: usize,
}

/// `[redis]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Use Redis for the bus / presence / locks.
    pub enabled: bool,
    /// Connection URL.
    pub url: String,
    /// Key prefix.
    pub key_prefix: String,
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `none | jwt`.
    pub mode: AuthMode,
    /// Allow `auth.mode = none` on a non-loopback address (not recommended).
    pub allow_insecure_none: bool,
    /// JWT secret (redacted in `config` output).
    pub jwt_secret: Option<String>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3000,
            server_url: None,
            external_url: None,
            data_dir: home().join(".maestro").join("data"),
            session_dir: home().join(".maestro").join("sessions"),
            log: LogConfig {
                level: "info".into(),
                format: LogFormat::Pretty,
            },
            store: StoreConfig {
                backend: StoreBackend::Fs,
            },
            http: HttpConfig {
                body_limit_bytes: 1024 * 1024,
                cors_origins: Vec::new(),
                shutdown_grace_ms: 10_000,
            },
            realtime: RealtimeConfig {
                legacy_ws: true,
                client_buffer: 1024,
            },
            bus: BusConfig {
                subscriber_capacity: 4096,
                replay_min_events: 1_000,
                replay_min_age_ms: 120_000,
                replay_max_events: 5_000,
            },
            spawn: SpawnConfig {
                cli_path: "maestro".into(),
                timeout_ms: 60_000,
            },
            postgres: PostgresConfig {
                url: None,
                pool_size: 16,
            },
            redis: RedisConfig {
                enabled: false,
                url: "redis://127.0.0.1:6379".into(),
                key_prefix: "maestro:".into(),
            },
            auth: AuthConfig {
                mode: AuthMode::None,
                allow_insecure_none: false,
                jwt_secret: None,
            },
        }
    }
}

/// A configuration error, naming the key when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layers did not merge into a valid configuration.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A value is out of range or combinations are not allowed.
    #[error("invalid configuration: {key}: {message}")]
    Rule {
        /// The key, e.g. `auth.mode`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Reference / seed variable → configuration key (spec §9).
const LEGACY_VARS: &[(&str, &str)] = &[
    ("PORT", "port"),
    ("HOST", "host"),
    ("SERVER_URL", "server_url"),
    ("EXTERNAL_URL", "external_url"),
    ("DATA_DIR", "data_dir"),
    ("SESSION_DIR", "session_dir"),
    ("LOG_LEVEL", "log.level"),
    ("LOG_FORMAT", "log.format"),
    ("MAESTRO_CLI_PATH", "spawn.cli_path"),
    ("REDIS_ENABLED", "redis.enabled"),
    ("REDIS_URL", "redis.url"),
    ("REDIS_KEY_PREFIX", "redis.key_prefix"),
    ("DATABASE_URL", "postgres.url"),
    ("SUPABASE_JWT_SECRET", "auth.jwt_secret"),
];

/// Builds the figment for `config_file` and the given environment (a map so tests need
/// not touch the process environment).
pub fn figment(config_file: Option<&Path>, env: &BTreeMap<String, String>) -> Figment {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    let file = config_file
        .map(Path::to_path_buf)
        .or_else(|| env.get("MAESTRO_CONFIG").map(PathBuf::from));
    match file {
        Some(f) => fig = fig.merge(Toml::file_exact(f)),
        None => fig = fig.merge(Toml::file("maestro.toml")),
    }
    // `MAESTRO_*` with `__` nesting; names that are reference variables of their own
    // (MAESTRO_CLI_PATH, MAESTRO_CONFIG, MAESTRO_SERVER_URL…) are not config keys.
    let mut nested = BTreeMap::new();
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("MAESTRO_") else {
            continue;
        };
        if !rest.contains("__") && !TOP_LEVEL_KEYS.contains(&rest.to_ascii_lowercase().as_str()) {
            continue;
        }
        nested.insert(rest.to_ascii_lowercase().replace("__", "."), v.clone());
    }
    for (key, value) in nested {
        fig = fig.merge(Serialized::default(&key, parse_scalar(&value)));
    }
    for (var, key) in LEGACY_VARS {
        if let Some(v) = env.get(*var) {
            fig = fig.merge(Serialized::default(key, parse_scalar(v)));
        }
    }
    if let Some(v) = env.get("CORS_ORIGINS") {
        let list: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*")
            .map(str::to_owned)
            .collect();
        fig = fig.merge(Serialized::default("http.cors_origins", list));
    }
    let db_type = env.get("DATABASE_TYPE").map(|s| s.to_ascii_lowercase());
    let supabase = env.get("SUPABASE_ENABLED").is_some_and(|v| v == "true");
    if db_type.as_deref() == Some("postgres") || supabase {
        fig = fig.merge(Serialized::default("store.backend", "postgres"));
    } else if db_type.as_deref() == Some("filesystem") {
        fig = fig.merge(Serialized::default("store.backend", "fs"));
    }
    fig
}

const TOP_LEVEL_KEYS: &[&str] = &["host", "port", "data_dir", "session_dir", "external_url"];

/// Environment values are strings; numbers and booleans become typed so that
/// `PORT=3001` fills a `u16`.
fn parse_scalar(v: &str) -> figment::value::Value {
    use figment::value::Value;
    if let Ok(b) = v.parse::<bool>() {
        return Value::from(b);
    }
    if let Ok(n) = v.parse::<u64>() {
        return Value::from(n);
    }
    Value::from(v.to_owned())
}

/// Expands a leading `~` to the home directory.
fn expand_tilde(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => home().join(rest),
        Err(_) => p.to_path_buf(),
    }
}

impl Config {
    /// Loads and validates the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the offending key.
    pub fn load(
        config_file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut cfg: Config = figment(config_file, env).extract().map_err(Box::new)?;
        cfg.data_dir = expand_tilde(&cfg.data_dir);
        cfg.session_dir = expand_tilde(&cfg.session_dir);
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.http.body_limit_bytes == 0 {
            return Err(ConfigError::Rule {
                key: "http.body_limit_bytes",
                message: "must be greater than 0".into(),
            });
        }
        if self.auth.mode == AuthMode::None && !self.auth.allow_insecure_none {
            let loopback = matches!(self.host.as_str(), "127.0.0.1" | "::1" | "localhost");
            if !loopback || self.external_url.is_some() {
                return Err(ConfigError::Rule {
                    key: "auth.mode",
                    message: "auth.mode = \"none\" is only allowed on a loopback host without external_url; set auth.allow_insecure_none = true to override".into(),
                });
            }
        }
        Ok(())
    }

    /// The advertised URL: `server_url` or `http://localhost:<port>`.
    pub fn server_url(&self, bound_port: u16) -> String {
        self.server_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{bound_port}"))
    }

    /// The configuration as TOML with secrets redacted (`maestro-server config`).
    pub fn redacted_toml(&self) -> String {
        let mut c = self.clone();
        if c.auth.jwt_secret.is_some() {
            c.auth.jwt_secret = Some("<redacted>".into());
        }
        c.postgres.url = c.postgres.url.as_deref().map(redact_url);
        c.redis.url = redact_url(&c.redis.url);
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# could not render: {e}"))
    }
}

/// Replaces the password of `scheme://user:password@host` with `<redacted>`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 3000);
        assert_eq!(c.store.backend, StoreBackend::Fs);
        assert!(c.realtime.legacy_ws);
        assert!(c.data_dir.ends_with(".maestro/data"));
        assert_eq!(c.server_url(3000), "http://localhost:3000");
    }

    #[test]
    fn reference_variables_win_over_maestro_variables() {
        let c = Config::load(
            None,
            &env(&[
                ("MAESTRO_PORT", "4000"),
                ("PORT", "4001"),
                ("DATA_DIR", "/tmp/x"),
                ("MAESTRO_HTTP__BODY_LIMIT_BYTES", "2048"),
                ("MAESTRO_CLI_PATH", "/opt/maestro"),
                ("LOG_LEVEL", "debug"),
                ("CORS_ORIGINS", "http://a, http://b"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.port, 4001);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.http.body_limit_bytes, 2048);
        assert_eq!(c.spawn.cli_path, "/opt/maestro");
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.http.cors_origins, vec!["http://a", "http://b"]);
    }

    #[test]
    fn toml_file_layer_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("maestro.toml");
        std::fs::write(&file, "port = 5000\n[store]\nbackend = \"fs\"\n").expect("write");
        let c = Config::load(Some(&file), &env(&[])).expect("loads");
        assert_eq!(c.port, 5000);

        std::fs::write(&file, "[store]\nbackend = \"mongo\"\n").expect("write");
        let err = Config::load(Some(&file), &env(&[])).expect_err("bad backend");
        assert!(err.to_string().contains("store.backend"), "{err}");

        let err = Config::load(None, &env(&[("PORT", "70000")])).expect_err("bad port");
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn seed_switches_select_postgres() {
        let c = Config::load(
            None,
            &env(&[
                ("DATABASE_TYPE", "postgres"),
                ("DATABASE_URL", "postgres://u:secret@h/db"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        let shown = c.redacted_toml();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("postgres://u:<redacted>@h/db"), "{shown}");
    }

    #[test]
    fn auth_none_refused_on_public_host() {
        let err = Config::load(None, &env(&[("HOST", "0.0.0.0")])).expect_err("refused");
        assert!(err.to_string().contains("auth.mode"), "{err}");
        let ok = Config::load(
            None,
            &env(&[
                ("HOST", "0.0.0.0"),
                ("MAESTRO_AUTH__ALLOW_INSECURE_NONE", "true"),
            ]),
        );
        assert!(ok.is_ok());
    }
}
