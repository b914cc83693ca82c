//! A data directory written by the TypeScript server (hand-written from ref §1 / §6.2, with
//! the legacy shapes of ref §3.9) is loaded and served unchanged by the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::{Value, json};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fs-store/tests/fixtures/ts-data")
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[tokio::test]
async fn typescript_data_directory_is_served_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::copy_dir(&fixture(), &data);
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let get = |path: String| {
        let c = c.clone();
        let url = server.url(&path);
        async move { send(&c, Method::GET, &url, None).await }
    };

    // Projects: every file served as written, unknown keys included; the broken file is
    // skipped, not fatal.
    for name in [
        "proj_1706789123456_abc123def",
        "proj_1706789234567_zzz999xyz",
    ] {
        let file = read(&fixture().join(format!("projects/{name}.json")));
        let (st, body) = get(format!("/api/projects/{name}")).await;
        assert_eq!(st, 200);
        assert_eq!(body, file, "project {name}");
    }
    let (_, list) = get("/api/projects".into()).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // A task in the project layout: unchanged.
    let p = "proj_1706789123456_abc123def";
    let path = fixture().join(format!("tasks/{p}/task_1706790000000_aaaaaaaaa.json"));
    let (_, body) = get("/api/tasks/task_1706790000000_aaaaaaaaa".into()).await;
    assert_eq!(body, read(&path));
    // The legacy root-level task file is loaded too.
    let (st, legacy) = get("/api/tasks/task_1706790333333_ddddddddd".into()).await;
    assert_eq!(st, 200, "{legacy}");
    assert!(legacy["sessionIds"].is_array());
    assert!(legacy["taskSessionStatuses"].is_object());

    // A legacy session: taskId → taskIds, strategy dropped, name filled in.
    let (st, s) = get("/api/sessions/sess_1706793333333_opq901xyz".into()).await;
    assert_eq!(st, 200);
    assert_eq!(s["taskIds"], json!(["task_1706790000000_aaaaaaaaa"]));
    assert_eq!(s["name"], "Session sess_1706793333333_opq901xyz");
    assert!(s.get("strategy").is_none());
    assert!(s.get("taskId").is_none() || s["taskId"] == json!("task_1706790000000_aaaaaaaaa"));

    // Team members: the custom one as written; the coordinator default with its override.
    let tm = read(&fixture().join(format!("team-members/{p}/tm_1706795555555_qqqqqqqqq.json")));
    let (_, body) = get(format!(
        "/api/team-members/tm_1706795555555_qqqqqqqqq?projectId={p}"
    ))
    .await;
    assert_eq!(body, tm);
    let (_, coord) = get(format!(
        "/api/team-members/tm_{p}_coordinator?projectId={p}"
    ))
    .await;
    assert_eq!(coord["name"], "Chief");
    assert_eq!(coord["model"], "opus");
    assert_eq!(coord["role"], "Task orchestrator");
    assert_eq!(coord["isDefault"], true);
    let (_, members) = get(format!("/api/team-members?projectId={p}")).await;
    assert_eq!(members.as_array().unwrap().len(), 6);

    // Orderings.
    let file = read(&fixture().join(format!("ordering/task/{p}.json")));
    let (_, body) = get(format!("/api/ordering/task/{p}")).await;
    assert_eq!(body, file);

    // Legacy mail in mail/<parent>/<id>.json is readable through the session mail view.
    let (st, mail) = get("/api/sessions/sess_1706792222222_lmn678abc/mail".into()).await;
    assert_eq!(st, 200, "{mail}");
    assert!(
        mail.as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "mail_1706796666666_rrrrrrrrr"),
        "{mail}"
    );

    // A write keeps unknown fields.
    let (st, updated) = send(
        &c,
        Method::PATCH,
        &server.url("/api/tasks/task_1706790000000_aaaaaaaaa"),
        Some(json!({ "title": "Build the store, really" })),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(updated["estimate"], json!({ "points": 3, "unit": "days" }));
    // The file follows the (journaled) acknowledgement; a graceful stop flushes it.
    assert!(server.signal_and_wait("TERM").success());
    let on_disk = read(&data.join(format!("tasks/{p}/task_1706790000000_aaaaaaaaa.json")));
    assert_eq!(on_disk["estimate"], json!({ "points": 3, "unit": "days" }));
    assert_eq!(on_disk["title"], "Build the store, really");
}

/// Enum values the reference stored without checking (ref §0; the CLI passes `--status` and
/// `--priority` through) load, are served and survive writes verbatim; they only change when a
/// client sets a valid value, and new input is still validated (spec §2).
#[tokio::test]
async fn values_the_reference_stored_unchecked_are_served_and_kept() {
    const P: &str = "proj_1706800000000_uncheckd0";
    const T: &str = "task_1706800000001_doneaaaaa";
    const S: &str = "sess_1706800000002_runningaa";
    const M: &str = "tm_1706800000003_cursoraaa";
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fs-store/tests/fixtures/ts-data-unchecked");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::copy_dir(&fixture, &data);
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let call = |method: Method, path: &str, body: Option<Value>| {
        let c = c.clone();
        let url = server.url(path);
        async move { send(&c, method, &url, body).await }
    };
    let task_file = data.join(format!("tasks/{P}/{T}.json"));

    // Served exactly as stored.
    let (st, task) = call(Method::GET, &format!("/api/tasks/{T}"), None).await;
    assert_eq!(st, 200, "{task}");
    assert_eq!(task, read(&task_file));
    assert_eq!(task["status"], "done");
    assert_eq!(task["priority"], "urgent");
    assert_eq!(task["taskSessionStatuses"][S], "paused");
    let (_, list) = call(Method::GET, &format!("/api/tasks?projectId={P}"), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (st, session) = call(Method::GET, &format!("/api/sessions/{S}"), None).await;
    assert_eq!(st, 200, "{session}");
    assert_eq!(session["status"], "running");
    assert_eq!(session["teamMemberSnapshot"]["agentTool"], "cursor");
    let member_file = data.join(format!("team-members/{P}/{M}.json"));
    let (st, member) = call(
        Method::GET,
        &format!("/api/team-members/{M}?projectId={P}"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member, read(&member_file));
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

    // New input is validated: a filter or a write with such a value is a 400.
    let (st, body) = call(Method::GET, "/api/tasks?status=done", None).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{body}"
    );
    let (st, body) = call(
        Method::PATCH,
        &format!("/api/tasks/{T}"),
        Some(json!({ "status": "done" })),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{body}"
    );

    // Another write keeps them, on the wire and on disk.
    let (st, task) = call(
        Method::PATCH,
        &format!("/api/tasks/{T}"),
        Some(json!({ "title": "Still done" })),
    )
    .await;
    assert_eq!(st, 200, "{task}");
    assert_eq!(
        (
            &task["status"],
            &task["priority"],
            &task["taskSessionStatuses"][S]
        ),
        (&json!("done"), &json!("urgent"), &json!("paused"))
    );
    let (st, member) = call(
        Method::PATCH,
        &format!("/api/team-members/{M}"),
        Some(json!({ "projectId": P, "role": "Reviewer" })),
    )
    .await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(
        (
            &member["agentTool"],
            &member["mode"],
            &member["permissionMode"]
        ),
        (&json!("cursor"), &json!("plan"), &json!("yolo"))
    );

    // A stored mode outside execute|coordinate is `invalid_mode` at spawn, as in the reference
    // (ref §3.3.6 step 6: `body.mode || member mode || 'execute'`).
    let (st, body) = call(
        Method::POST,
        "/api/sessions/spawn",
        Some(json!({ "projectId": P, "taskIds": [T], "teamMemberId": M })),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("INVALID_MODE")),
        "{body}"
    );

    // A valid value replaces them; an unknown per-session entry is not final, so the
    // session's completion overrides it (ref §3.3.2).
    let (st, session) = call(
        Method::PATCH,
        &format!("/api/sessions/{S}"),
        Some(json!({ "status": "completed" })),
    )
    .await;
    assert_eq!(
        (st, &session["status"]),
        (200, &json!("completed")),
        "{session}"
    );
    let (_, task) = call(Method::GET, &format!("/api/tasks/{T}"), None).await;
    assert_eq!(task["taskSessionStatuses"][S], "completed");
    let (st, task) = call(
        Method::PATCH,
        &format!("/api/tasks/{T}"),
        Some(json!({ "status": "in_progress", "priority": "high" })),
    )
    .await;
    assert_eq!(st, 200, "{task}");
    assert_eq!(
        (&task["status"], &task["priority"]),
        (&json!("in_progress"), &json!("high"))
    );
    assert!(task["startedAt"].is_i64(), "{task}");

    // After a graceful stop the files hold what was served.
    assert!(server.signal_and_wait("TERM").success());
    let on_disk = read(&task_file);
    assert_eq!(on_disk["title"], "Still done");
    assert_eq!(on_disk["status"], "in_progress");
    let member_on_disk = read(&member_file);
    assert_eq!(
        (&member_on_disk["mode"], &member_on_disk["role"]),
        (&json!("plan"), &json!("Reviewer"))
    );
}
