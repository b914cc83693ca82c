//! PostgreSQL outages and operations, against the real binary: the database behind a TCP
//! proxy that the test cuts and restores; `maestro-server migrate`; start-up with the
//! database down. Skipped without `MAESTRO_TEST_DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::pg::TestDb;
use common::proxy::{Proxy, redirect_url};
use common::{ServerProc, client, create, send};
use reqwest::Method;
use serde_json::{Value, json};

/// Per-request bound while the database is down: the pool's wait (500 ms) and connect
/// (1 s) timeouts plus a wide margin for a loaded machine.
const DOWN_BOUND: Duration = Duration::from_secs(8);

fn assert_store_unavailable(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["error"], true, "{what}: {body}");
    assert_eq!(body["statusCode"], 503, "{what}: {body}");
    assert_eq!(body["code"], "STORE_UNAVAILABLE", "{what}: {body}");
    assert!(body["message"].is_string(), "{what}: {body}");
}

/// Polls `/ready` until its status is `want`, for at most `bound`.
async fn wait_ready(c: &reqwest::Client, server: &ServerProc, want: u16, bound: Duration) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let (st, body) = send(c, Method::GET, &server.url("/ready"), None).await;
        if st == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/ready did not answer {want} within {bound:?}; last {st}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_outage_gives_503_quickly_and_the_server_recovers_without_restart() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (upstream, _) = redirect_url(&db.url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream);
    let (_, proxied) = redirect_url(&db.url, proxy.addr);
    let mut env = db.env_with_url(&proxied);
    env.extend([
        ("MAESTRO_POSTGRES__WAIT_TIMEOUT_MS", "500".to_owned()),
        ("MAESTRO_POSTGRES__CONNECT_TIMEOUT_MS", "1000".to_owned()),
        ("MAESTRO_POSTGRES__POOL_SIZE", "4".to_owned()),
    ]);
    let server = ServerProc::start(&tmp.path().join("data"), tmp.path(), &env);
    let c = client();

    let body = wait_ready(&c, &server, 200, Duration::from_secs(10)).await;
    assert_eq!(body["checks"]["store"]["ok"], true, "{body}");
    let metrics = c
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("maestro_pg_pool_connections{state=\"max\"} 4\n"),
        "{metrics}"
    );
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    let p = create(&c, &server, "/api/projects", json!({ "name": "demo" })).await;
    let t = create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "T" }),
    )
    .await;

    proxy.cut();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/projects".into(), None),
        (Method::GET, format!("/api/projects/{p}"), None),
        (Method::GET, format!("/api/tasks?projectId={p}"), None),
        (Method::GET, format!("/api/tasks/{t}"), None),
        (
            Method::PATCH,
            format!("/api/tasks/{t}"),
            Some(json!({ "title": "during the outage" })),
        ),
        (
            Method::POST,
            "/api/tasks".into(),
            Some(json!({ "projectId": p, "title": "U" })),
        ),
        (Method::GET, format!("/api/sessions?projectId={p}"), None),
    ];
    for (method, path, body) in &calls {
        let started = Instant::now();
        let (st, resp) = send(&c, method.clone(), &server.url(path), body.clone()).await;
        let took = started.elapsed();
        assert_store_unavailable(&format!("{method} {path}"), st, &resp);
        assert!(took < DOWN_BOUND, "{method} {path} took {took:?}");
    }
    let started = Instant::now();
    let (st, ready) = send(&c, Method::GET, &server.url("/ready"), None).await;
    assert_eq!(st, 503, "{ready}");
    assert_eq!(ready["checks"]["store"]["ok"], false, "{ready}");
    assert!(ready["checks"]["store"]["error"].is_string(), "{ready}");
    assert!(started.elapsed() < DOWN_BOUND);

    proxy.restore();
    wait_ready(&c, &server, 200, Duration::from_secs(30)).await;
    for (method, path, body) in &calls {
        let (st, resp) = send(&c, method.clone(), &server.url(path), body.clone()).await;
        assert!(
            st == 200 || st == 201,
            "{method} {path} after recovery: {st} {resp}"
        );
    }
    let (_, task) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/tasks/{t}")),
        None,
    )
    .await;
    assert_eq!(task["title"], "during the outage");
}

fn run(args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro-server"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("LOG_LEVEL", "warn")
        .env("PORT", "0")
        .env("DATA_DIR", home.path().join("data"))
        .current_dir(home.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrate_applies_then_reports_up_to_date() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let env = db.env();
    let (code, out, err) = run(&["migrate"], &env);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.starts_with("applied migrations 1"), "{out}");
    let (code, out, err) = run(&["migrate"], &env);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.starts_with("database schema up to date"), "{out}");
    assert!(db.snapshot().contains_key("tasks"));
}

#[tokio::test]
async fn unreachable_database_at_start_up() {
    let Some(db) = TestDb::new() else {
        return;
    };
    // A port nothing listens on: bind one, then free it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("postgres://postgres:hunter2@{dead}/test");
    let mut env = db.env_with_url(&url);
    env.push(("MAESTRO_POSTGRES__CONNECT_TIMEOUT_MS", "500".into()));

    // migrate: non-zero exit with a message, password-free.
    let (code, out, err) = run(&["migrate"], &env);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("applying migrations"), "{err}");
    assert!(
        err.contains("<redacted>") && !err.contains("hunter2"),
        "{err}"
    );

    // serve with migrate_on_start (default): start-up fails naming the setting.
    let (code, _, err) = run(&[], &env);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("postgres.migrate_on_start"), "{err}");
    assert!(err.contains("postgres.url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // serve without migrate_on_start: starts, and /ready names the store.
    env.push(("MAESTRO_POSTGRES__MIGRATE_ON_START", "false".into()));
    let tmp = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&tmp.path().join("data"), tmp.path(), &env);
    let (st, ready) = send(&client(), Method::GET, &server.url("/ready"), None).await;
    assert_eq!(st, 503, "{ready}");
    assert_eq!(ready["checks"]["store"]["ok"], false, "{ready}");
    let (st, body) = send(&client(), Method::GET, &server.url("/api/projects"), None).await;
    assert_store_unavailable("GET /api/projects", st, &body);
}
