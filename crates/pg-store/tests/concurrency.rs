//! Atomicity under real parallelism (spec §6.1): tasks spawned on a multi-threaded runtime,
//! a pool of 16 connections, 100 concurrent writers on one row lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use maestro_domain::entities::{SessionEvent, TaskSessionStatus};
use maestro_domain::testing::fixtures::{self, T0};

use common::{TestSchema, database_url};

const N: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_session_status_updates_lose_nothing() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(16).await;
    store
        .tasks
        .insert(fixtures::task("task_1", "p1", T0))
        .await
        .unwrap();

    let handles: Vec<_> = (0..N)
        .map(|i| {
            let tasks = store.tasks.clone();
            tokio::spawn(async move {
                let status = if i % 2 == 0 {
                    TaskSessionStatus::Working
                } else {
                    TaskSessionStatus::Completed
                };
                tasks
                    .set_session_status("task_1", &format!("s{i}"), status, T0 + i as i64)
                    .await
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let t = store.tasks.get("task_1").await.unwrap().unwrap();
    let map = t.task_session_statuses.unwrap();
    assert_eq!(map.len(), N);
    for i in 0..N {
        let expected = if i % 2 == 0 {
            TaskSessionStatus::Working
        } else {
            TaskSessionStatus::Completed
        };
        assert_eq!(map.get(&format!("s{i}")), Some(&expected), "s{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_add_remove_links_lose_nothing() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(16).await;
    let mut task = fixtures::task("task_1", "p1", T0);
    // Links that concurrent writers remove.
    task.session_ids = (0..N)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("s{i}"))
        .collect();
    store.tasks.insert(task).await.unwrap();
    store
        .sessions
        .upsert(fixtures::session("sess_1", "p1", T0))
        .await
        .unwrap();

    let handles: Vec<_> = (0..N)
        .map(|i| {
            let tasks = store.tasks.clone();
            let sessions = store.sessions.clone();
            tokio::spawn(async move {
                let sid = format!("s{i}");
                if i % 2 == 0 {
                    // Added twice concurrently: exactly one of the two reports `added`.
                    let (a, b) = tokio::join!(
                        tasks.add_session("task_1", &sid, T0 + 1),
                        tasks.add_session("task_1", &sid, T0 + 1)
                    );
                    assert!(a.unwrap().1 ^ b.unwrap().1, "{sid} added exactly once");
                } else {
                    tasks
                        .remove_session("task_1", &sid, true, T0 + 1)
                        .await
                        .unwrap();
                }
                sessions
                    .add_task("sess_1", &format!("task_{i}"), T0 + 1)
                    .await
                    .unwrap();
                sessions
                    .add_event(
                        "sess_1",
                        SessionEvent {
                            id: format!("evt_{i}"),
                            timestamp: T0,
                            kind: "output".into(),
                            data: None,
                        },
                        T0 + 1,
                    )
                    .await
                    .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let t = store.tasks.get("task_1").await.unwrap().unwrap();
    let linked: BTreeSet<String> = t.session_ids.iter().cloned().collect();
    let expected: BTreeSet<String> = (0..N)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("s{i}"))
        .collect();
    assert_eq!(linked, expected);
    assert_eq!(t.session_ids.len(), N / 2, "no duplicates");

    let s = store.sessions.get("sess_1").await.unwrap().unwrap();
    assert_eq!(s.task_ids.len(), N);
    assert_eq!(s.events.len(), N);
    let ids: BTreeSet<&str> = s.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), N);
}
