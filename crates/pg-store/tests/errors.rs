//! Failure behaviour: an unreachable database, an exhausted pool and killed connections give
//! `StoreUnavailable` within the configured timeouts (never a hang), and the pool recovers by
//! itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use maestro_domain::entities::TaskPatch;
use maestro_domain::error::DomainError;
use maestro_domain::testing::fixtures::{self, T0};
use maestro_pg_store::{PgConfig, PgStore, PgStoreError};

use common::{TestSchema, database_url, random_name};

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(r: Result<T, DomainError>) {
    match r {
        Err(DomainError::StoreUnavailable(_)) => {}
        other => panic!("expected StoreUnavailable, got {other:?}"),
    }
}

/// Runs without a database: the port is closed (bound, noted, released).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_gives_store_unavailable_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = PgStore::connect(&PgConfig {
        url: format!("postgres://postgres@127.0.0.1:{port}/none"),
        pool_size: 2,
        wait_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        schema: Some("mt_closed".into()),
        statement_timeout: Duration::from_secs(10),
    })
    .expect("connect makes no connection");
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), store.tasks.get("task_1"))
        .await
        .expect("a repository call must not hang");
    assert_unavailable(r);
    let r = tokio::time::timeout(Duration::from_secs(10), store.projects.list())
        .await
        .expect("no hang");
    assert_unavailable(r);
    assert!(matches!(
        store.ping().await,
        Err(PgStoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.migrate().await,
        Err(PgStoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(store.pool_status().max_size, 2);
    assert_eq!(store.pool_status().size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_gives_store_unavailable_after_the_wait_timeout() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    schema.migrated_store(1).await;
    let mut cfg = common::config(&url, &schema.name, 1);
    cfg.wait_timeout = Duration::from_millis(300);
    let store = PgStore::connect(&cfg).unwrap();
    store
        .tasks
        .insert(fixtures::task("task_1", "p1", T0))
        .await
        .unwrap();

    // Another session locks the row, so an update holds the pool's only connection.
    let (mut locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tx = locker.transaction().await.unwrap();
    tx.execute(
        &format!(
            "SELECT 1 FROM \"{}\".tasks WHERE id = 'task_1' FOR UPDATE",
            schema.name
        ),
        &[],
    )
    .await
    .unwrap();
    let blocked = tokio::spawn({
        let tasks = store.tasks.clone();
        async move { tasks.update("task_1", &TaskPatch::default(), T0 + 1).await }
    });
    // Wait (bounded) until the update holds the connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.pool_status().available > 0 || store.pool_status().size == 0 {
        assert!(
            Instant::now() < deadline,
            "update never took the connection"
        );
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), store.tasks.get("task_1"))
        .await
        .expect("no hang");
    assert_unavailable(r);
    assert!(started.elapsed() >= Duration::from_millis(250));
    tx.rollback().await.unwrap();
    let updated = blocked.await.unwrap().unwrap();
    assert_eq!(updated.updated_at, T0 + 1);
    // The connection is back: requests work again.
    assert!(store.tasks.get("task_1").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_replaced() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let app = random_name("mt_app_");
    let sep = if url.contains('?') { '&' } else { '?' };
    let app_url = format!("{url}{sep}application_name={app}");
    let store = PgStore::connect(&common::config(&app_url, &schema.name, 4)).unwrap();
    store.migrate().await.unwrap();
    store
        .tasks
        .insert(fixtures::task("task_1", "p1", T0))
        .await
        .unwrap();
    assert!(store.pool_status().size >= 1);

    // The database "restarts" for this pool: every connection is terminated server-side.
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE application_name = $1) t",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1);

    // At most one request may observe the dead connection (as StoreUnavailable); the pool
    // then hands out fresh connections.
    let mut failures = 0;
    for _ in 0..3 {
        match store.tasks.get("task_1").await {
            Ok(Some(_)) => {}
            Err(DomainError::StoreUnavailable(_)) => failures += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(failures <= 1, "{failures} failures after the restart");
    assert!(store.tasks.get("task_1").await.unwrap().is_some());
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_postgres_cannot_store_is_a_validation_error() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(1).await;
    let mut t = fixtures::task("task_nul", "p1", T0);
    t.title = "a\0b".into();
    match store.tasks.insert(t).await {
        Err(DomainError::Validation { .. }) => {}
        other => panic!("expected Validation, got {other:?}"),
    }
    let mut t = fixtures::task("task_nul_json", "p1", T0);
    t.extra.insert("k".into(), serde_json::json!("a\u{0}b"));
    match store.tasks.insert(t).await {
        Err(DomainError::Validation { .. }) => {}
        other => panic!("expected Validation, got {other:?}"),
    }
    // The connection is still usable afterwards.
    assert!(store.tasks.get("task_nul").await.unwrap().is_none());
}

/// Takes an exclusive lock on the schema's `projects` in a transaction that PostgreSQL itself
/// aborts after 5 s idle, so a failing test cannot leave the lock (and its cleanup) hanging.
fn lock_projects(schema: &str) -> String {
    format!(
        "SET idle_in_transaction_session_timeout = 5000; BEGIN; \
         LOCK TABLE \"{schema}\".projects IN ACCESS EXCLUSIVE MODE"
    )
}

/// A statement blocked by another session's lock is cancelled after `statement_timeout` and
/// reported as `StoreUnavailable`; once the lock is gone the same call succeeds, and
/// migrations (which wait on an advisory lock) are not subject to the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_statement_times_out_as_store_unavailable() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let mut cfg = common::config(&url, &schema.name, 2);
    cfg.statement_timeout = Duration::from_millis(300);
    let store = PgStore::connect(&cfg).unwrap();
    store.migrate().await.unwrap();
    store
        .projects
        .insert(fixtures::project("proj_1", T0))
        .await
        .unwrap();

    let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    locker
        .batch_execute(&lock_projects(&schema.name))
        .await
        .unwrap();
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), store.projects.get("proj_1"))
        .await
        .expect("the statement timeout must end the wait");
    assert_unavailable(r);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The migration connection lifts the timeout and restores it afterwards.
    assert!(store.migrate().await.unwrap().applied.is_empty());

    locker.batch_execute("ROLLBACK").await.unwrap();
    let found = store.projects.get("proj_1").await.unwrap();
    assert_eq!(found.map(|p| p.id).as_deref(), Some("proj_1"));
    // A connection handed back by migrate still has the limit.
    locker
        .batch_execute(&lock_projects(&schema.name))
        .await
        .unwrap();
    let (a, b) = tokio::join!(store.projects.get("proj_1"), store.projects.list());
    assert_unavailable(a);
    assert_unavailable(b);
    locker.batch_execute("ROLLBACK").await.unwrap();
    drop(locker);
    let _ = conn.await;
}
