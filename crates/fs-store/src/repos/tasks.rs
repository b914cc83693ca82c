//! Tasks: `tasks/<projectId>/<taskId>.json`.
//!
//! A task loaded from a legacy root-level `tasks/<taskId>.json` (or any other non-canonical
//! path) carries that path as its *stray*: the next write goes to the project subdirectory
//! and the stray is removed right after the new file is written; its removal is journaled
//! with the new content, so a crash in between repeats both (ref §6.2). Deleting such a task
//! removes both files.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::entities::{Task, TaskFilter, TaskPatch, TaskSessionStatus};
use maestro_domain::ports::TaskRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, by_creation};
use crate::layout::check_id;
use crate::load::TaskEntry;
use crate::op::{Op, live_stray};

/// [`TaskRepository`] on `tasks/<projectId>/<taskId>.json`.
pub struct FsTaskRepository {
    ctx: Arc<Ctx>,
    table: Arc<Table<String, TaskEntry>>,
}

impl FsTaskRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, TaskEntry>) -> Self {
        Self {
            ctx,
            table: Table::new(map),
        }
    }

    /// Runs `decide` on the committed task and persists what it chooses (a new state goes to
    /// the task's canonical file, removing the stray copy it was loaded from, if any).
    async fn mutate<R>(
        &self,
        id: &str,
        decide: impl FnOnce(Option<&Arc<TaskEntry>>) -> DomainResult<Change<TaskEntry, R>>,
    ) -> DomainResult<(Option<Arc<TaskEntry>>, R)> {
        let layout = &self.ctx.layout;
        self.table
            .mutate(&self.ctx, id.to_owned(), decide, |old, new| {
                match (old, new) {
                    (_, Some(e)) => (
                        layout.task(&e.task.project_id, &e.task.id),
                        Op::json(e.clone(), live_stray(&e.stray)),
                    ),
                    (Some(e), None) => (
                        layout.task(&e.task.project_id, &e.task.id),
                        Op::Delete {
                            also: live_stray(&e.stray),
                        },
                    ),
                    (None, None) => (layout.task("", id), Op::Delete { also: None }),
                }
            })
            .await
    }

    /// Applies `f` to a copy of the existing task; stores it when `f` says it changed.
    async fn change<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Task) -> (bool, R),
    ) -> DomainResult<(Task, R)> {
        let (new, r) = self
            .mutate(id, |old| {
                let old = old.ok_or_else(|| DomainError::not_found("Task", id))?;
                let mut task = old.task.clone();
                let (changed, r) = f(&mut task);
                Ok(if changed {
                    Change::Put(TaskEntry::new(task, live_stray(&old.stray)), r)
                } else {
                    Change::Keep(r)
                })
            })
            .await?;
        let entry = new.ok_or_else(|| DomainError::not_found("Task", id))?;
        Ok((entry.task.clone(), r))
    }

    /// Number of tasks held.
    pub fn len(&self) -> usize {
        self.table.with_rows(|rows| rows.count())
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
        let id = task.id.clone();
        let (new, ()) = self
            .mutate(&id, |old| match old {
                Some(_) => Err(DomainError::Conflict(format!("Task {id} exists"))),
                None => Ok(Change::Put(TaskEntry::new(task, None), ())),
            })
            .await?;
        let entry = new.ok_or_else(|| DomainError::not_found("Task", &id))?;
        Ok(entry.task.clone())
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Task>> {
        Ok(self.table.get(&id.to_owned()).map(|e| e.task.clone()))
    }

    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        Ok(self.table.with_rows(|rows| {
            let mut v: Vec<&Task> = rows
                .map(|e| &e.task)
                .filter(|t| filter.matches(t))
                .collect();
            v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
            v.into_iter().cloned().collect()
        }))
    }

    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
        let (task, ()) = self
            .change(id, |t| {
                t.apply(patch, now);
                (true, ())
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
            .change(id, |t| {
                t.set_session_status(session_id, status, now);
                (true, ())
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
        self.change(id, |t| {
            let added = t.add_session(session_id, now);
            (added, added)
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
            .change(id, |t| {
                t.remove_session(session_id, drop_status, now);
                (true, ())
            })
            .await?;
        Ok(task)
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.mutate(id, |old| match old {
            Some(_) => Ok(Change::Delete(())),
            None => Err(DomainError::not_found("Task", id)),
        })
        .await?;
        Ok(())
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(self
            .table
            .with_rows(|mut rows| rows.any(|e| e.task.project_id == project_id)))
    }

    async fn get_json(&self, id: &str) -> DomainResult<Option<Arc<str>>> {
        self.table
            .get(&id.to_owned())
            .map(|e| cached_json(&e))
            .transpose()
    }

    async fn list_json(&self, filter: &TaskFilter) -> DomainResult<Vec<Arc<str>>> {
        self.table.with_rows(|rows| {
            let mut v: Vec<&TaskEntry> = rows.filter(|e| filter.matches(&e.task)).collect();
            v.sort_unstable_by(|a, b| {
                by_creation(
                    (a.task.created_at, &a.task.id),
                    (b.task.created_at, &b.task.id),
                )
            });
            v.into_iter().map(cached_json).collect()
        })
    }
}

/// The entry's compact JSON, serialized on first use (a new state is a new entry, with an
/// empty cache).
fn cached_json(entry: &TaskEntry) -> DomainResult<Arc<str>> {
    if let Some(json) = entry.json.get() {
        return Ok(json.clone());
    }
    let json = maestro_domain::ports::task_json(&entry.task)?;
    Ok(entry.json.get_or_init(|| json).clone())
}
