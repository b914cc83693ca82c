//! Compatibility with a data directory written by the TypeScript server
//! (`tests/fixtures/ts-data`, ref §1, §6.2): every entity kind, unknown fields, and the
//! legacy shapes of ref §3.9.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use maestro_domain::entities::{
    MailType, OrderingEntityType, ProjectPatch, SessionPatch, SessionStatus, TaskFilter, TaskPatch,
    TaskSessionStatus, TaskStatus,
};
use maestro_domain::ports::{
    MailRepository, OrderingRepository, ProjectRepository, SessionRepository, TaskRepository,
    TeamMemberRepository,
};
use maestro_fs_store::FsStore;
use serde_json::{Value, json};

use common::snapshot;

const P: &str = "proj_1706789123456_abc123def";
const P2: &str = "proj_1706789234567_zzz999xyz";
const S1: &str = "sess_1706792222222_lmn678abc";
const S2: &str = "sess_1706793333333_opq901xyz";
const TA: &str = "task_1706790000000_aaaaaaaaa";
const TB: &str = "task_1706790111111_bbbbbbbbb";
const TC: &str = "task_1706790222222_ccccccccc";
const TD: &str = "task_1706790333333_ddddddddd";
const TM: &str = "tm_1706795555555_qqqqqqqqq";
const M1: &str = "mail_1706796666666_rrrrrrrrr";
const M2: &str = "mail_1706796777777_uuuuuuuuu";
const M3: &str = "mail_1706797777777_sssssssss";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ts-data")
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

async fn open_copy() -> (tempfile::TempDir, FsStore, BTreeMap<PathBuf, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture_dir(), dir.path());
    let original = files(dir.path());
    let store = FsStore::open(dir.path()).await.unwrap();
    (dir, store, original)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_and_migrates_the_reference_layout() {
    let (dir, store, original) = open_copy().await;
    let root = dir.path();
    let after_open = files(root);

    // Projects: the corrupt file is skipped and left alone; unknown keys are kept.
    let projects = store.projects.list().await.unwrap();
    assert_eq!(
        projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [P, P2]
    );
    assert_eq!(projects[0].extra.get("color"), Some(&json!("blue")));
    assert_eq!(
        projects[1].extra.get("customMeta"),
        Some(&json!({"tags": ["a", "b"], "n": 1.5}))
    );
    let broken = PathBuf::from("projects/broken.json");
    assert_eq!(after_open.get(&broken), original.get(&broken));

    // Tasks.
    let a = store.tasks.get(TA).await.unwrap().expect("task A");
    assert_eq!(a.status, TaskStatus::InProgress);
    assert_eq!(
        a.session_status(S2),
        Some(&TaskSessionStatus::Completed.into())
    );
    assert_eq!(a.reference_task_ids, Some(vec![TB.to_owned()]));
    assert_eq!(a.pinned, Some(true));
    assert_eq!(
        a.extra.get("estimate"),
        Some(&json!({"points": 3, "unit": "days"}))
    );
    let b = store.tasks.get(TB).await.unwrap().expect("legacy task B");
    assert_eq!(b.parent_id.as_deref(), Some(TA));
    assert!(b.skill_ids.is_empty() && b.agent_ids.is_empty());
    assert_eq!(b.reference_task_ids, Some(vec![]));
    assert_eq!(
        b.task_session_statuses,
        Some(BTreeMap::from([(
            S1.to_owned(),
            TaskSessionStatus::Blocked.into()
        )]))
    );
    assert!(!b.extra.contains_key("sessionStatus"), "{:?}", b.extra);
    let b_file = PathBuf::from(format!("tasks/{P}/{TB}.json"));
    assert_eq!(
        after_open.get(&b_file),
        original.get(&b_file),
        "task migrations are in memory only"
    );
    assert_eq!(store.tasks.get(TC).await.unwrap(), None, "team-member task");
    assert!(!root.join(format!("tasks/{P}/{TC}.json")).exists());
    let d = store.tasks.get(TD).await.unwrap().expect("root-level task");
    assert_eq!(d.project_id, P);
    assert_eq!(d.task_session_statuses, Some(BTreeMap::new()));
    let roots = store
        .tasks
        .list(&TaskFilter {
            project_id: Some(P.into()),
            parent_id: Some(None),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        roots.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [TA, TD]
    );

    // Sessions: a complete one is untouched; the legacy one is migrated and re-saved.
    let s1 = store.sessions.get(S1).await.unwrap().expect("session 1");
    assert_eq!(s1.status, SessionStatus::Working);
    assert_eq!(
        (s1.events.len(), s1.timeline.len(), s1.docs.len()),
        (1, 2, 1)
    );
    assert!(s1.needs_input_active());
    assert_eq!(
        s1.team_member_snapshot.as_ref().map(|s| s.avatar.as_str()),
        Some("🦀")
    );
    assert_eq!(
        s1.extra.get("x-ui-state"),
        Some(&json!({"collapsed": false}))
    );
    let s1_file = PathBuf::from(format!("sessions/{S1}.json"));
    assert_eq!(after_open.get(&s1_file), original.get(&s1_file));
    let s2 = store
        .sessions
        .get(S2)
        .await
        .unwrap()
        .expect("legacy session");
    assert_eq!(s2.task_ids, [TA]);
    assert_eq!(s2.name, format!("Session {S2}"));
    assert!(s2.env.is_empty() && s2.events.is_empty() && s2.docs.is_empty());
    assert_eq!(s2.timeline.len(), 1);
    assert!(
        s2.extra.is_empty(),
        "strategy and taskId are gone: {:?}",
        s2.extra
    );
    let s2_disk = read_json(&root.join(format!("sessions/{S2}.json")));
    assert_eq!(s2_disk["taskIds"], json!([TA]));
    assert_eq!(s2_disk["name"], json!(format!("Session {S2}")));
    assert!(s2_disk.get("strategy").is_none() && s2_disk.get("taskId").is_none());
    assert_eq!(s2_disk["env"], json!({}));

    // Orderings.
    let o = store
        .orderings
        .get(P, OrderingEntityType::Task)
        .await
        .unwrap()
        .expect("task ordering");
    assert_eq!(o.ordered_ids, [TD, TA, TB]);
    assert!(
        store
            .orderings
            .get(P, OrderingEntityType::Session)
            .await
            .unwrap()
            .is_some()
    );

    // Team members: the custom one (with unknown keys), and the override apart.
    let custom = store.team_members.list_custom(P).await.unwrap();
    assert_eq!(custom.len(), 1, "override files are not custom members");
    assert_eq!(custom[0].id, TM);
    assert_eq!(custom[0].memory, Some(vec!["prefer std".to_owned()]));
    assert_eq!(
        custom[0].extra.get("favouriteColour"),
        Some(&json!("orange"))
    );
    let over = store
        .team_members
        .get_override(P, &format!("tm_{P}_coordinator"))
        .await
        .unwrap()
        .expect("override");
    assert_eq!(over.get("name"), Some(&json!("Chief")));

    // Mail: legacy files converted to flat typed mail, legacy files removed.
    let m1 = store.mail.get(M1).await.unwrap().expect("converted mail 1");
    assert_eq!(m1.project_id, P, "project of the target session");
    assert_eq!(m1.to_session_id.as_deref(), Some(S1));
    assert_eq!(m1.from_session_id, S2);
    assert_eq!(m1.kind, MailType::Notification);
    assert_eq!(m1.thread_id, M1);
    assert_eq!(m1.reply_to_mail_id, None);
    assert_eq!(m1.subject, "Please review");
    assert_eq!(
        m1.body,
        json!({"fromName": "Coordinator", "message": "Please review", "detail": "see PR 12"})
    );
    assert_eq!(m1.read_at, None);
    let m2 = store.mail.get(M2).await.unwrap().expect("converted mail 2");
    assert_eq!(m2.project_id, "", "unknown target session");
    assert_eq!(m2.read_at, Some(1706796888888));
    assert!(root.join(format!("mail/{M1}.json")).is_file());
    assert!(!root.join(format!("mail/{S1}/{M1}.json")).exists());
    assert!(
        !root.join(format!("mail/{S1}")).exists(),
        "empty legacy dir removed"
    );
    let unread = store.mail.unread_direct(S1).await.unwrap();
    assert_eq!(unread.len(), 1);
    let m3 = store.mail.get(M3).await.unwrap().expect("typed mail");
    assert_eq!(m3.to_session_id, None);
    assert_eq!(m3.extra.get("x-trace"), Some(&json!("abc")));

    // Re-opening gives the same state.
    let live = snapshot(&store).await;
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(live, snapshot(&reopened).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_op_writes_are_byte_identical() {
    let (dir, store, original) = open_copy().await;
    let root = dir.path();

    let p = store.projects.get(P).await.unwrap().unwrap();
    store
        .projects
        .update(P, &ProjectPatch::default(), p.updated_at)
        .await
        .unwrap();
    let a = store.tasks.get(TA).await.unwrap().unwrap();
    store
        .tasks
        .update(TA, &TaskPatch::default(), a.updated_at)
        .await
        .unwrap();
    let s1 = store.sessions.get(S1).await.unwrap().unwrap();
    store
        .sessions
        .update(S1, &SessionPatch::default(), s1.last_activity)
        .await
        .unwrap();
    store.sessions.upsert(s1).await.unwrap();
    for kind in [OrderingEntityType::Task, OrderingEntityType::Session] {
        let o = store.orderings.get(P, kind).await.unwrap().unwrap();
        store.orderings.save(o).await.unwrap();
    }
    let m = store.team_members.get_custom(P, TM).await.unwrap().unwrap();
    store.team_members.put_custom(m).await.unwrap();
    let default_id = format!("tm_{P}_coordinator");
    let over = store
        .team_members
        .get_override(P, &default_id)
        .await
        .unwrap()
        .unwrap();
    store
        .team_members
        .put_override(P, &default_id, over)
        .await
        .unwrap();
    let m3 = store.mail.get(M3).await.unwrap().unwrap();
    store.mail.insert(m3).await.unwrap();
    store.flush().await.unwrap();

    let now = files(root);
    for rel in [
        format!("projects/{P}.json"),
        format!("tasks/{P}/{TA}.json"),
        format!("sessions/{S1}.json"),
        format!("ordering/task/{P}.json"),
        format!("ordering/session/{P}.json"),
        format!("team-members/{P}/{TM}.json"),
        format!("team-members/{P}/{default_id}.override.json"),
        format!("mail/{M3}.json"),
    ] {
        let rel = PathBuf::from(rel);
        assert_eq!(
            now.get(&rel)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            original
                .get(&rel)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            "{} changed",
            rel.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_survive_updates_and_legacy_files_move() {
    let (dir, store, _) = open_copy().await;
    let root = dir.path();

    // Unknown key in the middle of the object: kept (at the end) through an update.
    let patch = ProjectPatch {
        name: Some("Side project".into()),
        ..Default::default()
    };
    store
        .projects
        .update(P2, &patch, 1706800000000)
        .await
        .unwrap();
    store.flush().await.unwrap();
    let disk = read_json(&root.join(format!("projects/{P2}.json")));
    assert_eq!(disk["name"], json!("Side project"));
    assert_eq!(disk["customMeta"], json!({"tags": ["a", "b"], "n": 1.5}));

    // Legacy task: the migrated fields are written with the first update.
    store
        .tasks
        .set_session_status(TB, S2, TaskSessionStatus::Working, 1706800000001)
        .await
        .unwrap();
    store.flush().await.unwrap();
    let disk = read_json(&root.join(format!("tasks/{P}/{TB}.json")));
    assert!(disk.get("sessionStatus").is_none());
    assert_eq!(
        disk["taskSessionStatuses"],
        json!({S1: "blocked", S2: "working"})
    );
    assert_eq!(disk["skillIds"], json!([]));

    // Root-level task: the next save goes to the project dir, then the root file goes.
    let patch = TaskPatch {
        title: Some("Moved".into()),
        ..Default::default()
    };
    store.tasks.update(TD, &patch, 1706800000002).await.unwrap();
    store.flush().await.unwrap();
    assert!(root.join(format!("tasks/{P}/{TD}.json")).is_file());
    assert!(!root.join(format!("tasks/{TD}.json")).exists());
    store.tasks.update(TD, &patch, 1706800000003).await.unwrap();

    // Session unknown key through an append (both sides of the link, as the service does:
    // a one-sided link would be repaired by the reopen below).
    store
        .sessions
        .add_task(S1, TD, 1706800000004)
        .await
        .unwrap();
    store
        .tasks
        .add_session(TD, S1, 1706800000004)
        .await
        .unwrap();
    store.flush().await.unwrap();
    let disk = read_json(&root.join(format!("sessions/{S1}.json")));
    assert_eq!(disk["x-ui-state"], json!({"collapsed": false}));

    let live = snapshot(&store).await;
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(live, snapshot(&reopened).await);
    let d = reopened.tasks.get(TD).await.unwrap().unwrap();
    assert_eq!(d.title, "Moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_legacy_root_task_removes_its_file() {
    let (dir, store, _) = open_copy().await;
    store.tasks.delete(TD).await.unwrap();
    store.flush().await.unwrap();
    assert!(!dir.path().join(format!("tasks/{TD}.json")).exists());
    let reopened = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(reopened.tasks.get(TD).await.unwrap(), None);
}
