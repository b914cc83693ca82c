//! Sessions: `sessions/<id>.json`, with events, timeline and docs embedded.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::entities::{
    DocEntry, Session, SessionEvent, SessionFilter, SessionPatch, TimelineEvent,
};
use maestro_domain::ports::SessionRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, by_creation, found, unwrap_arc};
use crate::delta::{Lengths, session_patch};
use crate::layout::check_id;
use crate::load::read_regular;
use crate::op::{Op, json_render};

/// [`SessionRepository`] on `sessions/<id>.json`.
pub struct FsSessionRepository {
    ctx: Arc<Ctx>,
    table: Arc<Table<String, Session>>,
}

impl FsSessionRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, Session>) -> Self {
        Self {
            ctx,
            table: Table::new(map),
        }
    }

    /// Runs `decide` on the committed session and persists what it chooses. With `appends`
    /// (the change only appended to the timeline, events and docs, as every `Session` mutation
    /// does) the journal gets a patch of what changed instead of the whole session (module
    /// `delta`); the file is rendered whole by the file writer.
    async fn mutate<R>(
        &self,
        id: &str,
        appends: bool,
        decide: impl FnOnce(Option<&Arc<Session>>) -> DomainResult<Change<Session, R>>,
    ) -> DomainResult<(Option<Arc<Session>>, R)> {
        let path = self.ctx.layout.session(id);
        self.table
            .mutate(&self.ctx, id.to_owned(), decide, |old, new| {
                match (old, new) {
                    (Some(old), Some(new)) if appends && Lengths::of(old).appended_by(new) => {
                        let before = Lengths::of(old);
                        let (patched, file) = (new.clone(), new.clone());
                        let op = Op::Patch {
                            patch: Box::new(move || session_patch(before, &patched)),
                            file: json_render(file),
                        };
                        (path, op)
                    }
                    (_, Some(new)) => (path, Op::json(new.clone(), None)),
                    (_, None) => (path, Op::Delete { also: None }),
                }
            })
            .await
    }

    /// Applies `f` to a copy of the existing session and stores the result; returns it shared
    /// with the table (no copy). `NotFound` if missing.
    async fn change(&self, id: &str, f: impl FnOnce(&mut Session)) -> DomainResult<Arc<Session>> {
        let (new, ()) = self
            .mutate(id, true, |old| {
                let mut s =
                    Session::clone(old.ok_or_else(|| DomainError::not_found("Session", id))?);
                f(&mut s);
                Ok(Change::Put(s, ()))
            })
            .await?;
        new.ok_or_else(|| DomainError::not_found("Session", id))
    }
}

/// The file names the newer reference (653bc6a) may have given the content of `doc` in
/// `session-docs/<sessionId>/`: the name its `contentFilePath` ends with, when that is
/// `<docId>.md` or `<docId>.excalidraw`, then the name its kind implies. Only these names are
/// ever read, never the stored path itself (it names the reference's data directory, which may
/// have moved, and must not let stored data point the server at any file).
fn doc_content_names(doc: &DocEntry) -> Vec<String> {
    if check_id("docId", &doc.id).is_err() {
        return Vec::new();
    }
    let md = format!("{}.md", doc.id);
    let diagram = format!("{}.excalidraw", doc.id);
    let stored = doc
        .content_file_path
        .as_deref()
        .and_then(|p| p.rsplit(['/', '\\']).next())
        .filter(|name| *name == md || *name == diagram);
    let by_kind = if doc.is_diagram() { &diagram } else { &md };
    let mut names: Vec<String> = stored.into_iter().map(str::to_owned).collect();
    if !names.iter().any(|n| n == by_kind) {
        names.push(by_kind.clone());
    }
    names
}

#[async_trait]
impl SessionRepository for FsSessionRepository {
    async fn doc_content(&self, session_id: &str, doc: &DocEntry) -> DomainResult<Option<String>> {
        if check_id("sessionId", session_id).is_err() {
            return Ok(None);
        }
        let paths: Vec<_> = doc_content_names(doc)
            .iter()
            .map(|name| self.ctx.layout.session_doc(session_id, name))
            .collect();
        // The only read of this store that touches the disk: files we never write, read
        // only when docs are listed.
        let read = tokio::task::spawn_blocking(move || {
            for path in paths {
                match read_regular(&path) {
                    Ok(bytes) => return Some(String::from_utf8_lossy(&bytes).into_owned()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot read doc content");
                    }
                }
            }
            None
        });
        Ok(read.await.unwrap_or_default())
    }

    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        check_id("id", &session.id)?;
        let id = session.id.clone();
        let (new, ()) = self
            .mutate(&id, false, |_| Ok(Change::Put(session, ())))
            .await?;
        found(new, "Session", &id)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        Ok(self.table.get(&id.to_owned()).map(unwrap_arc))
    }

    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        Ok(self.table.with_rows(|rows| {
            let mut v: Vec<&Session> = rows.filter(|s| filter.matches(s)).collect();
            v.sort_unstable_by(|a, b| by_creation((a.started_at, &a.id), (b.started_at, &b.id)));
            v.into_iter().cloned().collect()
        }))
    }

    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        self.update_shared(id, patch, now).await.map(unwrap_arc)
    }

    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        let (new, added) = self
            .mutate(id, true, |old| {
                let old = old.ok_or_else(|| DomainError::not_found("Session", id))?;
                if old.task_ids.iter().any(|t| t == task_id) {
                    return Ok(Change::Keep(false));
                }
                let mut s = Session::clone(old);
                s.add_task(task_id, now);
                Ok(Change::Put(s, true))
            })
            .await?;
        Ok((found(new, "Session", id)?, added))
    }

    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        self.change(id, |s| s.remove_task(task_id, now))
            .await
            .map(unwrap_arc)
    }

    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        self.add_event_shared(id, event, now).await.map(unwrap_arc)
    }

    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        self.add_timeline_event_shared(id, event, now)
            .await
            .map(unwrap_arc)
    }

    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        self.add_doc_shared(id, doc, now).await.map(unwrap_arc)
    }

    fn peek_shared(&self, id: &str) -> Option<Arc<Session>> {
        self.table.get(&id.to_owned())
    }

    async fn update_shared(
        &self,
        id: &str,
        patch: &SessionPatch,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.change(id, |s| s.apply(patch, now)).await
    }

    async fn add_event_shared(
        &self,
        id: &str,
        event: SessionEvent,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.change(id, |s| s.push_event(event, now)).await
    }

    async fn add_timeline_event_shared(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.change(id, |s| s.push_timeline(event, now)).await
    }

    async fn add_doc_shared(
        &self,
        id: &str,
        doc: DocEntry,
        now: i64,
    ) -> DomainResult<Arc<Session>> {
        self.change(id, |s| s.push_doc(doc, now)).await
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.mutate(id, false, |old| match old {
            Some(_) => Ok(Change::Delete(())),
            None => Err(DomainError::not_found("Session", id)),
        })
        .await?;
        Ok(())
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(self
            .table
            .with_rows(|mut rows| rows.any(|s| s.project_id == project_id)))
    }
}
