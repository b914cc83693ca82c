//! Projects: `projects/<id>.json`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::entities::{Project, ProjectPatch};
use maestro_domain::ports::ProjectRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, by_creation, found, unwrap_arc};
use crate::layout::check_id;
use crate::op::Op;

/// [`ProjectRepository`] on `projects/<id>.json`.
pub struct FsProjectRepository {
    ctx: Arc<Ctx>,
    table: Arc<Table<String, Project>>,
}

impl FsProjectRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, Project>) -> Self {
        Self {
            ctx,
            table: Table::new(map),
        }
    }

    async fn mutate(
        &self,
        id: &str,
        decide: impl FnOnce(Option<&Arc<Project>>) -> DomainResult<Change<Project, ()>>,
    ) -> DomainResult<Option<Arc<Project>>> {
        let path = self.ctx.layout.project(id);
        let (new, ()) = self
            .table
            .mutate(&self.ctx, id.to_owned(), decide, |_, new| match new {
                Some(p) => (path, Op::json(p.clone(), None)),
                None => (path, Op::Delete { also: None }),
            })
            .await?;
        Ok(new)
    }
}

#[async_trait]
impl ProjectRepository for FsProjectRepository {
    async fn insert(&self, project: Project) -> DomainResult<Project> {
        check_id("id", &project.id)?;
        let id = project.id.clone();
        let new = self
            .mutate(&id, |old| match old {
                Some(_) => Err(DomainError::Conflict(format!("Project {id} exists"))),
                None => Ok(Change::Put(project, ())),
            })
            .await?;
        found(new, "Project", &id)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Project>> {
        Ok(self.table.get(&id.to_owned()).map(unwrap_arc))
    }

    async fn list(&self) -> DomainResult<Vec<Project>> {
        Ok(self.table.with_rows(|rows| {
            let mut v: Vec<&Project> = rows.collect();
            v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
            v.into_iter().cloned().collect()
        }))
    }

    async fn update(&self, id: &str, patch: &ProjectPatch, now: i64) -> DomainResult<Project> {
        let new = self
            .mutate(id, |old| {
                let mut p =
                    Project::clone(old.ok_or_else(|| DomainError::not_found("Project", id))?);
                p.apply(patch, now);
                Ok(Change::Put(p, ()))
            })
            .await?;
        found(new, "Project", id)
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.mutate(id, |old| match old {
            Some(_) => Ok(Change::Delete(())),
            None => Err(DomainError::not_found("Project", id)),
        })
        .await?;
        Ok(())
    }
}
