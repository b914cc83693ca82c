//! SessionService (ref §3.3 and the session routes of ref §4.4). Modals and prompts are in
//! `session_interaction.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Ctx, Saved, TeamMemberService, non_blank};
use crate::entities::{
    DocEntry, DocKind, Extra, NeedsInput, Session, SessionEvent, SessionFilter, SessionPatch,
    SessionStatus, TaskSessionStatus, TeamMemberSnapshot, TimelineEvent, TimelineEventType,
};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};
use crate::ids::{check_id, check_ids, check_opt_id};

/// Team-member snapshots looked up while enriching one response, by `(projectId, memberId)`;
/// `None` records a member that does not exist.
type SnapshotCache = std::collections::HashMap<(String, String), Option<TeamMemberSnapshot>>;

/// Input of `createSession` (ref §3.3.1, §4.4 POST /api/sessions).
#[derive(Debug, Clone, Default)]
pub struct CreateSession {
    /// Client-supplied id (used verbatim; an existing session is overwritten).
    pub id: Option<String>,
    /// Required.
    pub project_id: Option<String>,
    /// Tasks to link; each must exist.
    pub task_ids: Vec<String>,
    /// Name (default `Unnamed Session`).
    pub name: Option<String>,
    /// Agent id.
    pub agent_id: Option<String>,
    /// Status (default idle).
    pub status: Option<SessionStatus>,
    /// Environment.
    pub env: Option<BTreeMap<String, String>>,
    /// Metadata.
    pub metadata: Option<Value>,
    /// Parent session.
    pub parent_session_id: Option<String>,
    /// Suppresses `session:created` and `task:session_added`.
    pub suppress_created_event: bool,
    /// Top-level keys the session entity has no field for, stored as sent (spawn: `teamId`,
    /// NEWER-CLI-REQUESTS §4.2).
    pub extra: Extra,
}

/// Sessions.
#[derive(Clone)]
pub struct SessionService {
    pub(crate) ctx: Arc<Ctx>,
}

fn session_event(name: &'static str, s: &Session) -> NewEvent {
    NewEvent::new(name, &s.project_id, Payload::of(s)).for_session(&s.id)
}

/// `session:updated` with the already serialized session.
fn updated_event(s: &Saved<Session>) -> NewEvent {
    NewEvent::new(names::SESSION_UPDATED, &s.value.project_id, s.json.clone())
        .for_session(&s.value.id)
}

impl SessionService {
    /// Sessions whose appends are between their commit and their answer right now (each
    /// holds the newest serialized version until its last such append answers; see
    /// `services::snapshots`). Zero when the server is idle.
    pub fn pending_snapshots(&self) -> usize {
        self.ctx.snapshots.pending()
    }

    fn team(&self) -> TeamMemberService {
        TeamMemberService {
            ctx: self.ctx.clone(),
        }
    }

    fn timeline(
        &self,
        kind: TimelineEventType,
        message: Option<String>,
        task_id: Option<String>,
        metadata: Option<Value>,
    ) -> TimelineEvent {
        TimelineEvent {
            id: self.ctx.id("evt"),
            kind: kind.into(),
            timestamp: self.ctx.now(),
            message,
            task_id,
            metadata,
        }
    }

    /// Creates a session (ref §3.3.1): links each task (with a `task_started` timeline entry)
    /// and emits `session:created` then `task:session_added` per task, unless suppressed.
    ///
    /// # Errors
    /// `Validation` "Project ID is required", or an id (`id`, `projectId`, `taskIds`,
    /// `parentSessionId`) breaking the id rule (spec §2); `NotFound` project, then each task.
    pub async fn create(&self, input: CreateSession) -> DomainResult<Session> {
        self.create_with_members(input, None).await
    }

    pub(crate) async fn create_with_members(
        &self,
        input: CreateSession,
        members: Option<(Vec<String>, Vec<TeamMemberSnapshot>)>,
    ) -> DomainResult<Session> {
        check_opt_id("id", input.id.as_deref())?;
        let project_id = non_blank(input.project_id.as_deref())
            .ok_or_else(|| DomainError::validation("Project ID is required"))?;
        check_id("projectId", &project_id)?;
        check_ids("taskIds", &input.task_ids)?;
        check_opt_id("parentSessionId", input.parent_session_id.as_deref())?;
        if self.ctx.ports.projects.get(&project_id).await?.is_none() {
            return Err(DomainError::not_found("Project", &project_id));
        }
        for task_id in &input.task_ids {
            if self.ctx.ports.tasks.get(task_id).await?.is_none() {
                return Err(DomainError::not_found("Task", task_id));
            }
        }
        let now = self.ctx.now();
        let id = input.id.unwrap_or_else(|| self.ctx.id("sess"));
        let mut timeline = vec![self.timeline(
            TimelineEventType::SessionStarted,
            Some("Session created".into()),
            None,
            None,
        )];
        let mut task_ids: Vec<String> = Vec::new();
        for task_id in &input.task_ids {
            if !task_ids.contains(task_id) {
                task_ids.push(task_id.clone());
            }
        }
        for task_id in &task_ids {
            timeline.push(self.timeline(
                TimelineEventType::TaskStarted,
                Some("Started working on task".into()),
                Some(task_id.clone()),
                None,
            ));
        }
        let mut session = Session {
            id: id.clone(),
            project_id,
            task_ids: task_ids.clone(),
            name: input.name.unwrap_or_else(|| "Unnamed Session".into()),
            agent_id: input.agent_id,
            env: input.env.unwrap_or_default(),
            status: input.status.unwrap_or(SessionStatus::Idle).into(),
            started_at: now,
            last_activity: now,
            completed_at: None,
            hostname: self.ctx.config.hostname.clone(),
            platform: self.ctx.config.platform.clone(),
            events: Vec::new(),
            timeline,
            docs: Vec::new(),
            metadata: input.metadata,
            needs_input: None,
            team_member_id: None,
            team_member_snapshot: None,
            team_member_ids: None,
            team_member_snapshots: None,
            parent_session_id: input.parent_session_id,
            extra: input.extra,
            odd: Default::default(),
        };
        if let Some((ids, snaps)) = &members {
            session.set_team_members(ids, snaps);
        }
        let session = self.ctx.ports.sessions.upsert(session).await?;
        for task_id in &task_ids {
            self.ctx.ports.tasks.add_session(task_id, &id, now).await?;
        }
        if !input.suppress_created_event {
            self.ctx
                .emit(session_event(names::SESSION_CREATED, &session))
                .await;
            for task_id in &task_ids {
                self.emit_task_session(names::TASK_SESSION_ADDED, &session, task_id)
                    .await;
            }
        }
        Ok(session)
    }

    async fn emit_task_session(&self, name: &'static str, session: &Session, task_id: &str) {
        let data = if name.starts_with("task:") {
            json!({ "taskId": task_id, "sessionId": session.id })
        } else {
            json!({ "sessionId": session.id, "taskId": task_id })
        };
        self.ctx
            .emit(NewEvent::new(name, &session.project_id, data).for_session(&session.id))
            .await;
    }

    /// The stored session, without enrichment. `NotFound` if missing.
    pub async fn get_raw(&self, id: &str) -> DomainResult<Session> {
        self.ctx
            .ports
            .sessions
            .get(id)
            .await?
            .ok_or_else(|| DomainError::not_found("Session", id))
    }

    /// The session with team-member snapshot enrichment (ref §4.4). `NotFound` if missing.
    pub async fn get(&self, id: &str) -> DomainResult<Session> {
        let s = self.get_raw(id).await?;
        Ok(self.enrich(s, &mut SnapshotCache::new()).await)
    }

    /// Sessions passing `filter`, oldest first, enriched. Each team member is looked up
    /// once per call, however many sessions name it.
    ///
    /// # Errors
    /// `Validation` if an id of the filter breaks the id rule (spec §2).
    pub async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        check_opt_id("projectId", filter.project_id.as_deref())?;
        check_opt_id("taskId", filter.task_id.as_deref())?;
        check_opt_id("parentSessionId", filter.parent_session_id.as_deref())?;
        let sessions = self.ctx.ports.sessions.list(filter).await?;
        let mut out = Vec::with_capacity(sessions.len());
        let mut cache = SnapshotCache::new();
        for s in sessions {
            out.push(self.enrich(s, &mut cache).await);
        }
        Ok(out)
    }

    /// Snapshot enrichment (ref §4.4): a read-time view, not written back. `cache` holds
    /// the snapshots (or their absence) already looked up by this request.
    async fn enrich(&self, mut s: Session, cache: &mut SnapshotCache) -> Session {
        let has_snapshots = s
            .team_member_snapshots
            .as_ref()
            .is_some_and(|v| !v.is_empty())
            || s.team_member_snapshot.is_some();
        if has_snapshots {
            return s;
        }
        let Some(meta) = s.metadata.as_ref().and_then(Value::as_object) else {
            return s;
        };
        let ids: Vec<String> = match meta.get("teamMemberIds").and_then(Value::as_array) {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => match meta.get("teamMemberId").and_then(Value::as_str) {
                Some(id) => vec![id.to_owned()],
                None => return s,
            },
        };
        let mut snaps = Vec::new();
        for id in &ids {
            let key = (s.project_id.clone(), id.clone());
            let snap = match cache.get(&key) {
                Some(hit) => hit.clone(),
                None => {
                    let found = match self.team().find(&s.project_id, id).await {
                        Ok(Some(m)) => Some(m.snapshot()),
                        _ => None,
                    };
                    cache.insert(key, found.clone());
                    found
                }
            };
            snaps.extend(snap);
        }
        if !snaps.is_empty() {
            s.set_team_members(&ids, &snaps);
        }
        s
    }

    /// Updates a session (ref §3.3.2): the stopped-after-completed guard, propagation of a
    /// terminal status to the session's active per-task entries (`task:updated` each), then
    /// `session:updated`, `notify:session_completed|failed` on a transition and
    /// `notify:needs_input` when the flag turns on.
    ///
    /// # Errors
    /// `Validation` if a task id of the patch (`taskIds`, `timeline[i].taskId`) breaks the
    /// id rule; `NotFound`.
    pub async fn update(&self, id: &str, patch: SessionPatch) -> DomainResult<Session> {
        self.update_saved(id, patch).await.map(Saved::into_value)
    }

    /// [`update`](Self::update), with the session's JSON as announced in `session:updated`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn update_saved(
        &self,
        id: &str,
        mut patch: SessionPatch,
    ) -> DomainResult<Saved<Session>> {
        check_ids("taskIds", patch.task_ids.as_deref().unwrap_or_default())?;
        for (i, t) in patch.timeline.iter().enumerate() {
            check_opt_id(&format!("timeline[{i}].taskId"), t.task_id.as_deref())?;
        }
        let old = self.get_raw(id).await?;
        // Appended items come as the client sent them; give those without an id or a
        // timestamp (empty / 0) an `evt_…` id and the current time.
        let now = self.ctx.now();
        for e in &mut patch.events {
            self.fill(&mut e.id, &mut e.timestamp, now);
        }
        for t in &mut patch.timeline {
            self.fill(&mut t.id, &mut t.timestamp, now);
        }
        if patch.status == Some(SessionStatus::Stopped) && old.status == SessionStatus::Completed {
            patch.status = None;
            if patch.is_empty() {
                return Ok(Saved::new(Arc::new(old)));
            }
        }
        let session = self
            .ctx
            .ports
            .sessions
            .update_shared(id, &patch, self.ctx.now())
            .await?;
        if let Some(status) = patch.status.filter(|s| s.is_terminal()) {
            self.propagate_terminal(&session, status).await;
        }
        let saved = Saved::new(session);
        self.ctx.emit(updated_event(&saved)).await;
        let session = &saved.value;
        if old.status != session.status {
            let name = match session.status.known() {
                Some(SessionStatus::Completed) => Some(names::NOTIFY_SESSION_COMPLETED),
                Some(SessionStatus::Failed) => Some(names::NOTIFY_SESSION_FAILED),
                _ => None,
            };
            if let Some(name) = name {
                self.ctx
                    .emit(
                        NewEvent::new(
                            name,
                            &session.project_id,
                            json!({ "sessionId": session.id, "name": session.name }),
                        )
                        .for_session(&session.id),
                    )
                    .await;
            }
        }
        if patch.needs_input.as_ref().is_some_and(|n| n.active) && !old.needs_input_active() {
            let message = patch.needs_input.as_ref().and_then(|n| n.message.clone());
            self.emit_needs_input(session, message).await;
        }
        Ok(saved)
    }

    fn fill(&self, id: &mut String, timestamp: &mut i64, now: i64) {
        if id.is_empty() {
            *id = self.ctx.id("evt");
        }
        if *timestamp == 0 {
            *timestamp = now;
        }
    }

    /// Best-effort (ref §3.3.2): errors are logged, not returned.
    async fn propagate_terminal(&self, session: &Session, status: SessionStatus) {
        let mapped = if status == SessionStatus::Completed {
            TaskSessionStatus::Completed
        } else {
            TaskSessionStatus::Failed
        };
        for task_id in &session.task_ids {
            let task = match self.ctx.ports.tasks.get(task_id).await {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(task = %task_id, error = %err, "status propagation skipped");
                    continue;
                }
            };
            if task
                .session_status(&session.id)
                .is_none_or(|s| s.known().is_some_and(TaskSessionStatus::is_final))
            {
                continue;
            }
            match self
                .ctx
                .ports
                .tasks
                .set_session_status(task_id, &session.id, mapped, self.ctx.now())
                .await
            {
                Ok(task) => {
                    self.ctx
                        .emit(NewEvent::new(
                            names::TASK_UPDATED,
                            &task.project_id,
                            Payload::of(&task),
                        ))
                        .await
                }
                Err(err) => {
                    tracing::warn!(task = %task_id, error = %err, "status propagation failed")
                }
            }
        }
    }

    async fn emit_needs_input(&self, session: &Session, message: Option<String>) {
        let mut data = json!({ "sessionId": session.id, "name": session.name });
        if let Some(m) = message {
            data["message"] = Value::String(m);
        }
        self.ctx
            .emit(
                NewEvent::new(names::NOTIFY_NEEDS_INPUT, &session.project_id, data)
                    .for_session(&session.id),
            )
            .await;
    }

    /// Deletes a session (ref §3.3.3): unlinks it from its tasks, dropping its per-session
    /// statuses (spec §2), emits `session:deleted` `{id}` and then `task:updated` for each
    /// task that changed.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete(&self, id: &str) -> DomainResult<()> {
        let session = self.get_raw(id).await?;
        let mut tasks = Vec::new();
        for task_id in &session.task_ids {
            match self
                .ctx
                .ports
                .tasks
                .remove_session(task_id, id, true, self.ctx.now())
                .await
            {
                Ok(task) => tasks.push(task),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.ctx.ports.sessions.delete(id).await?;
        self.ctx
            .emit(
                NewEvent::new(
                    names::SESSION_DELETED,
                    &session.project_id,
                    json!({ "id": id }),
                )
                .for_session(id),
            )
            .await;
        for task in tasks {
            self.ctx
                .emit(NewEvent::new(
                    names::TASK_UPDATED,
                    &task.project_id,
                    Payload::of(&task),
                ))
                .await;
        }
        Ok(())
    }

    /// Links a task (ref §3.3.4): appends `task_started` "Added task to session", emits
    /// `session:task_added` then `task:session_added`. Returns the session.
    ///
    /// # Errors
    /// `NotFound` session, then task.
    pub async fn add_task(&self, id: &str, task_id: &str) -> DomainResult<Session> {
        let session = self.get_raw(id).await?;
        if self.ctx.ports.tasks.get(task_id).await?.is_none() {
            return Err(DomainError::not_found("Task", task_id));
        }
        let now = self.ctx.now();
        self.ctx.ports.sessions.add_task(id, task_id, now).await?;
        self.ctx.ports.tasks.add_session(task_id, id, now).await?;
        let session = self
            .ctx
            .ports
            .sessions
            .add_timeline_event(
                &session.id,
                self.timeline(
                    TimelineEventType::TaskStarted,
                    Some("Added task to session".into()),
                    Some(task_id.to_owned()),
                    None,
                ),
                now,
            )
            .await?;
        self.emit_task_session(names::SESSION_TASK_ADDED, &session, task_id)
            .await;
        self.emit_task_session(names::TASK_SESSION_ADDED, &session, task_id)
            .await;
        Ok(session)
    }

    /// Unlinks a task (ref §3.3.4): appends `task_completed` "Removed task from session",
    /// emits `session:task_removed` then `task:session_removed`. Returns the session.
    ///
    /// # Errors
    /// `NotFound` session, then task.
    pub async fn remove_task(&self, id: &str, task_id: &str) -> DomainResult<Session> {
        self.get_raw(id).await?;
        if self.ctx.ports.tasks.get(task_id).await?.is_none() {
            return Err(DomainError::not_found("Task", task_id));
        }
        let now = self.ctx.now();
        self.ctx
            .ports
            .sessions
            .remove_task(id, task_id, now)
            .await?;
        self.ctx
            .ports
            .tasks
            .remove_session(task_id, id, false, now)
            .await?;
        let session = self
            .ctx
            .ports
            .sessions
            .add_timeline_event(
                id,
                self.timeline(
                    TimelineEventType::TaskCompleted,
                    Some("Removed task from session".into()),
                    Some(task_id.to_owned()),
                    None,
                ),
                now,
            )
            .await?;
        self.emit_task_session(names::SESSION_TASK_REMOVED, &session, task_id)
            .await;
        self.emit_task_session(names::TASK_SESSION_REMOVED, &session, task_id)
            .await;
        Ok(session)
    }

    /// Appends a raw event and emits `session:updated`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn add_event(
        &self,
        id: &str,
        kind: String,
        data: Option<Value>,
    ) -> DomainResult<Session> {
        self.add_event_saved(id, kind, data)
            .await
            .map(Saved::into_value)
    }

    /// [`add_event`](Self::add_event), with the session's JSON as announced.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn add_event_saved(
        &self,
        id: &str,
        kind: String,
        data: Option<Value>,
    ) -> DomainResult<Saved<Session>> {
        let now = self.ctx.now();
        let event = SessionEvent {
            id: self.ctx.id("evt"),
            timestamp: now,
            kind,
            data,
        };
        let ticket = self.ctx.snapshots.enter(id);
        let session = self
            .ctx
            .ports
            .sessions
            .add_event_shared(id, event, now)
            .await?;
        ticket.announce(&self.ctx, session).await
    }

    /// Appends a timeline entry (ref §3.3.5). `needs_input` also sets the flag. Emits
    /// `session:updated`, then `notify:progress` (type progress) or `notify:needs_input`
    /// (type needs_input, always).
    ///
    /// # Errors
    /// `Validation` for a `taskId` breaking the id rule; `NotFound`.
    pub async fn add_timeline_event(
        &self,
        id: &str,
        kind: TimelineEventType,
        message: Option<String>,
        task_id: Option<String>,
        metadata: Option<Value>,
    ) -> DomainResult<Session> {
        self.add_timeline_event_saved(id, kind, message, task_id, metadata)
            .await
            .map(Saved::into_value)
    }

    /// [`add_timeline_event`](Self::add_timeline_event), with the session's JSON as announced.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn add_timeline_event_saved(
        &self,
        id: &str,
        kind: TimelineEventType,
        message: Option<String>,
        task_id: Option<String>,
        metadata: Option<Value>,
    ) -> DomainResult<Saved<Session>> {
        check_opt_id("taskId", task_id.as_deref())?;
        let entry = self.timeline(kind, message.clone(), task_id.clone(), metadata);
        let now = entry.timestamp;
        let ticket = self.ctx.snapshots.enter(id);
        let session = if kind == TimelineEventType::NeedsInput {
            let patch = SessionPatch {
                timeline: vec![entry],
                needs_input: Some(NeedsInput {
                    active: true,
                    message: message.clone(),
                    since: Some(now),
                }),
                ..SessionPatch::default()
            };
            self.ctx
                .ports
                .sessions
                .update_shared(id, &patch, now)
                .await?
        } else {
            self.ctx
                .ports
                .sessions
                .add_timeline_event_shared(id, entry, now)
                .await?
        };
        let saved = ticket.announce(&self.ctx, session).await?;
        drop(ticket);
        // The answer may be a newer version (concurrent appends); the notification is about
        // this request's own entry.
        let session = &saved.value;
        match kind {
            TimelineEventType::Progress => {
                let mut data = json!({ "sessionId": session.id });
                if let Some(t) = task_id {
                    data["taskId"] = Value::String(t);
                }
                if let Some(m) = message {
                    data["message"] = Value::String(m);
                }
                self.ctx
                    .emit(
                        NewEvent::new(names::NOTIFY_PROGRESS, &session.project_id, data)
                            .for_session(&session.id),
                    )
                    .await;
            }
            TimelineEventType::NeedsInput => self.emit_needs_input(session, message).await,
            _ => {}
        }
        Ok(saved)
    }

    /// Adds a doc (ref §3.3.5) with a `doc_added` timeline entry; emits `session:updated`.
    ///
    /// # Errors
    /// `Validation` for a `taskId` breaking the id rule; `NotFound`.
    pub async fn add_doc(
        &self,
        id: &str,
        title: &str,
        file_path: &str,
        content: Option<String>,
        task_id: Option<String>,
        kind: Option<DocKind>,
    ) -> DomainResult<Session> {
        self.add_doc_saved(id, title, file_path, content, task_id, kind)
            .await
            .map(Saved::into_value)
    }

    /// [`add_doc`](Self::add_doc), with the session's JSON as announced.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn add_doc_saved(
        &self,
        id: &str,
        title: &str,
        file_path: &str,
        content: Option<String>,
        task_id: Option<String>,
        kind: Option<DocKind>,
    ) -> DomainResult<Saved<Session>> {
        check_opt_id("taskId", task_id.as_deref())?;
        let now = self.ctx.now();
        let doc = DocEntry {
            id: self.ctx.id("doc"),
            title: title.to_owned(),
            file_path: file_path.to_owned(),
            kind: kind.map(Into::into),
            content,
            content_file_path: None,
            task_id: task_id.clone(),
            added_at: now,
            added_by: Some(id.to_owned()),
            extra: Extra::new(),
        };
        let entry = self.timeline(
            TimelineEventType::DocAdded,
            Some(format!("Doc added: {title}")),
            task_id,
            Some(json!({ "docId": doc.id, "filePath": file_path, "title": title })),
        );
        let ticket = self.ctx.snapshots.enter(id);
        self.ctx.ports.sessions.add_doc_shared(id, doc, now).await?;
        let session = self
            .ctx
            .ports
            .sessions
            .add_timeline_event_shared(id, entry, now)
            .await?;
        ticket.announce(&self.ctx, session).await
    }

    /// The session's docs, each with its content: a doc the newer reference stored in a file
    /// of its own (`contentFilePath`) gets the file's content (as the reference serves it).
    /// `NotFound`.
    pub async fn docs(&self, id: &str) -> DomainResult<Vec<DocEntry>> {
        let docs = self.get_raw(id).await?.docs;
        self.with_content(id, docs).await
    }

    /// `docs` of session `session_id`, with the content of those kept outside the session
    /// filled in (see [`SessionRepository::doc_content`](crate::ports::SessionRepository::doc_content)).
    pub(crate) async fn with_content(
        &self,
        session_id: &str,
        mut docs: Vec<DocEntry>,
    ) -> DomainResult<Vec<DocEntry>> {
        for doc in &mut docs {
            if doc.content.is_none() && doc.content_file_path.is_some() {
                doc.content = self.ctx.ports.sessions.doc_content(session_id, doc).await?;
            }
        }
        Ok(docs)
    }

    /// Marks a session `failed` with an `error` timeline entry (spawn failure, spec §2).
    pub(crate) async fn fail_with_error(&self, id: &str, message: String) -> DomainResult<Session> {
        let entry = self.timeline(TimelineEventType::Error, Some(message), None, None);
        self.update(
            id,
            SessionPatch {
                status: Some(SessionStatus::Failed),
                timeline: vec![entry],
                ..SessionPatch::default()
            },
        )
        .await
    }
}
