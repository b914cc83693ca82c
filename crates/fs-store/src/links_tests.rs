#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use maestro_domain::entities::{Session, Task, TaskSessionStatus};
use maestro_domain::ports::{SessionRepository, TaskRepository};
use maestro_domain::testing::fixtures::{T0, session, task};

use crate::FsStore;
use crate::op::to_json;

fn put(root: &Path, rel: &str, bytes: Vec<u8>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn put_task(root: &Path, id: &str, sessions: &[&str]) -> Task {
    let mut t = task(id, "p1", T0);
    t.session_ids = sessions.iter().map(|s| (*s).to_owned()).collect();
    t.task_session_statuses = Some(Default::default());
    put(root, &format!("tasks/p1/{id}.json"), to_json(&t).unwrap());
    t
}

fn put_session(root: &Path, id: &str, tasks: &[&str]) -> Session {
    let mut s = session(id, "p1", T0);
    s.task_ids = tasks.iter().map(|t| (*t).to_owned()).collect();
    put(root, &format!("sessions/{id}.json"), to_json(&s).unwrap());
    s
}

fn on_disk<T: serde::de::DeserializeOwned>(root: &Path, rel: &str) -> T {
    serde_json::from_slice(&fs::read(root.join(rel)).unwrap()).unwrap()
}

/// Every shape an interrupted link change leaves, written by hand: the missing side is
/// restored in memory and on disk, dangling references stay, nothing else changes, and a
/// second open finds nothing to repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sided_links_are_restored_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Create (or add-task) interrupted: the session lists t1, t1 does not list it.
    put_session(root, "s_create", &["t1", "t2"]);
    put_task(root, "t1", &[]);
    put_task(root, "t2", &["s_create"]);
    // Remove-task interrupted: t3 still lists s_remove, the session no longer lists t3.
    put_session(root, "s_remove", &[]);
    put_task(root, "t3", &["s_remove"]);
    // Session delete interrupted: t6 was unlinked (its status dropped), the session is left.
    put_session(root, "s_delete", &["t5", "t6"]);
    let mut t5 = task("t5", "p1", T0);
    t5.session_ids = vec!["s_delete".into()];
    t5.set_session_status("s_delete", TaskSessionStatus::Working, T0);
    put(root, "tasks/p1/t5.json", to_json(&t5).unwrap());
    put_task(root, "t6", &[]);
    // Dangling references (task deleted before its sessions were unlinked, and the reverse).
    put_session(root, "s_dangling", &["t_gone"]);
    put_task(root, "t4", &["s_gone"]);

    let store = FsStore::open(root).await.unwrap();
    let task_sessions = |t: Option<Task>| t.unwrap().session_ids;
    let session_tasks = |s: Option<Session>| s.unwrap().task_ids;
    assert_eq!(
        task_sessions(store.tasks.get("t1").await.unwrap()),
        ["s_create"]
    );
    assert_eq!(
        task_sessions(store.tasks.get("t2").await.unwrap()),
        ["s_create"]
    );
    assert_eq!(
        session_tasks(store.sessions.get("s_remove").await.unwrap()),
        ["t3"]
    );
    assert_eq!(
        task_sessions(store.tasks.get("t6").await.unwrap()),
        ["s_delete"]
    );
    assert_eq!(
        session_tasks(store.sessions.get("s_dangling").await.unwrap()),
        ["t_gone"]
    );
    assert_eq!(
        task_sessions(store.tasks.get("t4").await.unwrap()),
        ["s_gone"]
    );
    // On disk too, with the timestamps as they were.
    let t1: Task = on_disk(root, "tasks/p1/t1.json");
    assert_eq!(t1.session_ids, ["s_create"]);
    assert_eq!(t1.updated_at, task("t1", "p1", T0).updated_at);
    let s_remove: Session = on_disk(root, "sessions/s_remove.json");
    assert_eq!(s_remove.task_ids, ["t3"]);
    assert_eq!(s_remove.last_activity, session("s", "p1", T0).last_activity);
    let t6: Task = on_disk(root, "tasks/p1/t6.json");
    assert_eq!(t6.session_ids, ["s_delete"]);
    drop(store);

    // Idempotent: a second open repairs nothing (no file changes).
    let before: Vec<_> = [
        "tasks/p1/t1.json",
        "sessions/s_remove.json",
        "tasks/p1/t6.json",
    ]
    .iter()
    .map(|rel| fs::read(root.join(rel)).unwrap())
    .collect();
    let again = FsStore::open(root).await.unwrap();
    assert_eq!(
        task_sessions(again.tasks.get("t1").await.unwrap()),
        ["s_create"]
    );
    let after: Vec<_> = [
        "tasks/p1/t1.json",
        "sessions/s_remove.json",
        "tasks/p1/t6.json",
    ]
    .iter()
    .map(|rel| fs::read(root.join(rel)).unwrap())
    .collect();
    assert_eq!(before, after);
}

/// Several sessions missing from one task are added in one write, oldest session first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_missing_sides_of_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut late = session("s_b", "p1", T0 + 5);
    late.task_ids = vec!["t1".into()];
    put(root, "sessions/s_b.json", to_json(&late).unwrap());
    put_session(root, "s_a", &["t1"]);
    put_task(root, "t1", &[]);
    let store = FsStore::open(root).await.unwrap();
    let t1 = store.tasks.get("t1").await.unwrap().unwrap();
    assert_eq!(t1.session_ids, ["s_a", "s_b"]);
    let on: Task = on_disk(root, "tasks/p1/t1.json");
    assert_eq!(on.session_ids, ["s_a", "s_b"]);
}
