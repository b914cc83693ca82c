//! Configuration (spec §9): built-in defaults → `maestro.toml` (`--config` / `MAESTRO_CONFIG`)
//! → `MAESTRO_*` variables (`__` nests: `MAESTRO_HTTP__BODY_LIMIT_BYTES`) → the reference and
//! seed variable names (`PORT`, `HOST`, `DATA_DIR`, …). Later layers win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use maestro_http_api::{HostPolicy, OriginPolicy, PolicyError, RequestPolicy};
use serde::{Deserialize, Serialize};

/// Storage backend (`store.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// The reference data directory (default).
    Fs,
    /// PostgreSQL (`[postgres]`).
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
    /// Filesystem store: journal size in bytes beyond which a checkpoint makes the entity
    /// files durable and starts a new journal segment (default 64 MiB; at least 1 MiB).
    pub journal_checkpoint_bytes: u64,
    /// Filesystem store, under write-behind: how long an entity file may lag behind its
    /// acknowledged (journaled) state, ms (default 5000).
    pub write_behind_delay_ms: u64,
    /// Filesystem store: journaled changes per second from which entity file writes wait
    /// `write_behind_delay_ms` (collapsing repeated updates) instead of starting right after
    /// the journal sync (default 1000; 0 = always).
    pub write_behind_rate: u64,
    /// Filesystem store: longest a write may take before the request is answered 503
    /// `STORE_UNAVAILABLE` (a hung or failing device), ms.
    pub write_timeout_ms: u64,
    /// Filesystem store: bytes of acknowledged changes that may wait for their entity files
    /// before the journal waits for the files to catch up.
    pub max_pending_file_bytes: usize,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Maximum request body in bytes (default 1 MiB).
    pub body_limit_bytes: usize,
    /// Browser origins (`scheme://host[:port]`) allowed to call the API and open WebSockets,
    /// besides `external_url`'s and, in `auth.mode = none`, the loopback ones and
    /// `tauri://localhost` (spec §8.5). `*` is refused (credentials are on).
    pub cors_origins: Vec<String>,
    /// `Host` names served besides the loopback ones, `host` (unless a wildcard address) and
    /// the hosts of `server_url` and `external_url` (spec §8.1, DNS rebinding); `*` serves
    /// any name.
    pub allowed_hosts: Vec<String>,
    /// How long in-flight requests may take to finish on shutdown, ms.
    pub shutdown_grace_ms: u64,
    /// Time from the moment the server waits for a request (accept, or the end of the
    /// previous response on a keep-alive connection) until the request's headers are
    /// complete, ms (default 10000); a slower client is disconnected without an answer.
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection with no request in flight and no bytes moving for this long is
    /// closed, ms (default 5000, as the reference's Node server; at most
    /// `header_read_timeout_ms`, which bounds the wait as well).
    pub idle_timeout_ms: u64,
    /// Time from a request's headers to its complete body, ms (default 30000); a slower body
    /// gets 408 `REQUEST_TIMEOUT` and the connection is closed.
    pub body_timeout_ms: u64,
    /// Most connections open at once, WebSockets included; at the cap new connections wait
    /// in the listen backlog. 0 (default) = automatic: the soft `RLIMIT_NOFILE` read at
    /// start-up minus a reserve of 64 + limit/8 for files, database sockets and subprocesses
    /// (1024 → 832).
    pub max_connections: usize,
}

/// `[realtime]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Serve the legacy raw WebSocket at `ws://HOST:PORT/` (default true).
    pub legacy_ws: bool,
    /// Frames a slow WebSocket client may fall behind before it loses the oldest.
    pub client_buffer: usize,
    /// Bytes of frames a slow WebSocket client may fall behind before it loses the oldest.
    pub client_buffer_bytes: usize,
}

/// `[bus]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Events a slow in-process subscriber may lag before it loses the oldest.
    pub subscriber_capacity: usize,
    /// Bytes of events a slow in-process subscriber may lag before it loses the oldest.
    pub subscriber_buffer_bytes: usize,
    /// Replay log: keep at least this many events per project.
    pub replay_min_events: usize,
    /// Replay log: keep every event younger than this, ms.
    pub replay_min_age_ms: i64,
    /// Replay log: hard cap per project.
    pub replay_max_events: usize,
    /// Replay log: most bytes of events kept per project.
    pub replay_max_bytes: usize,
    /// Replay log: most bytes of events kept over all projects.
    pub replay_total_max_bytes: usize,
}

/// `[spawn]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnConfig {
    /// The `maestro` CLI used for `manifest generate` (`MAESTRO_CLI_PATH`).
    pub cli_path: String,
    /// Time limit of `manifest generate`, ms.
    pub timeout_ms: u64,
    /// Which `manifest generate` the CLI is: `auto` (ask it once), `legacy` (7950ff3:
    /// `execute | coordinate`) or `current` (653bc6a: the four modes, `--launch-config`);
    /// issue 13, NEWER-CLI-REQUESTS §4.3.
    pub cli_modes: crate::manifest_cli::CliModes,
}

/// `[postgres]`: used when `store.backend = "postgres"`, and by `maestro-server migrate` and
/// `maestro-server import-fs` whatever the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection URL (`DATABASE_URL`, or `SUPABASE_DB_URL`); required for the postgres backend.
    pub url: Option<String>,
    /// Maximum pooled connections (default 16).
    pub pool_size: usize,
    /// How long a request waits for a pooled connection before it fails with 503
    /// `STORE_UNAVAILABLE`, ms (default 2000).
    pub wait_timeout_ms: u64,
    /// Connect timeout of a new connection, ms (default 3000).
    pub connect_timeout_ms: u64,
    /// Longest a single statement may run, lock waits included, before it is cancelled and
    /// the request fails with 503 `STORE_UNAVAILABLE`, ms (default 10000; 0 = no limit).
    pub statement_timeout_ms: u64,
    /// Schema (`search_path`); default: the server's (`public`).
    pub schema: Option<String>,
    /// Apply pending migrations when the server starts (default true).
    pub migrate_on_start: bool,
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
                journal_checkpoint_bytes: 64 << 20,
                write_behind_delay_ms: 5_000,
                write_behind_rate: 1_000,
                write_timeout_ms: 10_000,
                max_pending_file_bytes: 64 << 20,
            },
            http: HttpConfig {
                body_limit_bytes: 1024 * 1024,
                cors_origins: Vec::new(),
                allowed_hosts: Vec::new(),
                shutdown_grace_ms: 10_000,
                header_read_timeout_ms: 10_000,
                idle_timeout_ms: 5_000,
                body_timeout_ms: 30_000,
                max_connections: 0,
            },
            realtime: RealtimeConfig {
                legacy_ws: true,
                client_buffer: 65_536,
                client_buffer_bytes: 32 << 20,
            },
            bus: BusConfig {
                subscriber_capacity: 65_536,
                subscriber_buffer_bytes: 32 << 20,
                replay_min_events: 1_000,
                replay_min_age_ms: 120_000,
                replay_max_events: 5_000,
                replay_max_bytes: 16 << 20,
                replay_total_max_bytes: 64 << 20,
            },
            spawn: SpawnConfig {
                cli_path: "maestro".into(),
                timeout_ms: 60_000,
                cli_modes: crate::manifest_cli::CliModes::Auto,
            },
            postgres: PostgresConfig {
                url: None,
                pool_size: 16,
                wait_timeout_ms: 2_000,
                connect_timeout_ms: 3_000,
                statement_timeout_ms: 10_000,
                schema: None,
                migrate_on_start: true,
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
        if LIST_KEYS.contains(&key.as_str()) {
            fig = fig.merge(Serialized::default(&key, parse_list(&value)));
        } else {
            fig = fig.merge(Serialized::default(&key, parse_scalar(&value)));
        }
    }
    for (var, key) in LEGACY_VARS {
        if let Some(v) = env.get(*var) {
            fig = fig.merge(Serialized::default(key, parse_scalar(v)));
        }
    }
    if let Some(v) = env.get("CORS_ORIGINS") {
        fig = fig.merge(Serialized::default("http.cors_origins", parse_list(v)));
    }
    // Supabase's connection string, when `DATABASE_URL` does not give one.
    if !env.contains_key("DATABASE_URL")
        && let Some(v) = env.get("SUPABASE_DB_URL")
    {
        fig = fig.merge(Serialized::default("postgres.url", v.clone()));
    }
    // The backend switches of seed 000 §7: `DATABASE_TYPE` decides when it is set, otherwise
    // `SUPABASE_ENABLED` (true → postgres; false → fs, the seed's rollback switch).
    // Unrecognised values are reported by `Config::load`.
    let backend = match parse_database_type(env) {
        Ok(Some(b)) => Some(b),
        Ok(None) => parse_supabase_enabled(env).ok().flatten().map(|on| {
            if on {
                StoreBackend::Postgres
            } else {
                StoreBackend::Fs
            }
        }),
        Err(_) => None,
    };
    match backend {
        Some(StoreBackend::Postgres) => {
            fig = fig.merge(Serialized::default("store.backend", "postgres"));
        }
        Some(StoreBackend::Fs) => fig = fig.merge(Serialized::default("store.backend", "fs")),
        None => {}
    }
    fig
}

/// `DATABASE_TYPE`: `postgres` (or `postgresql`, `supabase`) / `filesystem` (or `fs`).
fn parse_database_type(
    env: &BTreeMap<String, String>,
) -> Result<Option<StoreBackend>, ConfigError> {
    let Some(v) = env.get("DATABASE_TYPE") else {
        return Ok(None);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "supabase" => Ok(Some(StoreBackend::Postgres)),
        "filesystem" | "fs" => Ok(Some(StoreBackend::Fs)),
        other => Err(ConfigError::Rule {
            key: "DATABASE_TYPE",
            message: format!("expected \"filesystem\" or \"postgres\", got {other:?}"),
        }),
    }
}

/// `SUPABASE_ENABLED`: `true`/`1` or `false`/`0`.
fn parse_supabase_enabled(env: &BTreeMap<String, String>) -> Result<Option<bool>, ConfigError> {
    let Some(v) = env.get("SUPABASE_ENABLED") else {
        return Ok(None);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" | "" => Ok(Some(false)),
        other => Err(ConfigError::Rule {
            key: "SUPABASE_ENABLED",
            message: format!("expected \"true\" or \"false\", got {other:?}"),
        }),
    }
}

const TOP_LEVEL_KEYS: &[&str] = &["host", "port", "data_dir", "session_dir", "external_url"];

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["http.cors_origins", "http.allowed_hosts"];

/// `a, b,,c` → `["a", "b", "c"]`.
fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

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
        parse_database_type(env)?;
        parse_supabase_enabled(env)?;
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
        self.validate_http_timeouts()?;
        if self.store.journal_checkpoint_bytes < 1 << 20 {
            return Err(ConfigError::Rule {
                key: "store.journal_checkpoint_bytes",
                message: "must be at least 1048576 (1 MiB)".into(),
            });
        }
        self.validate_postgres()?;
        self.request_policy()?;
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

    fn validate_http_timeouts(&self) -> Result<(), ConfigError> {
        let http = &self.http;
        for (key, value) in [
            ("http.header_read_timeout_ms", http.header_read_timeout_ms),
            ("http.idle_timeout_ms", http.idle_timeout_ms),
            ("http.body_timeout_ms", http.body_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::Rule {
                    key,
                    message: "must be greater than 0".into(),
                });
            }
        }
        if http.idle_timeout_ms > http.header_read_timeout_ms {
            return Err(ConfigError::Rule {
                key: "http.idle_timeout_ms",
                message: format!(
                    "must not exceed http.header_read_timeout_ms ({}): that timeout also runs while a connection waits for its next request",
                    http.header_read_timeout_ms
                ),
            });
        }
        Ok(())
    }

    fn validate_postgres(&self) -> Result<(), ConfigError> {
        let pg = &self.postgres;
        let has_url = pg.url.as_deref().is_some_and(|u| !u.trim().is_empty());
        if self.store.backend == StoreBackend::Postgres && !has_url {
            return Err(ConfigError::Rule {
                key: "postgres.url",
                message: "required when store.backend = \"postgres\" (set DATABASE_URL, SUPABASE_DB_URL or MAESTRO_POSTGRES__URL)".into(),
            });
        }
        if pg.pool_size == 0 {
            return Err(ConfigError::Rule {
                key: "postgres.pool_size",
                message: "must be greater than 0".into(),
            });
        }
        if pg.wait_timeout_ms == 0 {
            return Err(ConfigError::Rule {
                key: "postgres.wait_timeout_ms",
                message: "must be greater than 0".into(),
            });
        }
        if pg.connect_timeout_ms == 0 {
            return Err(ConfigError::Rule {
                key: "postgres.connect_timeout_ms",
                message: "must be greater than 0".into(),
            });
        }
        if let Some(schema) = &pg.schema
            && !is_sql_identifier(schema)
        {
            return Err(ConfigError::Rule {
                key: "postgres.schema",
                message: format!("{schema:?} must match ^[a-z_][a-z0-9_]{{0,62}}$"),
            });
        }
        Ok(())
    }

    /// The Host and Origin rules of spec §8.1 / §8.5. Hosts: loopback names, `host` unless it
    /// is a wildcard address, the hosts of `server_url` and `external_url`, and
    /// `http.allowed_hosts`. Origins: `http.cors_origins` and `external_url`'s origin, plus
    /// loopback origins and `tauri://localhost` in `auth.mode = none`.
    ///
    /// # Errors
    /// [`ConfigError::Rule`] naming `http.cors_origins` (`*`, or not an origin),
    /// `http.allowed_hosts`, `server_url` or `external_url` (not an `http(s)` URL).
    pub fn request_policy(&self) -> Result<RequestPolicy, ConfigError> {
        let server_url = url_host("server_url", self.server_url.as_deref())?;
        let external = url_host("external_url", self.external_url.as_deref())?;
        let wildcard = matches!(self.host.trim(), "" | "0.0.0.0" | "::" | "[::]");
        let configured = (!wildcard).then_some(self.host.as_str());
        let extra = configured
            .into_iter()
            .chain(server_url.iter().map(|(_, h)| h.as_str()))
            .chain(external.iter().map(|(_, h)| h.as_str()));
        let rule = |key: &'static str| {
            move |e: PolicyError| ConfigError::Rule {
                key,
                message: e.to_string(),
            }
        };
        let allowed = || self.http.allowed_hosts.iter().map(String::as_str);
        HostPolicy::new(allowed()).map_err(rule("http.allowed_hosts"))?;
        // `allowed_hosts` is valid, so an error here is `host`'s.
        let hosts = HostPolicy::new(allowed().chain(extra)).map_err(rule("host"))?;
        let origins = OriginPolicy::new(
            self.http
                .cors_origins
                .iter()
                .map(String::as_str)
                .chain(external.iter().map(|(o, _)| o.as_str())),
            self.auth.mode == AuthMode::None,
        )
        .map_err(rule("http.cors_origins"))?;
        Ok(RequestPolicy::new(hosts, origins))
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

/// The origin (`scheme://authority`) and host of an `http(s)` URL setting.
fn url_host(key: &'static str, url: Option<&str>) -> Result<Option<(String, String)>, ConfigError> {
    let Some(url) = url else {
        return Ok(None);
    };
    let invalid = |message: &str| ConfigError::Rule {
        key,
        message: format!("{url:?} {message}"),
    };
    let uri: axum::http::Uri = url.trim().parse().map_err(|_| invalid("is not a URL"))?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid("must start with http:// or https://"));
    }
    let authority = uri
        .authority()
        .filter(|a| !a.as_str().contains('@') && !a.host().is_empty())
        .ok_or_else(|| invalid("has no host"))?;
    Ok(Some((
        format!("{scheme}://{}", authority.as_str()),
        authority.as_str().to_owned(),
    )))
}

/// `[a-z_][a-z0-9_]{0,62}`: a schema name that needs no quoting (what the PostgreSQL
/// store accepts).
fn is_sql_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Redacts the secrets of a connection string: the password of
/// `scheme://user:password@host`, and any `password=…` parameter (URL query or libpq
/// `key=value` form).
pub fn redact_url(url: &str) -> String {
    let url = redact_password_params(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url;
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url,
    }
}

/// `password=secret` → `password=<redacted>` (up to the next `&` or whitespace).
fn redact_password_params(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let at_boundary = i == 0
            || rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c == '?' || c == '&' || c.is_whitespace());
        let value_start = i + "password=".len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        if at_boundary {
            let end = rest
                .find(|c: char| c == '&' || c.is_whitespace())
                .unwrap_or(rest.len());
            out.push_str("<redacted>");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
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
    fn journal_options_load_and_are_checked() {
        let c = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(c.store.journal_checkpoint_bytes, 64 << 20);
        assert_eq!(c.store.write_behind_delay_ms, 5_000);
        assert_eq!(c.store.write_behind_rate, 1_000);
        let c = Config::load(
            None,
            &env(&[
                ("MAESTRO_STORE__JOURNAL_CHECKPOINT_BYTES", "2097152"),
                ("MAESTRO_STORE__WRITE_BEHIND_DELAY_MS", "250"),
                ("MAESTRO_STORE__WRITE_BEHIND_RATE", "0"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.store.journal_checkpoint_bytes, 2 << 20);
        assert_eq!(c.store.write_behind_delay_ms, 250);
        assert_eq!(c.store.write_behind_rate, 0);
        let err = Config::load(
            None,
            &env(&[("MAESTRO_STORE__JOURNAL_CHECKPOINT_BYTES", "4096")]),
        )
        .expect_err("too small");
        assert!(
            err.to_string().contains("store.journal_checkpoint_bytes"),
            "{err}"
        );
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
    fn spawn_cli_modes_default_to_auto_and_name_the_key_when_bad() {
        use crate::manifest_cli::CliModes;
        assert_eq!(
            Config::load(None, &env(&[]))
                .expect("loads")
                .spawn
                .cli_modes,
            CliModes::Auto
        );
        for (text, modes) in [("legacy", CliModes::Legacy), ("current", CliModes::Current)] {
            let c = Config::load(None, &env(&[("MAESTRO_SPAWN__CLI_MODES", text)])).expect("loads");
            assert_eq!(c.spawn.cli_modes, modes);
        }
        let err = Config::load(None, &env(&[("MAESTRO_SPAWN__CLI_MODES", "newest")]))
            .expect_err("bad value");
        assert!(err.to_string().contains("spawn.cli_modes"), "{err}");
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
    fn postgres_keys_have_defaults_and_env_overrides() {
        let c = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(c.postgres.pool_size, 16);
        assert_eq!(c.postgres.wait_timeout_ms, 2_000);
        assert_eq!(c.postgres.connect_timeout_ms, 3_000);
        assert_eq!(c.postgres.statement_timeout_ms, 10_000);
        assert_eq!(c.postgres.schema, None);
        assert!(c.postgres.migrate_on_start);
        let c = Config::load(
            None,
            &env(&[
                ("MAESTRO_STORE__BACKEND", "postgres"),
                ("MAESTRO_POSTGRES__URL", "postgres://db/x"),
                ("MAESTRO_POSTGRES__POOL_SIZE", "4"),
                ("MAESTRO_POSTGRES__WAIT_TIMEOUT_MS", "500"),
                ("MAESTRO_POSTGRES__CONNECT_TIMEOUT_MS", "700"),
                ("MAESTRO_POSTGRES__STATEMENT_TIMEOUT_MS", "0"),
                ("MAESTRO_POSTGRES__SCHEMA", "ms_abc"),
                ("MAESTRO_POSTGRES__MIGRATE_ON_START", "false"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        assert_eq!(c.postgres.url.as_deref(), Some("postgres://db/x"));
        assert_eq!(c.postgres.pool_size, 4);
        assert_eq!(c.postgres.wait_timeout_ms, 500);
        assert_eq!(c.postgres.connect_timeout_ms, 700);
        assert_eq!(c.postgres.statement_timeout_ms, 0);
        assert_eq!(c.postgres.schema.as_deref(), Some("ms_abc"));
        assert!(!c.postgres.migrate_on_start);
    }

    #[test]
    fn supabase_switch_takes_database_url_or_supabase_db_url() {
        let c = Config::load(
            None,
            &env(&[
                ("SUPABASE_ENABLED", "true"),
                (
                    "SUPABASE_DB_URL",
                    "postgres://postgres:pw@db.supabase.co:5432/postgres",
                ),
            ]),
        )
        .expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        assert_eq!(
            c.postgres.url.as_deref(),
            Some("postgres://postgres:pw@db.supabase.co:5432/postgres")
        );
        let c = Config::load(
            None,
            &env(&[
                ("SUPABASE_ENABLED", "true"),
                ("DATABASE_URL", "postgres://a/one"),
                ("SUPABASE_DB_URL", "postgres://b/two"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.postgres.url.as_deref(), Some("postgres://a/one"));
    }

    #[test]
    fn switching_back_to_fs_needs_no_other_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("maestro.toml");
        std::fs::write(
            &file,
            "[store]\nbackend = \"postgres\"\n[postgres]\nurl = \"postgres://h/db\"\n",
        )
        .expect("write");
        let c = Config::load(Some(&file), &env(&[])).expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        // The seed's rollback switch, and DATABASE_TYPE, both win over the file.
        for pair in [
            ("SUPABASE_ENABLED", "false"),
            ("DATABASE_TYPE", "filesystem"),
        ] {
            let c = Config::load(Some(&file), &env(&[pair])).expect("loads");
            assert_eq!(c.store.backend, StoreBackend::Fs, "{pair:?}");
            assert_eq!(c.postgres.url.as_deref(), Some("postgres://h/db"));
        }
        // The url alone does not select postgres.
        let c = Config::load(None, &env(&[("DATABASE_URL", "postgres://h/db")])).expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Fs);
        // DATABASE_TYPE is more specific than SUPABASE_ENABLED.
        let c = Config::load(
            None,
            &env(&[
                ("DATABASE_TYPE", "postgres"),
                ("SUPABASE_ENABLED", "false"),
                ("DATABASE_URL", "postgres://h/db"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.store.backend, StoreBackend::Postgres);
    }

    #[test]
    fn invalid_postgres_combinations_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("DATABASE_TYPE", "postgres")], "postgres.url"),
            (&[("SUPABASE_ENABLED", "true")], "postgres.url"),
            (&[("MAESTRO_STORE__BACKEND", "postgres")], "postgres.url"),
            (&[("DATABASE_TYPE", "mongo")], "DATABASE_TYPE"),
            (&[("SUPABASE_ENABLED", "maybe")], "SUPABASE_ENABLED"),
            (
                &[("MAESTRO_POSTGRES__POOL_SIZE", "0")],
                "postgres.pool_size",
            ),
            (
                &[("MAESTRO_POSTGRES__WAIT_TIMEOUT_MS", "0")],
                "postgres.wait_timeout_ms",
            ),
            (&[("MAESTRO_POSTGRES__SCHEMA", "a;drop")], "postgres.schema"),
            (&[("MAESTRO_POSTGRES__SCHEMA", "Upper")], "postgres.schema"),
        ];
        for (pairs, key) in cases {
            let err = Config::load(None, &env(pairs)).expect_err("refused");
            assert!(err.to_string().contains(key), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn connection_string_secrets_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            "postgres://u:<redacted>@h:5432/db?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret&x=1"),
            "postgres://u@h/db?password=<redacted>&x=1"
        );
        assert_eq!(
            redact_url("host=h user=u password=secret dbname=d"),
            "host=h user=u password=<redacted> dbname=d"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn connection_keys_have_defaults_env_overrides_and_checks() {
        let c = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(c.http.header_read_timeout_ms, 10_000);
        assert_eq!(c.http.idle_timeout_ms, 5_000);
        assert_eq!(c.http.body_timeout_ms, 30_000);
        assert_eq!(c.http.max_connections, 0);
        let c = Config::load(
            None,
            &env(&[
                ("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "800"),
                ("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "300"),
                ("MAESTRO_HTTP__BODY_TIMEOUT_MS", "400"),
                ("MAESTRO_HTTP__MAX_CONNECTIONS", "3"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.http.header_read_timeout_ms, 800);
        assert_eq!(c.http.idle_timeout_ms, 300);
        assert_eq!(c.http.body_timeout_ms, 400);
        assert_eq!(c.http.max_connections, 3);
        let shown = c.redacted_toml();
        assert!(shown.contains("max_connections = 3"), "{shown}");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "0")],
                "http.header_read_timeout_ms",
            ),
            (
                &[("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "0")],
                "http.idle_timeout_ms",
            ),
            (
                &[("MAESTRO_HTTP__BODY_TIMEOUT_MS", "0")],
                "http.body_timeout_ms",
            ),
            (
                &[("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "20000")],
                "http.idle_timeout_ms",
            ),
        ];
        for (pairs, key) in cases {
            let err = Config::load(None, &env(pairs)).expect_err("refused");
            assert!(err.to_string().contains(key), "{pairs:?}: {err}");
        }
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
