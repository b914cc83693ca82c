//! Projects: `projects/<id>.json`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use maestro_domain::entities::{Project, ProjectPatch};
use maestro_domain::ports::ProjectRepository;
use maestro_domain::{DomainError, DomainResult};

use super::{Ctx, by_creation, read, settle, unwrap_arc, write};
use crate::layout::check_id;
use crate::op::Op;

/// [`ProjectRepository`] on `projects/<id>.json`.
pub struct FsProjectRepository {
    ctx: Arc<Ctx>,
    map: RwLock<HashMap<String, Project>>,
}

impl FsProjectRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, Project>) -> Self {
        Self {
            ctx,
            map: RwLock::new(map),
        }
    }
}

#[async_trait]
impl ProjectRepository for FsProjectRepository {
    async fn insert(&self, project: Project) -> DomainResult<Project> {
        check_id("id", &project.id)?;
        let (snap, ticket) = {
            let mut map = write(&self.map);
            if map.contains_key(&project.id) {
                return Err(DomainError::Conflict(format!(
                    "Project {} exists",
                    project.id
                )));
            }
            map.insert(project.id.clone(), project.clone());
            let snap = Arc::new(project);
            let path = self.ctx.layout.project(&snap.id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Project>> {
        Ok(read(&self.map).get(id).cloned())
    }

    async fn list(&self) -> DomainResult<Vec<Project>> {
        let map = read(&self.map);
        let mut v: Vec<&Project> = map.values().collect();
        v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
        Ok(v.into_iter().cloned().collect())
    }

    async fn update(&self, id: &str, patch: &ProjectPatch, now: i64) -> DomainResult<Project> {
        let (snap, ticket) = {
            let mut map = write(&self.map);
            let p = map
                .get_mut(id)
                .ok_or_else(|| DomainError::not_found("Project", id))?;
            p.apply(patch, now);
            let snap = Arc::new(p.clone());
            let path = self.ctx.layout.project(id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let ticket = {
            let mut map = write(&self.map);
            map.remove(id)
                .ok_or_else(|| DomainError::not_found("Project", id))?;
            let path = self.ctx.layout.project(id);
            self.ctx.writer.submit(path, Op::Delete { also: None })
        };
        settle(ticket).await
    }
}
