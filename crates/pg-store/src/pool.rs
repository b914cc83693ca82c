//! The connection pool (deadpool-postgres): bounded size, wait / create / recycle timeouts,
//! the schema's `search_path` on every new connection, and discarding of dead connections.
//!
//! Recovery: `RecyclingMethod::Fast` checks `Client::is_closed()` when a connection comes
//! back to the pool; a connection whose socket died (server restart, network cut) is closed
//! by tokio-postgres and therefore dropped instead of reused, so the next request opens a
//! fresh one and the server recovers by itself when the database comes back.

use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use maestro_domain::error::DomainResult;
use tokio_postgres::NoTls;

use crate::error::pool_err;
use crate::{PgConfig, PgStoreError};

/// `^[a-z_][a-z0-9_]{0,62}$`: a schema name safe to quote into `SET search_path`.
pub(crate) fn validate_schema(name: &str) -> Result<(), PgStoreError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(PgStoreError::Config(format!(
            "schema name {name:?} must match ^[a-z_][a-z0-9_]{{0,62}}$"
        )))
    }
}

/// Builds the pool from `cfg`. Makes no connection.
pub(crate) fn build(cfg: &PgConfig) -> Result<Pool, PgStoreError> {
    let mut pg: tokio_postgres::Config = cfg
        .url
        .parse()
        .map_err(|e| PgStoreError::Config(format!("postgres url: {e}")))?;
    if cfg.pool_size == 0 {
        return Err(PgStoreError::Config("pool_size must be at least 1".into()));
    }
    let connect_timeout = nonzero(cfg.connect_timeout);
    pg.connect_timeout(connect_timeout);
    // A peer that vanished without closing the socket (host down, network cut) is detected
    // by TCP within ~25 s (keepalives) or 15 s of unacknowledged writes, instead of the
    // system defaults (hours), so such a connection fails and is replaced.
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(10));
    pg.keepalives_interval(Duration::from_secs(5));
    pg.keepalives_retries(3);
    pg.tcp_user_timeout(Duration::from_secs(15));
    if pg.get_application_name().is_none() {
        pg.application_name("maestro-server");
    }
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(manager)
        .max_size(cfg.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(nonzero(cfg.wait_timeout)))
        .create_timeout(Some(connect_timeout))
        .recycle_timeout(Some(connect_timeout));
    let mut session = String::new();
    if let Some(schema) = &cfg.schema {
        validate_schema(schema)?;
        session.push_str(&format!("SET search_path TO \"{schema}\";"));
    }
    session.push_str(&statement_timeout_sql(cfg.statement_timeout));
    builder = builder.post_create(Hook::async_fn(move |client, _| {
        let session = session.clone();
        Box::pin(async move {
            client
                .batch_execute(&session)
                .await
                .map_err(HookError::Backend)
        })
    }));
    builder
        .build()
        .map_err(|e| PgStoreError::Config(format!("postgres pool: {e}")))
}

/// `SET statement_timeout = <ms>;` for `timeout` (`0` = no limit, PostgreSQL's own meaning).
pub(crate) fn statement_timeout_sql(timeout: Duration) -> String {
    format!("SET statement_timeout = {};", timeout.as_millis())
}

/// deadpool treats a zero timeout as "fail immediately"; keep at least 1 ms.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

/// A pooled connection, or `StoreUnavailable`.
pub(crate) async fn get(pool: &Pool) -> DomainResult<Object> {
    pool.get().await.map_err(pool_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for ok in ["public", "mt_0123abcd", "_x", &"a".repeat(63)] {
            assert!(validate_schema(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "Upper", "a-b", "a\"b", "a b", &"a".repeat(64)] {
            assert!(validate_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_config_is_rejected_without_connecting() {
        let cfg = |url: &str, size: usize| PgConfig {
            url: url.to_owned(),
            pool_size: size,
            wait_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            schema: None,
            statement_timeout: Duration::from_secs(10),
        };
        assert!(matches!(
            build(&cfg("postgres://u@h/db", 0)),
            Err(PgStoreError::Config(_))
        ));
        assert!(matches!(
            build(&cfg("postgres://u@h:notaport/db", 1)),
            Err(PgStoreError::Config(_))
        ));
        assert!(build(&cfg("postgres://u@h/db", 1)).is_ok());
    }
}
