//! The migrations runner: idempotent, applied once under concurrency, refuses edited files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use maestro_pg_store::{MigrationReport, PgStoreError};

use common::{TestSchema, admin_exec_blocking, database_url};

/// Every version the build embeds, read from the database after a full run.
async fn recorded(schema: &TestSchema) -> Vec<(i32, String, String)> {
    let (client, conn) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query(
            &format!(
                "SELECT version, name, checksum FROM \"{}\".maestro_schema_migrations ORDER BY version",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_twice_is_a_noop() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.store(2);
    let first = store.migrate().await.unwrap();
    assert!(!first.applied.is_empty());
    assert_eq!(first.current, *first.applied.last().unwrap());
    let rows = recorded(&schema).await;
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        first.applied,
        "each applied version is recorded"
    );
    assert!(rows.iter().all(|r| r.2.len() == 32), "md5 checksums");

    let second = store.migrate().await.unwrap();
    assert_eq!(
        second,
        MigrationReport {
            applied: vec![],
            current: first.current
        }
    );
    assert_eq!(recorded(&schema).await, rows);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrate_applies_once() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    // Two servers: two stores, two pools, same schema.
    let a = schema.store(2);
    let b = schema.store(2);
    let (ra, rb) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { a.migrate().await }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { b.migrate().await }
        })
    );
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    assert_eq!(ra.current, rb.current);
    let mut all = ra.applied.clone();
    all.extend(rb.applied.iter().copied());
    assert!(
        ra.applied.is_empty() || rb.applied.is_empty(),
        "one runner applied everything, the other nothing: {ra:?} {rb:?}"
    );
    let versions: Vec<i32> = recorded(&schema).await.iter().map(|r| r.0).collect();
    assert_eq!(all, versions, "each version applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_applied_migration_is_refused() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.store(2);
    store.migrate().await.unwrap();
    // Simulate an edited file: the stored checksum no longer matches the embedded text.
    admin_exec_blocking(
        &url,
        &format!(
            "UPDATE \"{}\".maestro_schema_migrations SET checksum = md5('edited') WHERE version = 1",
            schema.name
        ),
    );
    match store.migrate().await {
        Err(PgStoreError::Migration {
            version, message, ..
        }) => {
            assert_eq!(version, 1);
            assert!(message.contains("changed"), "{message}");
        }
        other => panic!("expected a Migration error, got {other:?}"),
    }
    // The lock was released: another store can still run (and is refused the same way).
    let other = schema.store(1);
    assert!(matches!(
        other.migrate().await,
        Err(PgStoreError::Migration { version: 1, .. })
    ));
}

#[tokio::test]
async fn invalid_schema_name_is_a_config_error() {
    let cfg = common::config("postgres://postgres@127.0.0.1:1/none", "Bad-Name", 1);
    assert!(matches!(
        maestro_pg_store::PgStore::connect(&cfg),
        Err(PgStoreError::Config(_))
    ));
    let mut cfg = cfg;
    cfg.schema = Some("ok_name".into());
    cfg.url = "not a url".into();
    assert!(matches!(
        maestro_pg_store::PgStore::connect(&cfg),
        Err(PgStoreError::Config(_))
    ));
}
