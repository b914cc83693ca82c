//! How filesystem failures surface through the ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as _;

use maestro_domain::DomainError;
use maestro_domain::ports::TaskRepository;
use maestro_domain::testing::fixtures::{T0, task};
use maestro_fs_store::FsStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_failure_is_internal_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    // A regular file where the project's task directory should be.
    std::fs::write(dir.path().join("tasks/p_blocked"), "not a directory").unwrap();
    let err = store
        .tasks
        .insert(task("task_1", "p_blocked", T0))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Internal { .. }), "{err:?}");
    assert_eq!(err.code(), "INTERNAL_ERROR");
    let mut chain = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    assert!(
        chain.iter().any(|m| m.contains("p_blocked")),
        "the cause names the file: {chain:?}"
    );
    // Other files are unaffected.
    store
        .tasks
        .insert(task("task_2", "p_ok", T0))
        .await
        .unwrap();
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
