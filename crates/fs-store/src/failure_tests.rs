//! Issue 12 item 3: a journal that cannot be written (disk full, I/O error; injected here)
//! fails the write with `StoreUnavailable`, readers never see it, other rows are untouched,
//! and the store takes writes again by itself once the journal works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::sync::Arc;

use maestro_domain::DomainError;
use maestro_domain::entities::{ProjectPatch, TaskFilter, TaskPatch, TaskSessionStatus};
use maestro_domain::ports::{ProjectRepository, SessionRepository, TaskRepository};
use maestro_domain::testing::fixtures::{T0, project, session, task};

use super::*;
use crate::durable::lock;

fn fail_journal(store: &FsStore, kind: Option<ErrorKind>) {
    *lock(&store.ctx.writer.journal_fault) =
        kind.map(|k| Box::new(move || Some(k)) as Box<dyn FnMut() -> Option<ErrorKind> + Send>);
}

fn is_unavailable(e: &DomainError) -> bool {
    matches!(e, DomainError::StoreUnavailable(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_journal_refuses_is_never_seen_and_the_store_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store.projects.insert(project("p1", T0)).await.unwrap();
    store.tasks.insert(task("task_1", "p1", T0)).await.unwrap();

    fail_journal(&store, Some(ErrorKind::StorageFull));
    let err = store
        .tasks
        .insert(task("task_2", "p1", T0))
        .await
        .unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");
    assert_eq!(err.code(), "STORE_UNAVAILABLE");
    let patch = TaskPatch {
        title: Some("changed".into()),
        ..TaskPatch::default()
    };
    let err = store
        .tasks
        .update("task_1", &patch, T0 + 1)
        .await
        .unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");
    let err = store.projects.delete("p1").await.unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");
    let err = store
        .projects
        .update("p1", &ProjectPatch::default(), T0 + 1)
        .await
        .unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");

    // Nothing of it is visible.
    assert_eq!(store.tasks.get("task_2").await.unwrap(), None);
    assert_eq!(
        store.tasks.get("task_1").await.unwrap().unwrap().title,
        "Task task_1"
    );
    assert_eq!(
        store
            .tasks
            .list(&TaskFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.projects.get("p1").await.unwrap().is_some());
    let health = store.health();
    assert!(health.journal_error.is_some(), "{health:?}");
    assert!(health.check().is_err());

    // The journal works again: so does the store, without a restart.
    fail_journal(&store, None);
    store.tasks.insert(task("task_2", "p1", T0)).await.unwrap();
    store.tasks.update("task_1", &patch, T0 + 2).await.unwrap();
    assert!(store.health().check().is_ok(), "{:?}", store.health());
    store.flush().await.unwrap();
    drop(store);

    let reopened = FsStore::open(dir.path()).await.unwrap();
    let tasks = reopened.tasks.list(&TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        reopened.tasks.get("task_1").await.unwrap().unwrap().title,
        "changed"
    );
}

/// Writers of one row queue: a failed change never becomes the base of the next one, and
/// concurrent changes of one row all land once the journal works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_change_is_not_the_base_of_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
    store.tasks.insert(task("task_1", "p1", T0)).await.unwrap();

    fail_journal(&store, Some(ErrorKind::Other));
    let failing: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .tasks
                    .set_session_status("task_1", &format!("s{i}"), TaskSessionStatus::Working, T0)
                    .await
            })
        })
        .collect();
    for f in failing {
        assert!(f.await.unwrap().is_err());
    }
    fail_journal(&store, None);
    let ok: Vec<_> = (20..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .tasks
                    .set_session_status("task_1", &format!("s{i}"), TaskSessionStatus::Working, T0)
                    .await
            })
        })
        .collect();
    for f in ok {
        f.await.unwrap().unwrap();
    }
    let statuses = store
        .tasks
        .get("task_1")
        .await
        .unwrap()
        .unwrap()
        .task_session_statuses
        .unwrap();
    let mut keys: Vec<_> = statuses.keys().cloned().collect();
    keys.sort();
    let mut want: Vec<_> = (20..40).map(|i| format!("s{i}")).collect();
    want.sort();
    assert_eq!(keys, want, "only the journaled changes, all of them");
    store.flush().await.unwrap();
    let reopened = FsStore::open(dir.path()).await.unwrap();
    let on_disk = reopened.tasks.get("task_1").await.unwrap().unwrap();
    assert_eq!(on_disk.task_session_statuses.unwrap().len(), 20);
}

/// A request dropped while its write is in flight (the client went away) cannot leave memory
/// and journal apart: the change settles by itself, and the row's next writer goes ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_write_still_settles() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store
        .sessions
        .upsert(session("sess_1", "p1", T0))
        .await
        .unwrap();
    let patch = maestro_domain::entities::SessionPatch {
        agent_id: Some("agent-1".into()),
        ..Default::default()
    };
    // The journal holds its next append until told to go on.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    *lock(&store.ctx.writer.journal_fault) = Some(Box::new(move || {
        let _ = lock(&wait).recv();
        None
    }));
    {
        let mut fut = std::pin::pin!(store.sessions.update("sess_1", &patch, T0 + 1));
        // One poll takes the row's gate and submits the change; then the request is dropped.
        assert!(futures::poll!(fut.as_mut()).is_pending());
    }
    assert_eq!(
        store
            .sessions
            .get("sess_1")
            .await
            .unwrap()
            .unwrap()
            .agent_id,
        None,
        "not journaled yet: not visible"
    );
    go.send(()).unwrap();
    drop(go);
    store.flush().await.unwrap();
    *lock(&store.ctx.writer.journal_fault) = None;
    assert_eq!(
        store
            .sessions
            .get("sess_1")
            .await
            .unwrap()
            .unwrap()
            .agent_id
            .as_deref(),
        Some("agent-1")
    );
    let patch = maestro_domain::entities::SessionPatch {
        agent_id: Some("agent-2".into()),
        ..Default::default()
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.sessions.update("sess_1", &patch, T0 + 2),
    )
    .await
    .expect("the row's gate was released")
    .unwrap();
    drop(store);
    let reopened = FsStore::open(dir.path()).await.unwrap();
    assert_eq!(
        reopened
            .sessions
            .get("sess_1")
            .await
            .unwrap()
            .unwrap()
            .agent_id
            .as_deref(),
        Some("agent-2")
    );
}
