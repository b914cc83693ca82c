//! The migrations runner for `migrations/` (spec §6.3; rules in `migrations/README.md`).
//!
//! - The files are embedded at compile time ([`MIGRATIONS`]), numbered, applied in order.
//! - Applied versions are recorded in `maestro_schema_migrations(version, name, checksum,
//!   applied_at)` in the target schema; `checksum` is the MD5 (hex) of the file text. An
//!   applied file whose text changed is refused (never edit an applied migration).
//! - One connection holds `pg_advisory_lock(key)` — the key derived from the schema name —
//!   for the whole run, so two servers starting at once apply each file exactly once; the
//!   lock is released on success and on error.
//! - Each pending file runs in its own transaction together with its bookkeeping row.

use deadpool_postgres::{Object, Pool};

use crate::error::{db_store_err, describe, pool_store_err};
use crate::{MigrationReport, PgStoreError};

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Version (the number prefix of the file name).
    pub version: i32,
    /// File name, e.g. `0001_initial_schema.sql`.
    pub name: &'static str,
    /// File text.
    pub sql: &'static str,
}

/// Every migration, in order. Add new files at the end; never edit or remove one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial_schema.sql",
        sql: include_str!("../../../migrations/0001_initial_schema.sql"),
    },
    Migration {
        version: 2,
        name: "0002_row_level_security.sql",
        sql: include_str!("../../../migrations/0002_row_level_security.sql"),
    },
    Migration {
        version: 3,
        name: "0003_team_member_modes.sql",
        sql: include_str!("../../../migrations/0003_team_member_modes.sql"),
    },
];

/// A stable advisory-lock key for `schema` (FNV-1a 64 over a fixed prefix and the name).
pub(crate) fn lock_key(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"maestro_migrations:".iter().chain(schema.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Runs every pending migration of [`MIGRATIONS`] on `pool`.
///
/// The migration connection runs without the configured statement timeout (waiting for
/// another server's lock, or a long DDL, must not be cancelled) and gets it back before it
/// returns to the pool.
pub(crate) async fn run(
    pool: &Pool,
    schema: Option<&str>,
    statement_timeout: std::time::Duration,
) -> Result<MigrationReport, PgStoreError> {
    let mut client = pool.get().await.map_err(pool_store_err)?;
    let key = lock_key(schema.unwrap_or("public"));
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .map_err(db_store_err)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .map_err(db_store_err)?;
    let result = apply_pending(&mut client, schema).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await;
    let restored = client
        .batch_execute(&crate::pool::statement_timeout_sql(statement_timeout))
        .await;
    if unlocked.is_err() || restored.is_err() {
        // Do not hand a connection that may still hold the lock, or has no statement
        // timeout, back to the pool.
        let _ = Object::take(client);
    }
    result
}

async fn apply_pending(
    client: &mut Object,
    schema: Option<&str>,
) -> Result<MigrationReport, PgStoreError> {
    let setup = |message: String| PgStoreError::Migration {
        version: 0,
        name: "maestro_schema_migrations".into(),
        message,
    };
    if let Some(schema) = schema {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await
            .map_err(|e| setup(describe(&e)))?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS maestro_schema_migrations (
                version INT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await
        .map_err(|e| setup(describe(&e)))?;
    let rows = client
        .query(
            "SELECT version, name, checksum FROM maestro_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(db_store_err)?;
    let mut applied_versions = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: i32 = row.try_get(0).map_err(db_store_err)?;
        let checksum: String = row.try_get(2).map_err(db_store_err)?;
        if let Some(m) = MIGRATIONS.iter().find(|m| m.version == version) {
            let expected = checksum_of(client, m.sql).await?;
            if expected != checksum {
                return Err(PgStoreError::Migration {
                    version,
                    name: m.name.to_owned(),
                    message: format!(
                        "applied migration was changed (checksum {checksum} in the database, \
                         {expected} in this build); never edit an applied migration, add a new \
                         file instead"
                    ),
                });
            }
        }
        applied_versions.push(version);
    }

    let mut report = MigrationReport::default();
    for m in MIGRATIONS {
        if applied_versions.contains(&m.version) {
            continue;
        }
        let fail = |message: String| PgStoreError::Migration {
            version: m.version,
            name: m.name.to_owned(),
            message,
        };
        let checksum = checksum_of(client, m.sql).await?;
        let tx = client.transaction().await.map_err(|e| fail(describe(&e)))?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| fail(describe(&e)))?;
        tx.execute(
            "INSERT INTO maestro_schema_migrations (version, name, checksum, applied_at)
             VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)",
            &[&m.version, &m.name, &checksum],
        )
        .await
        .map_err(|e| fail(describe(&e)))?;
        tx.commit().await.map_err(|e| fail(describe(&e)))?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        report.applied.push(m.version);
        applied_versions.push(m.version);
    }
    report.current = applied_versions.iter().copied().max().unwrap_or(0);
    Ok(report)
}

/// MD5 (hex) of a migration's text, computed by the server (`md5()`), so it can be checked
/// by hand with `md5sum`.
async fn checksum_of(client: &Object, sql: &str) -> Result<String, PgStoreError> {
    let row = client
        .query_one("SELECT md5($1::text)", &[&sql])
        .await
        .map_err(db_store_err)?;
    row.try_get(0).map_err(db_store_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_in_order_and_match_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(Ok(m.version), i32::try_from(i + 1), "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
            assert!(m.name.ends_with(".sql"));
            assert!(!m.sql.trim().is_empty());
        }
    }

    #[test]
    fn lock_keys_are_stable_and_per_schema() {
        assert_eq!(lock_key("public"), lock_key("public"));
        assert_ne!(lock_key("public"), lock_key("mt_1"));
    }
}
