//! Error mapping: `tokio_postgres` and pool errors to [`DomainError`] (repository ports) and
//! [`PgStoreError`] (store operations), in one place.
//!
//! Rules (spec §6.3, port docs in `maestro_domain::ports`):
//! - any failure to obtain a pooled connection (wait timeout, connect error, authentication),
//!   closed connections, I/O errors, the server refusing work (SQLSTATE class 08,
//!   57P01–57P03, 53300) and statements cancelled by `statement_timeout` (57014) →
//!   `StoreUnavailable`;
//! - unique violation (23505) → `Conflict`;
//! - check / not-null violation (23514, 23502) and text the database cannot store (NUL
//!   bytes: 22021, 22P05) → `Validation`;
//! - everything else → `Internal` (the cause is kept for the log).

use deadpool_postgres::PoolError;
use maestro_domain::error::DomainError;
use tokio_postgres::error::SqlState;

use crate::PgStoreError;

/// True if `e` means "the database cannot be reached right now" rather than "this statement
/// is wrong".
pub(crate) fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                // statement_timeout: the database is blocked or overloaded.
                || *code == SqlState::QUERY_CANCELED
        }
        // No SQLSTATE: a client-side error. I/O failures (reset, refused, timeout) carry an
        // `io::Error` source.
        None => {
            // (connect timeouts are `io::ErrorKind::TimedOut` too).
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                if s.is::<std::io::Error>() {
                    return true;
                }
                source = s.source();
            }
            false
        }
    }
}

/// Maps a statement error to the domain contract.
pub(crate) fn db_err(e: tokio_postgres::Error) -> DomainError {
    if is_unavailable(&e) {
        return DomainError::StoreUnavailable(describe(&e));
    }
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => DomainError::Conflict(
            e.as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        ),
        Some(code)
            if *code == SqlState::CHECK_VIOLATION
                || *code == SqlState::NOT_NULL_VIOLATION
                || *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                || *code == SqlState::UNTRANSLATABLE_CHARACTER =>
        {
            DomainError::validation(
                e.as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_else(|| e.to_string()),
            )
        }
        _ => DomainError::internal("postgres statement failed", e),
    }
}

/// Maps a failure to obtain a pooled connection to the domain contract: whatever prevents
/// getting a connection (wait timeout, refused / reset / timed-out connect, authentication
/// or unknown database, a failing `search_path` hook, a closed pool) makes the store
/// unavailable.
pub(crate) fn pool_err(e: PoolError) -> DomainError {
    match e {
        PoolError::NoRuntimeSpecified => DomainError::internal_msg(format!("postgres pool: {e}")),
        other => DomainError::StoreUnavailable(pool_message(&other)),
    }
}

/// Maps a domain-level failure of a store operation to [`PgStoreError`].
pub(crate) fn to_store_err(e: DomainError) -> PgStoreError {
    match e {
        DomainError::StoreUnavailable(m) => PgStoreError::Unavailable(m),
        other => PgStoreError::Db(full_message(&other)),
    }
}

/// Maps a pool error to [`PgStoreError`].
pub(crate) fn pool_store_err(e: PoolError) -> PgStoreError {
    to_store_err(pool_err(e))
}

/// Maps a statement error to [`PgStoreError`].
pub(crate) fn db_store_err(e: tokio_postgres::Error) -> PgStoreError {
    if is_unavailable(&e) {
        PgStoreError::Unavailable(describe(&e))
    } else {
        PgStoreError::Db(describe(&e))
    }
}

/// A readable message with the server's detail, if any.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => full_message(e),
    }
}

fn pool_message(e: &PoolError) -> String {
    match e {
        PoolError::Timeout(t) => format!("timed out waiting for a connection ({t:?})"),
        PoolError::Backend(inner) => describe(inner),
        other => full_message(other),
    }
}

/// `e` followed by its source chain, `: `-separated.
fn full_message(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A row that does not decode into an entity.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> DomainError {
    DomainError::internal_msg(format!("corrupt {what} row: {detail}"))
}
