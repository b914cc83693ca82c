//! ProjectService (ref §3.1).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{Ctx, non_blank};
use crate::entities::{
    Extra, IS_MASTER, OddValues, Project, ProjectPatch, SessionFilter, TaskFilter, js_trim,
};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};
use crate::ids::check_id;

/// Input of `createProject`.
#[derive(Debug, Clone, Default)]
pub struct CreateProject {
    /// Required, trimmed, non-blank.
    pub name: Option<String>,
    /// `''` if omitted.
    pub working_dir: Option<String>,
    /// `''` if omitted.
    pub description: Option<String>,
    /// `isMaster` (newer reference, 653bc6a); stored only when given.
    pub is_master: Option<bool>,
}

/// The answer of `GET /api/master/context`: `{projects, taskCounts, sessionCounts}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceContext {
    /// Every project, oldest first.
    pub projects: Vec<Project>,
    /// Tasks per project id.
    pub task_counts: BTreeMap<String, usize>,
    /// Sessions per project id.
    pub session_counts: BTreeMap<String, usize>,
}

/// Projects.
#[derive(Clone)]
pub struct ProjectService {
    pub(crate) ctx: Arc<Ctx>,
}

impl ProjectService {
    /// Creates a project and emits `project:created`.
    ///
    /// # Errors
    /// `Validation` "Project name is required".
    pub async fn create(&self, input: CreateProject) -> DomainResult<Project> {
        let name = non_blank(input.name.as_deref())
            .ok_or_else(|| DomainError::validation("Project name is required"))?;
        let now = self.ctx.now();
        let mut extra = Extra::new();
        if let Some(flag) = input.is_master {
            extra.insert(IS_MASTER.to_owned(), flag.into());
        }
        let project = Project {
            id: self.ctx.id("proj"),
            name,
            working_dir: input.working_dir.unwrap_or_default(),
            description: Some(input.description.unwrap_or_default()),
            created_at: now,
            updated_at: now,
            extra,
            odd: OddValues::default(),
        };
        let project = self.ctx.ports.projects.insert(project).await?;
        self.ctx
            .emit(NewEvent::new(
                names::PROJECT_CREATED,
                &project.id,
                Payload::of(&project),
            ))
            .await;
        Ok(project)
    }

    /// The project. `NotFound` if missing.
    pub async fn get(&self, id: &str) -> DomainResult<Project> {
        self.ctx
            .ports
            .projects
            .get(id)
            .await?
            .ok_or_else(|| DomainError::not_found("Project", id))
    }

    /// Every project, oldest first.
    pub async fn list(&self) -> DomainResult<Vec<Project>> {
        self.ctx.ports.projects.list().await
    }

    /// Updates Project's own fields and emits `project:updated`.
    ///
    /// # Errors
    /// `Validation` "Project name cannot be empty"; `NotFound`.
    pub async fn update(&self, id: &str, patch: ProjectPatch) -> DomainResult<Project> {
        if patch.name.as_deref().is_some_and(|n| js_trim(n).is_empty()) {
            return Err(DomainError::validation("Project name cannot be empty"));
        }
        let project = self
            .ctx
            .ports
            .projects
            .update(id, &patch, self.ctx.now())
            .await?;
        self.ctx
            .emit(NewEvent::new(
                names::PROJECT_UPDATED,
                &project.id,
                Payload::of(&project),
            ))
            .await;
        Ok(project)
    }

    /// Sets or clears the master flag (`PUT /api/projects/:id/master`, newer reference) and
    /// emits `project:updated`. Like the reference, several projects may be masters at once
    /// and clearing stores `isMaster: false`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn set_master(&self, id: &str, is_master: bool) -> DomainResult<Project> {
        check_id("id", id)?;
        let patch = ProjectPatch {
            is_master: Some(is_master),
            ..ProjectPatch::default()
        };
        let project = self
            .ctx
            .ports
            .projects
            .update(id, &patch, self.ctx.now())
            .await?;
        self.ctx
            .emit(NewEvent::new(
                names::PROJECT_UPDATED,
                &project.id,
                Payload::of(&project),
            ))
            .await;
        Ok(project)
    }

    /// The workspace overview of `GET /api/master/context` (newer reference): every
    /// project, and per project the number of its tasks and sessions (every project has a
    /// key, `0` when it has none; tasks and sessions of unknown projects are not counted).
    pub async fn workspace_context(&self) -> DomainResult<WorkspaceContext> {
        let projects = self.list().await?;
        let mut task_counts: BTreeMap<String, usize> =
            projects.iter().map(|p| (p.id.clone(), 0)).collect();
        let mut session_counts = task_counts.clone();
        for task in self.ctx.ports.tasks.list(&TaskFilter::default()).await? {
            if let Some(n) = task_counts.get_mut(&task.project_id) {
                *n += 1;
            }
        }
        for session in self
            .ctx
            .ports
            .sessions
            .list(&SessionFilter::default())
            .await?
        {
            if let Some(n) = session_counts.get_mut(&session.project_id) {
                *n += 1;
            }
        }
        Ok(WorkspaceContext {
            projects,
            task_counts,
            session_counts,
        })
    }

    /// Deletes a project with no tasks and no sessions; emits `project:deleted` `{id}`.
    /// Its orderings go too.
    ///
    /// # Errors
    /// `NotFound`; `BusinessRule` "Cannot delete project with existing tasks|sessions".
    pub async fn delete(&self, id: &str) -> DomainResult<()> {
        self.get(id).await?;
        if self.ctx.ports.tasks.exists_by_project(id).await? {
            return Err(DomainError::BusinessRule(
                "Cannot delete project with existing tasks".into(),
            ));
        }
        if self.ctx.ports.sessions.exists_by_project(id).await? {
            return Err(DomainError::BusinessRule(
                "Cannot delete project with existing sessions".into(),
            ));
        }
        self.ctx.ports.projects.delete(id).await?;
        if let Err(err) = self.ctx.ports.orderings.delete_by_project(id).await {
            tracing::warn!(project = id, error = %err, "orderings of deleted project not removed");
        }
        self.ctx
            .emit(NewEvent::new(
                names::PROJECT_DELETED,
                id,
                json!({ "id": id }),
            ))
            .await;
        Ok(())
    }
}
