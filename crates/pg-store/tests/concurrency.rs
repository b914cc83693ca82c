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
        assert_eq!(map.get(&format!("s{i}")), Some(&expected.into()), "s{i}");
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

/// Concurrent generic patches of different fields of one task (and of one session) all
/// survive: each writer's field is in the final row, whatever the interleaving of their
/// read-modify-write cycles.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_fields_lose_nothing() {
    use maestro_domain::entities::{SessionPatch, TaskPatch, TaskPriority};
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let store = schema.migrated_store(16).await;
    for round in 0..10 {
        let id = format!("task_{round}");
        store
            .tasks
            .insert(fixtures::task(&id, "p1", T0))
            .await
            .unwrap();
        let patches = vec![
            TaskPatch {
                title: Some("T".into()),
                ..Default::default()
            },
            TaskPatch {
                description: Some("D".into()),
                ..Default::default()
            },
            TaskPatch {
                priority: Some(TaskPriority::High),
                ..Default::default()
            },
            TaskPatch {
                skill_ids: Some(vec!["sk".into()]),
                ..Default::default()
            },
            TaskPatch {
                agent_ids: Some(vec!["ag".into()]),
                ..Default::default()
            },
            TaskPatch {
                reference_task_ids: Some(vec!["ref".into()]),
                ..Default::default()
            },
            TaskPatch {
                pinned: Some(true),
                ..Default::default()
            },
            TaskPatch {
                team_member_id: Some("tm".into()),
                ..Default::default()
            },
            TaskPatch {
                team_member_ids: Some(vec!["tm1".into(), "tm2".into()]),
                ..Default::default()
            },
        ];
        let handles: Vec<_> = patches
            .into_iter()
            .enumerate()
            .map(|(i, patch)| {
                let tasks = store.tasks.clone();
                let id = id.clone();
                tokio::spawn(async move { tasks.update(&id, &patch, T0 + 1 + i as i64).await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let t = store.tasks.get(&id).await.unwrap().unwrap();
        assert_eq!(t.title, "T", "round {round}");
        assert_eq!(t.description, "D", "round {round}");
        assert_eq!(t.priority, TaskPriority::High, "round {round}");
        assert_eq!(t.skill_ids, ["sk"], "round {round}");
        assert_eq!(t.agent_ids, ["ag"], "round {round}");
        assert_eq!(
            t.reference_task_ids,
            Some(vec!["ref".into()]),
            "round {round}"
        );
        assert_eq!(t.pinned, Some(true), "round {round}");
        assert_eq!(t.team_member_id.as_deref(), Some("tm"), "round {round}");
        assert_eq!(t.team_member_ids.map(|v| v.len()), Some(2), "round {round}");
    }

    store
        .sessions
        .upsert(fixtures::session("sess_1", "p1", T0))
        .await
        .unwrap();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let sessions = store.sessions.clone();
            tokio::spawn(async move {
                let patch = SessionPatch {
                    events: vec![SessionEvent {
                        id: format!("evt_{i}"),
                        timestamp: T0 + i,
                        kind: "test".into(),
                        data: None,
                    }],
                    ..Default::default()
                };
                sessions.update("sess_1", &patch, T0 + i).await
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let s = store.sessions.get("sess_1").await.unwrap().unwrap();
    let ids: BTreeSet<String> = s.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 20, "every appended event survives: {ids:?}");
}
