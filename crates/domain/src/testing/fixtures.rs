//! Entity builders for the contract suites (and adapters' own tests): minimal valid
//! entities with deterministic timestamps.

use std::collections::BTreeMap;

use serde_json::json;

use crate::entities::{
    Extra, MailMessage, MailType, Ordering, OrderingEntityType, Project, Session, SessionStatus,
    Task, TaskPriority, TaskStatus, TeamMember, TeamMemberStatus, TimelineEvent, TimelineEventType,
};

/// Base epoch-ms timestamp used by the fixtures (2023-11-14).
pub const T0: i64 = 1_700_000_000_000;

/// One unknown key (`"x-extra": {"kept": true}`), to check that adapters keep `extra`.
pub fn extra() -> Extra {
    let mut e = Extra::new();
    e.insert("x-extra".to_owned(), json!({"kept": true}));
    e
}

/// A project created at `created_at` (ms).
pub fn project(id: &str, created_at: i64) -> Project {
    Project {
        id: id.to_owned(),
        name: format!("Project {id}"),
        working_dir: "/tmp/work".to_owned(),
        description: Some(String::new()),
        created_at,
        updated_at: created_at,
        extra: Extra::new(),
        odd: Default::default(),
    }
}

/// A root `todo` task of `project_id` created at `created_at` (ms), with the reference's
/// create defaults.
pub fn task(id: &str, project_id: &str, created_at: i64) -> Task {
    Task {
        id: id.to_owned(),
        project_id: project_id.to_owned(),
        parent_id: None,
        title: format!("Task {id}"),
        description: String::new(),
        status: TaskStatus::Todo.into(),
        task_session_statuses: None,
        priority: TaskPriority::Medium.into(),
        created_at,
        updated_at: created_at,
        started_at: None,
        completed_at: None,
        initial_prompt: String::new(),
        session_ids: Vec::new(),
        skill_ids: Vec::new(),
        agent_ids: Vec::new(),
        dependencies: Vec::new(),
        reference_task_ids: Some(Vec::new()),
        pinned: None,
        team_member_id: None,
        team_member_ids: None,
        extra: Extra::new(),
        odd: Default::default(),
    }
}

/// An `idle` session of `project_id` started at `started_at` (ms), with the initial
/// `session_started` timeline entry.
pub fn session(id: &str, project_id: &str, started_at: i64) -> Session {
    Session {
        id: id.to_owned(),
        project_id: project_id.to_owned(),
        task_ids: Vec::new(),
        name: format!("Session {id}"),
        agent_id: None,
        env: BTreeMap::new(),
        status: SessionStatus::Idle.into(),
        started_at,
        last_activity: started_at,
        completed_at: None,
        hostname: "host".to_owned(),
        platform: "linux".to_owned(),
        events: Vec::new(),
        timeline: vec![timeline(&format!("evt_{id}_0"), started_at)],
        docs: Vec::new(),
        metadata: None,
        needs_input: None,
        team_member_id: None,
        team_member_snapshot: None,
        team_member_ids: None,
        team_member_snapshots: None,
        parent_session_id: None,
        extra: Extra::new(),
        odd: Default::default(),
    }
}

/// A `session_started` timeline entry.
pub fn timeline(id: &str, timestamp: i64) -> TimelineEvent {
    TimelineEvent {
        id: id.to_owned(),
        kind: TimelineEventType::SessionStarted.into(),
        timestamp,
        message: Some("Session created".to_owned()),
        task_id: None,
        metadata: None,
    }
}

/// A root `notification` mail; `to = None` is a broadcast.
pub fn mail(
    id: &str,
    project_id: &str,
    from: &str,
    to: Option<&str>,
    created_at: i64,
) -> MailMessage {
    MailMessage {
        id: id.to_owned(),
        project_id: project_id.to_owned(),
        from_session_id: from.to_owned(),
        to_session_id: to.map(str::to_owned),
        reply_to_mail_id: None,
        thread_id: id.to_owned(),
        kind: MailType::Notification,
        subject: format!("Subject {id}"),
        body: json!({"message": "hello"}),
        priority: None,
        created_at,
        read_at: None,
        extra: Extra::new(),
        odd: Default::default(),
    }
}

/// A custom team member with ISO timestamps `created_at`.
pub fn member(id: &str, project_id: &str, created_at: &str) -> TeamMember {
    TeamMember {
        id: id.to_owned(),
        project_id: project_id.to_owned(),
        name: format!("Member {id}"),
        role: "Tester".to_owned(),
        identity: "You test things.".to_owned(),
        avatar: "🧪".to_owned(),
        model: Some("sonnet".to_owned()),
        agent_tool: None,
        mode: None,
        permission_mode: None,
        skill_ids: Some(Vec::new()),
        is_default: false,
        status: TeamMemberStatus::Active.into(),
        capabilities: None,
        command_permissions: None,
        workflow_template_id: None,
        custom_workflow: None,
        memory: None,
        created_at: created_at.to_owned(),
        updated_at: created_at.to_owned(),
        extra: Extra::new(),
        odd: Default::default(),
    }
}

/// An ordering.
pub fn ordering(
    project_id: &str,
    entity_type: OrderingEntityType,
    ids: &[&str],
    updated_at: i64,
) -> Ordering {
    Ordering {
        project_id: project_id.to_owned(),
        entity_type,
        ordered_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        updated_at,
        odd: Default::default(),
    }
}
