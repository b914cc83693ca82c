//! Shared test helpers: a fresh schema per test (created, migrated, dropped by a guard),
//! `MAESTRO_TEST_DATABASE_URL` handling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use maestro_pg_store::{PgConfig, PgStore};
use rand::Rng;

/// The test database URL, or `None` after printing the skip notice.
pub fn database_url() -> Option<String> {
    match std::env::var("MAESTRO_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipping: MAESTRO_TEST_DATABASE_URL is not set");
            None
        }
    }
}

/// `mt_<16 hex>`.
pub fn random_name(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}{n:016x}")
}

/// A config for `schema` on `url`.
pub fn config(url: &str, schema: &str, pool_size: usize) -> PgConfig {
    PgConfig {
        url: url.to_owned(),
        pool_size,
        wait_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(5),
        schema: Some(schema.to_owned()),
        statement_timeout: Duration::from_secs(30),
    }
}

/// Runs `sql` on a fresh connection (outside any pool), on a dedicated thread with its own
/// runtime, so it also works from `Drop`.
pub fn admin_exec_blocking(url: &str, sql: &str) {
    let url = url.to_owned();
    let owned = sql.to_owned();
    let handle = std::thread::spawn(move || {
        let sql = owned;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(conn);
            let r = client.batch_execute(&sql).await;
            drop(client);
            let _ = task.await;
            r
        })
    });
    if let Err(e) = handle.join().unwrap() {
        eprintln!("cleanup failed ({sql}): {e}");
    }
}

/// A test schema; dropped (CASCADE) when the guard goes, also when the test panics.
pub struct TestSchema {
    pub url: String,
    pub name: String,
}

impl TestSchema {
    /// A new, unique schema name (created by the first `migrate`).
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: random_name("mt_"),
        }
    }

    /// A store on this schema.
    pub fn store(&self, pool_size: usize) -> PgStore {
        PgStore::connect(&config(&self.url, &self.name, pool_size)).unwrap()
    }

    /// A store on this schema, migrated.
    pub async fn migrated_store(&self, pool_size: usize) -> PgStore {
        let store = self.store(pool_size);
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        admin_exec_blocking(
            &self.url,
            &format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name),
        );
    }
}

/// Schemas and stores made during one suite, kept alive until the test ends.
#[derive(Default, Clone)]
pub struct Schemas(pub Arc<Mutex<Vec<(PgStore, TestSchema)>>>);

impl Schemas {
    /// A fresh migrated schema and store; `pick` chooses the repository under test.
    pub async fn make<T: ?Sized>(
        &self,
        url: &str,
        pick: impl FnOnce(&PgStore) -> Arc<T>,
    ) -> Arc<T> {
        let schema = TestSchema::new(url);
        let store = schema.migrated_store(16).await;
        let repo = pick(&store);
        self.0.lock().unwrap().push((store, schema));
        repo
    }
}
