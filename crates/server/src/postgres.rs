//! The PostgreSQL backend (spec §6.3) as the server uses it: connection settings from
//! `[postgres]`, start-up migrations, the `/ready` check and `maestro-server migrate`.
//!
//! Start-up: [`PgStore::connect`] makes no connection. With `postgres.migrate_on_start`
//! (the default) the server applies pending migrations before it listens, so an unreachable
//! database fails the start-up with a message naming `postgres.url`; a supervisor restarts
//! it. With `migrate_on_start = false` the server starts without touching the database and
//! `/ready` answers 503 naming the store until PostgreSQL is reachable.

use std::time::Duration;

use anyhow::Context;
use maestro_http_api::ReadinessCheck;
use maestro_pg_store::{MigrationReport, PgConfig, PgStore};

use crate::config::{Config, ConfigError, redact_url};

/// The adapter's settings from `[postgres]`.
///
/// # Errors
/// [`ConfigError::Rule`] naming `postgres.url` when no URL is configured.
pub fn pg_config(cfg: &Config) -> Result<PgConfig, ConfigError> {
    let pg = &cfg.postgres;
    let url = pg
        .url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or(ConfigError::Rule {
            key: "postgres.url",
            message: "not set (set DATABASE_URL, SUPABASE_DB_URL or MAESTRO_POSTGRES__URL)".into(),
        })?;
    Ok(PgConfig {
        url,
        pool_size: pg.pool_size,
        wait_timeout: Duration::from_millis(pg.wait_timeout_ms),
        connect_timeout: Duration::from_millis(pg.connect_timeout_ms),
        schema: pg.schema.clone(),
        statement_timeout: Duration::from_millis(pg.statement_timeout_ms),
    })
}

/// `postgres.url` with its password redacted, for messages.
fn shown_url(cfg: &Config) -> String {
    cfg.postgres
        .url
        .as_deref()
        .map(redact_url)
        .unwrap_or_default()
}

/// Builds the pool (no connection yet).
///
/// # Errors
/// A missing or unparsable `postgres.url` or schema.
pub fn connect(cfg: &Config) -> anyhow::Result<PgStore> {
    let pg = pg_config(cfg)?;
    PgStore::connect(&pg).with_context(|| format!("postgres.url = {}", shown_url(cfg)))
}

/// Applies pending migrations.
///
/// # Errors
/// The database is unreachable, or a migration failed (named).
pub async fn migrate(cfg: &Config, store: &PgStore) -> anyhow::Result<MigrationReport> {
    let schema = cfg.postgres.schema.as_deref().unwrap_or("public");
    store.migrate().await.with_context(|| {
        format!(
            "applying migrations (postgres.url = {}, schema {schema})",
            shown_url(cfg)
        )
    })
}

/// The store the server serves from: the pool, migrated first when
/// `postgres.migrate_on_start` is on (see the module docs for the start-up decision).
///
/// # Errors
/// Configuration errors; with `migrate_on_start`, an unreachable database or a failed
/// migration.
pub async fn open_for_serving(cfg: &Config) -> anyhow::Result<PgStore> {
    let store = connect(cfg)?;
    if cfg.postgres.migrate_on_start {
        let report = migrate(cfg, &store).await.context(
            "PostgreSQL must be reachable at start-up while postgres.migrate_on_start = true \
             (set it to false to start anyway; /ready reports the store until it is reachable)",
        )?;
        if report.applied.is_empty() {
            tracing::info!(version = report.current, "database schema up to date");
        } else {
            tracing::info!(applied = ?report.applied, version = report.current, "migrations applied");
        }
    }
    Ok(store)
}

/// One line for `maestro-server migrate`.
pub fn describe_migration(report: &MigrationReport) -> String {
    if report.applied.is_empty() {
        format!("database schema up to date (version {})", report.current)
    } else {
        let list: Vec<String> = report.applied.iter().map(ToString::to_string).collect();
        format!(
            "applied migrations {} (now at version {})",
            list.join(", "),
            report.current
        )
    }
}

/// `/ready` check named `store`: a `SELECT 1` through the pool.
pub struct PgReady(pub PgStore);

#[async_trait::async_trait]
impl ReadinessCheck for PgReady {
    fn name(&self) -> &str {
        "store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn settings_come_from_the_postgres_section() {
        let env: BTreeMap<String, String> = [
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            ("MAESTRO_POSTGRES__SCHEMA", "ms_1"),
            ("MAESTRO_POSTGRES__WAIT_TIMEOUT_MS", "250"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let cfg = Config::load(None, &env).unwrap();
        let pg = pg_config(&cfg).unwrap();
        assert_eq!(pg.url, "postgres://u:pw@h/db");
        assert_eq!(pg.pool_size, 16);
        assert_eq!(pg.wait_timeout, Duration::from_millis(250));
        assert_eq!(pg.connect_timeout, Duration::from_millis(3_000));
        assert_eq!(pg.schema.as_deref(), Some("ms_1"));

        let cfg = Config::load(None, &BTreeMap::new()).unwrap();
        let err = pg_config(&cfg).expect_err("no url");
        assert!(err.to_string().contains("postgres.url"), "{err}");
    }

    #[test]
    fn migration_reports_read_well() {
        let up = MigrationReport {
            applied: vec![],
            current: 3,
        };
        assert_eq!(
            describe_migration(&up),
            "database schema up to date (version 3)"
        );
        let applied = MigrationReport {
            applied: vec![1, 2, 3],
            current: 3,
        };
        assert_eq!(
            describe_migration(&applied),
            "applied migrations 1, 2, 3 (now at version 3)"
        );
    }
}
