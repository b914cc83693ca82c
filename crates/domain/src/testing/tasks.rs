//! [`TaskRepository`] contract cases (ref §2 ITaskRepository, spec §2, §6.1).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::entities::{
    Task, TaskFilter, TaskPatch, TaskPriority, TaskSessionStatus, TaskStatus, task_keys,
};
use crate::ports::TaskRepository;

use super::fixtures::{T0, extra, task};
use super::{assert_conflict, assert_not_found, join_all, ok};

fn ids(tasks: Vec<Task>) -> Vec<String> {
    tasks.into_iter().map(|t| t.id).collect()
}

async fn list_ids(repo: &dyn TaskRepository, filter: TaskFilter) -> Vec<String> {
    ids(ok(repo.list(&filter).await, "list"))
}

/// Insert, get (with unknown keys), `None` for a missing id, `Conflict` on a duplicate.
pub async fn insert_get_conflict(repo: Arc<dyn TaskRepository>) {
    let mut t = task("task_1", "proj_1", T0);
    t.extra = extra();
    t.skill_ids = vec!["skill-a".into()];
    t.team_member_ids = Some(vec!["tm_1".into()]);
    assert_eq!(ok(repo.insert(t.clone()).await, "insert"), t);
    assert_eq!(ok(repo.get("task_1").await, "get"), Some(t.clone()));
    assert_eq!(ok(repo.get("task_missing").await, "get missing"), None);
    assert_conflict(repo.insert(task("task_1", "proj_2", T0)).await, "duplicate");
    assert_eq!(ok(repo.get("task_1").await, "get after conflict"), Some(t));
}

/// Filters (project, status, roots via `parent_id: Some(None)`, children, session) AND
/// together; order is creation time then id.
pub async fn list_filters_and_order(repo: Arc<dyn TaskRepository>) {
    let mut a = task("task_a", "p1", T0 + 300);
    a.status = TaskStatus::InProgress.into();
    let mut b = task("task_b", "p1", T0 + 100);
    b.parent_id = Some("task_a".into());
    let mut c = task("task_c", "p1", T0 + 200);
    c.session_ids = vec!["s1".into()];
    let d = task("task_d", "p2", T0 + 100);
    let mut e = task("task_e", "p1", T0 + 200);
    e.parent_id = Some("task_a".into());
    e.session_ids = vec!["s1".into(), "s2".into()];
    e.status = TaskStatus::Completed.into();
    for t in [a, b, c, d, e] {
        ok(repo.insert(t).await, "insert");
    }
    let r = &*repo;
    assert_eq!(
        list_ids(r, TaskFilter::default()).await,
        ["task_b", "task_d", "task_c", "task_e", "task_a"]
    );
    let p1 = || TaskFilter {
        project_id: Some("p1".into()),
        ..Default::default()
    };
    assert_eq!(
        list_ids(r, p1()).await,
        ["task_b", "task_c", "task_e", "task_a"]
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                status: Some(TaskStatus::Todo),
                ..p1()
            }
        )
        .await,
        ["task_b", "task_c"]
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                parent_id: Some(None),
                ..Default::default()
            }
        )
        .await,
        ["task_d", "task_c", "task_a"],
        "Some(None) = root tasks"
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                parent_id: Some(None),
                ..p1()
            }
        )
        .await,
        ["task_c", "task_a"]
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                parent_id: Some(Some("task_a".into())),
                ..Default::default()
            }
        )
        .await,
        ["task_b", "task_e"]
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                session_id: Some("s1".into()),
                ..Default::default()
            }
        )
        .await,
        ["task_c", "task_e"]
    );
    assert_eq!(
        list_ids(
            r,
            TaskFilter {
                session_id: Some("s2".into()),
                status: Some(TaskStatus::Todo),
                ..Default::default()
            }
        )
        .await,
        Vec::<String>::new()
    );
    assert!(
        list_ids(
            r,
            TaskFilter {
                project_id: Some("nope".into()),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
}

/// `update`: given fields replace, `taskSessionStatuses` is shallow-merged (keys are never
/// removed), `startedAt` / `completedAt` are set once, `updatedAt = now`, unknown keys stay;
/// `NotFound` for a missing task.
pub async fn update_rules(repo: Arc<dyn TaskRepository>) {
    let mut t = task("task_1", "p1", T0);
    t.extra = extra();
    ok(repo.insert(t).await, "insert");

    let patch = TaskPatch {
        title: Some("New title".into()),
        description: Some("New description".into()),
        priority: Some(TaskPriority::High),
        skill_ids: Some(vec!["sk".into()]),
        agent_ids: Some(vec!["ag".into()]),
        reference_task_ids: Some(vec!["task_0".into()]),
        pinned: Some(true),
        team_member_id: Some("tm_1".into()),
        team_member_ids: Some(vec!["tm_1".into(), "tm_2".into()]),
        ..Default::default()
    };
    let u = ok(repo.update("task_1", &patch, T0 + 1).await, "update fields");
    assert_eq!(u.title, "New title");
    assert_eq!(u.description, "New description");
    assert_eq!(u.priority, TaskPriority::High);
    assert_eq!(u.skill_ids, ["sk"]);
    assert_eq!(u.agent_ids, ["ag"]);
    assert_eq!(u.reference_task_ids, Some(vec!["task_0".into()]));
    assert_eq!(u.pinned, Some(true));
    assert_eq!(u.team_member_id.as_deref(), Some("tm_1"));
    assert_eq!(u.team_member_ids.as_ref().map(Vec::len), Some(2));
    assert_eq!(u.status, TaskStatus::Todo);
    assert_eq!(u.created_at, T0);
    assert_eq!(u.updated_at, T0 + 1);
    assert_eq!(u.extra, extra());

    let status = |s| TaskPatch {
        status: Some(s),
        ..Default::default()
    };
    let u = ok(
        repo.update("task_1", &status(TaskStatus::InProgress), T0 + 2)
            .await,
        "in_progress",
    );
    assert_eq!(u.started_at, Some(T0 + 2));
    assert_eq!(u.completed_at, None);
    ok(
        repo.update("task_1", &status(TaskStatus::Todo), T0 + 3)
            .await,
        "todo",
    );
    let u = ok(
        repo.update("task_1", &status(TaskStatus::InProgress), T0 + 4)
            .await,
        "in_progress again",
    );
    assert_eq!(u.started_at, Some(T0 + 2), "startedAt is set once");
    let u = ok(
        repo.update("task_1", &status(TaskStatus::Completed), T0 + 5)
            .await,
        "completed",
    );
    assert_eq!(u.completed_at, Some(T0 + 5));
    ok(
        repo.update("task_1", &status(TaskStatus::InReview), T0 + 6)
            .await,
        "in_review",
    );
    let u = ok(
        repo.update("task_1", &status(TaskStatus::Completed), T0 + 7)
            .await,
        "completed again",
    );
    assert_eq!(u.completed_at, Some(T0 + 5), "completedAt is set once");
    assert_eq!(u.updated_at, T0 + 7);

    let merge = |pairs: &[(&str, TaskSessionStatus)]| TaskPatch {
        task_session_statuses: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    };
    ok(
        repo.update(
            "task_1",
            &merge(&[("s1", TaskSessionStatus::Working)]),
            T0 + 8,
        )
        .await,
        "merge s1",
    );
    ok(
        repo.update(
            "task_1",
            &merge(&[("s2", TaskSessionStatus::Blocked)]),
            T0 + 9,
        )
        .await,
        "merge s2",
    );
    let u = ok(
        repo.update(
            "task_1",
            &merge(&[("s1", TaskSessionStatus::Completed)]),
            T0 + 10,
        )
        .await,
        "merge s1 again",
    );
    assert_eq!(
        u.session_status("s1"),
        Some(&TaskSessionStatus::Completed.into())
    );
    assert_eq!(
        u.session_status("s2"),
        Some(&TaskSessionStatus::Blocked.into())
    );
    assert_eq!(u.task_session_statuses.as_ref().map(BTreeMap::len), Some(2));

    let u = ok(
        repo.update("task_1", &TaskPatch::default(), T0 + 11).await,
        "empty patch",
    );
    assert_eq!(
        u.updated_at,
        T0 + 11,
        "an empty patch still bumps updatedAt"
    );
    assert_eq!(ok(repo.get("task_1").await, "get"), Some(u));
    assert_not_found(
        repo.update("task_missing", &TaskPatch::default(), T0).await,
        "update missing",
    );
}

/// `set_session_status` sets one entry and bumps `updatedAt`; `NotFound` if missing.
pub async fn set_session_status(repo: Arc<dyn TaskRepository>) {
    ok(repo.insert(task("task_1", "p1", T0)).await, "insert");
    let t = ok(
        repo.set_session_status("task_1", "s1", TaskSessionStatus::Working, T0 + 1)
            .await,
        "set s1",
    );
    assert_eq!(
        t.session_status("s1"),
        Some(&TaskSessionStatus::Working.into())
    );
    assert_eq!(t.updated_at, T0 + 1);
    let t = ok(
        repo.set_session_status("task_1", "s1", TaskSessionStatus::Failed, T0 + 2)
            .await,
        "overwrite s1",
    );
    assert_eq!(
        t.session_status("s1"),
        Some(&TaskSessionStatus::Failed.into())
    );
    assert_eq!(ok(repo.get("task_1").await, "get"), Some(t));
    assert_not_found(
        repo.set_session_status("task_missing", "s1", TaskSessionStatus::Working, T0)
            .await,
        "set on missing",
    );
}

/// `add_session` is idempotent and bumps `updatedAt` only when it adds; `NotFound`.
pub async fn add_session_idempotent(repo: Arc<dyn TaskRepository>) {
    ok(repo.insert(task("task_1", "p1", T0)).await, "insert");
    let (t, added) = ok(repo.add_session("task_1", "s1", T0 + 1).await, "add");
    assert!(added);
    assert_eq!(t.session_ids, ["s1"]);
    assert_eq!(t.updated_at, T0 + 1);
    let (t, added) = ok(repo.add_session("task_1", "s1", T0 + 2).await, "add again");
    assert!(!added);
    assert_eq!(t.session_ids, ["s1"]);
    assert_eq!(t.updated_at, T0 + 1, "no bump when already linked");
    let (t, added) = ok(repo.add_session("task_1", "s2", T0 + 3).await, "add s2");
    assert!(added);
    assert_eq!(t.session_ids, ["s1", "s2"]);
    assert_eq!(ok(repo.get("task_1").await, "get"), Some(t));
    assert_not_found(
        repo.add_session("task_missing", "s1", T0).await,
        "add on missing",
    );
}

/// `remove_session` always bumps `updatedAt`; it keeps the per-session status unless
/// `drop_status`; `NotFound`.
pub async fn remove_session(repo: Arc<dyn TaskRepository>) {
    let mut t = task("task_1", "p1", T0);
    t.session_ids = vec!["s1".into(), "s2".into(), "s3".into()];
    ok(repo.insert(t).await, "insert");
    for s in ["s1", "s2"] {
        ok(
            repo.set_session_status("task_1", s, TaskSessionStatus::Working, T0 + 1)
                .await,
            "set",
        );
    }
    let t = ok(
        repo.remove_session("task_1", "s1", false, T0 + 2).await,
        "remove keep status",
    );
    assert_eq!(t.session_ids, ["s2", "s3"]);
    assert_eq!(
        t.session_status("s1"),
        Some(&TaskSessionStatus::Working.into())
    );
    assert_eq!(t.updated_at, T0 + 2);
    let t = ok(
        repo.remove_session("task_1", "s2", true, T0 + 3).await,
        "remove drop status",
    );
    assert_eq!(t.session_ids, ["s3"]);
    assert_eq!(t.session_status("s2"), None);
    assert_eq!(
        t.session_status("s1"),
        Some(&TaskSessionStatus::Working.into())
    );
    let t = ok(
        repo.remove_session("task_1", "s9", false, T0 + 4).await,
        "remove absent",
    );
    assert_eq!(t.session_ids, ["s3"]);
    assert_eq!(t.updated_at, T0 + 4, "remove always bumps updatedAt");
    assert_eq!(ok(repo.get("task_1").await, "get"), Some(t));
    assert_not_found(
        repo.remove_session("task_missing", "s1", false, T0).await,
        "remove on missing",
    );
}

/// `delete` removes (`NotFound` the second time); `exists_by_project` follows.
pub async fn delete_and_exists(repo: Arc<dyn TaskRepository>) {
    assert!(!ok(repo.exists_by_project("p1").await, "exists empty"));
    ok(repo.insert(task("task_1", "p1", T0)).await, "insert");
    ok(repo.insert(task("task_2", "p2", T0)).await, "insert");
    assert!(ok(repo.exists_by_project("p1").await, "exists"));
    ok(repo.delete("task_1").await, "delete");
    assert_eq!(ok(repo.get("task_1").await, "get deleted"), None);
    assert!(!ok(
        repo.exists_by_project("p1").await,
        "exists after delete"
    ));
    assert!(ok(repo.exists_by_project("p2").await, "other project"));
    assert_not_found(repo.delete("task_1").await, "delete twice");
    // The id can be reused after a delete.
    ok(repo.insert(task("task_1", "p1", T0 + 1)).await, "reinsert");
    assert_eq!(
        ids(ok(repo.list(&TaskFilter::default()).await, "list")).len(),
        2
    );
}

/// 100 concurrent `set_session_status` calls from 100 sessions on one task lose none.
pub async fn concurrent_session_statuses(repo: Arc<dyn TaskRepository>) {
    ok(repo.insert(task("task_1", "p1", T0)).await, "insert");
    let results = join_all((0..100).map(|i| {
        let repo = repo.clone();
        async move {
            repo.set_session_status(
                "task_1",
                &format!("sess_{i:03}"),
                TaskSessionStatus::Completed,
                T0 + 1 + i,
            )
            .await
        }
    }))
    .await;
    for r in results {
        ok(r, "concurrent set_session_status");
    }
    let t = ok(repo.get("task_1").await, "get").expect("task exists");
    let map = t.task_session_statuses.unwrap_or_default();
    assert_eq!(map.len(), 100, "no per-session status lost");
    assert!(map.values().all(|s| *s == TaskSessionStatus::Completed));
}

/// 100 concurrent `add_session`, then 50 concurrent `remove_session`, leave exactly the
/// other 50 ids, each once.
pub async fn concurrent_add_remove_sessions(repo: Arc<dyn TaskRepository>) {
    ok(repo.insert(task("task_1", "p1", T0)).await, "insert");
    let added = join_all((0..100).map(|i| {
        let repo = repo.clone();
        async move {
            repo.add_session("task_1", &format!("sess_{i:03}"), T0 + 1)
                .await
        }
    }))
    .await;
    for r in added {
        assert!(ok(r, "concurrent add_session").1, "each id is new");
    }
    let removed = join_all((0..100).step_by(2).map(|i| {
        let repo = repo.clone();
        async move {
            repo.remove_session("task_1", &format!("sess_{i:03}"), true, T0 + 2)
                .await
        }
    }))
    .await;
    for r in removed {
        ok(r, "concurrent remove_session");
    }
    let t = ok(repo.get("task_1").await, "get").expect("task exists");
    let set: BTreeSet<String> = t.session_ids.iter().cloned().collect();
    assert_eq!(set.len(), t.session_ids.len(), "no duplicates");
    let expected: BTreeSet<String> = (1..100)
        .step_by(2)
        .map(|i| format!("sess_{i:03}"))
        .collect();
    assert_eq!(set, expected);
}

/// The JSON forms (`get_json`, `list_json`) equal the serialized `get` / `list`, in the same
/// order, and follow every kind of write: update, per-session status, links, delete.
pub async fn json_forms(repo: Arc<dyn TaskRepository>) {
    async fn check(repo: &dyn TaskRepository, filter: &TaskFilter, what: &str) {
        let tasks = ok(repo.list(filter).await, what);
        let texts = ok(repo.list_json(filter).await, what);
        let expected: Vec<String> = tasks
            .iter()
            .map(|t| serde_json::to_string(t).expect("serializable"))
            .collect();
        let got: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        assert_eq!(got, expected, "{what}: list_json differs from list");
        for t in &tasks {
            let one = ok(repo.get_json(&t.id).await, what).expect("listed task exists");
            assert_eq!(
                &*one,
                serde_json::to_string(t).expect("serializable"),
                "{what}: get_json"
            );
        }
    }
    let all = TaskFilter::default();
    let p1 = TaskFilter {
        project_id: Some("p1".into()),
        ..Default::default()
    };
    let mut a = task("task_a", "p1", T0 + 1);
    a.extra = extra();
    ok(repo.insert(a).await, "insert a");
    ok(repo.insert(task("task_b", "p1", T0)).await, "insert b");
    ok(repo.insert(task("task_c", "p2", T0)).await, "insert c");
    check(&*repo, &all, "after inserts").await;
    check(&*repo, &p1, "p1 after inserts").await;

    let patch = TaskPatch {
        title: Some("Renamed".into()),
        ..Default::default()
    };
    ok(repo.update("task_a", &patch, T0 + 5).await, "update");
    let a = ok(repo.get_json("task_a").await, "get_json").expect("exists");
    assert!(a.contains("\"Renamed\""), "get_json after update: {a}");
    check(&*repo, &p1, "after update").await;

    ok(
        repo.set_session_status("task_b", "sess_1", TaskSessionStatus::Working, T0 + 6)
            .await,
        "status",
    );
    ok(repo.add_session("task_b", "sess_2", T0 + 7).await, "link");
    check(&*repo, &all, "after status and link").await;
    ok(
        repo.remove_session("task_b", "sess_1", true, T0 + 8).await,
        "unlink",
    );
    check(&*repo, &all, "after unlink").await;

    ok(repo.delete("task_c").await, "delete");
    assert!(
        ok(repo.get_json("task_c").await, "get_json deleted").is_none(),
        "get_json of a deleted task"
    );
    check(&*repo, &all, "after delete").await;
    assert_eq!(ok(repo.list_json(&all).await, "list_json").len(), 2);
}

/// The newer reference's (653bc6a) `teamId` and `dueDate` are tri-state: absent (older
/// data), `null` or a string. Each form round-trips as stored, an update sets a value or
/// `null`, and a task without them stays without them.
pub async fn newer_reference_fields(repo: Arc<dyn TaskRepository>) {
    let mut newer = task("task_newer", "p1", T0);
    newer.extra = extra();
    newer
        .extra
        .insert(task_keys::TEAM_ID.to_owned(), json!("team_1"));
    newer
        .extra
        .insert(task_keys::DUE_DATE.to_owned(), Value::Null);
    ok(repo.insert(newer.clone()).await, "insert newer");
    ok(
        repo.insert(task("task_older", "p1", T0 + 1)).await,
        "insert older",
    );
    let got = ok(repo.get("task_newer").await, "get").expect("stored");
    assert_eq!(got, newer);
    assert_eq!(got.team_id(), Some("team_1"));
    assert_eq!(got.extra.get(task_keys::DUE_DATE), Some(&Value::Null));

    let patch = TaskPatch {
        team_id: Some(None),
        due_date: Some(Some("2026-12-31".into())),
        ..Default::default()
    };
    let updated = ok(repo.update("task_newer", &patch, T0 + 2).await, "update");
    assert_eq!(updated.extra.get(task_keys::TEAM_ID), Some(&Value::Null));
    assert_eq!(updated.team_id(), None);
    assert_eq!(updated.due_date(), Some("2026-12-31"));
    assert_eq!(updated.extra.get("x-extra"), extra().get("x-extra"));
    assert_eq!(
        ok(repo.get("task_newer").await, "get"),
        Some(updated.clone())
    );
    let text = ok(repo.get_json("task_newer").await, "get_json").expect("stored");
    assert!(
        text.contains(r#""teamId":null"#) && text.contains(r#""dueDate":"2026-12-31""#),
        "{text}"
    );

    let rename = TaskPatch {
        title: Some("Older".into()),
        ..Default::default()
    };
    let older = ok(repo.update("task_older", &rename, T0 + 3).await, "rename");
    assert!(older.extra.is_empty(), "{:?}", older.extra);
    let assign = TaskPatch {
        team_id: Some(Some("team_2".into())),
        ..Default::default()
    };
    let older = ok(repo.update("task_older", &assign, T0 + 4).await, "assign");
    assert_eq!(older.team_id(), Some("team_2"));
    assert!(!older.extra.contains_key(task_keys::DUE_DATE));
    assert_eq!(ok(repo.get("task_older").await, "get"), Some(older));
}
