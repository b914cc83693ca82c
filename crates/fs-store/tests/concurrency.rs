//! Concurrent mutations through the filesystem store on a multi-threaded runtime, checked in
//! memory and after a re-open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use maestro_domain::entities::{TaskFilter, TaskPatch, TaskSessionStatus};
use maestro_domain::ports::TaskRepository;
use maestro_domain::testing::fixtures::{T0, task};
use maestro_fs_store::FsStore;
use tokio::task::JoinSet;

use common::snapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_session_statuses_on_one_task_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store.tasks.insert(task("task_1", "p1", T0)).await.unwrap();

    let mut set = JoinSet::new();
    for i in 0..100 {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            let status = if i % 2 == 0 {
                TaskSessionStatus::Completed
            } else {
                TaskSessionStatus::Failed
            };
            tasks
                .set_session_status("task_1", &format!("sess_{i:03}"), status, T0 + i)
                .await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let t = store.tasks.get("task_1").await.unwrap().unwrap();
    assert_eq!(t.task_session_statuses.as_ref().unwrap().len(), 100);

    // Every call returned after a durable write that contained its change: the file already
    // holds all 100 entries, without a flush.
    let reopened = FsStore::open(dir.path()).await.unwrap();
    let r = reopened.tasks.get("task_1").await.unwrap().unwrap();
    assert_eq!(r.task_session_statuses, t.task_session_statuses);
    assert_eq!(
        r.session_status("sess_007"),
        Some(&TaskSessionStatus::Failed.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_add_and_remove_sessions_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store.tasks.insert(task("task_1", "p1", T0)).await.unwrap();
    let tasks: Arc<dyn TaskRepository> = store.tasks.clone();

    let mut set = JoinSet::new();
    for i in 0..100 {
        let tasks = tasks.clone();
        set.spawn(async move { tasks.add_session("task_1", &format!("s{i:03}"), T0).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().unwrap().1);
    }
    for i in (0..100).step_by(2) {
        let tasks = tasks.clone();
        set.spawn(async move {
            tasks
                .remove_session("task_1", &format!("s{i:03}"), true, T0)
                .await
                .map(|t| (t, true))
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let expected: BTreeSet<String> = (1..100).step_by(2).map(|i| format!("s{i:03}")).collect();
    let reopened = FsStore::open(dir.path()).await.unwrap();
    let t = reopened.tasks.get("task_1").await.unwrap().unwrap();
    assert_eq!(t.session_ids.len(), 50);
    assert_eq!(t.session_ids.into_iter().collect::<BTreeSet<_>>(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_files_in_parallel_and_interleaved_updates() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let mut set = JoinSet::new();
    for i in 0..500i64 {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            let id = format!("task_{i:04}");
            tasks
                .insert(task(&id, &format!("p{}", i % 7), T0 + i))
                .await?;
            // A burst of updates per task: most of them coalesce into few writes.
            for k in 0..5 {
                let patch = TaskPatch {
                    description: Some(format!("v{k}")),
                    ..Default::default()
                };
                tasks.update(&id, &patch, T0 + i + k).await?;
            }
            Ok::<_, maestro_domain::DomainError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    store.flush().await.unwrap();
    let live = snapshot(&store).await;
    assert_eq!(live.tasks.len(), 500);
    assert!(live.tasks.iter().all(|t| t.description == "v4"));
    let reopened = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(live, snapshot(&reopened).await);
    let p3 = reopened
        .tasks
        .list(&TaskFilter {
            project_id: Some("p3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(p3.windows(2).all(|w| w[0].created_at <= w[1].created_at));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsafe_ids_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    for bad in ["../escape", "a/b", "a\\b", ".."] {
        let err = store.tasks.insert(task(bad, "p1", T0)).await.unwrap_err();
        assert_eq!(err.code(), "VALIDATION_ERROR", "{bad}");
        let err = store
            .tasks
            .insert(task("task_ok", bad, T0))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION_ERROR", "{bad}");
    }
    assert!(store.tasks.is_empty());
}
