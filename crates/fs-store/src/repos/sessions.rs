//! Sessions: `sessions/<id>.json`, with events, timeline and docs embedded.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use maestro_domain::entities::{
    DocEntry, Session, SessionEvent, SessionFilter, SessionPatch, TimelineEvent,
};
use maestro_domain::ports::SessionRepository;
use maestro_domain::{DomainError, DomainResult};

use super::{Ctx, by_creation, read, settle, settle_opt, unwrap_arc, write};
use crate::layout::check_id;
use crate::op::Op;

/// [`SessionRepository`] on `sessions/<id>.json`.
pub struct FsSessionRepository {
    ctx: Arc<Ctx>,
    map: RwLock<HashMap<String, Session>>,
}

impl FsSessionRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, Session>) -> Self {
        Self {
            ctx,
            map: RwLock::new(map),
        }
    }

    /// Applies `f` atomically; persists the session when `f` returns `true` as its first
    /// value (otherwise only waits for an in-flight write of it).
    async fn mutate<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Session) -> (bool, R),
    ) -> DomainResult<(Session, R)> {
        let (snap, ticket, r) = {
            let mut map = write(&self.map);
            let s = map
                .get_mut(id)
                .ok_or_else(|| DomainError::not_found("Session", id))?;
            let (changed, r) = f(s);
            let snap = Arc::new(s.clone());
            let path = self.ctx.layout.session(id);
            let ticket = if changed {
                Some(self.ctx.writer.submit(path, Op::json(snap.clone(), None)))
            } else {
                self.ctx.writer.barrier(&path)
            };
            (snap, ticket, r)
        };
        settle_opt(ticket).await?;
        Ok((unwrap_arc(snap), r))
    }
}

#[async_trait]
impl SessionRepository for FsSessionRepository {
    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        check_id("id", &session.id)?;
        let (snap, ticket) = {
            let mut map = write(&self.map);
            map.insert(session.id.clone(), session.clone());
            let snap = Arc::new(session);
            let path = self.ctx.layout.session(&snap.id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        Ok(read(&self.map).get(id).cloned())
    }

    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        let map = read(&self.map);
        let mut v: Vec<&Session> = map.values().filter(|s| filter.matches(s)).collect();
        v.sort_unstable_by(|a, b| by_creation((a.started_at, &a.id), (b.started_at, &b.id)));
        Ok(v.into_iter().cloned().collect())
    }

    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        let (s, ()) = self
            .mutate(id, |s| {
                s.apply(patch, now);
                (true, ())
            })
            .await?;
        Ok(s)
    }

    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        self.mutate(id, |s| {
            let added = s.add_task(task_id, now);
            (added, added)
        })
        .await
    }

    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        let (s, ()) = self
            .mutate(id, |s| {
                s.remove_task(task_id, now);
                (true, ())
            })
            .await?;
        Ok(s)
    }

    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        let (s, ()) = self
            .mutate(id, |s| {
                s.push_event(event, now);
                (true, ())
            })
            .await?;
        Ok(s)
    }

    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        let (s, ()) = self
            .mutate(id, |s| {
                s.push_timeline(event, now);
                (true, ())
            })
            .await?;
        Ok(s)
    }

    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        let (s, ()) = self
            .mutate(id, |s| {
                s.push_doc(doc, now);
                (true, ())
            })
            .await?;
        Ok(s)
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let ticket = {
            let mut map = write(&self.map);
            map.remove(id)
                .ok_or_else(|| DomainError::not_found("Session", id))?;
            let path = self.ctx.layout.session(id);
            self.ctx.writer.submit(path, Op::Delete { also: None })
        };
        settle(ticket).await
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(read(&self.map).values().any(|s| s.project_id == project_id))
    }
}
