//! The write-ahead journal through the store: group commit, write-behind and flush, and the
//! crash cases (a store that is never flushed stands for a process killed after its
//! acknowledgements; its journal is replayed by the next open).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use maestro_domain::entities::{Task, TaskPatch};
use maestro_domain::ports::TaskRepository;
use maestro_domain::testing::fixtures::{T0, task};
use maestro_fs_store::{FsStore, FsStoreOptions};
use serde_json::Value;
use tokio::task::JoinSet;

use common::snapshot;

/// Every file write is deferred for an hour: only the journal holds the changes.
fn deferred() -> FsStoreOptions {
    FsStoreOptions {
        write_behind_rate: 0,
        write_behind_delay: Duration::from_secs(3600),
        ..FsStoreOptions::default()
    }
}

fn segments(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root.join(".maestro-journal"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn on_disk(root: &Path, t: &Task) -> Option<Value> {
    let path = root.join(format!("tasks/{}/{}.json", t.project_id, t.id));
    let bytes = std::fs::read(path).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

fn json(t: &Task) -> Value {
    serde_json::to_value(t).unwrap()
}

/// What a load yields for `t`: an absent `taskSessionStatuses` becomes `{}` (ref §1.2).
fn loaded(mut t: Task) -> Option<Task> {
    t.task_session_statuses.get_or_insert_with(Default::default);
    Some(t)
}

async fn set_title(store: &FsStore, id: &str, title: &str) -> Task {
    let patch = TaskPatch {
        title: Some(title.into()),
        ..Default::default()
    };
    store.tasks.update(id, &patch, T0 + 1).await.unwrap()
}

/// (c) 64 concurrent updates are acknowledged after fewer than 64 journal syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_share_journal_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    for i in 0..64 {
        store
            .tasks
            .insert(task(&format!("task_{i:02}"), "p1", T0))
            .await
            .unwrap();
    }
    let before = store.journal_stats();
    let mut set = JoinSet::new();
    for i in 0..64 {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            let patch = TaskPatch {
                description: Some(format!("v{i}")),
                ..Default::default()
            };
            tasks.update(&format!("task_{i:02}"), &patch, T0 + 1).await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let after = store.journal_stats();
    let (records, syncs) = (after.records - before.records, after.syncs - before.syncs);
    assert_eq!(records, 64);
    assert!(syncs < 64, "{syncs} syncs for 64 concurrent updates");
    store.flush().await.unwrap();
    let reopened = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(snapshot(&store).await, snapshot(&reopened).await);
}

/// (d) `flush` makes every file current and durable, and removes the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_makes_files_current() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = FsStore::open_with(root, deferred()).await.unwrap();
    let mut live = Vec::new();
    for i in 0..20 {
        let t = store
            .tasks
            .insert(task(&format!("task_{i:02}"), &format!("p{}", i % 3), T0))
            .await
            .unwrap();
        live.push(t);
    }
    for t in live.iter_mut().take(5) {
        *t = set_title(&store, &t.id, "renamed").await;
    }
    store.tasks.delete("task_19").await.unwrap();
    live.pop();
    // Acknowledged, journaled, not yet in the files.
    assert!(live.iter().all(|t| on_disk(root, t).is_none()));
    assert_eq!(segments(root).len(), 1);

    store.flush().await.unwrap();
    for t in &live {
        assert_eq!(on_disk(root, t), Some(json(t)), "{}", t.id);
    }
    assert!(!root.join("tasks/p0/task_19.json").exists());
    assert!(segments(root).is_empty(), "{:?}", segments(root));
    assert_eq!(store.journal_stats().checkpoints, 1);
}

/// (b) Killed after the journal sync, before any file write: the next open has every
/// acknowledged change, in memory and in the files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_without_file_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    {
        let seed = FsStore::open(root).await.unwrap();
        for id in ["task_a", "task_b"] {
            seed.tasks.insert(task(id, "p1", T0)).await.unwrap();
        }
        seed.flush().await.unwrap();
    }
    let crashed = FsStore::open_with(root, deferred()).await.unwrap();
    let a = set_title(&crashed, "task_a", "journaled only").await;
    crashed.tasks.delete("task_b").await.unwrap();
    let c = crashed
        .tasks
        .insert(task("task_c", "p2", T0))
        .await
        .unwrap();
    assert_eq!(
        on_disk(root, &a).unwrap()["title"],
        "Task task_a",
        "file is stale"
    );
    assert_eq!(crashed.journal_stats().file_writes, 0);

    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(
        reopened.tasks.get("task_a").await.unwrap(),
        loaded(a.clone())
    );
    assert_eq!(reopened.tasks.get("task_b").await.unwrap(), None);
    assert_eq!(
        reopened.tasks.get("task_c").await.unwrap(),
        loaded(c.clone())
    );
    assert_eq!(on_disk(root, &a), Some(json(&a)));
    assert_eq!(on_disk(root, &c), Some(json(&c)));
    assert!(!root.join("tasks/p1/task_b.json").exists());
    assert!(segments(root).is_empty(), "replayed journal is deleted");
}

/// (a) A crash in the middle of an append leaves a torn last record: the replay stops before
/// it and keeps everything acknowledged earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_journal_tail_is_replayed_up_to_the_last_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let crashed = FsStore::open_with(root, deferred()).await.unwrap();
    crashed
        .tasks
        .insert(task("task_1", "p1", T0))
        .await
        .unwrap();
    let v2 = set_title(&crashed, "task_1", "v2").await;
    set_title(&crashed, "task_1", "v3 (torn)").await;
    // Cut the segment inside its last record (records are followed by zero fill).
    let seg = segments(root).pop().unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    std::fs::write(&seg, &bytes[..end - 40]).unwrap();

    let reopened = FsStore::open(root).await.unwrap();
    assert_eq!(
        reopened.tasks.get("task_1").await.unwrap(),
        loaded(v2.clone())
    );
    assert_eq!(on_disk(root, &v2), Some(json(&v2)));
}

/// Issue 12 item 8: one flipped byte in the middle of a 200-record journal used to stop the
/// replay there (100 tasks of 200) and delete the journal. Every record before and after the
/// damage is recovered, and the damaged segment is kept aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_mid_journal_loses_only_the_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let crashed = FsStore::open_with(root, deferred()).await.unwrap();
    let mut acked = Vec::new();
    for i in 0..200 {
        let t = task(&format!("task_{i:03}"), "p1", T0 + i);
        acked.push(crashed.tasks.insert(t).await.unwrap());
    }
    let seg = segments(root).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let used = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    bytes[used / 2] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();

    let reopened = FsStore::open(root).await.unwrap();
    let mut missing = Vec::new();
    for t in &acked {
        match reopened.tasks.get(&t.id).await.unwrap() {
            Some(got) => assert_eq!(Some(got), loaded(t.clone())),
            None => missing.push(t.id.clone()),
        }
    }
    assert_eq!(
        missing.len(),
        1,
        "only the damaged record is lost: {missing:?}"
    );
    let kept = segments(root);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let name = kept[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("damaged-"), "{name}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), bytes, "kept as it was");
    // The next start does not replay it again.
    drop(reopened);
    let again = FsStore::open(root).await.unwrap();
    assert_eq!(again.tasks.len(), 199);
}

/// Issue 12 item 2 (start-up): a journaled change whose file cannot be written makes `open`
/// fail with a message naming the file and the way out; the journal is kept, and once the
/// cause is fixed the change is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_refuses_to_drop_a_change_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let crashed = FsStore::open_with(root, deferred()).await.unwrap();
    let t = crashed
        .tasks
        .insert(task("task_1", "p_blocked", T0))
        .await
        .unwrap();
    drop(crashed);
    // A regular file where the project's task directory must go (a real ENOTDIR, also for
    // root, whom permission bits would not stop).
    let blocker = root.join("tasks/p_blocked");
    std::fs::write(&blocker, "in the way").unwrap();
    let journal = segments(root);
    assert_eq!(journal.len(), 1);

    let err = FsStore::open(root).await.err().expect("open must fail");
    let msg = err.to_string();
    for needle in [
        "tasks/p_blocked/task_1.json",
        "Not a directory",
        "move it aside, then start again",
        ".maestro-journal",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }
    assert_eq!(segments(root), journal, "the journal is kept");

    std::fs::remove_file(&blocker).unwrap();
    let store = FsStore::open(root).await.unwrap();
    assert_eq!(store.tasks.get("task_1").await.unwrap(), loaded(t.clone()));
    assert_eq!(on_disk(root, &t), Some(json(&t)));
    assert!(segments(root).is_empty());
}
