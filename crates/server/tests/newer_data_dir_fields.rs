//! A data directory written by the newer TypeScript server (653bc6a; hand-written from
//! `/work/refcli/NEWER-CLI-REQUESTS.md` §6, in `fs-store/tests/fixtures/ts-data-653bc6a-fields`) is
//! served by the real binary as stored — global team members, task `teamId` / `dueDate`, doc
//! `kind` with the content of `session-docs/` files, the master project — and what the server
//! writes back keeps every field the newer server stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::{Value, json};

const P: &str = "proj_1782000000000_master001";
const P2: &str = "proj_1782000100000_appaaa001";
const TT: &str = "task_1782000300000_teamtask1";
const TC: &str = "task_1782000310000_childtsk1";
const S1: &str = "sess_1782000500000_workerss1";
const TMG: &str = "tm_1782000600000_globalbt1";
const TMP: &str = "tm_1782000610000_profiled1";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fs-store/tests/fixtures/ts-data-653bc6a-fields")
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `value` without `key` (an object).
fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

#[tokio::test]
async fn newer_data_directory_is_served_and_written_back_with_its_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::copy_dir(&fixture(), &data);
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let call = |method: Method, path: String, body: Option<Value>| {
        let c = c.clone();
        let url = server.url(&path);
        async move { send(&c, method, &url, body).await }
    };
    let get = |path: String| call(Method::GET, path, None);

    // Every entity as stored.
    for (path, file) in [
        (format!("/api/projects/{P}"), format!("projects/{P}.json")),
        (format!("/api/projects/{P2}"), format!("projects/{P2}.json")),
        (format!("/api/tasks/{TT}"), format!("tasks/{P2}/{TT}.json")),
        (format!("/api/tasks/{TC}"), format!("tasks/{P2}/{TC}.json")),
        (format!("/api/sessions/{S1}"), format!("sessions/{S1}.json")),
        (
            format!("/api/team-members/{TMG}"),
            format!("team-members/__global__/{TMG}.json"),
        ),
        (
            format!("/api/team-members/{TMP}?projectId={P2}"),
            format!("team-members/{P2}/{TMP}.json"),
        ),
    ] {
        let (st, body) = get(path.clone()).await;
        assert_eq!(st, 200, "{path}: {body}");
        assert_eq!(body, read(&fixture().join(&file)), "{path}");
    }
    let (_, master) = get(format!("/api/projects/{P}")).await;
    assert_eq!(master["isMaster"], true);

    // Doc content from `session-docs/`, with the doc's kind.
    let (st, docs) = get(format!("/api/sessions/{S1}/docs")).await;
    assert_eq!(st, 200, "{docs}");
    assert_eq!(docs[0]["kind"], "diagram");
    assert_eq!(
        docs[0]["content"],
        std::fs::read_to_string(fixture().join(format!(
            "session-docs/{S1}/doc_1782000520000_diagram01.excalidraw"
        )))
        .unwrap()
    );
    assert_eq!(
        docs[1]["content"],
        "# Notes\n\nThe store keeps **docs** in files.\n"
    );
    let (_, task_docs) = get(format!("/api/tasks/{TC}/docs")).await;
    let titles: Vec<&str> = task_docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Architecture", "Notes"]);
    assert_eq!(task_docs[0]["kind"], "diagram");
    assert_eq!(task_docs[0]["sessionId"], S1);
    assert!(
        task_docs[0]["content"]
            .as_str()
            .unwrap()
            .contains("excalidraw")
    );

    // Team members: the global one without a project and in every project's list; the
    // overridden default carries its binding; the system member of the master project.
    let (st, globals) = get("/api/team-members".into()).await;
    assert_eq!(st, 200, "{globals}");
    assert_eq!(
        globals,
        json!([read(
            &fixture().join(format!("team-members/__global__/{TMG}.json"))
        )])
    );
    let (_, in_p2) = get(format!("/api/team-members?projectId={P2}")).await;
    let ids: Vec<&str> = in_p2
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[5..], [TMP, TMG]);
    let coordinator = in_p2
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == format!("tm_{P2}_coordinator"))
        .unwrap();
    assert_eq!(coordinator["modelProfileId"], "mp_fast");
    let (_, in_p) = get(format!("/api/team-members?projectId={P}")).await;
    assert!(
        in_p.as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "tm_system_alexa_coordinator")
    );
    assert!(in_p.as_array().unwrap().iter().any(|m| m["id"] == TMG));

    // Writes keep what the newer server stored.
    let (st, task) = call(
        Method::PATCH,
        format!("/api/tasks/{TT}"),
        Some(json!({ "title": "Ship it" })),
    )
    .await;
    assert_eq!(st, 200, "{task}");
    let (st, member) = call(
        Method::PATCH,
        format!("/api/team-members/{TMG}"),
        Some(json!({ "projectId": P, "role": "Chief architect" })),
    )
    .await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member["projectId"], P2, "the member's own project is kept");
    let (st, session) = call(
        Method::POST,
        format!("/api/sessions/{S1}/timeline"),
        Some(json!({ "type": "progress", "message": "half way" })),
    )
    .await;
    assert_eq!(st, 200, "{session}");
    let (st, project) = call(
        Method::PUT,
        format!("/api/projects/{P2}"),
        Some(json!({ "description": "The app, v2" })),
    )
    .await;
    assert_eq!(st, 200, "{project}");
    assert!(server.signal_and_wait("TERM").success());

    let task_file = read(&data.join(format!("tasks/{P2}/{TT}.json")));
    let expected = read(&fixture().join(format!("tasks/{P2}/{TT}.json")));
    assert_eq!(task_file["title"], "Ship it");
    assert_eq!(
        without(without(task_file.clone(), "title"), "updatedAt"),
        without(without(expected, "title"), "updatedAt")
    );

    let member_file = read(&data.join(format!("team-members/__global__/{TMG}.json")));
    let expected = read(&fixture().join(format!("team-members/__global__/{TMG}.json")));
    assert_eq!(member_file["role"], "Chief architect");
    assert_eq!(
        without(without(member_file, "role"), "updatedAt"),
        without(without(expected, "role"), "updatedAt")
    );
    assert!(!data.join(format!("team-members/{P}/{TMG}.json")).exists());
    assert!(!data.join(format!("team-members/{P2}/{TMG}.json")).exists());

    let session_file = read(&data.join(format!("sessions/{S1}.json")));
    let expected = read(&fixture().join(format!("sessions/{S1}.json")));
    assert_eq!(session_file["docs"], expected["docs"], "no content inlined");
    assert_eq!(
        session_file["timeline"].as_array().unwrap().len(),
        expected["timeline"].as_array().unwrap().len() + 1
    );
    for key in [
        "claudeSessionId",
        "rootSessionId",
        "teamSessionId",
        "teamId",
        "isMasterSession",
        "teamMemberSnapshot",
        "metadata",
    ] {
        assert_eq!(session_file[key], expected[key], "{key}");
    }

    let project_file = read(&data.join(format!("projects/{P2}.json")));
    assert_eq!(project_file["isMaster"], false);
    assert_eq!(project_file["description"], "The app, v2");

    // Files nobody wrote are untouched, byte for byte.
    for rel in [
        format!("session-docs/{S1}/doc_1782000520000_diagram01.excalidraw"),
        format!("session-docs/{S1}/doc_1782000530000_notesmd01.md"),
        format!("projects/{P}.json"),
        format!("tasks/{P2}/{TC}.json"),
        format!("team-members/{P2}/{TMP}.json"),
        format!("team-members/{P2}/tm_{P2}_standup.override.json"),
        "model-profiles/mp_heavy.json".to_owned(),
        "session-prompts/sp_1782000540000_prompt001.json".to_owned(),
        format!("command-logs/{S1}.jsonl"),
        format!("teams/{P2}/team_1782000400000_teamaaa01.json"),
    ] {
        assert_eq!(
            std::fs::read(data.join(&rel)).unwrap(),
            std::fs::read(fixture().join(&rel)).unwrap(),
            "{rel}"
        );
    }
}
