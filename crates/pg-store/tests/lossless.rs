//! The camelCase entity ↔ snake_case row mapping is lossless: what one store writes, a
//! second store (new pool) on the same schema reads back equal — as entities and as
//! `serde_json::to_value` — including `extra`, nested JSON arrays, snapshots, and the
//! difference between an absent field and an empty one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use maestro_domain::entities::{
    MailFilter, MailMessage, Ordering, OrderingEntityType, Project, Session, SessionFilter, Task,
    TaskFilter, TeamMember,
};
use maestro_domain::testing::fixtures;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use common::{TestSchema, database_url};

fn from<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[track_caller]
fn same<T: Serialize + PartialEq + std::fmt::Debug>(written: &T, read: &T) {
    assert_eq!(written, read);
    assert_eq!(
        serde_json::to_value(written).unwrap(),
        serde_json::to_value(read).unwrap()
    );
}

fn rich_project() -> Project {
    from(json!({
        "id": "proj_1", "name": "Rich", "workingDir": "/w", "description": "d",
        "createdAt": 1, "updatedAt": 2, "isMaster": true,
        "x-unknown": {"nested": [1, "two", null]}
    }))
}

fn rich_task() -> Task {
    from(json!({
        "id": "task_rich", "projectId": "proj_gone", "parentId": "task_parent_gone",
        "title": "T", "description": "D", "status": "in_review",
        "taskSessionStatuses": {"s1": "working", "s2": "skipped"},
        "priority": "high", "createdAt": 10, "updatedAt": 11, "startedAt": 12,
        "completedAt": 13, "initialPrompt": "go", "sessionIds": ["s1", "s2"],
        "skillIds": ["sk"], "agentIds": ["ag"], "dependencies": ["task_0"],
        "referenceTaskIds": ["task_9"], "pinned": false, "teamMemberId": "tm_1",
        "teamMemberIds": ["tm_1", "tm_2"], "customKey": {"kept": true}, "another": 5
    }))
}

fn rich_session() -> Session {
    from(json!({
        "id": "sess_rich", "projectId": "proj_gone", "taskIds": ["task_rich"], "name": "S",
        "agentId": "agent", "env": {"A": "1", "Z": "2"}, "status": "failed",
        "startedAt": 20, "lastActivity": 21, "completedAt": 22, "hostname": "h",
        "platform": "darwin",
        "events": [{"id": "e1", "timestamp": 1, "type": "output", "data": {"x": [1, 2]}},
                   {"id": "e2", "timestamp": 2, "type": "bare"}],
        "timeline": [{"id": "t1", "type": "session_started", "timestamp": 1,
                      "message": "m", "taskId": "task_rich", "metadata": {"k": "v"}},
                     {"id": "t2", "type": "unknown_kind_kept", "timestamp": 2}],
        "docs": [{"id": "d1", "title": "Doc", "filePath": "/a.md", "content": "# x",
                  "taskId": "task_rich", "addedAt": 3, "addedBy": "sess_rich"}],
        "metadata": {"spawnSource": "ui", "deep": {"list": [true, 1.5]}},
        "needsInput": {"active": true, "message": "?", "since": 4},
        "teamMemberId": "tm_1",
        "teamMemberSnapshot": {"name": "W", "avatar": "⚡", "role": "r", "model": "opus",
                               "agentTool": "codex", "permissionMode": "readOnly"},
        "teamMemberIds": ["tm_1"],
        "teamMemberSnapshots": [{"name": "W", "avatar": "⚡", "role": "r"}],
        "parentSessionId": "sess_parent", "x-extra": {"kept": [1]}
    }))
}

fn rich_mail() -> MailMessage {
    from(json!({
        "id": "mail_rich", "projectId": "proj_gone", "fromSessionId": "sess_a",
        "toSessionId": "sess_b", "replyToMailId": "mail_0", "threadId": "mail_0",
        "type": "query", "subject": "Q", "body": {"message": "hi", "n": [1, {"a": null}]},
        "priority": "critical", "createdAt": 30, "readAt": 31, "x-extra": "kept"
    }))
}

fn rich_member() -> TeamMember {
    from(json!({
        "id": "tm_rich", "projectId": "proj_gone", "name": "M", "role": "R",
        "identity": "I", "avatar": "🧪", "model": "haiku", "agentTool": "gemini",
        "mode": "coordinate", "permissionMode": "bypassPermissions", "skillIds": ["a"],
        "isDefault": false, "status": "archived",
        "capabilities": {"can_spawn_sessions": true, "can_edit_tasks": false},
        "commandPermissions": {"groups": {"task": true}, "commands": {"session:spawn": false}},
        "workflowTemplateId": "custom", "customWorkflow": "wf", "memory": ["m1", "m2"],
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z",
        "x-extra": {"kept": true}
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_through_a_second_store_is_lossless() {
    let Some(url) = database_url() else { return };
    let schema = TestSchema::new(&url);
    let a = schema.migrated_store(4).await;

    let projects = [rich_project(), fixtures::project("proj_min", 5)];
    let tasks = [rich_task(), fixtures::task("task_min", "p", 5), {
        let mut t = fixtures::task("task_empty", "p", 6);
        t.reference_task_ids = None;
        t.task_session_statuses = Some(Default::default());
        t.pinned = Some(true);
        t.team_member_ids = Some(vec![]);
        t
    }];
    let sessions = [rich_session(), fixtures::session("sess_min", "p", 5), {
        let mut s = fixtures::session("sess_null_meta", "p", 6);
        s.metadata = Some(Value::Null);
        s.team_member_snapshots = Some(vec![]);
        s
    }];
    let mails = [rich_mail(), fixtures::mail("mail_min", "p", "a", None, 5)];
    let members = [
        rich_member(),
        fixtures::member("tm_min", "p", "2026-01-01T00:00:00Z"),
    ];
    let ordering: Ordering = fixtures::ordering("p", OrderingEntityType::Session, &["b", "a"], 7);
    let override_obj = json!({"name": "Boss", "extraField": {"deep": [1]}})
        .as_object()
        .cloned()
        .unwrap();

    for p in &projects {
        a.projects.insert(p.clone()).await.unwrap();
    }
    for t in &tasks {
        a.tasks.insert(t.clone()).await.unwrap();
    }
    for s in &sessions {
        a.sessions.upsert(s.clone()).await.unwrap();
    }
    for m in &mails {
        a.mail.insert(m.clone()).await.unwrap();
    }
    for m in &members {
        a.team_members.put_custom(m.clone()).await.unwrap();
    }
    a.orderings.save(ordering.clone()).await.unwrap();
    a.team_members
        .put_override("p", "tm_p_coordinator", override_obj.clone())
        .await
        .unwrap();

    // A second store: new pool, new connections, nothing cached.
    let b = schema.store(2);
    for p in &projects {
        same(p, &b.projects.get(&p.id).await.unwrap().unwrap());
    }
    for t in &tasks {
        same(t, &b.tasks.get(&t.id).await.unwrap().unwrap());
    }
    for s in &sessions {
        same(s, &b.sessions.get(&s.id).await.unwrap().unwrap());
    }
    for m in &mails {
        same(m, &b.mail.get(&m.id).await.unwrap().unwrap());
    }
    for m in &members {
        same(
            m,
            &b.team_members
                .get_custom(&m.project_id, &m.id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    same(
        &ordering,
        &b.orderings
            .get("p", OrderingEntityType::Session)
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(
        b.team_members
            .get_override("p", "tm_p_coordinator")
            .await
            .unwrap(),
        Some(override_obj)
    );

    // Lists read back the same entities, in creation order.
    assert_eq!(b.projects.list().await.unwrap(), {
        let mut v = projects.to_vec();
        v.sort_by_key(|p| (p.created_at, p.id.clone()));
        v
    });
    let listed = b.tasks.list(&TaskFilter::default()).await.unwrap();
    assert_eq!(listed.len(), tasks.len());
    for t in &tasks {
        assert!(listed.contains(t), "{} listed as written", t.id);
    }
    let listed = b.sessions.list(&SessionFilter::default()).await.unwrap();
    for s in &sessions {
        assert!(listed.contains(s), "{} listed as written", s.id);
    }
    let inbox = b
        .mail
        .inbox("sess_b", "proj_gone", &MailFilter::default())
        .await
        .unwrap();
    assert_eq!(inbox, vec![rich_mail()]);
}
