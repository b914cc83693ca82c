//! PostgreSQL test helpers: `MAESTRO_TEST_DATABASE_URL` (tests skip with a printed reason
//! when it is unset), one fresh schema per test dropped (CASCADE) by a guard, also when the
//! test panics, and a snapshot of every table's rows.

use std::collections::BTreeMap;

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

/// A schema of its own for one test (`ms_<16 hex>`). The server creates it with its first
/// migration; the guard drops it.
pub struct TestDb {
    /// `MAESTRO_TEST_DATABASE_URL`.
    pub url: String,
    /// The schema name.
    pub schema: String,
}

impl TestDb {
    /// A new schema name, or `None` (skip) without a test database.
    pub fn new() -> Option<Self> {
        let url = database_url()?;
        let n: u64 = rand::rng().random();
        Some(Self {
            url,
            schema: format!("ms_{n:016x}"),
        })
    }

    /// Environment selecting the postgres backend on this schema (the seed's switches).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.env_with_url(&self.url)
    }

    /// [`TestDb::env`] with another connection URL (a proxy).
    pub fn env_with_url(&self, url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_TYPE", "postgres".into()),
            ("DATABASE_URL", url.to_owned()),
            ("MAESTRO_POSTGRES__SCHEMA", self.schema.clone()),
        ]
    }

    /// Every table of the schema (but the migrations table) → its rows as JSON text, sorted.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        let schema = self.schema.clone();
        admin_blocking(&self.url, move |client| {
            Box::pin(async move {
                let tables = client
                    .query(
                        "SELECT table_name::text FROM information_schema.tables \
                         WHERE table_schema = $1 AND table_type = 'BASE TABLE' \
                         AND table_name <> 'maestro_schema_migrations' ORDER BY 1",
                        &[&schema],
                    )
                    .await?;
                let mut out = BTreeMap::new();
                for t in tables {
                    let table: String = t.get(0);
                    let rows = client
                        .query(
                            &format!(
                                "SELECT to_jsonb(t)::text FROM \"{schema}\".\"{table}\" t ORDER BY 1"
                            ),
                            &[],
                        )
                        .await?;
                    out.insert(table, rows.iter().map(|r| r.get::<_, String>(0)).collect());
                }
                Ok(out)
            })
        })
        .expect("snapshot of the test schema")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let result = admin_blocking(&self.url, move |client| {
            Box::pin(async move { client.batch_execute(&sql).await })
        });
        if let Err(e) = result {
            eprintln!("dropping test schema {} failed: {e}", self.schema);
        }
    }
}

type AdminFuture<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a>,
>;

/// Runs `f` with a fresh connection on a dedicated thread with its own runtime, so it works
/// from `Drop` and from any test runtime.
fn admin_blocking<T: Send + 'static>(
    url: &str,
    f: impl for<'a> FnOnce(&'a tokio_postgres::Client) -> AdminFuture<'a, T> + Send + 'static,
) -> Result<T, tokio_postgres::Error> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            let task = tokio::spawn(conn);
            let r = f(&client).await;
            drop(client);
            let _ = task.await;
            r
        })
    })
    .join()
    .expect("admin thread")
}
