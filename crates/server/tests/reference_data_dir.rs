//! A data directory written by the TypeScript server (hand-written from ref §1 / §6.2, with
//! the legacy shapes of ref §3.9) is loaded and served unchanged by the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::{Value, json};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

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
    copy_dir(&fixture(), &data);
    let server = ServerProc::start(&data, tmp.path(), &[]);
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
    let on_disk = read(&data.join(format!("tasks/{p}/task_1706790000000_aaaaaaaaa.json")));
    assert_eq!(on_disk["estimate"], json!({ "points": 3, "unit": "days" }));
    assert_eq!(on_disk["title"], "Build the store, really");
}
