//! [`SessionRepository`] contract cases (ref §2 ISessionRepository).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::json;

use crate::entities::{
    DocEntry, DocKind, Lenient, NeedsInput, Session, SessionEvent, SessionFilter, SessionPatch,
    SessionStatus, TeamMemberSnapshot, TimelineEvent, TimelineEventType,
};
use crate::error::DomainResult;
use crate::ports::SessionRepository;

use super::fixtures::{T0, extra, session, timeline};
use super::{assert_not_found, join_all, ok};

async fn list_ids(repo: &dyn SessionRepository, filter: SessionFilter) -> Vec<String> {
    ok(repo.list(&filter).await, "list")
        .into_iter()
        .map(|s| s.id)
        .collect()
}

fn event(id: &str, at: i64) -> SessionEvent {
    SessionEvent {
        id: id.to_owned(),
        timestamp: at,
        kind: "output".to_owned(),
        data: Some(json!({"line": id})),
    }
}

fn progress(id: &str, at: i64) -> TimelineEvent {
    TimelineEvent {
        id: id.to_owned(),
        kind: TimelineEventType::Progress.into(),
        timestamp: at,
        message: Some(format!("step {id}")),
        task_id: Some("task_1".to_owned()),
        metadata: None,
    }
}

/// Upsert, get (with unknown keys), `None` for a missing id; a second upsert with the same
/// id overwrites (ref §0).
pub async fn upsert_get_overwrite(repo: Arc<dyn SessionRepository>) {
    let mut s = session("sess_1", "p1", T0);
    s.extra = extra();
    s.metadata = Some(json!({"spawnSource": "ui"}));
    assert_eq!(ok(repo.upsert(s.clone()).await, "upsert"), s);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(s.clone()));
    assert_eq!(ok(repo.get("sess_missing").await, "get missing"), None);
    let mut s2 = session("sess_1", "p1", T0 + 5);
    s2.name = "Replaced".into();
    assert_eq!(ok(repo.upsert(s2.clone()).await, "overwrite"), s2);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(s2));
    assert_eq!(list_ids(&*repo, SessionFilter::default()).await, ["sess_1"]);
}

/// Filters (project, task, status, parent, `active_only`) AND together; order is `startedAt`
/// then id.
pub async fn list_filters_and_order(repo: Arc<dyn SessionRepository>) {
    let mut a = session("sess_a", "p1", T0 + 300);
    a.task_ids = vec!["task_1".into()];
    let mut b = session("sess_b", "p1", T0 + 100);
    b.status = SessionStatus::Completed.into();
    b.parent_session_id = Some("sess_a".into());
    let mut c = session("sess_c", "p2", T0 + 200);
    c.task_ids = vec!["task_1".into(), "task_2".into()];
    c.status = SessionStatus::Working.into();
    let mut d = session("sess_d", "p1", T0 + 200);
    d.parent_session_id = Some("sess_a".into());
    d.status = SessionStatus::Failed.into();
    for s in [a, b, c, d] {
        ok(repo.upsert(s).await, "upsert");
    }
    let r = &*repo;
    assert_eq!(
        list_ids(r, SessionFilter::default()).await,
        ["sess_b", "sess_c", "sess_d", "sess_a"]
    );
    assert_eq!(
        list_ids(
            r,
            SessionFilter {
                project_id: Some("p1".into()),
                ..Default::default()
            }
        )
        .await,
        ["sess_b", "sess_d", "sess_a"]
    );
    assert_eq!(
        list_ids(
            r,
            SessionFilter {
                task_id: Some("task_1".into()),
                ..Default::default()
            }
        )
        .await,
        ["sess_c", "sess_a"]
    );
    assert_eq!(
        list_ids(
            r,
            SessionFilter {
                status: Some(SessionStatus::Working),
                ..Default::default()
            }
        )
        .await,
        ["sess_c"]
    );
    assert_eq!(
        list_ids(
            r,
            SessionFilter {
                parent_session_id: Some("sess_a".into()),
                ..Default::default()
            }
        )
        .await,
        ["sess_b", "sess_d"]
    );
    assert_eq!(
        list_ids(
            r,
            SessionFilter {
                active_only: true,
                project_id: Some("p1".into()),
                ..Default::default()
            }
        )
        .await,
        ["sess_d", "sess_a"],
        "active_only excludes completed only"
    );
}

/// `update`: taskIds replace, terminal statuses set `completedAt = now` every time, env
/// merges, events / timeline append, needsInput is replaced, team members are set, metadata
/// keys merge, `lastActivity = now`; other fields and unknown keys stay; `NotFound`.
pub async fn update_rules(repo: Arc<dyn SessionRepository>) {
    let mut s = session("sess_1", "p1", T0);
    s.extra = extra();
    s.env = BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]);
    s.metadata = Some(json!({ "mode": "worker", "skills": ["a"] }));
    ok(repo.upsert(s.clone()).await, "upsert");

    let patch = SessionPatch {
        task_ids: Some(vec!["task_9".into()]),
        status: Some(SessionStatus::Working),
        agent_id: Some("agent-1".into()),
        env: Some(BTreeMap::from([
            ("B".into(), "3".into()),
            ("C".into(), "4".into()),
        ])),
        events: vec![event("evt_1", T0 + 1)],
        timeline: vec![progress("evt_2", T0 + 1)],
        needs_input: Some(NeedsInput {
            active: true,
            message: Some("?".into()),
            since: Some(T0 + 1),
        }),
        team_members: Some((
            vec!["tm_1".into()],
            vec![TeamMemberSnapshot {
                name: "W".into(),
                avatar: "⚡".into(),
                role: "r".into(),
                model: None,
                agent_tool: None,
                permission_mode: None,
            }],
        )),
        metadata: json!({ "mode": "coordinator", "new": 1 })
            .as_object()
            .cloned(),
    };
    let u = ok(repo.update("sess_1", &patch, T0 + 1).await, "update");
    assert_eq!(
        u.metadata,
        Some(json!({ "mode": "coordinator", "skills": ["a"], "new": 1 }))
    );
    assert_eq!(u.task_ids, ["task_9"]);
    assert_eq!(u.status, SessionStatus::Working);
    assert_eq!(u.completed_at, None);
    assert_eq!(u.agent_id.as_deref(), Some("agent-1"));
    let env: Vec<(&str, &str)> = u
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("A", "1"), ("B", "3"), ("C", "4")]);
    assert_eq!(u.events.len(), 1);
    assert_eq!(u.timeline.len(), 2, "appended after the initial entry");
    assert_eq!(u.timeline[1].id, "evt_2");
    assert!(u.needs_input_active());
    assert_eq!(u.team_member_id.as_deref(), Some("tm_1"));
    assert_eq!(u.last_activity, T0 + 1);
    assert_eq!(u.name, s.name);
    assert_eq!(u.started_at, T0);
    assert_eq!(u.extra, extra());

    let status = |st| SessionPatch {
        status: Some(st),
        needs_input: Some(NeedsInput {
            active: false,
            message: None,
            since: None,
        }),
        ..Default::default()
    };
    let u = ok(
        repo.update("sess_1", &status(SessionStatus::Completed), T0 + 2)
            .await,
        "completed",
    );
    assert_eq!(u.completed_at, Some(T0 + 2));
    assert!(!u.needs_input_active(), "needsInput replaced wholesale");
    assert_eq!(u.needs_input.as_ref().and_then(|n| n.message.clone()), None);
    let u = ok(
        repo.update("sess_1", &status(SessionStatus::Failed), T0 + 3)
            .await,
        "failed",
    );
    assert_eq!(u.completed_at, Some(T0 + 3), "set on every terminal update");
    let u = ok(
        repo.update("sess_1", &SessionPatch::default(), T0 + 4)
            .await,
        "empty patch",
    );
    assert_eq!(u.last_activity, T0 + 4);
    assert_eq!(u.events.len(), 1);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(u));
    assert_not_found(
        repo.update("sess_missing", &SessionPatch::default(), T0)
            .await,
        "update missing",
    );
}

/// `add_task` is idempotent (bumps `lastActivity` only when added); `remove_task` always
/// bumps; both `NotFound` on a missing session.
pub async fn add_remove_task(repo: Arc<dyn SessionRepository>) {
    ok(repo.upsert(session("sess_1", "p1", T0)).await, "upsert");
    let (s, added) = ok(repo.add_task("sess_1", "task_1", T0 + 1).await, "add");
    assert!(added);
    assert_eq!(s.task_ids, ["task_1"]);
    assert_eq!(s.last_activity, T0 + 1);
    let (s, added) = ok(repo.add_task("sess_1", "task_1", T0 + 2).await, "add again");
    assert!(!added);
    assert_eq!(s.last_activity, T0 + 1);
    ok(repo.add_task("sess_1", "task_2", T0 + 3).await, "add 2");
    let s = ok(repo.remove_task("sess_1", "task_1", T0 + 4).await, "remove");
    assert_eq!(s.task_ids, ["task_2"]);
    assert_eq!(s.last_activity, T0 + 4);
    let s = ok(
        repo.remove_task("sess_1", "task_x", T0 + 5).await,
        "remove absent",
    );
    assert_eq!(s.last_activity, T0 + 5);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(s));
    assert_not_found(repo.add_task("sess_missing", "t", T0).await, "add missing");
    assert_not_found(
        repo.remove_task("sess_missing", "t", T0).await,
        "remove missing",
    );
}

/// `add_event`, `add_timeline_event` and `add_doc` append in order and bump
/// `lastActivity`; `NotFound` on a missing session.
pub async fn appends(repo: Arc<dyn SessionRepository>) {
    ok(repo.upsert(session("sess_1", "p1", T0)).await, "upsert");
    let s = ok(
        repo.add_event("sess_1", event("evt_a", T0 + 1), T0 + 1)
            .await,
        "event",
    );
    assert_eq!(s.last_activity, T0 + 1);
    let s = ok(
        repo.add_event("sess_1", event("evt_b", T0 + 2), T0 + 2)
            .await,
        "event",
    );
    let ev: Vec<&str> = s.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ev, ["evt_a", "evt_b"]);
    let s = ok(
        repo.add_timeline_event("sess_1", progress("evt_t", T0 + 3), T0 + 3)
            .await,
        "timeline",
    );
    assert_eq!(s.timeline.last().map(|t| t.id.as_str()), Some("evt_t"));
    assert_eq!(s.timeline.len(), 2);
    assert_eq!(s.last_activity, T0 + 3);
    let doc = DocEntry {
        id: "doc_1".into(),
        title: "Plan".into(),
        file_path: "/tmp/plan.md".into(),
        kind: None,
        content: Some("# Plan".into()),
        content_file_path: None,
        task_id: None,
        added_at: T0 + 4,
        added_by: Some("sess_1".into()),
        extra: Default::default(),
    };
    let s = ok(repo.add_doc("sess_1", doc.clone(), T0 + 4).await, "doc");
    assert_eq!(s.docs, std::slice::from_ref(&doc));
    assert_eq!(s.last_activity, T0 + 4);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(s));
    assert_not_found(
        repo.add_event("sess_missing", event("e", T0), T0).await,
        "event missing",
    );
    assert_not_found(
        repo.add_timeline_event("sess_missing", timeline("e", T0), T0)
            .await,
        "timeline missing",
    );
    assert_not_found(repo.add_doc("sess_missing", doc, T0).await, "doc missing");
}

/// `delete` removes (`NotFound` the second time); `exists_by_project` follows.
pub async fn delete_and_exists(repo: Arc<dyn SessionRepository>) {
    assert!(!ok(repo.exists_by_project("p1").await, "exists empty"));
    ok(repo.upsert(session("sess_1", "p1", T0)).await, "upsert");
    assert!(ok(repo.exists_by_project("p1").await, "exists"));
    ok(repo.delete("sess_1").await, "delete");
    assert_eq!(ok(repo.get("sess_1").await, "get deleted"), None);
    assert!(!ok(
        repo.exists_by_project("p1").await,
        "exists after delete"
    ));
    assert_not_found(repo.delete("sess_1").await, "delete twice");
}

/// 50 concurrent timeline appends and 50 concurrent event appends on one session lose none.
pub async fn concurrent_appends(repo: Arc<dyn SessionRepository>) {
    ok(repo.upsert(session("sess_1", "p1", T0)).await, "upsert");
    type Append = Pin<Box<dyn Future<Output = DomainResult<()>> + Send>>;
    let mut appends: Vec<Append> = Vec::new();
    for i in 0..50 {
        let r = repo.clone();
        appends.push(Box::pin(async move {
            r.add_timeline_event("sess_1", progress(&format!("evt_t{i}"), T0 + i), T0 + i)
                .await
                .map(|_| ())
        }));
        let r = repo.clone();
        appends.push(Box::pin(async move {
            r.add_event("sess_1", event(&format!("evt_e{i}"), T0 + i), T0 + i)
                .await
                .map(|_| ())
        }));
    }
    for r in join_all(appends).await {
        ok(r, "concurrent append");
    }
    let s: Session = ok(repo.get("sess_1").await, "get").expect("session exists");
    let t: BTreeSet<&str> = s.timeline.iter().map(|t| t.id.as_str()).collect();
    let e: BTreeSet<&str> = s.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(t.len(), 51, "initial entry + 50 appends");
    assert_eq!(e.len(), 50);
}

/// A session spawned by the 653bc6a server or by this one for a 653bc6a client (issue 13):
/// a four-mode `metadata.mode`, `launchConfig`, `memberOverrides`, permission modes,
/// `MAESTRO_MODE` in `env` and a top-level `teamId` are kept as written.
pub async fn spawn_metadata_of_newer_servers(repo: Arc<dyn SessionRepository>) {
    for (i, mode) in crate::entities::AgentMode::ALL.iter().enumerate() {
        let mut s = session(&format!("sess_mode_{i}"), "p1", T0 + i as i64);
        s.metadata = Some(json!({
            "skills": ["maestro-worker"], "spawnedBy": "sess_parent", "spawnSource": "session",
            "mode": mode.as_str(), "agentTool": "codex", "model": "gpt-5.5",
            "launchConfig": {"provider": "openai", "model": "gpt-5.5", "reasoningEffort": "high",
                             "speed": "fast", "accessMode": "fullAccess"},
            "teamMemberId": null, "teamMemberIds": null, "context": {},
            "memberOverrides": {"tm_a": {"launchConfig": {"provider": "hermes", "model": "hermes-default"}}},
            "permissionMode": "bypassPermissions", "delegatePermissionMode": "readOnly"
        }));
        s.env
            .insert("MAESTRO_MODE".to_owned(), mode.as_str().to_owned());
        s.extra.insert("teamId".to_owned(), json!("team_1"));
        s.extra
            .insert("rootSessionId".to_owned(), json!("sess_parent"));
        assert_eq!(ok(repo.upsert(s.clone()).await, "upsert"), s);
        assert_eq!(ok(repo.get(&s.id).await, "get"), Some(s));
    }
}

/// Docs keep the newer reference's (653bc6a) fields and any unknown key: `kind` (a stored
/// unknown string included), `contentFilePath` with no inline `content`, through an upsert
/// and an append.
pub async fn docs_keep_newer_fields(repo: Arc<dyn SessionRepository>) {
    let mut s = session("sess_1", "p1", T0);
    let mut extra_doc = extra();
    extra_doc.insert("x-pinned".to_owned(), json!(true));
    s.docs = vec![
        DocEntry {
            id: "doc_diagram".into(),
            title: "Architecture".into(),
            file_path: "/work/arch.excalidraw".into(),
            kind: Some(DocKind::Diagram.into()),
            content: None,
            content_file_path: Some(
                "/home/u/.maestro/data/session-docs/sess_1/doc_diagram.excalidraw".into(),
            ),
            task_id: Some("task_1".into()),
            added_at: T0 + 1,
            added_by: Some("sess_1".into()),
            extra: extra_doc,
        },
        DocEntry {
            id: "doc_odd".into(),
            title: "Sketch".into(),
            file_path: "/work/sketch".into(),
            kind: Some(Lenient::Other("sketch".into())),
            content: Some("lines".into()),
            content_file_path: None,
            task_id: None,
            added_at: T0 + 2,
            added_by: None,
            extra: Default::default(),
        },
    ];
    ok(repo.upsert(s.clone()).await, "upsert");
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(s.clone()));

    let markdown = DocEntry {
        id: "doc_md".into(),
        title: "Notes".into(),
        file_path: "/work/notes.md".into(),
        kind: Some(DocKind::Markdown.into()),
        content: Some("# Notes".into()),
        content_file_path: None,
        task_id: None,
        added_at: T0 + 3,
        added_by: Some("sess_1".into()),
        extra: Default::default(),
    };
    let appended = ok(
        repo.add_doc("sess_1", markdown.clone(), T0 + 3).await,
        "add",
    );
    s.docs.push(markdown);
    s.last_activity = T0 + 3;
    assert_eq!(appended.docs, s.docs);
    assert_eq!(ok(repo.get("sess_1").await, "get"), Some(appended));
}
