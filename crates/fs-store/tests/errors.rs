//! How filesystem failures surface through the ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use maestro_domain::DomainError;
use maestro_domain::ports::{ModalStore, TaskRepository};
use maestro_domain::testing::fixtures::{T0, task};
use maestro_fs_store::FsStore;

/// A write whose file must exist when it returns (modal HTML) reports a failed file write as
/// `STORE_UNAVAILABLE` (an I/O failure of the store, 503), with a message naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_write_failure_is_store_unavailable_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    // A regular file where the modal directory should be.
    std::fs::remove_dir_all(dir.path().join("modals")).ok();
    std::fs::write(dir.path().join("modals"), "not a directory").unwrap();
    let err = store.modals.save("modal_1", "<p>hi</p>").await.unwrap_err();
    assert_eq!(err.code(), "STORE_UNAVAILABLE");
    assert!(
        matches!(&err, DomainError::StoreUnavailable(m) if m.contains("modals")),
        "{err:?}"
    );
    // Other files are unaffected.
    store
        .tasks
        .insert(task("task_2", "p_ok", T0))
        .await
        .unwrap();
    store.flush().await.unwrap();
}

/// An entity change is acknowledged once journaled; when its file write then fails, nothing is
/// lost: the change is served, `flush` reports the file and keeps the journal, and the change
/// reaches its file once the directory is repaired (by the next write of that file, or by the
/// journal replay of the next open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_file_write_after_the_acknowledgement_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("tasks/p_blocked");
    let file = blocker.join("task_1.json");
    {
        let store = FsStore::open(dir.path()).await.unwrap();
        // A regular file where the project's task directory should be.
        std::fs::write(&blocker, "not a directory").unwrap();
        let t = store
            .tasks
            .insert(task("task_1", "p_blocked", T0))
            .await
            .unwrap();
        assert_eq!(store.tasks.get("task_1").await.unwrap(), Some(t));
        let err = store.flush().await.unwrap_err();
        assert!(err.to_string().contains("p_blocked"), "{err}");
        assert!(!file.exists());
        let health = store.health();
        assert_eq!(health.unwritten_files.len(), 1, "{health:?}");
        assert!(health.check().unwrap_err().contains("p_blocked"));
    }
    // Repaired: the next open replays the kept journal into the file.
    std::fs::remove_file(&blocker).unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(
        store.tasks.get("task_1").await.unwrap().unwrap().id,
        "task_1"
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(on_disk["id"], "task_1");
    store.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_files_are_skipped_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, body) in [
        ("tasks/p1/task_bad.json", "{"),
        ("sessions/sess_bad.json", "[]"),
        ("mail/mail_bad.json", "{\"id\": \"mail_bad\"}"),
        ("team-members/p1/tm_bad.json", "null"),
        ("ordering/task/p1.json", "{\"projectId\": \"p1\"}"),
        (
            "projects/../projects/x.json",
            "{\"id\": \"../evil\", \"name\": \"n\", \"createdAt\": 1, \"updatedAt\": 1}",
        ),
    ] {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
    }
    let store = FsStore::open(dir.path()).await.unwrap();
    assert!(store.tasks.is_empty());
    assert!(store.mail.all().is_empty());
    assert!(store.orderings.all().is_empty());
    assert!(dir.path().join("tasks/p1/task_bad.json").is_file());
    assert!(
        dir.path().join("projects/x.json").is_file(),
        "unsafe id skipped, file kept"
    );
    assert!(
        maestro_domain::ports::ProjectRepository::list(&*store.projects)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 12 item 2: a file whose write fails after the acknowledgement is written again by
/// itself once the cause is gone (no restart, no later change of it), and `/ready`'s health
/// says so meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_file_write_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("tasks/p_blocked");
    let file = blocker.join("task_1.json");
    let store = FsStore::open(dir.path()).await.unwrap();
    std::fs::write(&blocker, "not a directory").unwrap();
    store
        .tasks
        .insert(task("task_1", "p_blocked", T0))
        .await
        .unwrap();
    // Bounded real-time waits: the retry back-off starts at one second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.health().unwritten_files.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the failure is reported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(store.flush().await.is_err(), "the journal is kept");
    std::fs::remove_file(&blocker).unwrap();
    while !file.exists() || !store.health().unwritten_files.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the write is retried: {:?}",
            store.health()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.health().check().unwrap();
    store.flush().await.unwrap();
    assert!(
        !dir.path().join(".maestro-journal").exists()
            || std::fs::read_dir(dir.path().join(".maestro-journal"))
                .unwrap()
                .next()
                .is_none(),
        "checkpointed once every file holds its change"
    );
}

/// A legacy session that the start-up migration cannot re-save (here: its temp file's name
/// would exceed the file system's limit, a real ENAMETOOLONG that also stops root) is still
/// served, migrated, and its file is left as it was, to be migrated again at the next start.
/// It used to be skipped as if unreadable, so every legacy session of an unwritable
/// `sessions/` directory disappeared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_session_that_cannot_be_resaved_is_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = serde_json::json!({"id": "sess_legacy", "projectId": "p1", "taskId": "task_1",
        "status": "idle", "startedAt": 1, "lastActivity": 1});
    let name = format!("{}.json", "s".repeat(245));
    let path = dir.path().join("sessions").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes = serde_json::to_vec(&legacy).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let s = maestro_domain::ports::SessionRepository::get(&*store.sessions, "sess_legacy")
        .await
        .unwrap()
        .expect("the session is served");
    assert_eq!(s.task_ids, ["task_1"]);
    assert_eq!(s.name, "Session sess_legacy");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file left as it was");
}
