//! Tasks: `tasks/<projectId>/<taskId>.json`.
//!
//! A task loaded from a legacy root-level `tasks/<taskId>.json` (or any other non-canonical
//! path) carries that path as its *stray*: the next write goes to the project subdirectory
//! and the stray is removed right after the new file is written; its removal is journaled
//! with the new content, so a crash in between repeats both (ref §6.2). Deleting such a task
//! removes both files.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use maestro_domain::entities::{Task, TaskFilter, TaskPatch, TaskSessionStatus};
use maestro_domain::ports::TaskRepository;
use maestro_domain::{DomainError, DomainResult};

use super::{Ctx, by_creation, read, settle, settle_opt, unwrap_arc, write};
use crate::layout::check_id;
use crate::load::TaskEntry;
use crate::op::{Op, live_stray};
use crate::writer::Ticket;

/// [`TaskRepository`] on `tasks/<projectId>/<taskId>.json`.
pub struct FsTaskRepository {
    ctx: Arc<Ctx>,
    map: RwLock<HashMap<String, TaskEntry>>,
}

/// What a mutation closure decides.
enum Change {
    /// The task changed: write it.
    Written,
    /// Nothing changed: only wait for an in-flight write of the task, if any.
    Unchanged,
}

impl FsTaskRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, TaskEntry>) -> Self {
        Self {
            ctx,
            map: RwLock::new(map),
        }
    }

    /// Submits the current state of `entry` (under the map lock).
    fn submit(&self, entry: &mut TaskEntry) -> (Arc<Task>, Ticket) {
        if entry.stray.as_ref().is_some_and(|s| s.is_removed()) {
            entry.stray = None;
        }
        entry.json = std::sync::OnceLock::new();
        let snap = Arc::new(entry.task.clone());
        let path = self.ctx.layout.task(&snap.project_id, &snap.id);
        let ticket = self
            .ctx
            .writer
            .submit(path, Op::json(snap.clone(), live_stray(&entry.stray)));
        (snap, ticket)
    }

    /// Applies `f` to the task atomically, persists the result and returns it.
    async fn mutate<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Task) -> (Change, R),
    ) -> DomainResult<(Task, R)> {
        let (snap, ticket, r) = {
            let mut map = write(&self.map);
            let entry = map
                .get_mut(id)
                .ok_or_else(|| DomainError::not_found("Task", id))?;
            let (change, r) = f(&mut entry.task);
            match change {
                Change::Written => {
                    let (snap, ticket) = self.submit(entry);
                    (snap, Some(ticket), r)
                }
                Change::Unchanged => {
                    let path = self.ctx.layout.task(&entry.task.project_id, id);
                    (
                        Arc::new(entry.task.clone()),
                        self.ctx.writer.barrier(&path),
                        r,
                    )
                }
            }
        };
        settle_opt(ticket).await?;
        Ok((unwrap_arc(snap), r))
    }

    /// Number of tasks held.
    pub fn len(&self) -> usize {
        read(&self.map).len()
    }

    /// True when no task is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl TaskRepository for FsTaskRepository {
    async fn insert(&self, task: Task) -> DomainResult<Task> {
        check_id("id", &task.id)?;
        check_id("projectId", &task.project_id)?;
        let (snap, ticket) = {
            let mut map = write(&self.map);
            if map.contains_key(&task.id) {
                return Err(DomainError::Conflict(format!("Task {} exists", task.id)));
            }
            let entry = map
                .entry(task.id.clone())
                .or_insert(TaskEntry::new(task, None));
            self.submit(entry)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Task>> {
        Ok(read(&self.map).get(id).map(|e| e.task.clone()))
    }

    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        let map = read(&self.map);
        let mut v: Vec<&Task> = map
            .values()
            .map(|e| &e.task)
            .filter(|t| filter.matches(t))
            .collect();
        v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
        Ok(v.into_iter().cloned().collect())
    }

    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
        let (task, ()) = self
            .mutate(id, |t| {
                t.apply(patch, now);
                (Change::Written, ())
            })
            .await?;
        Ok(task)
    }

    async fn set_session_status(
        &self,
        id: &str,
        session_id: &str,
        status: TaskSessionStatus,
        now: i64,
    ) -> DomainResult<Task> {
        let (task, ()) = self
            .mutate(id, |t| {
                t.set_session_status(session_id, status, now);
                (Change::Written, ())
            })
            .await?;
        Ok(task)
    }

    async fn add_session(
        &self,
        id: &str,
        session_id: &str,
        now: i64,
    ) -> DomainResult<(Task, bool)> {
        self.mutate(id, |t| {
            let added = t.add_session(session_id, now);
            let change = if added {
                Change::Written
            } else {
                Change::Unchanged
            };
            (change, added)
        })
        .await
    }

    async fn remove_session(
        &self,
        id: &str,
        session_id: &str,
        drop_status: bool,
        now: i64,
    ) -> DomainResult<Task> {
        let (task, ()) = self
            .mutate(id, |t| {
                t.remove_session(session_id, drop_status, now);
                (Change::Written, ())
            })
            .await?;
        Ok(task)
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let ticket = {
            let mut map = write(&self.map);
            let entry = map
                .remove(id)
                .ok_or_else(|| DomainError::not_found("Task", id))?;
            let path = self.ctx.layout.task(&entry.task.project_id, id);
            self.ctx.writer.submit(
                path,
                Op::Delete {
                    also: live_stray(&entry.stray),
                },
            )
        };
        settle(ticket).await
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(read(&self.map)
            .values()
            .any(|e| e.task.project_id == project_id))
    }

    async fn get_json(&self, id: &str) -> DomainResult<Option<Arc<str>>> {
        read(&self.map).get(id).map(cached_json).transpose()
    }

    async fn list_json(&self, filter: &TaskFilter) -> DomainResult<Vec<Arc<str>>> {
        let map = read(&self.map);
        let mut v: Vec<&TaskEntry> = map.values().filter(|e| filter.matches(&e.task)).collect();
        v.sort_unstable_by(|a, b| {
            by_creation(
                (a.task.created_at, &a.task.id),
                (b.task.created_at, &b.task.id),
            )
        });
        v.into_iter().map(cached_json).collect()
    }
}

/// The entry's compact JSON, serialized on first use (under the read lock: writers, which
/// clear it, hold the write lock).
fn cached_json(entry: &TaskEntry) -> DomainResult<Arc<str>> {
    if let Some(json) = entry.json.get() {
        return Ok(json.clone());
    }
    let json = maestro_domain::ports::task_json(&entry.task)?;
    Ok(entry.json.get_or_init(|| json).clone())
}
