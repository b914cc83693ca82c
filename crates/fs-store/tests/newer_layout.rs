//! A data directory in the layout of the newer TypeScript server (653bc6a,
//! `/work/refcli/NEWER-CLI-REQUESTS.md` §6; hand-written in `tests/fixtures/ts-data-653bc6a-fields`):
//! global team members in `team-members/__global__/`, tasks with `teamId` / `dueDate`, docs
//! with `kind` whose content lives in `session-docs/<sessionId>/<docId>.md|.excalidraw`, a
//! master project, and directories this server does not use. It loads, nothing is rewritten
//! by the load, every entity written back unchanged keeps its content, and a scope change
//! moves a member's file between `__global__/` and its project.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use maestro_domain::entities::{
    DocKind, GLOBAL_MEMBERS, MemberScope, ProjectPatch, SessionPatch, TaskFilter, TaskPatch,
    member_keys,
};
use maestro_domain::ports::{
    OrderingRepository, ProjectRepository, SessionRepository, TaskRepository, TeamMemberRepository,
};
use maestro_fs_store::FsStore;
use serde_json::{Value, json};

use common::snapshot;

const P: &str = "proj_1782000000000_master001";
const P2: &str = "proj_1782000100000_appaaa001";
const TV: &str = "task_1782000200000_voicedir1";
const TT: &str = "task_1782000300000_teamtask1";
const TC: &str = "task_1782000310000_childtsk1";
const S1: &str = "sess_1782000500000_workerss1";
const TMG: &str = "tm_1782000600000_globalbt1";
const TMP: &str = "tm_1782000610000_profiled1";
const ALEXA: &str = "tm_system_alexa_coordinator";
const TEAM: &str = "team_1782000400000_teamaaa01";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ts-data-653bc6a-fields")
}

/// Every file under `dir` outside the store's journal, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
            if rel.starts_with(".maestro-journal") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                out.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

async fn open_copy() -> (tempfile::TempDir, FsStore, BTreeMap<PathBuf, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture_dir(), dir.path());
    let original = files(dir.path());
    let store = FsStore::open(dir.path()).await.unwrap();
    (dir, store, original)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_the_newer_layout_without_rewriting_it() {
    let (dir, store, original) = open_copy().await;
    store.flush().await.unwrap();
    let after_open = files(dir.path());
    for (rel, bytes) in &original {
        assert_eq!(
            after_open.get(rel),
            Some(bytes),
            "{} changed by the load",
            rel.display()
        );
    }

    // Projects: the master flag.
    let master = store.projects.get(P).await.unwrap().unwrap();
    assert_eq!(master.is_master(), Some(true));
    let app = store.projects.get(P2).await.unwrap().unwrap();
    assert_eq!(app.is_master(), Some(false));

    // Tasks: `teamId` / `dueDate` as stored (a value or null), the other newer keys kept.
    let team_task = store.tasks.get(TT).await.unwrap().unwrap();
    assert_eq!(team_task.team_id(), Some(TEAM));
    assert_eq!(team_task.due_date(), Some("2026-08-01"));
    assert_eq!(team_task.extra["useWorktree"], json!(true));
    assert!(team_task.extra["memberOverrides"][TMG].is_object());
    let child = store.tasks.get(TC).await.unwrap().unwrap();
    assert_eq!(child.parent_id.as_deref(), Some(TT));
    assert_eq!((child.team_id(), child.due_date()), (None, None));
    assert_eq!(child.extra["dueDate"], Value::Null);
    let voice = store.tasks.get(TV).await.unwrap().unwrap();
    assert_eq!(voice.extra["teamId"], Value::Null);
    assert_eq!(
        voice.extra["clientRequestId"],
        json!("system-voice-directives-task")
    );

    // Sessions: docs with kind and content file, the newer session keys.
    let s = store.sessions.get(S1).await.unwrap().unwrap();
    assert_eq!(s.extra["rootSessionId"], json!(S1));
    assert_eq!(s.extra["teamId"], json!(TEAM));
    let diagram = &s.docs[0];
    assert!(diagram.is_diagram());
    assert_eq!(diagram.kind, Some(DocKind::Diagram.into()));
    assert_eq!(diagram.content, None);
    assert!(
        diagram
            .content_file_path
            .as_deref()
            .unwrap()
            .ends_with("doc_1782000520000_diagram01.excalidraw")
    );
    let content = store.sessions.doc_content(S1, diagram).await.unwrap();
    assert_eq!(
        content.as_deref(),
        Some(
            r#"{"type":"excalidraw","version":2,"elements":[{"id":"box1","type":"rectangle","x":10,"y":20}],"appState":{}}"#
        )
    );
    let notes = &s.docs[1];
    assert_eq!(notes.kind, None);
    assert_eq!(
        store
            .sessions
            .doc_content(S1, notes)
            .await
            .unwrap()
            .as_deref(),
        Some("# Notes\n\nThe store keeps **docs** in files.\n")
    );
    // The content is read from this data directory's `session-docs/` whatever the stored
    // (absolute, other-machine) path says, and only under the doc's own name.
    let mut elsewhere = notes.clone();
    elsewhere.content_file_path = Some("/etc/passwd".into());
    assert_eq!(
        store
            .sessions
            .doc_content(S1, &elsewhere)
            .await
            .unwrap()
            .as_deref(),
        Some("# Notes\n\nThe store keeps **docs** in files.\n"),
        "an unexpected stored path falls back to <docId>.md"
    );
    let mut missing = notes.clone();
    missing.id = "doc_missing".into();
    assert_eq!(
        store.sessions.doc_content(S1, &missing).await.unwrap(),
        None
    );

    // Team members: the global one under the global home (its projectId is the project it
    // was created in), the project ones, the system member, overrides of defaults.
    let globals = store
        .team_members
        .list_custom(GLOBAL_MEMBERS)
        .await
        .unwrap();
    assert_eq!(globals.len(), 1);
    let g = &globals[0];
    assert_eq!((g.id.as_str(), g.project_id.as_str()), (TMG, P2));
    assert!(g.is_global());
    assert_eq!(g.model_profile_id(), Some("mp_heavy"));
    assert_eq!(g.mode.as_ref().map(|m| m.as_str()), Some("coordinator"));
    assert_eq!(g.agent_tool.as_ref().map(|m| m.as_str()), Some("hermes"));
    let in_p2 = store.team_members.list_custom(P2).await.unwrap();
    assert_eq!(
        in_p2.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [TMP]
    );
    assert_eq!(in_p2[0].model_profile_id(), Some("mp_balanced"));
    assert_eq!(
        store.team_members.find_custom(TMG).await.unwrap().as_ref(),
        Some(g)
    );
    let alexa = store
        .team_members
        .get_custom(P, ALEXA)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alexa.extra["systemKind"], json!("alexa-coordinator"));
    let standup = store
        .team_members
        .get_override(P2, &format!("tm_{P2}_standup"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(standup["role"], json!("Daily standup host"));

    let live = snapshot(&store).await;
    let reopened = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(live, snapshot(&reopened).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_written_back_keep_their_content() {
    let (dir, store, original) = open_copy().await;
    let root = dir.path();

    // Rewrite every entity without changing it.
    for p in store.projects.list().await.unwrap() {
        store
            .projects
            .update(&p.id, &ProjectPatch::default(), p.updated_at)
            .await
            .unwrap();
    }
    for t in store.tasks.list(&TaskFilter::default()).await.unwrap() {
        store
            .tasks
            .update(&t.id, &TaskPatch::default(), t.updated_at)
            .await
            .unwrap();
    }
    let s = store.sessions.get(S1).await.unwrap().unwrap();
    store
        .sessions
        .update(S1, &SessionPatch::default(), s.last_activity)
        .await
        .unwrap();
    store.sessions.upsert(s).await.unwrap();
    for m in store.team_members.all_custom() {
        store.team_members.put_custom(m).await.unwrap();
    }
    for (p, id, over) in store.team_members.all_overrides() {
        store
            .team_members
            .put_override(&p, &id, over)
            .await
            .unwrap();
    }
    let o = store
        .orderings
        .get(P2, maestro_domain::entities::OrderingEntityType::Task)
        .await
        .unwrap()
        .unwrap();
    store.orderings.save(o).await.unwrap();
    store.flush().await.unwrap();

    // Same files, same content (our files are pretty-printed, the reference's compact).
    let now = files(root);
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        original.keys().collect::<Vec<_>>(),
        "no file added or removed"
    );
    for (rel, bytes) in &original {
        let after = &now[rel];
        if rel.extension().is_some_and(|e| e == "json") {
            assert_eq!(
                json_of(after),
                json_of(bytes),
                "{} changed content",
                rel.display()
            );
        } else {
            assert_eq!(after, bytes, "{} changed", rel.display());
        }
    }
    let live = snapshot(&store).await;
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(live, snapshot(&reopened).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_change_moves_the_member_file() {
    let (dir, store, _) = open_copy().await;
    let root = dir.path();
    let global_file = root.join(format!("team-members/__global__/{TMG}.json"));
    let project_file = root.join(format!("team-members/{P2}/{TMG}.json"));

    let mut g = store.team_members.find_custom(TMG).await.unwrap().unwrap();
    g.extra.insert(
        member_keys::SCOPE.to_owned(),
        json!(MemberScope::Project.as_str()),
    );
    store.team_members.put_custom(g.clone()).await.unwrap();
    store.flush().await.unwrap();
    assert!(!global_file.exists(), "left __global__/");
    assert_eq!(
        json_of(&fs::read(&project_file).unwrap())["scope"],
        "project"
    );
    assert_eq!(
        store.team_members.get_custom(P2, TMG).await.unwrap(),
        Some(g.clone())
    );

    g.extra.insert(
        member_keys::SCOPE.to_owned(),
        json!(MemberScope::Global.as_str()),
    );
    store.team_members.put_custom(g.clone()).await.unwrap();
    store.flush().await.unwrap();
    assert!(!project_file.exists(), "left the project directory");
    assert_eq!(json_of(&fs::read(&global_file).unwrap())["scope"], "global");

    store
        .team_members
        .delete_custom(GLOBAL_MEMBERS, TMG)
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert!(!global_file.exists());
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(reopened.team_members.find_custom(TMG).await.unwrap(), None);
}

/// A member file in a directory that is not its home (a global member written to a project
/// directory) loads, and its next write moves it home.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_outside_its_home_moves_there_on_its_next_write() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture_dir(), dir.path());
    let root = dir.path();
    let global_file = root.join(format!("team-members/__global__/{TMG}.json"));
    let stray = root.join(format!("team-members/{P}/{TMG}.json"));
    fs::rename(&global_file, &stray).unwrap();

    let store = FsStore::open(root).await.unwrap();
    let g = store
        .team_members
        .get_custom(GLOBAL_MEMBERS, TMG)
        .await
        .unwrap()
        .expect("a global member is global wherever its file is");
    store.team_members.put_custom(g).await.unwrap();
    store.flush().await.unwrap();
    assert!(global_file.is_file());
    assert!(!stray.exists());
}
