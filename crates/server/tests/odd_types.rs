//! Fields the reference stored with an unexpected JSON type (issue 12 item 9, fixture
//! `fs-store/tests/fixtures/ts-data-odd-types`): a task `priority: 5`, `description: null`,
//! `teamMemberId: null`, a session `env: {"A": 1}`, a project `name: null`, and the same
//! kind of values in team members, orderings and mail. The real binary lists and serves each
//! entity as stored, keeps the values through writes of other fields, refuses to delete a
//! project whose tasks only load leniently, and `import-fs` names every such value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::TestDb;
use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::{Value, json};

const P: &str = "proj_1706810000000_oddtypes0";
const P2: &str = "proj_1706810000009_nullname0";
const T: &str = "task_1706810000001_oddtask00";
const T2: &str = "task_1706810000002_oddchild0";
const S: &str = "sess_1706810000003_oddsess00";
const M: &str = "tm_1706810000004_oddmember";
const ML: &str = "mail_1706810000005_oddmail00";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fs-store/tests/fixtures/ts-data-odd-types")
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[tokio::test]
async fn odd_values_are_listed_served_kept_and_guarded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::copy_dir(&fixture(), &data);
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let call = |method: Method, path: &str, body: Option<Value>| {
        let c = c.clone();
        let url = server.url(path);
        async move { send(&c, method, &url, body).await }
    };

    // Listed.
    let (_, projects) = call(Method::GET, "/api/projects", None).await;
    assert_eq!(projects.as_array().unwrap().len(), 2, "{projects}");
    let (_, tasks) = call(Method::GET, &format!("/api/tasks?projectId={P}"), None).await;
    assert_eq!(tasks.as_array().unwrap().len(), 2, "{tasks}");
    let (_, sessions) = call(Method::GET, &format!("/api/sessions?projectId={P}"), None).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let (_, members) = call(
        Method::GET,
        &format!("/api/team-members?projectId={P}"),
        None,
    )
    .await;
    assert!(
        members.as_array().unwrap().iter().any(|m| m["id"] == M),
        "{members}"
    );

    // Served exactly as stored.
    for (path, file) in [
        (format!("/api/projects/{P}"), format!("projects/{P}.json")),
        (format!("/api/projects/{P2}"), format!("projects/{P2}.json")),
        (format!("/api/tasks/{T}"), format!("tasks/{P}/{T}.json")),
        (format!("/api/tasks/{T2}"), format!("tasks/{P}/{T2}.json")),
        (format!("/api/sessions/{S}"), format!("sessions/{S}.json")),
        (
            format!("/api/team-members/{M}?projectId={P}"),
            format!("team-members/{P}/{M}.json"),
        ),
        (
            format!("/api/ordering/task/{P}"),
            format!("ordering/task/{P}.json"),
        ),
        (format!("/api/mail/{ML}"), format!("mail/{ML}.json")),
    ] {
        let (st, body) = call(Method::GET, &path, None).await;
        assert_eq!(st, 200, "{path}: {body}");
        assert_eq!(body, read(&data.join(&file)), "{path}");
    }

    // The project's tasks are there, so it cannot be deleted (it could while they vanished).
    let (st, body) = call(Method::DELETE, &format!("/api/projects/{P}"), None).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("BUSINESS_RULE_ERROR")),
        "{body}"
    );

    // New input is still validated.
    let (st, body) = call(
        Method::PATCH,
        &format!("/api/tasks/{T}"),
        Some(json!({ "priority": 5 })),
    )
    .await;
    assert_eq!(st, 400, "{body}");

    // Writes of other fields keep the odd values; the env merge keeps the stored entry.
    let (st, task) = call(
        Method::PATCH,
        &format!("/api/tasks/{T}"),
        Some(json!({ "title": "Renamed" })),
    )
    .await;
    assert_eq!(st, 200, "{task}");
    assert_eq!(
        (
            &task["priority"],
            &task["description"],
            &task["teamMemberId"]
        ),
        (&json!(5), &Value::Null, &Value::Null)
    );
    let (st, session) = call(
        Method::PATCH,
        &format!("/api/sessions/{S}"),
        Some(json!({ "env": { "B": "b" } })),
    )
    .await;
    assert_eq!(st, 200, "{session}");
    assert_eq!(
        session["env"],
        json!({ "A": 1, "B": "b", "MAESTRO_MODE": "execute" })
    );
    // Setting the odd field replaces it.
    let (_, project) = call(
        Method::PUT,
        &format!("/api/projects/{P2}"),
        Some(json!({ "name": "Named" })),
    )
    .await;
    assert_eq!(project["name"], "Named");

    assert!(server.signal_and_wait("TERM").success());
    let t = read(&data.join(format!("tasks/{P}/{T}.json")));
    assert_eq!(
        (&t["title"], &t["priority"]),
        (&json!("Renamed"), &json!(5))
    );
    assert_eq!(t["description"], Value::Null);
    let s = read(&data.join(format!("sessions/{S}.json")));
    assert_eq!(s["env"]["A"], 1);
    assert_eq!(s["timeline"][1]["message"], 50);
    assert_eq!(
        read(&data.join(format!("projects/{P2}.json")))["name"],
        "Named"
    );
}

/// PostgreSQL columns are typed: `import-fs` names every odd value and writes nothing.
#[tokio::test]
async fn import_fs_names_odd_values_and_writes_nothing() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    common::copy_dir(&fixture(), &source);
    let out = Command::new(env!("CARGO_BIN_EXE_maestro-server"))
        .args(["import-fs", "--data-dir", source.to_str().unwrap()])
        .env_clear()
        .env("HOME", tmp.path())
        .env("LOG_LEVEL", "warn")
        .env("DATABASE_URL", &db.url)
        .env("MAESTRO_POSTGRES__SCHEMA", &db.schema)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for needle in [
        format!("project {P}: projects.description: stored value 7 (a number)"),
        format!("project {P2}: projects.name: stored value null"),
        format!("task {T}: tasks.priority: stored value 5 (a number)"),
        format!("task {T}: tasks.description: stored value null"),
        format!("task {T}: tasks.taskSessionStatuses.{S}: stored value 3"),
        format!("task {T2}: tasks.title: stored value 42"),
        format!("session {S}: sessions.env.A: stored value 1 (a number)"),
        format!("session {S}: sessions.timeline[1].message: stored value 50"),
        format!("session {S}: sessions.needsInput.active: stored value \"yes\""),
        format!("team member {M} (project {P}): team_members.createdAt: stored value"),
        format!("team member {M} (project {P}): team_members.capabilities.can_spawn_sessions"),
        format!("mail {ML}: mail.fromSessionId: stored value 17"),
        format!("ordering task (project {P}): orderings.orderedIds: stored value [1,2]"),
    ] {
        assert!(err.contains(&needle), "{needle:?} in:\n{err}");
    }
    assert!(
        !err.contains("tasks.priority: \"\" is not one of"),
        "an odd enum is reported once: {err}"
    );
    // A null in an optional field is stored as NULL (served without the key).
    assert!(!err.contains("tasks.teamMemberId"), "{err}");
    assert!(!err.contains("sessions.metadata"), "{err}");
    let rows = db.snapshot();
    assert!(
        rows.values().all(Vec::is_empty),
        "nothing is imported: {rows:?}"
    );
}
