//! TaskService (ref §3.2, §3.4, the task routes of ref §4.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{Ctx, SessionService, non_blank};
use crate::entities::{
    DocEntry, DocKind, Extra, Session, SessionFilter, Task, TaskFilter, TaskPatch, TaskPriority,
    TaskSessionStatus, TaskStatus, TimelineEventType, UpdateSource, js_trim,
};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};
use crate::ids::{check_id, check_ids, check_opt_id};

mod delete;

/// Input of `createTask` (ref §4.3 POST /api/tasks).
#[derive(Debug, Clone, Default)]
pub struct CreateTask {
    /// Required.
    pub project_id: Option<String>,
    /// Parent task; must exist.
    pub parent_id: Option<String>,
    /// Required, trimmed, non-blank.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Priority (default medium).
    pub priority: Option<TaskPriority>,
    /// Initial prompt.
    pub initial_prompt: Option<String>,
    /// Skills.
    pub skill_ids: Option<Vec<String>>,
    /// References.
    pub reference_task_ids: Option<Vec<String>>,
    /// Team member.
    pub team_member_id: Option<String>,
    /// Team members.
    pub team_member_ids: Option<Vec<String>>,
    /// `teamId` (newer reference, 653bc6a): `Some(None)` stores `null`.
    pub team_id: Option<Option<String>>,
    /// `dueDate` (newer reference), stored as sent: `Some(None)` stores `null`.
    pub due_date: Option<Option<String>>,
}

/// Input of `updateTask`: the user fields, or the session form
/// `{updateSource:'session', sessionId, sessionStatus}` (ref §3.2).
#[derive(Debug, Clone, Default)]
pub struct UpdateTask {
    /// User fields (ignored in the session form).
    pub patch: TaskPatch,
    /// `session` selects the session form.
    pub update_source: Option<UpdateSource>,
    /// Reporting session.
    pub session_id: Option<String>,
    /// Its status on this task.
    pub session_status: Option<TaskSessionStatus>,
}

/// A doc of `GET /api/tasks/:id/docs`: a DocEntry plus its session.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDoc {
    /// The doc.
    #[serde(flatten)]
    pub doc: DocEntry,
    /// Owning session.
    pub session_id: String,
    /// Its name.
    pub session_name: String,
}

/// Tasks.
#[derive(Clone)]
pub struct TaskService {
    pub(crate) ctx: Arc<Ctx>,
}

impl TaskService {
    fn sessions(&self) -> SessionService {
        SessionService {
            ctx: self.ctx.clone(),
        }
    }

    /// Creates a task and emits `task:created`.
    ///
    /// # Errors
    /// In this order: `Validation` "Project ID is required", "Task title is required";
    /// `NotFound` project; `NotFound` "Parent task with id '<id>' not found".
    pub async fn create(&self, input: CreateTask) -> DomainResult<Task> {
        let project_id = non_blank(input.project_id.as_deref())
            .ok_or_else(|| DomainError::validation("Project ID is required"))?;
        check_id("projectId", &project_id)?;
        let title = non_blank(input.title.as_deref())
            .ok_or_else(|| DomainError::validation("Task title is required"))?;
        check_opt_id("parentId", input.parent_id.as_deref())?;
        check_opt_id("teamMemberId", input.team_member_id.as_deref())?;
        check_ids(
            "teamMemberIds",
            input.team_member_ids.as_deref().unwrap_or_default(),
        )?;
        check_ids(
            "referenceTaskIds",
            input.reference_task_ids.as_deref().unwrap_or_default(),
        )?;
        check_opt_id("teamId", input.team_id.clone().flatten().as_deref())?;
        if self.ctx.ports.projects.get(&project_id).await?.is_none() {
            return Err(DomainError::not_found("Project", &project_id));
        }
        if let Some(parent) = &input.parent_id
            && self.ctx.ports.tasks.get(parent).await?.is_none()
        {
            return Err(DomainError::not_found("Parent task", parent));
        }
        let now = self.ctx.now();
        let mut task = Task {
            id: self.ctx.id("task"),
            project_id,
            parent_id: input.parent_id,
            title,
            description: input.description.unwrap_or_default(),
            status: TaskStatus::Todo.into(),
            task_session_statuses: None,
            priority: input.priority.unwrap_or(TaskPriority::Medium).into(),
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
            initial_prompt: input.initial_prompt.unwrap_or_default(),
            session_ids: Vec::new(),
            skill_ids: input.skill_ids.unwrap_or_default(),
            agent_ids: Vec::new(),
            dependencies: Vec::new(),
            reference_task_ids: Some(input.reference_task_ids.unwrap_or_default()),
            pinned: None,
            team_member_id: input.team_member_id,
            team_member_ids: input.team_member_ids,
            extra: Extra::new(),
            odd: Default::default(),
        };
        if let Some(team_id) = &input.team_id {
            task.set_team_id(team_id);
        }
        if let Some(due_date) = &input.due_date {
            task.set_due_date(due_date);
        }
        let task = self.ctx.ports.tasks.insert(task).await?;
        self.ctx
            .emit(NewEvent::new(
                names::TASK_CREATED,
                &task.project_id,
                Payload::of(&task),
            ))
            .await;
        Ok(task)
    }

    /// The task. `NotFound` if missing.
    pub async fn get(&self, id: &str) -> DomainResult<Task> {
        self.ctx
            .ports
            .tasks
            .get(id)
            .await?
            .ok_or_else(|| DomainError::not_found("Task", id))
    }

    /// Tasks passing `filter`, oldest first.
    ///
    /// # Errors
    /// `Validation` if an id of the filter breaks the id rule (spec §2).
    pub async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        check_filter(filter)?;
        self.ctx.ports.tasks.list(filter).await
    }

    /// [`get`](Self::get) as compact JSON text (see `TaskRepository::get_json`).
    ///
    /// # Errors
    /// `NotFound` if the task is missing.
    pub async fn get_json(&self, id: &str) -> DomainResult<std::sync::Arc<str>> {
        self.ctx
            .ports
            .tasks
            .get_json(id)
            .await?
            .ok_or_else(|| DomainError::not_found("Task", id))
    }

    /// [`list`](Self::list) as compact JSON texts, one per task, oldest first.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub async fn list_json(&self, filter: &TaskFilter) -> DomainResult<Vec<std::sync::Arc<str>>> {
        check_filter(filter)?;
        self.ctx.ports.tasks.list_json(filter).await
    }

    /// [`children`](Self::children) as compact JSON texts. `NotFound` if the parent is missing.
    pub async fn children_json(&self, id: &str) -> DomainResult<Vec<std::sync::Arc<str>>> {
        self.get(id).await?;
        self.list_json(&TaskFilter {
            parent_id: Some(Some(id.to_owned())),
            ..TaskFilter::default()
        })
        .await
    }

    /// Direct children. `NotFound` if the parent is missing.
    pub async fn children(&self, id: &str) -> DomainResult<Vec<Task>> {
        self.get(id).await?;
        self.list(&TaskFilter {
            parent_id: Some(Some(id.to_owned())),
            ..TaskFilter::default()
        })
        .await
    }

    /// Updates a task (ref §3.2, §3.4). The session form first links the session to the task
    /// if needed (with the events of ref §3.3.4), then sets only its per-session status.
    /// Emits `task:updated`, then the `notify:task_*` events of the status change, then
    /// `notify:task_session_completed|failed` for each changed per-session entry.
    ///
    /// # Errors
    /// `Validation` "Task title cannot be empty", or an id breaking the id rule (spec §2);
    /// `NotFound` task or session.
    pub async fn update(&self, id: &str, input: UpdateTask) -> DomainResult<Task> {
        let session_form = input.update_source == Some(UpdateSource::Session);
        // Checked first for both forms (ref §3.2), even though the session form then
        // ignores the title.
        if input
            .patch
            .title
            .as_deref()
            .is_some_and(|t| js_trim(t).is_empty())
        {
            return Err(DomainError::validation("Task title cannot be empty"));
        }
        check_patch_ids(&input.patch)?;
        check_opt_id("sessionId", input.session_id.as_deref())?;
        let old = self.get(id).await?;
        let now = self.ctx.now();
        let tasks = &self.ctx.ports.tasks;
        let session = if session_form {
            input.session_id.as_deref()
        } else {
            None
        };
        if let Some(session_id) = session {
            let linked = old.session_ids.iter().any(|s| s == session_id);
            let session = self.sessions().get_raw(session_id).await?;
            if !linked || !session.task_ids.contains(&old.id) {
                self.sessions().add_task(session_id, id).await?;
            }
        }
        let task = match (session_form, session, input.session_status) {
            (false, _, _) => tasks.update(id, &input.patch, now).await?,
            (true, Some(session_id), Some(status)) => {
                tasks
                    .set_session_status(id, session_id, status, now)
                    .await?
            }
            // The session form without both fields only bumps `updatedAt` (ref §3.2).
            (true, _, _) => tasks.update(id, &TaskPatch::default(), now).await?,
        };
        self.ctx
            .emit(NewEvent::new(
                names::TASK_UPDATED,
                &task.project_id,
                Payload::of(&task),
            ))
            .await;
        if !session_form && old.status != task.status {
            let name = match task.status.known() {
                Some(TaskStatus::Completed) => Some(names::NOTIFY_TASK_COMPLETED),
                Some(TaskStatus::Cancelled) => Some(names::NOTIFY_TASK_FAILED),
                Some(TaskStatus::InReview) => Some(names::NOTIFY_TASK_IN_REVIEW),
                Some(TaskStatus::Blocked) => Some(names::NOTIFY_TASK_BLOCKED),
                _ => None,
            };
            if let Some(name) = name {
                self.ctx
                    .emit(NewEvent::new(
                        name,
                        &task.project_id,
                        json!({ "taskId": task.id, "title": task.title }),
                    ))
                    .await;
            }
        }
        self.notify_session_changes(&old, &task).await;
        Ok(task)
    }

    /// `notify:task_session_completed|failed` for every entry that changed to that value.
    async fn notify_session_changes(&self, old: &Task, new: &Task) {
        let empty = BTreeMap::new();
        let before = old.task_session_statuses.as_ref().unwrap_or(&empty);
        let Some(after) = &new.task_session_statuses else {
            return;
        };
        for (session_id, status) in after {
            if before.get(session_id) == Some(status) {
                continue;
            }
            let name = match status.known() {
                Some(TaskSessionStatus::Completed) => names::NOTIFY_TASK_SESSION_COMPLETED,
                Some(TaskSessionStatus::Failed) => names::NOTIFY_TASK_SESSION_FAILED,
                _ => continue,
            };
            self.ctx
                .emit(
                    NewEvent::new(
                        name,
                        &new.project_id,
                        json!({ "taskId": new.id, "sessionId": session_id, "title": new.title }),
                    )
                    .for_session(session_id),
                )
                .await;
        }
    }

    /// `POST /api/tasks/:id/timeline`: appends to the **session** timeline with this task id
    /// (events of ref §3.3.5). Does not link the session to the task.
    ///
    /// # Errors
    /// `Validation` for a `sessionId` breaking the id rule; `NotFound` task, then session.
    pub async fn add_timeline(
        &self,
        id: &str,
        session_id: &str,
        kind: TimelineEventType,
        message: &str,
    ) -> DomainResult<Session> {
        check_id("sessionId", session_id)?;
        self.get(id).await?;
        self.sessions()
            .add_timeline_event(
                session_id,
                kind,
                Some(message.to_owned()),
                Some(id.to_owned()),
                None,
            )
            .await
    }

    /// Docs of every session linked to the task whose `taskId` is absent or this task,
    /// by `addedAt` ascending.
    ///
    /// # Errors
    /// `NotFound` task.
    pub async fn docs(&self, id: &str) -> DomainResult<Vec<TaskDoc>> {
        self.get(id).await?;
        let sessions = self
            .ctx
            .ports
            .sessions
            .list(&SessionFilter {
                task_id: Some(id.to_owned()),
                ..SessionFilter::default()
            })
            .await?;
        let mut docs: Vec<TaskDoc> = Vec::new();
        for s in &sessions {
            let mine: Vec<DocEntry> = s
                .docs
                .iter()
                .filter(|d| d.task_id.as_deref().is_none_or(|t| t == id))
                .cloned()
                .collect();
            let mine = self.sessions().with_content(&s.id, mine).await?;
            docs.extend(mine.into_iter().map(|doc| TaskDoc {
                doc,
                session_id: s.id.clone(),
                session_name: s.name.clone(),
            }));
        }
        docs.sort_by_key(|d| d.doc.added_at);
        Ok(docs)
    }

    /// `POST /api/tasks/:id/docs`: adds the doc to the session (tagged with the task) and
    /// links the session to the task if it is not linked yet. Returns the session.
    ///
    /// # Errors
    /// `Validation` for a `sessionId` breaking the id rule; `NotFound` task, then session.
    pub async fn add_doc(
        &self,
        id: &str,
        session_id: &str,
        title: &str,
        file_path: &str,
        content: Option<String>,
        kind: Option<DocKind>,
    ) -> DomainResult<Session> {
        check_id("sessionId", session_id)?;
        let task = self.get(id).await?;
        let session = self.sessions().get_raw(session_id).await?;
        let session = self
            .sessions()
            .add_doc(
                &session.id,
                title,
                file_path,
                content,
                Some(id.to_owned()),
                kind,
            )
            .await?;
        if !session.task_ids.contains(&task.id) || !task.session_ids.contains(&session.id) {
            return self.sessions().add_task(session_id, id).await;
        }
        Ok(session)
    }
}

/// The ids of a task list filter follow the id rule (spec §2).
fn check_filter(filter: &TaskFilter) -> DomainResult<()> {
    check_opt_id("projectId", filter.project_id.as_deref())?;
    check_opt_id("parentId", filter.parent_id.clone().flatten().as_deref())?;
    check_opt_id("sessionId", filter.session_id.as_deref())
}

/// The ids a task patch stores follow the id rule (spec §2): linked sessions, references,
/// team members and the session keys of `taskSessionStatuses`.
fn check_patch_ids(patch: &TaskPatch) -> DomainResult<()> {
    check_ids(
        "sessionIds",
        patch.session_ids.as_deref().unwrap_or_default(),
    )?;
    check_ids(
        "referenceTaskIds",
        patch.reference_task_ids.as_deref().unwrap_or_default(),
    )?;
    check_opt_id("teamMemberId", patch.team_member_id.as_deref())?;
    check_ids(
        "teamMemberIds",
        patch.team_member_ids.as_deref().unwrap_or_default(),
    )?;
    check_opt_id("teamId", patch.team_id.clone().flatten().as_deref())?;
    for key in patch.task_session_statuses.iter().flat_map(|m| m.keys()) {
        check_id("taskSessionStatuses", key)?;
    }
    Ok(())
}
