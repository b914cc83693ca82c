//! Start-up repair of one-sided session↔task links.
//!
//! A link is stored twice: in the session's `taskIds` and in the task's `sessionIds`. The
//! services change the two sides with two port calls (creating a session with tasks, adding
//! or removing a task, deleting a session), so a crash between them leaves the link on one
//! side only, and so can two concurrent calls on the same pair.
//!
//! **Rule: a link recorded on either side is restored on the other.** The interrupted
//! operation was not acknowledged, so completing it or undoing it are both allowed; the
//! union is one rule for every case, whatever order the services write the sides in:
//! - creating a session with tasks, or adding a task to a session (session side written
//!   first): the link is completed;
//! - removing a task from a session (session side removed first): the removal is undone, and
//!   the client may retry it;
//! - deleting a session (its tasks unlinked first, the session last): the session still
//!   exists, so it gets back the links its tasks lost; the delete can be retried. The
//!   per-session statuses the unlinked tasks dropped cannot be restored.
//!
//! It never deletes anything a user stored, and repairing twice changes nothing. Timestamps
//! are left as they are: a repair is not a change made by a client. A reference to a session
//! or task that does not exist (a task deleted before its sessions were unlinked) is left as
//! it is, as the reference server leaves it.
//!
//! Repaired files are written durably (temp file, `fsync`, rename, directory `fsync`) before
//! [`crate::FsStore::open`] returns, like the migrations. A file that cannot be written keeps
//! its repaired state in memory (the next write of that entity persists it) and is repaired
//! again at the next start.

use std::collections::BTreeMap;

use crate::durable::{DirSyncs, write_atomic};
use crate::layout::Layout;
use crate::load::Loaded;
use crate::op::to_json;

/// Links restored by [`reconcile`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repaired {
    /// Session ids added to tasks' `sessionIds`.
    pub(crate) task_sides: usize,
    /// Task ids added to sessions' `taskIds`.
    pub(crate) session_sides: usize,
}

/// Restores the missing side of every one-sided link in `loaded` and writes the repaired
/// files (see the module docs).
pub(crate) fn reconcile(layout: &Layout, dirs: &DirSyncs, loaded: &mut Loaded) -> Repaired {
    // Missing sides, keyed and ordered by the entity to repair.
    let mut for_tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut for_sessions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sessions: Vec<_> = loaded.sessions.values().collect();
    sessions.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    for s in sessions {
        for task_id in &s.task_ids {
            let Some(entry) = loaded.tasks.get(task_id) else {
                continue; // Dangling: left as it is.
            };
            if !entry.task.session_ids.contains(&s.id) {
                let missing = for_tasks.entry(task_id.clone()).or_default();
                if !missing.contains(&s.id) {
                    missing.push(s.id.clone());
                }
            }
        }
    }
    let mut tasks: Vec<_> = loaded.tasks.values().map(|e| &e.task).collect();
    tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    for t in tasks {
        for session_id in &t.session_ids {
            let Some(session) = loaded.sessions.get(session_id) else {
                continue;
            };
            if !session.task_ids.contains(&t.id) {
                let missing = for_sessions.entry(session_id.clone()).or_default();
                if !missing.contains(&t.id) {
                    missing.push(t.id.clone());
                }
            }
        }
    }
    let mut repaired = Repaired::default();
    for (task_id, session_ids) in for_tasks {
        let Some(entry) = loaded.tasks.get_mut(&task_id) else {
            continue;
        };
        for session_id in &session_ids {
            tracing::warn!(task = %task_id, session = %session_id,
                "restored a one-sided link: the session lists the task, the task did not list \
                 the session (an operation interrupted by a crash)");
        }
        repaired.task_sides += session_ids.len();
        entry.task.session_ids.extend(session_ids);
        entry.json = std::sync::OnceLock::new();
        let path = layout.task(&entry.task.project_id, &entry.task.id);
        persist(&path, to_json(&entry.task), dirs);
    }
    for (session_id, task_ids) in for_sessions {
        let Some(session) = loaded.sessions.get_mut(&session_id) else {
            continue;
        };
        for task_id in &task_ids {
            tracing::warn!(task = %task_id, session = %session_id,
                "restored a one-sided link: the task lists the session, the session did not \
                 list the task (an operation interrupted by a crash)");
        }
        repaired.session_sides += task_ids.len();
        session.task_ids.extend(task_ids);
        persist(&layout.session(&session.id), to_json(&*session), dirs);
    }
    repaired
}

/// Writes a repaired file durably; a failure is logged (the repair is redone at next start).
fn persist(path: &std::path::Path, bytes: serde_json::Result<Vec<u8>>, dirs: &DirSyncs) {
    let written = bytes
        .map_err(std::io::Error::other)
        .and_then(|b| write_atomic(path, &b, dirs));
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error,
            "cannot write a repaired link; it is kept in memory and repaired again at the next start");
    }
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
