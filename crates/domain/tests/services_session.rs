//! SessionService behaviour (ref §3.3, §4.4; spec §2) against the in-memory adapters.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use maestro_domain::DomainResult;
use maestro_domain::entities::{
    DocEntry, NeedsInput, PromptMode, Session, SessionEvent, SessionFilter, SessionPatch,
    SessionStatus, Task, TaskPatch, TaskSessionStatus, TimelineEvent, TimelineEventType,
};
use maestro_domain::events::names as ev;
use maestro_domain::ids::Clock;
use maestro_domain::services::{CreateSession, ModalInput, PromptInput, UpdateTask};
use serde_json::json;
use support::*;

fn status(s: SessionStatus) -> SessionPatch {
    SessionPatch {
        status: Some(s),
        ..SessionPatch::default()
    }
}

async fn set_entry(h: &Harness, task: &Task, session_id: &str, s: TaskSessionStatus) {
    h.app
        .tasks
        .update(
            &task.id,
            UpdateTask {
                patch: TaskPatch {
                    task_session_statuses: Some(BTreeMap::from([(session_id.to_owned(), s)])),
                    ..TaskPatch::default()
                },
                ..UpdateTask::default()
            },
        )
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------- create

#[tokio::test]
async fn create_validates_project_then_each_task() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let mut sub = h.subscribe();
    let input = |project: Option<&str>, tasks: &[&str]| CreateSession {
        project_id: project.map(Into::into),
        task_ids: tasks.iter().map(|s| (*s).to_owned()).collect(),
        ..CreateSession::default()
    };
    let err = h
        .app
        .sessions
        .create(input(None, &["task_x"]))
        .await
        .unwrap_err();
    expect_err(err, "VALIDATION_ERROR", "Project ID is required");
    let err = h
        .app
        .sessions
        .create(input(Some("proj_x"), &["task_x"]))
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Project with id 'proj_x' not found");
    let err = h
        .app
        .sessions
        .create(input(Some(&p.id), &[&t.id, "task_x", "task_y"]))
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Task with id 'task_x' not found");
    expect_no_events(&mut sub);
    assert!(
        h.app
            .sessions
            .list(&SessionFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.stored_task(&t.id).await.session_ids.is_empty(),
        "nothing linked on failure"
    );
}

#[tokio::test]
async fn create_defaults_and_empty_task_list() {
    let h = harness();
    let p = h.project("p").await;
    let mut sub = h.subscribe();
    let s = h.session(&p, &[]).await;
    assert!(s.id.starts_with(&format!("sess_{T0}_")));
    assert_eq!(s.name, "Unnamed Session");
    assert_eq!(s.status, SessionStatus::Idle);
    assert_eq!(
        (s.started_at, s.last_activity, s.completed_at),
        (T0, T0, None)
    );
    assert_eq!(
        (s.hostname.as_str(), s.platform.as_str()),
        ("test-host", "linux")
    );
    assert_eq!(s.timeline.len(), 1);
    assert_eq!(s.timeline[0].kind, TimelineEventType::SessionStarted);
    assert_eq!(s.timeline[0].message.as_deref(), Some("Session created"));
    let json = to_json(&s);
    assert_eq!(
        json["parentSessionId"],
        json!(null),
        "parentSessionId is written as null"
    );
    assert_eq!(json["env"], json!({}));
    assert_eq!(json["taskIds"], json!([]));
    assert_eq!(json["events"], json!([]));
    assert_eq!(json["docs"], json!([]));
    assert_eq!(json["completedAt"], json!(null));
    assert!(json.get("metadata").is_none() && json.get("needsInput").is_none());
    let events = expect_events(&mut sub, &[ev::SESSION_CREATED]);
    envelope(&events[0], ev::SESSION_CREATED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, json);
}

#[tokio::test]
async fn create_links_tasks_with_timeline_and_events_in_order() {
    let h = harness();
    let p = h.project("p").await;
    let t1 = h.task(&p, "one").await;
    let t2 = h.task(&p, "two").await;
    h.tick(10);
    let mut sub = h.subscribe();
    let s = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            task_ids: vec![t1.id.clone(), t2.id.clone()],
            name: Some("worker".into()),
            status: Some(SessionStatus::Working),
            env: Some(BTreeMap::from([("A".to_owned(), "1".to_owned())])),
            metadata: Some(json!({ "k": "v" })),
            parent_session_id: Some("sess_parent".into()),
            agent_id: Some("agent".into()),
            ..CreateSession::default()
        })
        .await;
    assert_eq!(s.task_ids, vec![t1.id.clone(), t2.id.clone()]);
    assert_eq!(s.parent_session_id.as_deref(), Some("sess_parent"));
    let entries: Vec<_> = s
        .timeline
        .iter()
        .map(|e| {
            (
                e.kind.known().expect("known"),
                e.message.as_deref(),
                e.task_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            (
                TimelineEventType::SessionStarted,
                Some("Session created"),
                None
            ),
            (
                TimelineEventType::TaskStarted,
                Some("Started working on task"),
                Some(t1.id.as_str())
            ),
            (
                TimelineEventType::TaskStarted,
                Some("Started working on task"),
                Some(t2.id.as_str())
            ),
        ]
    );
    for t in [&t1, &t2] {
        let stored = h.stored_task(&t.id).await;
        assert_eq!(stored.session_ids, vec![s.id.clone()]);
        assert_eq!(stored.updated_at, T0 + 10);
    }
    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_CREATED,
            ev::TASK_SESSION_ADDED,
            ev::TASK_SESSION_ADDED,
        ],
    );
    envelope(&events[0], ev::SESSION_CREATED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, to_json(&s));
    for (e, t) in events[1..].iter().zip([&t1, &t2]) {
        envelope(e, ev::TASK_SESSION_ADDED, &p.id, Some(&s.id));
        assert_eq!(e.data, json!({ "taskId": t.id, "sessionId": s.id }));
    }
}

#[tokio::test]
async fn suppressed_create_emits_nothing_but_still_links() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let mut sub = h.subscribe();
    let s = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            task_ids: vec![t.id.clone()],
            suppress_created_event: true,
            ..CreateSession::default()
        })
        .await;
    expect_no_events(&mut sub);
    assert_eq!(h.stored_task(&t.id).await.session_ids, vec![s.id.clone()]);
    assert_eq!(s.timeline.len(), 2);
}

#[tokio::test]
async fn client_supplied_id_is_used_verbatim_and_overwrites() {
    let h = harness();
    let p = h.project("p").await;
    let make = |name: &str| CreateSession {
        id: Some("sess_custom".into()),
        project_id: Some(p.id.clone()),
        name: Some(name.into()),
        ..CreateSession::default()
    };
    let first = h.session_with(make("first")).await;
    assert_eq!(first.id, "sess_custom");
    h.tick(5);
    let second = h.session_with(make("second")).await;
    assert_eq!(second.id, "sess_custom");
    let all = h
        .app
        .sessions
        .list(&SessionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "second");
    assert_eq!(all[0].started_at, T0 + 5);
}

// ---------------------------------------------------------------------------------- update

#[tokio::test]
async fn status_notifications_only_on_transition() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();

    let working = h
        .app
        .sessions
        .update(&s.id, status(SessionStatus::Working))
        .await
        .unwrap();
    assert_eq!(working.completed_at, None);
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    envelope(&events[0], ev::SESSION_UPDATED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, to_json(&working));

    h.tick(100);
    let done = h
        .app
        .sessions
        .update(&s.id, status(SessionStatus::Completed))
        .await
        .unwrap();
    assert_eq!(done.completed_at, Some(T0 + 100));
    let events = expect_events(
        &mut sub,
        &[ev::SESSION_UPDATED, ev::NOTIFY_SESSION_COMPLETED],
    );
    envelope(&events[1], ev::NOTIFY_SESSION_COMPLETED, &p.id, Some(&s.id));
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s.id, "name": "Unnamed Session" })
    );

    // Same status again: no transition, no notification (completedAt moves, ref §1.3).
    h.tick(100);
    let again = h
        .app
        .sessions
        .update(&s.id, status(SessionStatus::Completed))
        .await
        .unwrap();
    assert_eq!(again.completed_at, Some(T0 + 200));
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);

    let s2 = h.session(&p, &[]).await;
    drain(&mut sub);
    h.app
        .sessions
        .update(&s2.id, status(SessionStatus::Failed))
        .await
        .unwrap();
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_SESSION_FAILED]);
    envelope(&events[1], ev::NOTIFY_SESSION_FAILED, &p.id, Some(&s2.id));
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s2.id, "name": "Unnamed Session" })
    );
    h.app
        .sessions
        .update(&s2.id, status(SessionStatus::Stopped))
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);

    let err = h
        .app
        .sessions
        .update("sess_x", status(SessionStatus::Idle))
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Session with id 'sess_x' not found");
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn stopped_after_completed_is_ignored() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let s = h.session(&p, &[&t]).await;
    set_entry(&h, &t, &s.id, TaskSessionStatus::Completed).await;
    let done = h
        .app
        .sessions
        .update(&s.id, status(SessionStatus::Completed))
        .await
        .unwrap();
    h.tick(1000);
    let mut sub = h.subscribe();

    let same = h
        .app
        .sessions
        .update(&s.id, status(SessionStatus::Stopped))
        .await
        .unwrap();
    assert_eq!(same, done, "the old session comes back unchanged");
    expect_no_events(&mut sub);
    assert_eq!(h.stored_session(&s.id).await, done);

    // With another field, the status is dropped and the rest applied.
    let updated = h
        .app
        .sessions
        .update(
            &s.id,
            SessionPatch {
                status: Some(SessionStatus::Stopped),
                agent_id: Some("agent-2".into()),
                ..SessionPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, SessionStatus::Completed);
    assert_eq!(updated.completed_at, done.completed_at);
    assert_eq!(updated.agent_id.as_deref(), Some("agent-2"));
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);
}

#[tokio::test]
async fn terminal_status_propagates_to_active_entries_only() {
    for (terminal, mapped, notify) in [
        (
            SessionStatus::Completed,
            "completed",
            Some(ev::NOTIFY_SESSION_COMPLETED),
        ),
        (SessionStatus::Stopped, "failed", None),
        (
            SessionStatus::Failed,
            "failed",
            Some(ev::NOTIFY_SESSION_FAILED),
        ),
    ] {
        let h = harness();
        let p = h.project("p").await;
        let mut tasks = Vec::new();
        for i in 0..6 {
            tasks.push(h.task(&p, &format!("t{i}")).await);
        }
        let refs: Vec<&Task> = tasks.iter().collect();
        let s = h.session(&p, &refs).await;
        let entries = [
            Some(TaskSessionStatus::Working),
            Some(TaskSessionStatus::Blocked),
            Some(TaskSessionStatus::Skipped),
            Some(TaskSessionStatus::Completed),
            Some(TaskSessionStatus::Failed),
            None,
        ];
        for (t, e) in tasks.iter().zip(entries) {
            if let Some(e) = e {
                set_entry(&h, t, &s.id, e).await;
            }
        }
        // Another session's working entry on t0 is not touched.
        set_entry(&h, &tasks[0], "sess_other", TaskSessionStatus::Working).await;
        let mut sub = h.subscribe();

        h.app
            .sessions
            .update(&s.id, status(terminal))
            .await
            .unwrap();

        let mut expected = vec![ev::TASK_UPDATED, ev::TASK_UPDATED, ev::SESSION_UPDATED];
        expected.extend(notify);
        let events = expect_events(&mut sub, &expected);
        for (e, t) in events[..2].iter().zip(&tasks[..2]) {
            envelope(e, ev::TASK_UPDATED, &p.id, None);
            assert_eq!(e.data.to_value()["id"], t.id);
            assert_eq!(e.data.to_value()["taskSessionStatuses"][&s.id], mapped);
        }
        let after: Vec<_> = {
            let mut v = Vec::new();
            for t in &tasks {
                v.push(
                    h.stored_task(&t.id)
                        .await
                        .session_status(&s.id)
                        .map(|x| x.to_string()),
                );
            }
            v
        };
        assert_eq!(
            after.iter().map(Option::as_deref).collect::<Vec<_>>(),
            vec![
                Some(mapped),
                Some(mapped),
                Some("skipped"),
                Some("completed"),
                Some("failed"),
                None
            ],
            "{terminal}: only working/blocked entries change"
        );
        assert_eq!(
            h.stored_task(&tasks[0].id)
                .await
                .session_status("sess_other"),
            Some(&TaskSessionStatus::Working.into())
        );
        // User-owned task status is untouched.
        for t in &tasks {
            assert_eq!(h.stored_task(&t.id).await.status.as_str(), "todo");
        }
    }
}

#[tokio::test]
async fn non_terminal_status_does_not_propagate() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let s = h.session(&p, &[&t]).await;
    set_entry(&h, &t, &s.id, TaskSessionStatus::Working).await;
    let mut sub = h.subscribe();
    h.app
        .sessions
        .update(&s.id, status(SessionStatus::Idle))
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    assert_eq!(
        h.stored_task(&t.id).await.session_status(&s.id),
        Some(&TaskSessionStatus::Working.into())
    );
}

#[tokio::test]
async fn needs_input_notifies_only_on_false_to_true() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    let ni = |active: bool, msg: &str| SessionPatch {
        needs_input: Some(NeedsInput {
            active,
            message: Some(msg.into()),
            since: Some(T0),
        }),
        ..SessionPatch::default()
    };
    h.app.sessions.update(&s.id, ni(false, "x")).await.unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    let updated = h
        .app
        .sessions
        .update(&s.id, ni(true, "Which DB?"))
        .await
        .unwrap();
    assert!(updated.needs_input_active());
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_NEEDS_INPUT]);
    envelope(&events[1], ev::NOTIFY_NEEDS_INPUT, &p.id, Some(&s.id));
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s.id, "name": "Unnamed Session", "message": "Which DB?" })
    );
    h.app
        .sessions
        .update(&s.id, ni(true, "still?"))
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    h.app.sessions.update(&s.id, ni(false, "")).await.unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    h.app
        .sessions
        .update(&s.id, ni(true, "again"))
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_NEEDS_INPUT]);
}

#[tokio::test]
async fn env_merges_and_lists_append() {
    let h = harness();
    let p = h.project("p").await;
    let s = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            env: Some(BTreeMap::from([
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
            ])),
            ..CreateSession::default()
        })
        .await;
    h.tick(3);
    let updated = h
        .app
        .sessions
        .update(
            &s.id,
            SessionPatch {
                env: Some(BTreeMap::from([
                    ("B".into(), "3".into()),
                    ("C".into(), "4".into()),
                ])),
                ..SessionPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        to_json(&updated.env),
        json!({ "A": "1", "B": "3", "C": "4" })
    );
    assert_eq!(updated.last_activity, T0 + 3);
}

// ---------------------------------------------------------------------------------- delete

#[tokio::test]
async fn delete_unlinks_tasks_and_drops_their_status_entry() {
    let h = harness();
    let p = h.project("p").await;
    let t1 = h.task(&p, "t1").await;
    let t2 = h.task(&p, "t2").await;
    let s = h.session(&p, &[&t1, &t2]).await;
    let other = h.session(&p, &[&t1]).await;
    set_entry(&h, &t1, &s.id, TaskSessionStatus::Working).await;
    set_entry(&h, &t1, &other.id, TaskSessionStatus::Blocked).await;
    let mut sub = h.subscribe();

    h.app.sessions.delete(&s.id).await.unwrap();
    let events = expect_events(
        &mut sub,
        &[ev::SESSION_DELETED, ev::TASK_UPDATED, ev::TASK_UPDATED],
    );
    envelope(&events[0], ev::SESSION_DELETED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, json!({ "id": s.id }));

    let t1 = h.stored_task(&t1.id).await;
    assert_eq!(t1.session_ids, vec![other.id.clone()]);
    assert_eq!(
        to_json(&t1)["taskSessionStatuses"],
        json!({ other.id.clone(): "blocked" }),
        "the deleted session's entry is removed, others stay"
    );
    assert!(h.stored_task(&t2.id).await.session_ids.is_empty());
    assert!(h.app.sessions.get(&s.id).await.unwrap_err().is_not_found());

    let err = h.app.sessions.delete(&s.id).await.unwrap_err();
    expect_err(
        err,
        "NOT_FOUND",
        &format!("Session with id '{}' not found", s.id),
    );
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn delete_tolerates_tasks_deleted_earlier() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let s = h.session(&p, &[&t]).await;
    // Simulate a stale id (e.g. a file written by the reference server).
    h.app
        .sessions
        .update(
            &s.id,
            SessionPatch {
                task_ids: Some(vec!["task_gone".into(), t.id.clone()]),
                ..SessionPatch::default()
            },
        )
        .await
        .unwrap();
    let mut sub = h.subscribe();
    h.app.sessions.delete(&s.id).await.unwrap();
    expect_events(&mut sub, &[ev::SESSION_DELETED, ev::TASK_UPDATED]);
}

// ------------------------------------------------------------------------ task association

#[tokio::test]
async fn add_and_remove_task_events_and_timeline() {
    let h = harness();
    let p = h.project("p").await;
    let t = h.task(&p, "t").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();

    let session = h.app.sessions.add_task(&s.id, &t.id).await.unwrap();
    assert_eq!(session.task_ids, vec![t.id.clone()]);
    assert_eq!(h.stored_task(&t.id).await.session_ids, vec![s.id.clone()]);
    let last = session.timeline.last().unwrap();
    assert_eq!(
        (
            last.kind.known().expect("known"),
            last.message.as_deref(),
            last.task_id.as_deref()
        ),
        (
            TimelineEventType::TaskStarted,
            Some("Added task to session"),
            Some(t.id.as_str())
        )
    );
    let events = expect_events(&mut sub, &[ev::SESSION_TASK_ADDED, ev::TASK_SESSION_ADDED]);
    envelope(&events[0], ev::SESSION_TASK_ADDED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, json!({ "sessionId": s.id, "taskId": t.id }));
    envelope(&events[1], ev::TASK_SESSION_ADDED, &p.id, Some(&s.id));
    assert_eq!(events[1].data, json!({ "taskId": t.id, "sessionId": s.id }));

    // Idempotent link, but the timeline entry and events come every time (ref §3.3.4).
    let again = h.app.sessions.add_task(&s.id, &t.id).await.unwrap();
    assert_eq!(again.task_ids, vec![t.id.clone()]);
    assert_eq!(again.timeline.len(), session.timeline.len() + 1);
    assert_eq!(h.stored_task(&t.id).await.session_ids, vec![s.id.clone()]);
    expect_events(&mut sub, &[ev::SESSION_TASK_ADDED, ev::TASK_SESSION_ADDED]);

    let removed = h.app.sessions.remove_task(&s.id, &t.id).await.unwrap();
    assert!(removed.task_ids.is_empty());
    assert!(h.stored_task(&t.id).await.session_ids.is_empty());
    let last = removed.timeline.last().unwrap();
    assert_eq!(
        (
            last.kind.known().expect("known"),
            last.message.as_deref(),
            last.task_id.as_deref()
        ),
        (
            TimelineEventType::TaskCompleted,
            Some("Removed task from session"),
            Some(t.id.as_str())
        )
    );
    let events = expect_events(
        &mut sub,
        &[ev::SESSION_TASK_REMOVED, ev::TASK_SESSION_REMOVED],
    );
    envelope(&events[0], ev::SESSION_TASK_REMOVED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, json!({ "sessionId": s.id, "taskId": t.id }));
    assert_eq!(events[1].data, json!({ "taskId": t.id, "sessionId": s.id }));

    for (sid, tid, msg) in [
        ("sess_x", "task_x", "Session with id 'sess_x' not found"),
        (s.id.as_str(), "task_x", "Task with id 'task_x' not found"),
    ] {
        expect_err(
            h.app.sessions.add_task(sid, tid).await.unwrap_err(),
            "NOT_FOUND",
            msg,
        );
        expect_err(
            h.app.sessions.remove_task(sid, tid).await.unwrap_err(),
            "NOT_FOUND",
            msg,
        );
    }
    expect_no_events(&mut sub);
}

// -------------------------------------------------------------------- events, timeline, docs

#[tokio::test]
async fn add_event_appends_and_emits_updated() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    h.tick(9);
    let mut sub = h.subscribe();
    let session = h
        .app
        .sessions
        .add_event(&s.id, "tool_use".into(), Some(json!({ "tool": "bash" })))
        .await
        .unwrap();
    assert_eq!(session.events.len(), 1);
    let e = &session.events[0];
    assert!(e.id.starts_with("evt_"));
    assert_eq!((e.kind.as_str(), e.timestamp), ("tool_use", T0 + 9));
    assert_eq!(e.data, Some(json!({ "tool": "bash" })));
    assert_eq!(session.last_activity, T0 + 9);
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    envelope(&events[0], ev::SESSION_UPDATED, &p.id, Some(&s.id));
    assert_eq!(events[0].data, to_json(&session));
    let err = h
        .app
        .sessions
        .add_event("sess_x", "t".into(), None)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn timeline_progress_needs_input_and_plain_entries() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();

    let session = h
        .app
        .sessions
        .add_timeline_event(
            &s.id,
            TimelineEventType::Progress,
            Some("50%".into()),
            Some("task_1".into()),
            Some(json!({ "pct": 50 })),
        )
        .await
        .unwrap();
    let last = session.timeline.last().unwrap();
    assert_eq!(last.metadata, Some(json!({ "pct": 50 })));
    assert_eq!(last.task_id.as_deref(), Some("task_1"));
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_PROGRESS]);
    envelope(&events[1], ev::NOTIFY_PROGRESS, &p.id, Some(&s.id));
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s.id, "taskId": "task_1", "message": "50%" })
    );

    // Without task and message the optional keys are absent.
    h.app
        .sessions
        .add_timeline_event(&s.id, TimelineEventType::Progress, None, None, None)
        .await
        .unwrap();
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_PROGRESS]);
    assert_eq!(events[1].data, json!({ "sessionId": s.id }));

    h.app
        .sessions
        .add_timeline_event(
            &s.id,
            TimelineEventType::Milestone,
            Some("m".into()),
            None,
            None,
        )
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED]);

    h.tick(20);
    let session = h
        .app
        .sessions
        .add_timeline_event(
            &s.id,
            TimelineEventType::NeedsInput,
            Some("Q?".into()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        session.needs_input,
        Some(NeedsInput {
            active: true,
            message: Some("Q?".into()),
            since: Some(T0 + 20)
        })
    );
    assert_eq!(
        session.timeline.last().unwrap().kind,
        TimelineEventType::NeedsInput
    );
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_NEEDS_INPUT]);
    assert_eq!(events[0].data.to_value()["needsInput"]["active"], true);
    assert_eq!(
        events[1].data,
        json!({ "sessionId": s.id, "name": "Unnamed Session", "message": "Q?" })
    );
    // Unconditional, even though the flag is already on.
    h.app
        .sessions
        .add_timeline_event(
            &s.id,
            TimelineEventType::NeedsInput,
            Some("Q2?".into()),
            None,
            None,
        )
        .await
        .unwrap();
    expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_NEEDS_INPUT]);

    let err = h
        .app
        .sessions
        .add_timeline_event("sess_x", TimelineEventType::Progress, None, None, None)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn add_doc_appends_doc_and_timeline_entry() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    h.tick(4);
    let mut sub = h.subscribe();
    let session = h
        .app
        .sessions
        .add_doc(
            &s.id,
            "Design",
            "/d.md",
            Some("# D".into()),
            Some("task_9".into()),
            None,
        )
        .await
        .unwrap();
    let doc = &session.docs[0];
    assert!(doc.id.starts_with("doc_"));
    assert_eq!(doc.title, "Design");
    assert_eq!(doc.file_path, "/d.md");
    assert_eq!(doc.content.as_deref(), Some("# D"));
    assert_eq!(doc.task_id.as_deref(), Some("task_9"));
    assert_eq!(doc.added_at, T0 + 4);
    assert_eq!(doc.added_by.as_deref(), Some(s.id.as_str()));
    let last = session.timeline.last().unwrap();
    assert_eq!(last.kind, TimelineEventType::DocAdded);
    assert_eq!(last.message.as_deref(), Some("Doc added: Design"));
    assert_eq!(last.task_id.as_deref(), Some("task_9"));
    assert_eq!(
        last.metadata,
        Some(json!({ "docId": doc.id, "filePath": "/d.md", "title": "Design" }))
    );
    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED]);
    assert_eq!(events[0].data, to_json(&session));
    assert_eq!(h.app.sessions.docs(&s.id).await.unwrap(), session.docs);
    assert!(
        h.app
            .sessions
            .docs("sess_x")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        h.app
            .sessions
            .add_doc("sess_x", "a", "b", None, None, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    expect_no_events(&mut sub);
}

// -------------------------------------------------------------------------- modal and prompt

#[tokio::test]
async fn modal_events_carry_their_payloads() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    h.app
        .sessions
        .show_modal(
            &s.id,
            ModalInput {
                modal_id: "m1".into(),
                html: "<p>hi</p>".into(),
                title: None,
                file_path: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(h.modals.html("m1").as_deref(), Some("<p>hi</p>"));
    h.app
        .sessions
        .show_modal(
            &s.id,
            ModalInput {
                modal_id: "m2".into(),
                html: "<b/>".into(),
                title: Some("Pick".into()),
                file_path: Some("/agent/m2.html".into()),
            },
        )
        .await
        .unwrap();
    h.app
        .sessions
        .modal_action(&s.id, "m1", "approve", json!({ "x": 1 }))
        .await
        .unwrap();
    h.app.sessions.modal_close(&s.id, "m1").await.unwrap();
    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_MODAL,
            ev::SESSION_MODAL,
            ev::SESSION_MODAL_ACTION,
            ev::SESSION_MODAL_CLOSED,
        ],
    );
    for e in &events {
        assert_eq!(e.project_id, p.id);
        assert_eq!(e.session_id.as_deref(), Some(s.id.as_str()));
    }
    assert_eq!(
        events[0].data,
        json!({ "sessionId": s.id, "modalId": "m1", "title": "Agent Modal", "html": "<p>hi</p>",
                "filePath": "memory://modals/m1.html", "timestamp": T0 })
    );
    assert_eq!(events[1].data.to_value()["title"], "Pick");
    assert_eq!(events[1].data.to_value()["filePath"], "/agent/m2.html");
    assert_eq!(
        events[2].data,
        json!({ "sessionId": s.id, "modalId": "m1", "action": "approve", "data": { "x": 1 }, "timestamp": T0 })
    );
    assert_eq!(
        events[3].data,
        json!({ "sessionId": s.id, "modalId": "m1", "timestamp": T0 })
    );

    // Actions and close do not check the session (ref §4.4); the modal itself does.
    h.app.sessions.modal_close("sess_x", "m9").await.unwrap();
    let events = expect_events(&mut sub, &[ev::SESSION_MODAL_CLOSED]);
    assert_eq!(events[0].session_id.as_deref(), Some("sess_x"));
    let err = h
        .app
        .sessions
        .show_modal(
            "sess_x",
            ModalInput {
                modal_id: "m3".into(),
                html: "x".into(),
                title: None,
                file_path: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(h.modals.html("m3").is_none());
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn prompt_emits_push_then_timeline_with_preview() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    let boss = h
        .session_with(CreateSession {
            id: Some("sess_boss".into()),
            project_id: Some(p.id.clone()),
            name: Some(" Boss ".into()),
            ..CreateSession::default()
        })
        .await;
    let mut sub = h.subscribe();
    let long = "x".repeat(100) + "TAIL";
    // The sender signs the content (newer reference): "[From: <name> (<id>)] ".
    let signed = format!("[From: Boss (sess_boss)] {long}");
    let session = h
        .app
        .sessions
        .prompt(
            &s.id,
            PromptInput {
                content: long.clone(),
                mode: PromptMode::Paste,
                sender_session_id: Some("sess_boss".into()),
            },
        )
        .await
        .unwrap();
    let last = session.timeline.last().unwrap();
    assert_eq!(last.kind, TimelineEventType::PromptReceived);
    assert_eq!(
        last.message.as_deref().unwrap(),
        format!(
            "Received prompt from session sess_boss: \"{}...\"",
            signed.chars().take(100).collect::<String>()
        )
    );
    assert_eq!(
        last.metadata,
        Some(json!({ "senderSessionId": "sess_boss", "mode": "paste" }))
    );
    let events = expect_events(&mut sub, &[ev::SESSION_PROMPT_SEND, ev::SESSION_UPDATED]);
    envelope(&events[0], ev::SESSION_PROMPT_SEND, &p.id, Some(&s.id));
    assert_eq!(
        events[0].data,
        json!({ "sessionId": s.id, "content": signed, "mode": "paste",
                "senderSessionId": "sess_boss", "senderProjectId": boss.project_id,
                "targetProjectId": p.id, "timestamp": T0 })
    );

    // Already signed: not signed twice.
    h.app
        .sessions
        .prompt(
            &s.id,
            PromptInput {
                content: signed.clone(),
                mode: PromptMode::Send,
                sender_session_id: Some("sess_boss".into()),
            },
        )
        .await
        .unwrap();
    let events = expect_events(&mut sub, &[ev::SESSION_PROMPT_SEND, ev::SESSION_UPDATED]);
    assert_eq!(events[0].data.to_value()["content"], json!(signed));

    // To itself: refused, nothing emitted. From an unknown session: not found.
    for (sender, target) in [("sess_boss", "sess_boss"), ("sess_gone", s.id.as_str())] {
        let err = h
            .app
            .sessions
            .prompt(
                target,
                PromptInput {
                    content: "hi".into(),
                    mode: PromptMode::Send,
                    sender_session_id: Some(sender.into()),
                },
            )
            .await
            .unwrap_err();
        if sender == target {
            assert_eq!(err.code(), "VALIDATION_ERROR");
            assert_eq!(err.to_string(), "A session cannot prompt itself.");
        } else {
            assert!(err.is_not_found(), "{err}");
        }
    }
    expect_no_events(&mut sub);

    // Exactly 100 characters: no ellipsis; no sender (older clients): "unknown" and null,
    // the content as sent.
    let exact = "é".repeat(100);
    let session = h
        .app
        .sessions
        .prompt(
            &s.id,
            PromptInput {
                content: exact.clone(),
                mode: PromptMode::Send,
                sender_session_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        session.timeline.last().unwrap().message.as_deref().unwrap(),
        format!("Received prompt from session unknown: \"{exact}\"")
    );
    let events = expect_events(&mut sub, &[ev::SESSION_PROMPT_SEND, ev::SESSION_UPDATED]);
    assert_eq!(events[0].data.to_value()["senderSessionId"], json!(null));
    assert_eq!(events[0].data.to_value()["senderProjectId"], json!(null));
    assert_eq!(events[0].data.to_value()["content"], json!(exact));
    assert_eq!(events[0].data.to_value()["mode"], "send");

    let err = h
        .app
        .sessions
        .prompt(
            "sess_x",
            PromptInput {
                content: "hi".into(),
                mode: PromptMode::Send,
                sender_session_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    expect_no_events(&mut sub);
}

// ------------------------------------------------------------------------------ enrichment

#[tokio::test]
async fn list_looks_each_member_up_once() {
    let h = harness();
    let p = h.project("p").await;
    let worker = format!("tm_{}_simple_worker", p.id);
    for _ in 0..20 {
        h.session_with(CreateSession {
            project_id: Some(p.id.clone()),
            metadata: Some(json!({ "teamMemberIds": [worker, "tm_unknown"] })),
            ..CreateSession::default()
        })
        .await;
    }
    let before = h.team_members.reads();
    let all = h
        .app
        .sessions
        .list(&SessionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    assert!(all.iter().all(|s| {
        s.team_member_snapshots
            .as_ref()
            .is_some_and(|v| v.len() == 1)
    }));
    let per_list = h.team_members.reads() - before;
    // One lookup of each of the two ids, however many sessions name them.
    let before = h.team_members.reads();
    h.app.sessions.get(&all[0].id).await.unwrap();
    let per_get = h.team_members.reads() - before;
    assert!(per_get > 0, "a get looks the members up");
    assert_eq!(
        per_list, per_get,
        "the list looked members up once, not per session"
    );
}

#[tokio::test]
async fn reads_enrich_snapshots_from_metadata() {
    let h = harness();
    let p = h.project("p").await;
    let worker = format!("tm_{}_simple_worker", p.id);
    let coord = format!("tm_{}_coordinator", p.id);
    let multi = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            metadata: Some(
                json!({ "teamMemberIds": [worker, "tm_unknown", coord], "teamMemberId": null }),
            ),
            ..CreateSession::default()
        })
        .await;
    let single = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            metadata: Some(json!({ "teamMemberIds": [], "teamMemberId": worker })),
            ..CreateSession::default()
        })
        .await;
    let none_found = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            metadata: Some(json!({ "teamMemberId": "tm_unknown" })),
            ..CreateSession::default()
        })
        .await;

    let m = h.app.sessions.get(&multi.id).await.unwrap();
    assert_eq!(
        m.team_member_ids,
        Some(vec![worker.clone(), "tm_unknown".into(), coord.clone()]),
        "all ids are kept"
    );
    let snaps = m.team_member_snapshots.clone().unwrap();
    assert_eq!(
        snaps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["Simple Worker", "Coordinator"],
        "only found members get a snapshot"
    );
    assert_eq!(
        to_json(&snaps[0]),
        json!({ "name": "Simple Worker", "avatar": "⚡", "role": "Default executor", "model": "sonnet", "agentTool": "claude-code" })
    );
    assert!(m.team_member_id.is_none() && m.team_member_snapshot.is_none());

    let s = h.app.sessions.get(&single.id).await.unwrap();
    assert_eq!(s.team_member_id.as_deref(), Some(worker.as_str()));
    assert_eq!(
        s.team_member_snapshot.as_ref().unwrap().name,
        "Simple Worker"
    );
    assert_eq!(s.team_member_ids, Some(vec![worker.clone()]));

    let n = h.app.sessions.get(&none_found.id).await.unwrap();
    assert!(n.team_member_ids.is_none() && n.team_member_snapshots.is_none());

    // Read-time view only; list enriches too.
    assert!(
        h.stored_session(&multi.id)
            .await
            .team_member_snapshots
            .is_none()
    );
    let listed = h
        .app
        .sessions
        .list(&SessionFilter::default())
        .await
        .unwrap();
    assert_eq!(listed[0], m);
    assert_eq!(listed[1], s);
}

#[tokio::test]
async fn patch_items_without_id_or_timestamp_get_them() {
    let h = harness();
    let p = h.project("p").await;
    let s = h.session(&p, &[]).await;
    h.clock.advance(7);
    let now = h.clock.now_ms();
    let kept = TimelineEvent {
        id: "evt-5".into(),
        kind: TimelineEventType::NeedsInput.into(),
        timestamp: 5,
        message: None,
        task_id: None,
        metadata: None,
    };
    let bare = TimelineEvent {
        id: String::new(),
        timestamp: 0,
        ..kept.clone()
    };
    let event = SessionEvent {
        id: String::new(),
        timestamp: 0,
        kind: "file_modified".into(),
        data: None,
    };
    let s = h
        .app
        .sessions
        .update(
            &s.id,
            SessionPatch {
                timeline: vec![kept.clone(), bare],
                events: vec![event],
                ..SessionPatch::default()
            },
        )
        .await
        .unwrap();
    let n = s.timeline.len();
    assert_eq!(s.timeline[n - 2], kept, "given ids and timestamps are kept");
    let filled = &s.timeline[n - 1];
    assert!(filled.id.starts_with("evt_"), "{}", filled.id);
    assert_eq!(filled.timestamp, now);
    assert!(s.events[0].id.starts_with("evt_"));
    assert_eq!(s.events[0].timestamp, now);
}

/// A session store that keeps the newest version of each session shared (as the filesystem
/// store does, so `peek_shared` answers) and holds every timeline append, after it committed,
/// until `appends` of them have committed: the appends' answers are then computed while every
/// one of them is already stored.
struct HeldAppends {
    inner: Arc<maestro_domain::memory::MemorySessionRepository>,
    newest: std::sync::Mutex<std::collections::HashMap<String, Arc<Session>>>,
    barrier: tokio::sync::Barrier,
}

impl HeldAppends {
    fn keep(&self, s: Session) -> Arc<Session> {
        let s = Arc::new(s);
        self.newest.lock().unwrap().insert(s.id.clone(), s.clone());
        s
    }
}

#[async_trait::async_trait]
impl maestro_domain::ports::SessionRepository for HeldAppends {
    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        let s = self.inner.upsert(session).await?;
        self.keep(s.clone());
        Ok(s)
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        self.inner.get(id).await
    }
    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        self.inner.list(filter).await
    }
    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        let s = self.inner.update(id, patch, now).await?;
        self.keep(s.clone());
        Ok(s)
    }
    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        let (s, added) = self.inner.add_task(id, task_id, now).await?;
        self.keep(s.clone());
        Ok((s, added))
    }
    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        let s = self.inner.remove_task(id, task_id, now).await?;
        self.keep(s.clone());
        Ok(s)
    }
    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        let s = self.inner.add_event(id, event, now).await?;
        self.keep(s.clone());
        Ok(s)
    }
    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        self.add_timeline_event_shared(id, event, now)
            .await
            .map(Arc::unwrap_or_clone)
    }
    async fn add_timeline_event_shared(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        let s = self.inner.add_timeline_event(id, event, now).await?;
        let s = self.keep(s);
        self.barrier.wait().await;
        Ok(s)
    }
    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        let s = self.inner.add_doc(id, doc, now).await?;
        self.keep(s.clone());
        Ok(s)
    }
    fn peek_shared(&self, id: &str) -> Option<Arc<Session>> {
        self.newest.lock().unwrap().get(id).cloned()
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.newest.lock().unwrap().remove(id);
        self.inner.delete(id).await
    }
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        self.inner.exists_by_project(project_id).await
    }
}

/// Issue 12 item 1: concurrent appends to one session are answered and announced with one
/// serialization of the newest version; each answer holds the request's own entry, and the
/// announcement covers every entry.
#[tokio::test]
async fn concurrent_appends_share_one_serialization() {
    const APPENDS: usize = 4;
    let h = harness();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let held = Arc::new(HeldAppends {
        inner: h.sessions.clone(),
        newest: Default::default(),
        barrier: tokio::sync::Barrier::new(APPENDS),
    });
    held.keep(h.stored_session(&s.id).await);
    let ports = maestro_domain::Ports {
        projects: h.projects.clone(),
        tasks: h.tasks.clone(),
        sessions: held.clone(),
        mail: h.mail.clone(),
        team_members: h.team_members.clone(),
        orderings: h.orderings.clone(),
        modals: h.modals.clone(),
        manifests: h.manifests.clone(),
        bus: h.bus.clone(),
        ids: Arc::new(maestro_domain::ids::SequentialIdGenerator::new(T0 + 1)),
        clock: h.clock.clone(),
    };
    let app = maestro_domain::App::new(ports, test_config());
    let mut sub = h.subscribe();

    let mut calls = Vec::new();
    for n in 0..APPENDS {
        let (app, id) = (app.clone(), s.id.clone());
        calls.push(tokio::spawn(async move {
            app.sessions
                .add_timeline_event_saved(
                    &id,
                    TimelineEventType::Milestone,
                    Some(format!("entry {n}")),
                    None,
                    None,
                )
                .await
                .unwrap()
        }));
    }
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }

    let updated: Vec<_> = drain(&mut sub)
        .into_iter()
        .filter(|e| e.name == ev::SESSION_UPDATED)
        .collect();
    assert_eq!(updated.len(), 1, "one announcement for {APPENDS} appends");
    let announced = updated[0].data.to_value();
    let messages: Vec<&str> = announced["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    for n in 0..APPENDS {
        assert!(
            messages.contains(&format!("entry {n}").as_str()),
            "{messages:?}"
        );
    }
    for a in &answers {
        assert_eq!(
            a.json.json(),
            updated[0].data.json(),
            "the answer is the announced text"
        );
    }
    // Nothing is kept once the requests have answered.
    assert_eq!(app.sessions.pending_snapshots(), 0);
}

/// Appends one after the other are each announced with their own version.
#[tokio::test]
async fn sequential_appends_each_announce_their_version() {
    let h = harness();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    for n in 0..3 {
        let saved = h
            .app
            .sessions
            .add_timeline_event_saved(
                &s.id,
                TimelineEventType::Milestone,
                Some(format!("entry {n}")),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            saved.value.timeline.last().unwrap().message.as_deref(),
            Some(format!("entry {n}").as_str())
        );
    }
    let updated: Vec<_> = drain(&mut sub)
        .into_iter()
        .filter(|e| e.name == ev::SESSION_UPDATED)
        .map(|e| e.data.to_value()["timeline"].as_array().unwrap().len())
        .collect();
    assert_eq!(updated.len(), 3);
    assert!(updated.windows(2).all(|w| w[1] == w[0] + 1), "{updated:?}");
}

/// However concurrent appends finish, no session keeps a serialized version once they have
/// all answered (a kept version would be megabytes per session).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_serialized_version_is_kept_after_concurrent_appends() {
    let h = harness();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let mut calls = Vec::new();
    for n in 0..400 {
        let (app, id) = (h.app.clone(), s.id.clone());
        calls.push(tokio::spawn(async move {
            app.sessions
                .add_timeline_event_saved(
                    &id,
                    TimelineEventType::Progress,
                    Some(format!("entry {n}")),
                    None,
                    None,
                )
                .await
                .unwrap()
        }));
    }
    for c in calls {
        let saved = c.await.unwrap();
        assert!(!saved.json.is_empty());
    }
    assert_eq!(h.app.sessions.pending_snapshots(), 0);
    let stored = h.stored_session(&s.id).await;
    let entries = stored
        .timeline
        .iter()
        .filter(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("entry "))
        })
        .count();
    assert_eq!(entries, 400);
}

// ------------------------------------------------------------------------------ mode / role

#[tokio::test]
async fn role_switch_keeps_the_relation_and_is_self_only() {
    use maestro_domain::services::{SessionRelation, SessionRole};
    let h = harness();
    let p = h.project("p").await;
    let child = h
        .session_with(CreateSession {
            id: Some("sess_child".into()),
            project_id: Some(p.id.clone()),
            metadata: Some(json!({ "mode": "coordinated-worker", "skills": ["s"] })),
            ..CreateSession::default()
        })
        .await;
    let plain = h.session(&p, &[]).await;
    let mut sub = h.subscribe();

    let view = h.app.sessions.mode(&plain.id).await.unwrap();
    assert_eq!(view.mode, "worker", "no metadata.mode reads as worker");
    assert_eq!(
        (view.relation, view.role),
        (SessionRelation::Standalone, SessionRole::Worker)
    );

    // Another session, or none, may not flip it.
    for caller in [Some(plain.id.as_str()), None] {
        let err = h
            .app
            .sessions
            .set_role(&child.id, caller, SessionRole::Coordinator)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "FORBIDDEN");
        assert_eq!(err.to_string(), "You can only flip your own role");
    }
    expect_no_events(&mut sub);

    let change = h
        .app
        .sessions
        .set_role(&child.id, Some(&child.id), SessionRole::Coordinator)
        .await
        .unwrap();
    assert_eq!(change.mode, "coordinated-coordinator");
    assert_eq!(change.previous_mode, "coordinated-worker");
    assert!(change.changed);
    let events = expect_events(&mut sub, &[ev::SESSION_MODE_CHANGED]);
    envelope(&events[0], ev::SESSION_MODE_CHANGED, &p.id, Some(&child.id));
    assert_eq!(
        events[0].data,
        json!({ "sessionId": child.id, "mode": "coordinated-coordinator",
                "previousMode": "coordinated-worker", "changed": true, "timestamp": T0 })
    );
    assert_eq!(
        h.stored_session(&child.id).await.metadata,
        Some(json!({ "mode": "coordinated-coordinator", "skills": ["s"] })),
        "stored in metadata.mode, other keys kept"
    );

    // Unchanged: answered, nothing stored or emitted.
    let same = h
        .app
        .sessions
        .set_role(&child.id, Some(&child.id), SessionRole::Coordinator)
        .await
        .unwrap();
    assert!(!same.changed);
    assert_eq!(same.previous_mode, same.mode);
    expect_no_events(&mut sub);

    let err = h
        .app
        .sessions
        .set_role("sess_none", Some("sess_none"), SessionRole::Worker)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}
