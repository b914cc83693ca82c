//! Ports: the traits adapters implement (ref §2, spec §6.1).
//!
//! Every method is atomic with respect to the entity it touches: concurrent `add_session`,
//! `remove_session` and per-session status merges on one task lose nothing (spec §6.1).
//! Unless stated otherwise, a method returns
//! - `DomainError::NotFound` when the entity it mutates is missing,
//! - `DomainError::StoreUnavailable` when the backend cannot be reached,
//! - `DomainError::Internal` for anything else (I/O, corrupt rows).
//!
//! Lists come back in a stable order: creation time ascending, then id (spec §2).

use std::sync::Arc;

use async_trait::async_trait;

use crate::entities::{
    AgentMode, AgentTool, DocEntry, LaunchConfig, MailFilter, MailMessage, Ordering,
    OrderingEntityType, PermissionMode, Project, ProjectPatch, Session, SessionEvent,
    SessionFilter, SessionPatch, Task, TaskFilter, TaskPatch, TaskSessionStatus, TeamMember,
    TimelineEvent,
};
use crate::error::DomainResult;

/// Projects (ref §2 IProjectRepository).
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project. `Conflict` if the id exists.
    async fn insert(&self, project: Project) -> DomainResult<Project>;
    /// The project, or `None`.
    async fn get(&self, id: &str) -> DomainResult<Option<Project>>;
    /// Every project.
    async fn list(&self) -> DomainResult<Vec<Project>>;
    /// Applies `patch` (and `updatedAt = now`). `NotFound` if missing.
    async fn update(&self, id: &str, patch: &ProjectPatch, now: i64) -> DomainResult<Project>;
    /// Deletes. `NotFound` if missing.
    async fn delete(&self, id: &str) -> DomainResult<()>;
}

/// Tasks (ref §2 ITaskRepository).
#[async_trait]
pub trait TaskRepository: Send + Sync {
    /// Stores a new task. `Conflict` if the id exists.
    async fn insert(&self, task: Task) -> DomainResult<Task>;
    /// The task, or `None`.
    async fn get(&self, id: &str) -> DomainResult<Option<Task>>;
    /// Tasks passing `filter`.
    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>>;
    /// Applies `patch` atomically (ref §2 `update`). `NotFound` if missing.
    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task>;
    /// Sets `taskSessionStatuses[session_id] = status` atomically. `NotFound` if missing.
    async fn set_session_status(
        &self,
        id: &str,
        session_id: &str,
        status: TaskSessionStatus,
        now: i64,
    ) -> DomainResult<Task>;
    /// Idempotent link; returns the task and whether the id was added. `NotFound` if missing.
    async fn add_session(&self, id: &str, session_id: &str, now: i64)
    -> DomainResult<(Task, bool)>;
    /// Unlink; with `drop_status` also removes the session's per-session status.
    /// `NotFound` if missing.
    async fn remove_session(
        &self,
        id: &str,
        session_id: &str,
        drop_status: bool,
        now: i64,
    ) -> DomainResult<Task>;
    /// Deletes. `NotFound` if missing.
    async fn delete(&self, id: &str) -> DomainResult<()>;
    /// True if any task belongs to the project.
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool>;

    /// [`get`](Self::get) as the task's compact JSON text (the `GET /api/tasks/:id` body).
    ///
    /// The default serializes `get`; a store that keeps serialized forms overrides it so
    /// reads skip the clone and the serialization. Must equal `serde_json::to_string(&task)`.
    ///
    /// # Errors
    /// As `get`; `Internal` if serialization fails.
    async fn get_json(&self, id: &str) -> DomainResult<Option<Arc<str>>> {
        self.get(id).await?.as_ref().map(task_json).transpose()
    }

    /// [`list`](Self::list) as compact JSON texts, one per task, in the same order (the
    /// elements of the `GET /api/tasks` array).
    ///
    /// The default serializes `list`; see [`get_json`](Self::get_json).
    ///
    /// # Errors
    /// As `list`; `Internal` if serialization fails.
    async fn list_json(&self, filter: &TaskFilter) -> DomainResult<Vec<Arc<str>>> {
        self.list(filter).await?.iter().map(task_json).collect()
    }
}

/// `task` as compact JSON text (what [`TaskRepository::get_json`] returns).
///
/// # Errors
/// `Internal` if serialization fails (a non-string map key in `extra` cannot occur, so in
/// practice never).
pub fn task_json(task: &Task) -> DomainResult<Arc<str>> {
    serde_json::to_string(task)
        .map(Arc::from)
        .map_err(|e| crate::error::DomainError::internal("serializing a task", e))
}

/// Sessions (ref §2 ISessionRepository).
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a session; an existing one with the same id is overwritten (ref §0).
    async fn upsert(&self, session: Session) -> DomainResult<Session>;
    /// The session, or `None`.
    async fn get(&self, id: &str) -> DomainResult<Option<Session>>;
    /// Sessions passing `filter`.
    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>>;
    /// Applies `patch` atomically. `NotFound` if missing.
    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session>;
    /// Idempotent link; returns whether it was added. `NotFound` if missing.
    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)>;
    /// Unlink. `NotFound` if missing.
    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session>;
    /// Appends a raw event. `NotFound` if missing.
    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session>;
    /// Appends a timeline entry. `NotFound` if missing.
    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session>;
    /// Appends a doc. `NotFound` if missing.
    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session>;

    /// The newest committed version of the session, shared, when the store holds it in
    /// memory and can give it without I/O; `None` when it cannot (or the session is gone).
    /// The services use it to answer and announce concurrent appends with one serialization
    /// (`services::snapshots`); the default, `None`, keeps one serialization per write.
    fn peek_shared(&self, _id: &str) -> Option<Arc<Session>> {
        None
    }

    /// [`update`](Self::update), returning the stored session shared rather than copied. A
    /// store that keeps sessions in `Arc`s overrides the `*_shared` methods: a long-running
    /// agent's session is megabytes, and the services only serialize it (issue 12 item 1).
    ///
    /// # Errors
    /// As `update`.
    async fn update_shared(
        &self,
        id: &str,
        patch: &SessionPatch,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.update(id, patch, now).await.map(Arc::new)
    }

    /// [`add_event`](Self::add_event), shared (see [`update_shared`](Self::update_shared)).
    ///
    /// # Errors
    /// As `add_event`.
    async fn add_event_shared(
        &self,
        id: &str,
        event: SessionEvent,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.add_event(id, event, now).await.map(Arc::new)
    }

    /// [`add_timeline_event`](Self::add_timeline_event), shared (see
    /// [`update_shared`](Self::update_shared)).
    ///
    /// # Errors
    /// As `add_timeline_event`.
    async fn add_timeline_event_shared(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.add_timeline_event(id, event, now).await.map(Arc::new)
    }

    /// [`add_doc`](Self::add_doc), shared (see [`update_shared`](Self::update_shared)).
    ///
    /// # Errors
    /// As `add_doc`.
    async fn add_doc_shared(
        &self,
        id: &str,
        doc: DocEntry,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.add_doc(id, doc, now).await.map(Arc::new)
    }
    /// Deletes. `NotFound` if missing.
    async fn delete(&self, id: &str) -> DomainResult<()>;
    /// True if any session belongs to the project.
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool>;

    /// The content of a doc of session `session_id` that the store keeps outside the session
    /// (a doc with `contentFilePath` and no `content`, as the newer reference server writes
    /// them), or `None` when there is none (a missing or unreadable file is `None`, logged by
    /// the store). The default, for stores that keep every doc's content inline, is `None`.
    async fn doc_content(
        &self,
        _session_id: &str,
        _doc: &DocEntry,
    ) -> DomainResult<Option<String>> {
        Ok(None)
    }
}

/// Typed mail (spec §3).
#[async_trait]
pub trait MailRepository: Send + Sync {
    /// Stores a new mail.
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage>;
    /// The mail, or `None`.
    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>>;
    /// Deletes. `NotFound` if missing.
    async fn delete(&self, id: &str) -> DomainResult<()>;
    /// Mail for `session_id` in `project_id` (direct or broadcast) passing `filter`, in any
    /// order (the service sorts).
    async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>>;
    /// Every mail of a thread, by `createdAt` then id.
    async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>>;
    /// Unread direct mail to `session_id` (any project), by `createdAt` then id.
    async fn unread_direct(&self, session_id: &str) -> DomainResult<Vec<MailMessage>>;
    /// Sets `readAt = at` on each listed mail that is unread; returns the updated mail.
    async fn mark_read(&self, ids: &[String], at: i64) -> DomainResult<Vec<MailMessage>>;
}

/// Stored team members: custom members and overrides of the defaults. The defaults
/// themselves are computed by the service (ref §1.9).
///
/// Custom members are kept under their *home* ([`TeamMember::home`]): their project, or
/// [`GLOBAL_MEMBERS`](crate::entities::GLOBAL_MEMBERS) for a global member
/// (`scope: "global"`), whose `projectId` stays the project it was created in. Custom member
/// ids are unique across homes (`tm_<ms>_<rand>`).
#[async_trait]
pub trait TeamMemberRepository: Send + Sync {
    /// Custom members kept under `home` (a project id, or
    /// [`GLOBAL_MEMBERS`](crate::entities::GLOBAL_MEMBERS)), by `createdAt` then id.
    async fn list_custom(&self, home: &str) -> DomainResult<Vec<TeamMember>>;
    /// One custom member kept under `home`, or `None`.
    async fn get_custom(&self, home: &str, id: &str) -> DomainResult<Option<TeamMember>>;
    /// The custom member `id` under any home (a global one first), or `None`.
    async fn find_custom(&self, id: &str) -> DomainResult<Option<TeamMember>>;
    /// Creates or replaces a custom member under its home. A member whose scope changed
    /// moves: the copy under its previous home (global ↔ its project) goes in the same
    /// change.
    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember>;
    /// Deletes a custom member kept under `home`. `NotFound` if missing.
    async fn delete_custom(&self, home: &str, id: &str) -> DomainResult<()>;
    /// The override object of a default member, or `None`.
    async fn get_override(
        &self,
        project_id: &str,
        default_id: &str,
    ) -> DomainResult<Option<serde_json::Map<String, serde_json::Value>>>;
    /// Replaces the override object of a default member.
    async fn put_override(
        &self,
        project_id: &str,
        default_id: &str,
        value: serde_json::Map<String, serde_json::Value>,
    ) -> DomainResult<()>;
    /// Removes the override (a missing one is fine).
    async fn delete_override(&self, project_id: &str, default_id: &str) -> DomainResult<()>;
}

/// UI orderings (ref §2 IOrderingRepository).
#[async_trait]
pub trait OrderingRepository: Send + Sync {
    /// The ordering, or `None`.
    async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Option<Ordering>>;
    /// Replaces the ordering.
    async fn save(&self, ordering: Ordering) -> DomainResult<Ordering>;
    /// Removes both orderings of a project (missing ones are fine).
    async fn delete_by_project(&self, project_id: &str) -> DomainResult<()>;
}

/// Where modal HTML goes (`<DATA_DIR>/modals/<modalId>.html` on the filesystem).
#[async_trait]
pub trait ModalStore: Send + Sync {
    /// Stores `html` for `modal_id` and returns the path (or URL) it was written to.
    async fn save(&self, modal_id: &str, html: &str) -> DomainResult<String>;
}

/// What the manifest generator is asked for (ref §3.3.6 step 11; the 653bc6a additions of
/// NEWER-CLI-REQUESTS §4.3, issue 13).
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRequest {
    /// The new session.
    pub session_id: String,
    /// The session's mode as recorded in `metadata.mode` (either vocabulary); what reaches
    /// the CLI is [`ManifestRequest::cli_mode`].
    pub mode: AgentMode,
    /// Project.
    pub project_id: String,
    /// Tasks.
    pub task_ids: Vec<String>,
    /// Skills.
    pub skills: Vec<String>,
    /// Model, if resolved (`launchConfig.model` when there is one).
    pub model: Option<String>,
    /// Agent tool, if resolved (from `launchConfig.provider` when there is one).
    pub agent_tool: Option<AgentTool>,
    /// The request's `launchConfig` (`--launch-config`, 653bc6a CLIs only).
    pub launch_config: Option<LaunchConfig>,
    /// Union of the tasks' reference ids.
    pub reference_task_ids: Vec<String>,
    /// `--team-member-ids`, when more than one (or the delegates).
    pub team_member_ids: Vec<String>,
    /// `--team-member-id`, when exactly one.
    pub team_member_id: Option<String>,
    /// `--team-id` (653bc6a CLIs only).
    pub team_id: Option<String>,
    /// `MAESTRO_INITIAL_DIRECTIVE` JSON.
    pub initial_directive: Option<serde_json::Value>,
    /// Parent / coordinator session.
    pub coordinator_session_id: Option<String>,
    /// `MAESTRO_PERMISSION_MODE` (653bc6a CLIs read it).
    pub permission_mode: Option<PermissionMode>,
    /// `MAESTRO_DELEGATE_PERMISSION_MODE`.
    pub delegate_permission_mode: Option<PermissionMode>,
    /// `MAESTRO_MEMBER_OVERRIDES` JSON (653bc6a CLIs read it).
    pub member_overrides: Option<serde_json::Value>,
}

impl ManifestRequest {
    /// The `--mode` for a CLI: a 7950ff3 CLI knows only `execute | coordinate`
    /// ([`AgentMode::legacy`]); a 653bc6a CLI gets the four-mode value, `coordinated-*` when
    /// the session has a coordinator, as the 653bc6a server passes it ([`AgentMode::four_mode`]).
    pub fn cli_mode(&self, four_modes: bool) -> AgentMode {
        if four_modes {
            self.mode.four_mode(self.coordinator_session_id.is_some())
        } else {
            self.mode.legacy()
        }
    }
}

/// The generated manifest and where it lives.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedManifest {
    /// Path of `manifest.json`.
    pub path: String,
    /// Parsed manifest.
    pub manifest: serde_json::Value,
}

/// Produces a session manifest (the `maestro manifest generate` subprocess in production).
#[async_trait]
pub trait ManifestGenerator: Send + Sync {
    /// Generates the manifest.
    ///
    /// # Errors
    /// `Err(reason)` with the human reason of ref §3.3.6 ("maestro CLI not found…",
    /// "Manifest generation failed (exit code N): …", …).
    async fn generate(&self, request: &ManifestRequest) -> Result<GeneratedManifest, String>;
}
