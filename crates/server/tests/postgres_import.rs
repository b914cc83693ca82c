//! `maestro-server import-fs` on the TypeScript-written fixture data directory, then every
//! REST read answers the same JSON from a Postgres-mode server as from an fs-mode server on
//! the same data. Importing twice gives the same counts and rows; the source directory is
//! not modified. Skipped without `MAESTRO_TEST_DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::TestDb;
use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fs-store/tests/fixtures/ts-data")
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// Runs the binary with `args` and only `env` (plus HOME), returning (exit code, stdout,
/// stderr).
fn run(args: &[&str], home: &Path, env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro-server"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("LOG_LEVEL", "warn")
        .current_dir(home);
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

/// The import's per-table lines (`  table: n`).
fn counts(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::to_owned)
        .collect()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

/// GETs every read endpoint over the data, discovering ids from the lists, and returns
/// path → (status, body).
async fn read_everything(server: &ServerProc) -> BTreeMap<String, (u16, Value)> {
    let c = client();
    let mut out = BTreeMap::new();
    let mut get = async |path: String| -> Value {
        let (st, body) = send(&c, Method::GET, &server.url(&path), None).await;
        out.insert(path, (st, body.clone()));
        body
    };
    let projects = ids(&get("/api/projects".into()).await, "id");
    assert!(!projects.is_empty());
    let mut tasks = ids(&get("/api/tasks".into()).await, "id");
    let mut sessions = ids(&get("/api/sessions".into()).await, "id");
    for p in &projects {
        get(format!("/api/projects/{p}")).await;
        tasks.extend(ids(&get(format!("/api/tasks?projectId={p}")).await, "id"));
        sessions.extend(ids(
            &get(format!("/api/sessions?projectId={p}")).await,
            "id",
        ));
        let members = ids(&get(format!("/api/team-members?projectId={p}")).await, "id");
        for m in members {
            get(format!("/api/team-members/{m}?projectId={p}")).await;
        }
        for kind in ["task", "session"] {
            get(format!("/api/ordering/{kind}/{p}")).await;
        }
    }
    tasks.sort();
    tasks.dedup();
    sessions.sort();
    sessions.dedup();
    for t in &tasks {
        get(format!("/api/tasks/{t}")).await;
        get(format!("/api/tasks/{t}/children")).await;
        get(format!("/api/tasks/{t}/docs")).await;
        get(format!("/api/sessions?taskId={t}")).await;
    }
    let mut mail = Vec::new();
    for s in &sessions {
        let session = get(format!("/api/sessions/{s}")).await;
        get(format!("/api/sessions/{s}/docs")).await;
        get(format!("/api/sessions/{s}/status")).await;
        get(format!("/api/tasks?sessionId={s}")).await;
        let project = session["projectId"].as_str().unwrap_or_default().to_owned();
        let inbox = get(format!("/api/mail/inbox/{s}?projectId={project}")).await;
        mail.extend(inbox.as_array().cloned().unwrap_or_default());
        get(format!("/api/mail/inbox/{s}")).await;
    }
    // Mail addressed to sessions that no longer exist is still stored.
    for s in ["sess_1706799999999_gonegone0"] {
        let inbox = get(format!("/api/mail/inbox/{s}")).await;
        mail.extend(inbox.as_array().cloned().unwrap_or_default());
    }
    for m in &mail {
        let id = m["id"].as_str().unwrap();
        get(format!("/api/mail/{id}")).await;
        if let Some(thread) = m["threadId"].as_str() {
            get(format!("/api/mail/thread/{thread}")).await;
        }
    }
    out
}

#[tokio::test]
async fn import_fs_serves_the_same_json_as_the_fs_store() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();

    // The reference: an fs-mode server on a copy of the fixture.
    let fs_data = tmp.path().join("fs-data");
    common::copy_dir(&fixture(), &fs_data);
    let fs_server = ServerProc::start(&fs_data, tmp.path(), &[]);
    let expected = read_everything(&fs_server).await;
    drop(fs_server);

    // Import another copy while the backend is still fs (import before switching).
    let source = tmp.path().join("source");
    common::copy_dir(&fixture(), &source);
    let before = snapshot(&source);
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("MAESTRO_POSTGRES__SCHEMA", db.schema.clone()),
    ];
    let (code, first, err) = run(
        &["import-fs", "--data-dir", source.to_str().unwrap()],
        tmp.path(),
        &env,
    );
    assert_eq!(code, Some(0), "{first}\n{err}");
    assert!(first.contains("applied migrations"), "{first}");
    let first_counts = counts(&first);
    for table in [
        "projects",
        "tasks",
        "sessions",
        "mail",
        "team_members",
        "orderings",
    ] {
        assert!(
            first_counts
                .iter()
                .any(|l| l.trim_start().starts_with(&format!("{table}:"))),
            "{table} in {first}"
        );
    }
    assert_eq!(
        snapshot(&source),
        before,
        "the source directory is not modified"
    );
    let rows = db.snapshot();
    assert_eq!(rows["projects"].len(), 2, "{rows:?}");

    // Twice: same counts, same rows.
    let (code, second, err) = run(
        &["import-fs", "--data-dir", source.to_str().unwrap()],
        tmp.path(),
        &env,
    );
    assert_eq!(code, Some(0), "{second}\n{err}");
    assert!(second.contains("up to date"), "{second}");
    assert_eq!(counts(&second), first_counts);
    assert_eq!(db.snapshot(), rows, "a second import changes no row");

    // A Postgres-mode server answers every read like the fs-mode one.
    let pg_data = tmp.path().join("pg-data");
    let pg_server = ServerProc::start(&pg_data, tmp.path(), &db.env());
    let actual = read_everything(&pg_server).await;
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same endpoints were read"
    );
    for (path, want) in &expected {
        assert_eq!(&actual[path], want, "GET {path}");
    }
    // Modal HTML and server-url stay in the (postgres-mode) data directory.
    assert!(pg_data.join("server-url").is_file());
}

#[tokio::test]
async fn import_fs_without_a_database_url_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &["import-fs", "--data-dir", tmp.path().to_str().unwrap()],
        tmp.path(),
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("postgres.url"), "{err}");
    let (code, _, err) = run(&["migrate"], tmp.path(), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("postgres.url"), "{err}");
}

/// Enum values the reference stored unchecked (a task `status: "done"`, …) are served by the
/// filesystem store but refused by PostgreSQL's CHECK constraints: the import names every
/// such entity, column and value, and writes no row.
#[tokio::test]
async fn import_fs_names_values_postgres_cannot_hold_and_writes_nothing() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    common::copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fs-store/tests/fixtures/ts-data-unchecked"),
        &source,
    );
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("MAESTRO_POSTGRES__SCHEMA", db.schema.clone()),
    ];
    let (code, out, err) = run(
        &["import-fs", "--data-dir", source.to_str().unwrap()],
        tmp.path(),
        &env,
    );
    assert_ne!(code, Some(0), "{out}\n{err}");
    for needle in [
        "6 values cannot be stored in PostgreSQL",
        r#"task task_1706800000001_doneaaaaa: tasks.status: "done" is not one of todo"#,
        r#"task task_1706800000001_doneaaaaa: tasks.priority: "urgent""#,
        r#"session sess_1706800000002_runningaa: sessions.status: "running""#,
        r#"team member tm_1706800000003_cursoraaa (project proj_1706800000000_uncheckd0): team_members.agent_tool: "cursor""#,
        r#"team_members.mode: "plan" is not one of worker | coordinator | coordinated-worker | coordinated-coordinator | execute | coordinate"#,
        r#"team_members.permission_mode: "yolo""#,
    ] {
        assert!(err.contains(needle), "{needle:?} in:\n{err}");
    }
    let rows = db.snapshot();
    assert!(
        rows.values().all(Vec::is_empty),
        "nothing is imported: {rows:?}"
    );
}
