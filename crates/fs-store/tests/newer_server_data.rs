//! A data directory written by the 653bc6a TypeScript server (`tests/fixtures/ts-data-653bc6a`,
//! hand-written from NEWER-CLI-REQUESTS §2.5, §4.2, §5, §6; issue 13 item 1): team members
//! with the four modes and hermes, an override of a default member with a four-mode value,
//! sessions whose spawn metadata carries the four modes and a `launchConfig`. Everything loads
//! as known values, is served as written and survives a write and a reload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use maestro_domain::entities::{AgentMode, AgentTool, Lenient, SessionPatch, TeamMember};
use maestro_domain::ports::{SessionRepository, TeamMemberRepository};
use maestro_fs_store::FsStore;
use serde_json::{Value, json};

use common::snapshot;

const P: &str = "proj_1796221753558_q9gnv4867";
const COORD_SESSION: &str = "sess_1796221801000_coordabcd";
const WORKER_SESSION: &str = "sess_1796221802000_workerabc";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ts-data-653bc6a")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn member_file(root: &Path, id: &str) -> PathBuf {
    root.join(format!("team-members/{P}/{id}.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_modes_and_hermes_load_as_known_values_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture_dir(), dir.path());
    let root = dir.path();
    let store = FsStore::open(root).await.unwrap();

    // Team members: each four-mode value and tool is a known one, served as written.
    let members = store.team_members.list_custom(P).await.unwrap();
    let modes: Vec<_> = members.iter().map(|m| m.mode.clone()).collect();
    assert_eq!(
        modes,
        [
            Some(Lenient::Known(AgentMode::Worker)),
            Some(Lenient::Known(AgentMode::Coordinator)),
            Some(Lenient::Known(AgentMode::CoordinatedWorker)),
            Some(Lenient::Known(AgentMode::CoordinatedCoordinator)),
        ]
    );
    let tools: Vec<_> = members.iter().map(|m| m.agent_tool.clone()).collect();
    assert_eq!(
        tools,
        [
            Some(Lenient::Known(AgentTool::Codex)),
            Some(Lenient::Known(AgentTool::ClaudeCode)),
            Some(Lenient::Known(AgentTool::Hermes)),
            Some(Lenient::Known(AgentTool::Gemini)),
        ]
    );
    for m in &members {
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            read_json(&member_file(root, &m.id)),
            "{} is served as stored",
            m.id
        );
    }
    let lead = &members[1];
    assert_eq!(lead.extra.get("modelProfileId"), Some(&json!("mp_heavy")));
    assert_eq!(lead.extra.get("scope"), Some(&json!("project")));
    let over = store
        .team_members
        .get_override(P, &format!("tm_{P}_coordinator"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(over["mode"], "coordinated-coordinator");
    assert_eq!(over["agentTool"], "hermes");

    // A write keeps the four-mode value and every key the 653bc6a server wrote.
    let hermes_id = members[2].id.clone();
    let mut changed: TeamMember = members[2].clone();
    changed.mode = Some(AgentMode::CoordinatedCoordinator.into());
    changed.updated_at = "2026-12-02T15:00:00.000Z".into();
    store.team_members.put_custom(changed).await.unwrap();

    // Sessions: the spawn metadata of the 653bc6a server, its top-level keys kept.
    let coord = store.sessions.get(COORD_SESSION).await.unwrap().unwrap();
    let meta = coord.metadata.clone().unwrap();
    assert_eq!(meta["mode"], "coordinator");
    assert_eq!(meta["launchConfig"]["accessMode"], "fullAccess");
    assert_eq!(coord.env["MAESTRO_MODE"], "coordinator");
    assert_eq!(
        coord.extra.get("teamId"),
        Some(&json!("team_1796221770000_teamaaaaa"))
    );
    let file = root.join(format!("sessions/{COORD_SESSION}.json"));
    assert_eq!(serde_json::to_value(&coord).unwrap(), read_json(&file));
    let worker = store.sessions.get(WORKER_SESSION).await.unwrap().unwrap();
    assert_eq!(
        worker.metadata.as_ref().unwrap()["mode"],
        "coordinated-worker"
    );
    assert_eq!(
        worker.metadata.as_ref().unwrap()["launchConfig"],
        json!({"provider": "hermes", "model": "hermes-default"})
    );
    store
        .sessions
        .update(
            WORKER_SESSION,
            &SessionPatch {
                status: Some(maestro_domain::entities::SessionStatus::Working),
                ..SessionPatch::default()
            },
            1_796_221_900_000,
        )
        .await
        .unwrap();
    store.flush().await.unwrap();

    // On disk: only what changed differs from the 653bc6a files.
    let mut expected = read_json(&member_file(&fixture_dir(), &hermes_id));
    expected["mode"] = json!("coordinated-coordinator");
    expected["updatedAt"] = json!("2026-12-02T15:00:00.000Z");
    assert_eq!(read_json(&member_file(root, &hermes_id)), expected);
    let mut expected = read_json(&fixture_dir().join(format!("sessions/{WORKER_SESSION}.json")));
    expected["status"] = json!("working");
    expected["lastActivity"] = json!(1_796_221_900_000_i64);
    assert_eq!(
        read_json(&root.join(format!("sessions/{WORKER_SESSION}.json"))),
        expected
    );

    // A reload reads back the same state.
    let live = snapshot(&store).await;
    drop(store);
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(snapshot(&reopened).await, live);
}
