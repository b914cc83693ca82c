//! A data directory written by the 653bc6a TypeScript server (the fs-store fixture
//! `ts-data-653bc6a`: team members with the four modes and hermes, sessions with four-mode
//! spawn metadata and a `launchConfig`; issue 13 item 1) is served as written by the real
//! binary on the filesystem store, and after `import-fs` by a PostgreSQL-mode server; a
//! member's four-mode value can be changed through the API on both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::TestDb;
use common::{ServerProc, client, send};
use reqwest::Method;
use serde_json::{Value, json};

const P: &str = "proj_1796221753558_q9gnv4867";
const MEMBERS: [&str; 4] = [
    "tm_1796221775000_workeraaa",
    "tm_1796221780000_coordaaaa",
    "tm_1796221790000_hermesaaa",
    "tm_1796221795000_subcoorda",
];
const SESSIONS: [&str; 2] = [
    "sess_1796221801000_coordabcd",
    "sess_1796221802000_workerabc",
];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fs-store/tests/fixtures/ts-data-653bc6a")
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// GETs the fixture's members and sessions and checks each equals its file; then moves the
/// hermes member to `coordinated-coordinator` (the 653bc6a CLI's `team-member edit`) and
/// back to a legacy value, and reads the default coordinator with its four-mode override.
async fn serves_the_fixture(server: &ServerProc) {
    let c = client();
    for id in MEMBERS {
        let (st, body) = send(
            &c,
            Method::GET,
            &server.url(&format!("/api/team-members/{id}?projectId={P}")),
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let file = read(&fixture().join(format!("team-members/{P}/{id}.json")));
        assert_eq!(body, file, "member {id}");
    }
    for id in SESSIONS {
        let (st, body) = send(
            &c,
            Method::GET,
            &server.url(&format!("/api/sessions/{id}")),
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            body,
            read(&fixture().join(format!("sessions/{id}.json"))),
            "session {id}"
        );
    }
    let (_, coordinator) = send(
        &c,
        Method::GET,
        &server.url(&format!(
            "/api/team-members/tm_{P}_coordinator?projectId={P}"
        )),
        None,
    )
    .await;
    assert_eq!(coordinator["mode"], "coordinated-coordinator");
    assert_eq!(coordinator["agentTool"], "hermes");

    let hermes = MEMBERS[2];
    let url = server.url(&format!("/api/team-members/{hermes}"));
    let (st, body) = send(
        &c,
        Method::PATCH,
        &url,
        Some(json!({ "projectId": P, "mode": "coordinated-coordinator", "agentTool": "hermes" })),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["mode"], "coordinated-coordinator");
    assert_eq!(body["scope"], "project", "the 653bc6a keys are kept");
    let (_, again) = send(&c, Method::GET, &format!("{url}?projectId={P}"), None).await;
    assert_eq!(again, body);
    let (st, body) = send(
        &c,
        Method::PATCH,
        &url,
        Some(json!({ "projectId": P, "mode": "execute" })),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["mode"], "execute", "a legacy value is stored as sent");
}

#[tokio::test]
async fn a_653bc6a_data_directory_is_served_by_the_filesystem_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::copy_dir(&fixture(), &data);
    let server = ServerProc::start(&data, tmp.path(), &[]);
    serves_the_fixture(&server).await;
}

#[tokio::test]
async fn a_653bc6a_data_directory_imports_into_postgres() {
    let Some(db) = TestDb::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_maestro-server"))
        .args(["import-fs", "--data-dir", fixture().to_str().unwrap()])
        .env_clear()
        .env("HOME", tmp.path())
        .env("LOG_LEVEL", "warn")
        .env("DATABASE_URL", &db.url)
        .env("MAESTRO_POSTGRES__SCHEMA", &db.schema)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let server = ServerProc::start(&tmp.path().join("pg-data"), tmp.path(), &db.env());
    serves_the_fixture(&server).await;
}
