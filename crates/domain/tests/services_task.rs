//! TaskService behaviour (ref §3.2, §3.4, §4.3; spec §2) against the in-memory adapters.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use maestro_domain::entities::{
    TaskFilter, TaskPatch, TaskPriority, TaskSessionStatus, TaskStatus, TimelineEventType,
    UpdateSource,
};
use maestro_domain::events::names as ev;
use maestro_domain::services::{CreateTask, UpdateTask};
use serde_json::json;
use support::*;

fn user(patch: TaskPatch) -> UpdateTask {
    UpdateTask {
        patch,
        ..UpdateTask::default()
    }
}

fn status(s: TaskStatus) -> UpdateTask {
    user(TaskPatch {
        status: Some(s),
        ..TaskPatch::default()
    })
}

fn statuses(entries: &[(&str, TaskSessionStatus)]) -> UpdateTask {
    user(TaskPatch {
        task_session_statuses: Some(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..TaskPatch::default()
    })
}

fn session_form(session_id: &str, s: Option<TaskSessionStatus>) -> UpdateTask {
    UpdateTask {
        update_source: Some(UpdateSource::Session),
        session_id: Some(session_id.to_owned()),
        session_status: s,
        ..UpdateTask::default()
    }
}

// ---------------------------------------------------------------------------------- create

#[tokio::test]
async fn create_validates_in_reference_order() {
    let h = harness();
    let p = h.project("p").await;
    let mut sub = h.subscribe();
    let create = |project: Option<&str>, title: Option<&str>, parent: Option<&str>| CreateTask {
        project_id: project.map(Into::into),
        title: title.map(Into::into),
        parent_id: parent.map(Into::into),
        ..CreateTask::default()
    };
    // projectId before title.
    let err = h
        .app
        .tasks
        .create(create(None, None, None))
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Project ID is required");
    let err = h
        .app
        .tasks
        .create(create(Some(""), Some("t"), None))
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Project ID is required");
    // Title before the project lookup.
    let err = h
        .app
        .tasks
        .create(create(Some("proj_missing"), Some("   "), None))
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Task title is required");
    // Project before parent.
    let err = h
        .app
        .tasks
        .create(create(
            Some("proj_missing"),
            Some("t"),
            Some("task_missing"),
        ))
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Project with id 'proj_missing' not found");
    let err = h
        .app
        .tasks
        .create(create(Some(&p.id), Some("t"), Some("task_missing")))
        .await
        .unwrap_err();
    expect_err(
        err,
        "NOT_FOUND",
        "Parent task with id 'task_missing' not found",
    );
    expect_no_events(&mut sub);
    assert!(
        h.app
            .tasks
            .list(&TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn create_applies_reference_defaults_and_emits_created() {
    let h = harness();
    let p = h.project("p").await;
    let mut sub = h.subscribe();
    let t = h
        .task_with(CreateTask {
            project_id: Some(p.id.clone()),
            title: Some("  Write tests \n".into()),
            ..CreateTask::default()
        })
        .await;
    assert_eq!(t.title, "Write tests");
    assert_eq!(t.status, TaskStatus::Todo);
    assert_eq!(t.priority, TaskPriority::Medium);
    assert_eq!(t.created_at, T0);
    let json = to_json(&t);
    assert_eq!(json["status"], "todo");
    assert_eq!(json["priority"], "medium");
    assert_eq!(json["parentId"], json!(null));
    assert_eq!(json["description"], "");
    assert_eq!(json["initialPrompt"], "");
    assert_eq!(json["startedAt"], json!(null));
    assert_eq!(json["completedAt"], json!(null));
    assert_eq!(json["sessionIds"], json!([]));
    assert_eq!(json["skillIds"], json!([]));
    assert_eq!(json["agentIds"], json!([]));
    assert_eq!(json["dependencies"], json!([]));
    assert_eq!(json["referenceTaskIds"], json!([]));
    let obj = json.as_object().unwrap();
    for absent in [
        "taskSessionStatuses",
        "pinned",
        "teamMemberId",
        "teamMemberIds",
    ] {
        assert!(
            !obj.contains_key(absent),
            "{absent} must be absent on a fresh task: {json}"
        );
    }
    let events = expect_events(&mut sub, &[ev::TASK_CREATED]);
    envelope(&events[0], ev::TASK_CREATED, &p.id, None);
    assert_eq!(events[0].data, json);
}

#[tokio::test]
async fn create_keeps_given_fields() {
    let h = harness();
    let p = h.project("p").await;
    let parent = h.task(&p, "parent").await;
    let t = h
        .task_with(CreateTask {
            project_id: Some(p.id.clone()),
            parent_id: Some(parent.id.clone()),
            title: Some("child".into()),
            description: Some("d".into()),
            priority: Some(TaskPriority::High),
            initial_prompt: Some("go".into()),
            skill_ids: Some(vec!["s1".into()]),
            reference_task_ids: Some(vec![parent.id.clone()]),
            team_member_id: Some("tm_1".into()),
            team_member_ids: Some(vec!["tm_1".into(), "tm_2".into()]),
            team_id: Some(Some("team_1".into())),
            due_date: Some(None),
        })
        .await;
    assert_eq!(t.team_id(), Some("team_1"));
    assert_eq!(t.extra.get("dueDate"), Some(&serde_json::Value::Null));
    assert_eq!(t.parent_id.as_deref(), Some(parent.id.as_str()));
    assert_eq!(t.priority, TaskPriority::High);
    assert_eq!(t.initial_prompt, "go");
    assert_eq!(t.skill_ids, vec!["s1"]);
    assert_eq!(t.reference_task_ids, Some(vec![parent.id.clone()]));
    assert_eq!(t.team_member_id.as_deref(), Some("tm_1"));
    assert_eq!(t.team_member_ids, Some(vec!["tm_1".into(), "tm_2".into()]));
    assert_eq!(h.stored_task(&t.id).await, t);
}

#[tokio::test]
async fn list_filters_and_children_are_direct_only() {
    let h = harness();
    let p = h.project("p").await;
    let q = h.project("q").await;
    let root = h.task(&p, "root").await;
    h.tick(1);
    let c1 = h.child(&root, "c1").await;
    h.tick(1);
    let g = h.child(&c1, "g").await;
    h.tick(1);
    let c2 = h.child(&root, "c2").await;
    let other = h.task(&q, "other").await;

    let ids =
        |v: Vec<maestro_domain::entities::Task>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(h.app.tasks.children(&root.id).await.unwrap()),
        vec![c1.id.clone(), c2.id.clone()]
    );
    assert_eq!(
        ids(h.app.tasks.children(&c1.id).await.unwrap()),
        vec![g.id.clone()]
    );
    assert!(h.app.tasks.children(&c2.id).await.unwrap().is_empty());
    let err = h.app.tasks.children("task_missing").await.unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_missing' not found");

    let roots = h
        .app
        .tasks
        .list(&TaskFilter {
            parent_id: Some(None),
            ..TaskFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(roots), vec![root.id.clone(), other.id.clone()]);
    let in_p = h
        .app
        .tasks
        .list(&TaskFilter {
            project_id: Some(p.id.clone()),
            ..TaskFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(in_p), vec![root.id, c1.id, g.id, c2.id]);
}

// ------------------------------------------------------------------------------ update: user

#[tokio::test]
async fn update_rejects_blank_title_and_missing_task() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let mut sub = h.subscribe();
    let err = h
        .app
        .tasks
        .update(
            &t.id,
            user(TaskPatch {
                title: Some("  ".into()),
                ..TaskPatch::default()
            }),
        )
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Task title cannot be empty");
    let err = h
        .app
        .tasks
        .update("task_x", status(TaskStatus::Completed))
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_x' not found");
    expect_no_events(&mut sub);
    assert_eq!(h.stored_task(&t.id).await, t);
}

#[tokio::test]
async fn started_and_completed_at_are_set_once() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    h.tick(100);
    let t1 = h
        .app
        .tasks
        .update(&t.id, status(TaskStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(t1.started_at, Some(T0 + 100));
    assert_eq!(t1.completed_at, None);
    assert_eq!(t1.updated_at, T0 + 100);
    h.tick(100);
    let t2 = h
        .app
        .tasks
        .update(&t.id, status(TaskStatus::Completed))
        .await
        .unwrap();
    assert_eq!(t2.started_at, Some(T0 + 100));
    assert_eq!(t2.completed_at, Some(T0 + 200));
    h.tick(100);
    h.app
        .tasks
        .update(&t.id, status(TaskStatus::InProgress))
        .await
        .unwrap();
    h.tick(100);
    let t4 = h
        .app
        .tasks
        .update(&t.id, status(TaskStatus::Completed))
        .await
        .unwrap();
    assert_eq!(
        t4.started_at,
        Some(T0 + 100),
        "startedAt is set only the first time"
    );
    assert_eq!(
        t4.completed_at,
        Some(T0 + 200),
        "completedAt is set only the first time"
    );
    assert_eq!(t4.updated_at, T0 + 400);
    assert_eq!(h.stored_task(&t.id).await, t4);
}

#[tokio::test]
async fn status_notifications_fire_only_on_change() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "Title").await;
    let mut sub = h.subscribe();
    let cases = [
        (TaskStatus::Completed, Some(ev::NOTIFY_TASK_COMPLETED)),
        (TaskStatus::Completed, None),
        (TaskStatus::Cancelled, Some(ev::NOTIFY_TASK_FAILED)),
        (TaskStatus::InReview, Some(ev::NOTIFY_TASK_IN_REVIEW)),
        (TaskStatus::InReview, None),
        (TaskStatus::Blocked, Some(ev::NOTIFY_TASK_BLOCKED)),
        (TaskStatus::Blocked, None),
        (TaskStatus::InProgress, None),
        (TaskStatus::Todo, None),
        (TaskStatus::Archived, None),
    ];
    for (s, notify) in cases {
        let updated = h.app.tasks.update(&t.id, status(s)).await.unwrap();
        let expected: Vec<&str> = std::iter::once(ev::TASK_UPDATED).chain(notify).collect();
        let events = expect_events(&mut sub, &expected);
        envelope(&events[0], ev::TASK_UPDATED, &p.id, None);
        assert_eq!(events[0].data, to_json(&updated));
        assert_eq!(events[0].data.to_value()["status"], s.as_str());
        if let Some(name) = notify {
            envelope(&events[1], name, &p.id, None);
            assert_eq!(events[1].data, json!({ "taskId": t.id, "title": "Title" }));
        }
    }
    // A patch without a status never notifies.
    h.app
        .tasks
        .update(
            &t.id,
            user(TaskPatch {
                priority: Some(TaskPriority::Low),
                ..TaskPatch::default()
            }),
        )
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::TASK_UPDATED]);
}

#[tokio::test]
async fn notify_payload_uses_the_new_title() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "old").await;
    let mut sub = h.subscribe();
    h.app
        .tasks
        .update(
            &t.id,
            user(TaskPatch {
                title: Some("new".into()),
                status: Some(TaskStatus::Completed),
                ..TaskPatch::default()
            }),
        )
        .await
        .unwrap();
    let events = expect_events(&mut sub, &[ev::TASK_UPDATED, ev::NOTIFY_TASK_COMPLETED]);
    assert_eq!(events[1].data, json!({ "taskId": t.id, "title": "new" }));
}

#[tokio::test]
async fn user_task_session_statuses_merge_and_notify_changed_entries() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let mut sub = h.subscribe();

    let t1 = h
        .app
        .tasks
        .update(&t.id, statuses(&[("s1", TaskSessionStatus::Working)]))
        .await
        .unwrap();
    assert_eq!(
        to_json(&t1)["taskSessionStatuses"],
        json!({ "s1": "working" })
    );
    expect_events(&mut sub, &[ev::TASK_UPDATED]);

    let t2 = h
        .app
        .tasks
        .update(&t.id, statuses(&[("s2", TaskSessionStatus::Completed)]))
        .await
        .unwrap();
    assert_eq!(
        to_json(&t2)["taskSessionStatuses"],
        json!({ "s1": "working", "s2": "completed" }),
        "the map is merged, not replaced"
    );
    let events = expect_events(
        &mut sub,
        &[ev::TASK_UPDATED, ev::NOTIFY_TASK_SESSION_COMPLETED],
    );
    envelope(
        &events[1],
        ev::NOTIFY_TASK_SESSION_COMPLETED,
        &p.id,
        Some("s2"),
    );
    assert_eq!(
        events[1].data,
        json!({ "taskId": t.id, "sessionId": "s2", "title": "T" })
    );

    // s2 unchanged (completed again) → no notification for it; s1 → failed notifies.
    h.app
        .tasks
        .update(
            &t.id,
            statuses(&[
                ("s1", TaskSessionStatus::Failed),
                ("s2", TaskSessionStatus::Completed),
            ]),
        )
        .await
        .unwrap();
    let events = expect_events(
        &mut sub,
        &[ev::TASK_UPDATED, ev::NOTIFY_TASK_SESSION_FAILED],
    );
    envelope(
        &events[1],
        ev::NOTIFY_TASK_SESSION_FAILED,
        &p.id,
        Some("s1"),
    );
    assert_eq!(
        events[1].data,
        json!({ "taskId": t.id, "sessionId": "s1", "title": "T" })
    );

    // Changes to blocked / skipped / working do not notify.
    h.app
        .tasks
        .update(
            &t.id,
            statuses(&[
                ("s1", TaskSessionStatus::Blocked),
                ("s3", TaskSessionStatus::Skipped),
            ]),
        )
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::TASK_UPDATED]);

    // Status notification comes before the per-session ones.
    h.app
        .tasks
        .update(
            &t.id,
            user(TaskPatch {
                status: Some(TaskStatus::Completed),
                task_session_statuses: Some(BTreeMap::from([(
                    "s3".to_owned(),
                    TaskSessionStatus::Completed,
                )])),
                ..TaskPatch::default()
            }),
        )
        .await
        .unwrap();
    expect_events(
        &mut sub,
        &[
            ev::TASK_UPDATED,
            ev::NOTIFY_TASK_COMPLETED,
            ev::NOTIFY_TASK_SESSION_COMPLETED,
        ],
    );
}

// --------------------------------------------------------------------------- update: session

#[tokio::test]
async fn session_form_auto_links_then_sets_only_the_session_status() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    h.tick(50);
    let mut sub = h.subscribe();
    let mut input = session_form(&s.id, Some(TaskSessionStatus::Completed));
    // User fields in the session form are ignored.
    input.patch = TaskPatch {
        title: Some("hijacked".into()),
        status: Some(TaskStatus::Completed),
        priority: Some(TaskPriority::High),
        ..TaskPatch::default()
    };
    let updated = h.app.tasks.update(&t.id, input).await.unwrap();
    assert_eq!(updated.title, "T");
    assert_eq!(updated.status, TaskStatus::Todo);
    assert_eq!(updated.priority, TaskPriority::Medium);
    assert_eq!(updated.completed_at, None);
    assert_eq!(updated.session_ids, vec![s.id.clone()]);
    assert_eq!(
        to_json(&updated)["taskSessionStatuses"],
        json!({ s.id.clone(): "completed" })
    );
    assert_eq!(updated.updated_at, T0 + 50);

    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_TASK_ADDED,
            ev::TASK_SESSION_ADDED,
            ev::TASK_UPDATED,
            ev::NOTIFY_TASK_SESSION_COMPLETED,
        ],
    );
    envelope(&events[0], ev::SESSION_TASK_ADDED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, json!({ "sessionId": s.id, "taskId": t.id }));
    envelope(&events[1], ev::TASK_SESSION_ADDED, &p.id, Some(&s.id));
    assert_eq!(events[1].data, json!({ "taskId": t.id, "sessionId": s.id }));
    assert_eq!(events[2].data, to_json(&updated));
    envelope(
        &events[3],
        ev::NOTIFY_TASK_SESSION_COMPLETED,
        &p.id,
        Some(&s.id),
    );
    assert_eq!(
        events[3].data,
        json!({ "taskId": t.id, "sessionId": s.id, "title": "T" })
    );

    let session = h.stored_session(&s.id).await;
    assert_eq!(session.task_ids, vec![t.id.clone()]);
    let last = session.timeline.last().unwrap();
    assert_eq!(last.kind, TimelineEventType::TaskStarted);
    assert_eq!(last.message.as_deref(), Some("Added task to session"));
    assert_eq!(last.task_id.as_deref(), Some(t.id.as_str()));

    // Already linked: no link events; same status again: no notification.
    h.app
        .tasks
        .update(
            &t.id,
            session_form(&s.id, Some(TaskSessionStatus::Completed)),
        )
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::TASK_UPDATED]);
    h.app
        .tasks
        .update(&t.id, session_form(&s.id, Some(TaskSessionStatus::Failed)))
        .await
        .unwrap();
    expect_events(
        &mut sub,
        &[ev::TASK_UPDATED, ev::NOTIFY_TASK_SESSION_FAILED],
    );
    assert_eq!(
        h.stored_session(&s.id).await.timeline.len(),
        session.timeline.len()
    );
}

#[tokio::test]
async fn session_form_without_status_only_bumps_and_unknown_session_is_404() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[&t]).await;
    h.tick(7);
    let mut sub = h.subscribe();
    let updated = h
        .app
        .tasks
        .update(&t.id, session_form(&s.id, None))
        .await
        .unwrap();
    assert_eq!(updated.updated_at, T0 + 7);
    assert_eq!(updated.task_session_statuses, None);
    expect_events(&mut sub, &[ev::TASK_UPDATED]);

    let err = h
        .app
        .tasks
        .update(
            &t.id,
            session_form("sess_ghost", Some(TaskSessionStatus::Working)),
        )
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Session with id 'sess_ghost' not found");
    expect_no_events(&mut sub);
    assert_eq!(h.stored_task(&t.id).await.task_session_statuses, None);
}

// ---------------------------------------------------------------------------------- delete

#[tokio::test]
async fn delete_cascades_children_first_and_cleans_sessions() {
    let h = harness();
    let p = h.project("p").await;
    let root = h.task(&p, "root").await;
    h.tick(1);
    let c1 = h.child(&root, "c1").await;
    h.tick(1);
    let g1 = h.child(&c1, "g1").await;
    h.tick(1);
    let c2 = h.child(&root, "c2").await;
    let keep = h.task(&p, "keep").await;
    let s = h.session(&p, &[&root, &g1, &keep]).await;
    let mut sub = h.subscribe();

    let deleted = h.app.tasks.delete(&root.id).await.unwrap();
    let expected_order = vec![c2.id.clone(), g1.id.clone(), c1.id.clone(), root.id.clone()];
    assert_eq!(deleted, expected_order);

    let events = drain(&mut sub);
    let task_deleted: Vec<_> = events
        .iter()
        .filter(|e| e.name == ev::TASK_DELETED)
        .map(|e| {
            envelope(e, ev::TASK_DELETED, &p.id, None);
            e.data.to_value()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        task_deleted, expected_order,
        "one task:deleted each, children first"
    );
    assert_eq!(
        names(&events),
        vec![
            ev::TASK_DELETED, // c2
            ev::TASK_DELETED, // g1
            ev::SESSION_UPDATED,
            ev::TASK_DELETED, // c1
            ev::TASK_DELETED, // root
            ev::SESSION_UPDATED,
        ]
    );
    envelope(&events[2], ev::SESSION_UPDATED, &p.id, Some(&s.id));
    assert_eq!(
        events[2].data.to_value()["taskIds"],
        json!([root.id, keep.id])
    );
    assert_eq!(events[5].data.to_value()["taskIds"], json!([keep.id]));

    for id in &expected_order {
        assert!(h.app.tasks.get(id).await.unwrap_err().is_not_found());
    }
    assert!(h.app.tasks.get(&keep.id).await.is_ok());
    assert_eq!(
        h.stored_session(&s.id).await.task_ids,
        vec![keep.id.clone()]
    );

    let err = h.app.tasks.delete(&root.id).await.unwrap_err();
    expect_err(
        err,
        "NOT_FOUND",
        &format!("Task with id '{}' not found", root.id),
    );
}

// ------------------------------------------------------------------------ timeline and docs

#[tokio::test]
async fn task_timeline_goes_on_the_session_without_linking() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    let session = h
        .app
        .tasks
        .add_timeline(&t.id, &s.id, TimelineEventType::Progress, "halfway")
        .await
        .unwrap();
    let last = session.timeline.last().unwrap();
    assert_eq!(last.kind, TimelineEventType::Progress);
    assert_eq!(last.message.as_deref(), Some("halfway"));
    assert_eq!(last.task_id.as_deref(), Some(t.id.as_str()));
    assert!(
        session.task_ids.is_empty(),
        "the timeline route does not link"
    );
    assert!(h.stored_task(&t.id).await.session_ids.is_empty());
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_PROGRESS]);
    envelope(&events[1], ev::NOTIFY_PROGRESS, &p.id, Some(&s.id));
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s.id, "taskId": t.id, "message": "halfway" })
    );

    let err = h
        .app
        .tasks
        .add_timeline("task_x", "sess_x", TimelineEventType::Progress, "m")
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_x' not found");
    let err = h
        .app
        .tasks
        .add_timeline(&t.id, "sess_x", TimelineEventType::Progress, "m")
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Session with id 'sess_x' not found");
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn task_docs_filter_sort_and_name_their_session() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let other = h.task(&p, "other").await;
    let a = h
        .session_with(maestro_domain::services::CreateSession {
            project_id: Some(p.id.clone()),
            task_ids: vec![t.id.clone(), other.id.clone()],
            name: Some("Session A".into()),
            ..Default::default()
        })
        .await;
    let b = h
        .session_with(maestro_domain::services::CreateSession {
            project_id: Some(p.id.clone()),
            task_ids: vec![t.id.clone()],
            name: Some("Session B".into()),
            ..Default::default()
        })
        .await;
    let unlinked = h.session(&p, &[]).await;

    h.tick(10);
    h.app
        .sessions
        .add_doc(&a.id, "a-untagged", "/a1.md", None, None, None)
        .await
        .unwrap();
    h.tick(10);
    h.app
        .sessions
        .add_doc(
            &b.id,
            "b-tagged",
            "/b1.md",
            Some("# B".into()),
            Some(t.id.clone()),
            None,
        )
        .await
        .unwrap();
    h.tick(10);
    h.app
        .sessions
        .add_doc(
            &a.id,
            "a-other",
            "/a2.md",
            None,
            Some(other.id.clone()),
            None,
        )
        .await
        .unwrap();
    h.tick(10);
    h.app
        .sessions
        .add_doc(&a.id, "a-tagged", "/a3.md", None, Some(t.id.clone()), None)
        .await
        .unwrap();
    h.app
        .sessions
        .add_doc(
            &unlinked.id,
            "not-linked",
            "/u.md",
            None,
            Some(t.id.clone()),
            None,
        )
        .await
        .unwrap();

    let docs = h.app.tasks.docs(&t.id).await.unwrap();
    let got: Vec<_> = docs
        .iter()
        .map(|d| {
            (
                d.doc.title.as_str(),
                d.session_id.as_str(),
                d.session_name.as_str(),
                d.doc.added_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a-untagged", a.id.as_str(), "Session A", T0 + 10),
            ("b-tagged", b.id.as_str(), "Session B", T0 + 20),
            ("a-tagged", a.id.as_str(), "Session A", T0 + 40),
        ]
    );
    let json = to_json(&docs[1]);
    assert_eq!(json["sessionId"], b.id);
    assert_eq!(json["sessionName"], "Session B");
    assert_eq!(json["title"], "b-tagged");
    assert_eq!(json["filePath"], "/b1.md");
    assert_eq!(json["content"], "# B");
    assert_eq!(json["taskId"], t.id);
    assert_eq!(json["addedBy"], b.id);
    assert!(json["id"].as_str().unwrap().starts_with("doc_"));

    let err = h.app.tasks.docs("task_x").await.unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_x' not found");
}

#[tokio::test]
async fn add_doc_links_an_unlinked_session() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    let session = h
        .app
        .tasks
        .add_doc(&t.id, &s.id, "Plan", "/plan.md", Some("body".into()), None)
        .await
        .unwrap();
    assert_eq!(session.task_ids, vec![t.id.clone()]);
    assert_eq!(h.stored_task(&t.id).await.session_ids, vec![s.id.clone()]);
    let doc = session.docs.last().unwrap();
    assert_eq!(doc.task_id.as_deref(), Some(t.id.as_str()));
    assert_eq!(doc.content.as_deref(), Some("body"));
    let kinds: Vec<_> = session.timeline.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            TimelineEventType::SessionStarted,
            TimelineEventType::DocAdded,
            TimelineEventType::TaskStarted
        ]
    );
    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_UPDATED,
            ev::SESSION_TASK_ADDED,
            ev::TASK_SESSION_ADDED,
        ],
    );
    envelope(&events[0], ev::SESSION_UPDATED, &p.id, Some(&s.id));

    // Already linked: only session:updated.
    let session = h
        .app
        .tasks
        .add_doc(&t.id, &s.id, "Second", "/2.md", None, None)
        .await
        .unwrap();
    assert_eq!(session.task_ids, vec![t.id.clone()]);
    assert_eq!(session.docs.len(), 2);
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);

    let err = h
        .app
        .tasks
        .add_doc("task_x", "sess_x", "a", "b", None, None)
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_x' not found");
    let err = h
        .app
        .tasks
        .add_doc(&t.id, "sess_x", "a", "b", None, None)
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Session with id 'sess_x' not found");
    expect_no_events(&mut sub);
}
