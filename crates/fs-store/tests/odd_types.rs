//! Fields the reference stored with an unexpected JSON type (`tests/fixtures/ts-data-odd-types`,
//! issue 12 item 9): every entity loads, its JSON is exactly the stored file, and writes of
//! other fields keep the odd values on disk, while a write of the field itself replaces it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use maestro_domain::entities::{
    OrderingEntityType, SessionPatch, TaskFilter, TaskPatch, TaskPriority, TaskSessionStatus,
};
use maestro_domain::ports::{
    MailRepository, OrderingRepository, ProjectRepository, SessionRepository, TaskRepository,
    TeamMemberRepository,
};
use maestro_fs_store::FsStore;
use serde_json::{Value, json};

const P: &str = "proj_1706810000000_oddtypes0";
const P2: &str = "proj_1706810000009_nullname0";
const T: &str = "task_1706810000001_oddtask00";
const T2: &str = "task_1706810000002_oddchild0";
const S: &str = "sess_1706810000003_oddsess00";
const M: &str = "tm_1706810000004_oddmember";
const ML: &str = "mail_1706810000005_oddmail00";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ts-data-odd-types")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Relative paths of the fixture's entity files.
fn files() -> Vec<String> {
    vec![
        format!("projects/{P}.json"),
        format!("projects/{P2}.json"),
        format!("tasks/{P}/{T}.json"),
        format!("tasks/{P}/{T2}.json"),
        format!("sessions/{S}.json"),
        format!("team-members/{P}/{M}.json"),
        format!("ordering/task/{P}.json"),
        format!("mail/{ML}.json"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_values_load_are_kept_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_dir(&fixture(), root);
    let store = FsStore::open(root).await.unwrap();

    // Everything loads, and serializes back to exactly what is stored.
    let projects = store.projects.list().await.unwrap();
    assert_eq!(projects.len(), 2, "{projects:?}");
    let tasks = store.tasks.list(&TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let served = [
        serde_json::to_value(store.projects.get(P).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(store.projects.get(P2).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(store.tasks.get(T).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(store.tasks.get(T2).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(store.sessions.get(S).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(store.team_members.get_custom(P, M).await.unwrap().unwrap()).unwrap(),
        serde_json::to_value(
            store
                .orderings
                .get(P, OrderingEntityType::Task)
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap(),
        serde_json::to_value(store.mail.get(ML).await.unwrap().unwrap()).unwrap(),
    ];
    for (file, value) in files().iter().zip(&served) {
        assert_eq!(value, &read(&root.join(file)), "{file}");
    }

    // Domain reads: empty / none of the known values.
    let task = store.tasks.get(T).await.unwrap().unwrap();
    assert_eq!(task.priority.known(), None);
    assert_eq!(task.description, "");
    assert_eq!(task.team_member_id, None);
    assert_eq!(task.session_status(S), None);
    let session = store.sessions.get(S).await.unwrap().unwrap();
    assert_eq!(
        session.env,
        BTreeMap::from([("MAESTRO_MODE".to_owned(), "execute".to_owned())])
    );
    assert!(!session.needs_input_active());
    assert_eq!(store.projects.get(P2).await.unwrap().unwrap().name, "");
    assert!(
        store
            .orderings
            .get(P, OrderingEntityType::Task)
            .await
            .unwrap()
            .unwrap()
            .ordered_ids
            .is_empty()
    );
    assert!(store.tasks.exists_by_project(P).await.unwrap());

    // A write of other fields keeps the odd values, in memory and on disk; a write of the
    // field itself replaces it.
    let now = 1_706_820_000_000;
    let patched = store
        .tasks
        .update(
            T,
            &TaskPatch {
                title: Some("Renamed".into()),
                ..TaskPatch::default()
            },
            now,
        )
        .await
        .unwrap();
    let as_json = serde_json::to_value(&patched).unwrap();
    assert_eq!(
        (
            &as_json["priority"],
            &as_json["description"],
            &as_json["teamMemberId"]
        ),
        (&json!(5), &Value::Null, &Value::Null)
    );
    store
        .tasks
        .set_session_status(T, "sess_other", TaskSessionStatus::Working, now)
        .await
        .unwrap();
    store
        .sessions
        .update(
            S,
            &SessionPatch {
                env: Some(BTreeMap::from([("B".to_owned(), "b".to_owned())])),
                ..SessionPatch::default()
            },
            now,
        )
        .await
        .unwrap();
    store
        .tasks
        .update(
            T2,
            &TaskPatch {
                priority: Some(TaskPriority::High),
                title: Some("Titled".into()),
                ..TaskPatch::default()
            },
            now,
        )
        .await
        .unwrap();
    store.flush().await.unwrap();

    let t = read(&root.join(format!("tasks/{P}/{T}.json")));
    assert_eq!(t["title"], "Renamed");
    assert_eq!(t["priority"], 5);
    assert_eq!(t["description"], Value::Null);
    assert_eq!(t["teamMemberId"], Value::Null);
    assert_eq!(t["pinned"], "yes");
    assert_eq!(
        t["taskSessionStatuses"],
        json!({ S: 3, "sess_other": "working" })
    );
    let s = read(&root.join(format!("sessions/{S}.json")));
    assert_eq!(
        s["env"],
        json!({ "A": 1, "B": "b", "MAESTRO_MODE": "execute" })
    );
    assert_eq!(s["timeline"][1]["message"], 50);
    assert_eq!(s["timeline"][1]["timestamp"], "1706810000020");
    assert_eq!(s["needsInput"]["active"], "yes");
    assert_eq!(s["metadata"], Value::Null);
    let t2 = read(&root.join(format!("tasks/{P}/{T2}.json")));
    assert_eq!(
        (&t2["title"], &t2["priority"]),
        (&json!("Titled"), &json!("high"))
    );
    assert_eq!(t2["skillIds"], "maestro-worker");

    // And a reload reads the same.
    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(
        reopened.tasks.get(T).await.unwrap(),
        store.tasks.get(T).await.unwrap()
    );
    assert_eq!(
        reopened.sessions.get(S).await.unwrap(),
        store.sessions.get(S).await.unwrap()
    );
}
