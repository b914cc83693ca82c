//! ProjectService (ref §3.1).

use std::sync::Arc;

use serde_json::json;

use super::{Ctx, non_blank};
use crate::entities::{Extra, IS_MASTER, OddValues, Project, ProjectPatch, js_trim};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};

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
