//! `maestro-pg-store`: every repository port of `maestro-domain` on PostgreSQL (spec §6.3,
//! seed 000 §2 and §8.3), plus the migrations runner for `migrations/`.
//!
//! Modules: `pool` (deadpool-postgres, `search_path`, timeouts), `migrate` (the
//! runner), `rows` (camelCase entity ↔ snake_case row helpers), one module per repository,
//! `import` (idempotent upserts for `maestro-server import-fs`), `error` (the one place that
//! maps database errors to `DomainError` / [`PgStoreError`]).
//!
//! Every repository returns `DomainError::StoreUnavailable` when no connection can be had
//! within [`PgConfig::wait_timeout`] / [`PgConfig::connect_timeout`] (never hangs), `Conflict`
//! on a duplicate insert, `Validation` on a CHECK / NOT NULL violation, `Internal` otherwise.

mod error;
mod import;
mod mail;
mod migrate;
mod orderings;
mod pool;
mod projects;
mod rows;
mod sessions;
mod tasks;
mod team_members;

use std::sync::Arc;
use std::time::Duration;

use maestro_domain::entities::{MailMessage, Ordering, Project, Session, Task, TeamMember};

pub use mail::PgMailRepository;
pub use orderings::PgOrderingRepository;
pub use projects::PgProjectRepository;
pub use sessions::PgSessionRepository;
pub use tasks::PgTaskRepository;
pub use team_members::PgTeamMemberRepository;

/// Connection settings (spec §9 `[postgres]`).
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgres://user:pass@host:port/db` (libpq URL or key=value form).
    pub url: String,
    /// Maximum pooled connections.
    pub pool_size: usize,
    /// How long a request waits for a pooled connection before `StoreUnavailable`.
    pub wait_timeout: Duration,
    /// Connect (and TCP) timeout for a new connection.
    pub connect_timeout: Duration,
    /// Schema to use (`search_path`); `None` = the server default (`public`). Tests use
    /// their own schema.
    pub schema: Option<String>,
    /// Longest a single statement may run (lock waits included) before PostgreSQL cancels
    /// it and the call returns `StoreUnavailable`; `Duration::ZERO` = no limit. Set on each
    /// new connection (`SET statement_timeout`); migrations run without it.
    pub statement_timeout: Duration,
}

/// Errors of the adapter outside the repository ports (those return `DomainError`).
#[derive(Debug, thiserror::Error)]
pub enum PgStoreError {
    /// Bad configuration (URL, schema name).
    #[error("invalid postgres configuration: {0}")]
    Config(String),
    /// The database could not be reached or a pooled connection not obtained.
    #[error("postgres unavailable: {0}")]
    Unavailable(String),
    /// A migration failed; names the file.
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        /// Version number (file prefix).
        version: i32,
        /// File name.
        name: String,
        /// Server message.
        message: String,
    },
    /// Values that PostgreSQL cannot hold as they are (an enum column outside its closed set,
    /// e.g. a task `status: "done"` that the reference stored unchecked); one line each,
    /// naming the entity, column and value. Nothing was written.
    #[error(
        "{} values cannot be stored in PostgreSQL as they are (nothing was imported):\n  {}\n\
         Set these fields to one of the listed values (e.g. with the filesystem backend, \
         which serves them as stored) and run the import again.",
        .0.len(),
        .0.join("\n  ")
    )]
    InvalidData(Vec<String>),
    /// Any other database error.
    #[error("postgres error: {0}")]
    Db(String),
}

/// What [`PgStore::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call, in order (empty when already up to date).
    pub applied: Vec<i32>,
    /// Latest version present after the call.
    pub current: i32,
}

/// Everything `maestro-server import-fs` copies, read from a data directory.
#[derive(Debug, Clone, Default)]
pub struct ImportData {
    /// Projects.
    pub projects: Vec<Project>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// Typed mail.
    pub mail: Vec<MailMessage>,
    /// Custom team members.
    pub team_members: Vec<TeamMember>,
    /// Default-member overrides: `(project_id, default_id, override object)`.
    pub team_member_overrides: Vec<(String, String, serde_json::Map<String, serde_json::Value>)>,
    /// Orderings.
    pub orderings: Vec<Ordering>,
}

/// Rows written per table by [`PgStore::import`] (upserts: inserted or updated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// `(table, rows)` in import order.
    pub tables: Vec<(&'static str, u64)>,
}

/// Pool usage, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Configured maximum.
    pub max_size: usize,
    /// Open connections.
    pub size: usize,
    /// Idle connections.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// The PostgreSQL store: one pool shared by every repository.
#[derive(Clone)]
pub struct PgStore {
    /// Projects.
    pub projects: Arc<dyn maestro_domain::ports::ProjectRepository>,
    /// Tasks.
    pub tasks: Arc<dyn maestro_domain::ports::TaskRepository>,
    /// Sessions.
    pub sessions: Arc<dyn maestro_domain::ports::SessionRepository>,
    /// Mail.
    pub mail: Arc<dyn maestro_domain::ports::MailRepository>,
    /// Team members.
    pub team_members: Arc<dyn maestro_domain::ports::TeamMemberRepository>,
    /// Orderings.
    pub orderings: Arc<dyn maestro_domain::ports::OrderingRepository>,
    /// The shared pool.
    pool: deadpool_postgres::Pool,
    /// `PgConfig::schema`.
    schema: Option<String>,
    /// `PgConfig::statement_timeout`.
    statement_timeout: std::time::Duration,
}

impl PgStore {
    /// Builds the pool. Does not connect: the server starts (and `/ready` says why it is
    /// not ready) even while PostgreSQL is down.
    ///
    /// # Errors
    /// `Config` for an unparsable URL or schema name.
    pub fn connect(cfg: &PgConfig) -> Result<Self, PgStoreError> {
        let pool = pool::build(cfg)?;
        Ok(Self {
            projects: Arc::new(PgProjectRepository::new(pool.clone())),
            tasks: Arc::new(PgTaskRepository::new(pool.clone())),
            sessions: Arc::new(PgSessionRepository::new(pool.clone())),
            mail: Arc::new(PgMailRepository::new(pool.clone())),
            team_members: Arc::new(PgTeamMemberRepository::new(pool.clone())),
            orderings: Arc::new(PgOrderingRepository::new(pool.clone())),
            pool,
            schema: cfg.schema.clone(),
            statement_timeout: cfg.statement_timeout,
        })
    }

    /// Applies pending migrations under an advisory lock; a no-op when up to date. Creates
    /// the configured schema if it does not exist.
    ///
    /// # Errors
    /// `Unavailable`, or `Migration` naming the failing file (its transaction is rolled back),
    /// also when an applied file was changed (checksum mismatch).
    pub async fn migrate(&self) -> Result<MigrationReport, PgStoreError> {
        migrate::run(&self.pool, self.schema.as_deref(), self.statement_timeout).await
    }

    /// `SELECT 1` through the pool, for `/ready`.
    ///
    /// # Errors
    /// `Unavailable` with the reason.
    pub async fn ping(&self) -> Result<(), PgStoreError> {
        let client = self.pool.get().await.map_err(error::pool_store_err)?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| PgStoreError::Unavailable(error::describe(&e)))?;
        Ok(())
    }

    /// Upserts everything in `data`, one transaction per entity kind, in the order projects,
    /// tasks, sessions, mail, team_members (custom members and overrides), orderings.
    /// Running it twice leaves the same rows.
    ///
    /// # Errors
    /// `Unavailable` or `Db`; the kind being imported is rolled back.
    pub async fn import(&self, data: &ImportData) -> Result<ImportCounts, PgStoreError> {
        import::run(&self.pool, data).await
    }

    /// Current pool usage.
    pub fn pool_status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        }
    }
}
