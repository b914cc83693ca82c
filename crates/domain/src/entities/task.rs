//! Task (ref §1.2) and its atomic mutations (ref §2 ITaskRepository).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{Extra, Lenient, OddValues, TaskPriority, TaskSessionStatus, TaskStatus};

/// A task: `tasks/<projectId>/<taskId>.json`. Loads leniently ([`super::Stored`]): a field
/// of an unexpected type is kept in `odd` and served as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Task {
    /// `task_<ms>_<rand>`.
    pub id: String,
    /// Owning project; immutable.
    pub project_id: String,
    /// Parent task, `null` for roots; immutable.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Trimmed title.
    pub title: String,
    /// Description, `''` default.
    #[serde(default)]
    pub description: String,
    /// User-owned status (a stored unknown string is kept, see [`Lenient`]).
    pub status: Lenient<TaskStatus>,
    /// Per-session status. Absent on a freshly created task, `{}` after a load (ref §1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_session_statuses: Option<BTreeMap<String, Lenient<TaskSessionStatus>>>,
    /// Priority.
    #[serde(default = "default_priority")]
    pub priority: Lenient<TaskPriority>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last update, epoch ms.
    pub updated_at: i64,
    /// First time the status became `in_progress`, epoch ms.
    #[serde(default)]
    pub started_at: Option<i64>,
    /// First time the status became `completed`, epoch ms.
    #[serde(default)]
    pub completed_at: Option<i64>,
    /// Only settable at create.
    #[serde(default)]
    pub initial_prompt: String,
    /// Linked sessions.
    #[serde(default)]
    pub session_ids: Vec<String>,
    /// Skills.
    #[serde(default)]
    pub skill_ids: Vec<String>,
    /// Agents.
    #[serde(default)]
    pub agent_ids: Vec<String>,
    /// Always `[]` (no API sets it).
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Referenced tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_task_ids: Option<Vec<String>>,
    /// Pinned in the UI; absent until set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// Assigned team member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_id: Option<String>,
    /// Assigned team members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_ids: Option<Vec<String>>,
    /// Unknown keys from stored files, and `teamId` / `dueDate` (see [`Task::team_id`]).
    #[serde(flatten)]
    pub extra: Extra,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new tasks.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of a task (ref §1.2).
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    pub(super) static TASK: [Field; 21] = [
        field("id", Str, Key),
        field("projectId", Str, Key),
        field("parentId", Str, Nullable),
        field("title", Str, Required),
        field("description", Str, Defaulted),
        field("status", Enum, Required),
        field("taskSessionStatuses", Map(&Enum), Optional),
        field("priority", Enum, Defaulted),
        field("createdAt", Int, Required),
        field("updatedAt", Int, Required),
        field("startedAt", Int, Nullable),
        field("completedAt", Int, Nullable),
        field("initialPrompt", Str, Defaulted),
        field("sessionIds", StrList, Defaulted),
        field("skillIds", StrList, Defaulted),
        field("agentIds", StrList, Defaulted),
        field("dependencies", StrList, Defaulted),
        field("referenceTaskIds", StrList, Optional),
        field("pinned", Bool, Optional),
        field("teamMemberId", Str, Optional),
        field("teamMemberIds", StrList, Optional),
    ];
}

stored_entity!(Task, &shape::TASK);

fn default_priority() -> Lenient<TaskPriority> {
    TaskPriority::Medium.into()
}

/// Fields a task update applies (ref §2 `update`): every `Some` replaces, except
/// `task_session_statuses`, which is shallow-merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPatch {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status; sets `startedAt` / `completedAt` once.
    pub status: Option<TaskStatus>,
    /// Priority.
    pub priority: Option<TaskPriority>,
    /// Linked sessions (replace).
    pub session_ids: Option<Vec<String>>,
    /// Skills.
    pub skill_ids: Option<Vec<String>>,
    /// Agents.
    pub agent_ids: Option<Vec<String>>,
    /// References.
    pub reference_task_ids: Option<Vec<String>>,
    /// Pinned.
    pub pinned: Option<bool>,
    /// Team member.
    pub team_member_id: Option<String>,
    /// Team members.
    pub team_member_ids: Option<Vec<String>>,
    /// Merged into the existing map.
    pub task_session_statuses: Option<BTreeMap<String, TaskSessionStatus>>,
    /// `teamId` (newer reference, 653bc6a): `Some(None)` stores `null` (the CLI's
    /// `task edit --team ''`).
    pub team_id: Option<Option<String>>,
    /// `dueDate` (newer reference, 653bc6a; `YYYY-MM-DD` as sent): `Some(None)` stores `null`.
    pub due_date: Option<Option<String>>,
}

/// Keys of the newer reference's (653bc6a) task fields kept in [`Task::extra`]. They are
/// tri-state in stored data (absent in older files, `null` or a string in newer ones), and a
/// file round-trips exactly as stored.
pub mod task_keys {
    /// The team the task is assigned to.
    pub const TEAM_ID: &str = "teamId";
    /// The due date.
    pub const DUE_DATE: &str = "dueDate";
}

fn set_nullable(extra: &mut Extra, key: &str, value: &Option<String>) {
    let v = value.as_ref().map_or(serde_json::Value::Null, |s| {
        serde_json::Value::String(s.clone())
    });
    extra.insert(key.to_owned(), v);
}

impl Task {
    /// `teamId`, when stored as a string.
    pub fn team_id(&self) -> Option<&str> {
        self.extra
            .get(task_keys::TEAM_ID)
            .and_then(serde_json::Value::as_str)
    }

    /// `dueDate`, when stored as a string.
    pub fn due_date(&self) -> Option<&str> {
        self.extra
            .get(task_keys::DUE_DATE)
            .and_then(serde_json::Value::as_str)
    }

    /// Sets `teamId` (`None` stores `null`).
    pub fn set_team_id(&mut self, team_id: &Option<String>) {
        set_nullable(&mut self.extra, task_keys::TEAM_ID, team_id);
    }

    /// Sets `dueDate` (`None` stores `null`).
    pub fn set_due_date(&mut self, due_date: &Option<String>) {
        set_nullable(&mut self.extra, task_keys::DUE_DATE, due_date);
    }

    /// Applies a patch (ref §2 ITaskRepository.update) and sets `updated_at = now`.
    pub fn apply(&mut self, patch: &TaskPatch, now: i64) {
        let odd = &mut self.odd;
        let mut set = |key: &str| odd.forget(&[key]);
        if let Some(v) = &patch.title {
            self.title = v.clone();
            set("title");
        }
        if let Some(v) = &patch.description {
            self.description = v.clone();
            set("description");
        }
        if let Some(v) = patch.priority {
            self.priority = v.into();
            set("priority");
        }
        if let Some(v) = &patch.session_ids {
            self.session_ids = v.clone();
            set("sessionIds");
        }
        if let Some(v) = &patch.skill_ids {
            self.skill_ids = v.clone();
            set("skillIds");
        }
        if let Some(v) = &patch.agent_ids {
            self.agent_ids = v.clone();
            set("agentIds");
        }
        if let Some(v) = &patch.reference_task_ids {
            self.reference_task_ids = Some(v.clone());
            set("referenceTaskIds");
        }
        if let Some(v) = patch.pinned {
            self.pinned = Some(v);
            set("pinned");
        }
        if let Some(v) = &patch.team_member_id {
            self.team_member_id = Some(v.clone());
            set("teamMemberId");
        }
        if let Some(v) = &patch.team_member_ids {
            self.team_member_ids = Some(v.clone());
            set("teamMemberIds");
        }
        if let Some(v) = &patch.team_id {
            self.set_team_id(v);
        }
        if let Some(v) = &patch.due_date {
            self.set_due_date(v);
        }
        if let Some(map) = &patch.task_session_statuses {
            let current = self.task_session_statuses.get_or_insert_with(BTreeMap::new);
            self.odd.forget_whole("taskSessionStatuses");
            for (k, v) in map {
                current.insert(k.clone(), (*v).into());
                self.odd.forget(&["taskSessionStatuses", k]);
            }
        }
        if let Some(status) = patch.status {
            self.status = status.into();
            self.odd.forget(&["status"]);
            if status == TaskStatus::InProgress && self.started_at.is_none() {
                self.started_at = Some(now);
                self.odd.forget(&["startedAt"]);
            }
            if status == TaskStatus::Completed && self.completed_at.is_none() {
                self.completed_at = Some(now);
                self.odd.forget(&["completedAt"]);
            }
        }
        self.touch(now);
    }

    /// `updated_at = now`.
    fn touch(&mut self, now: i64) {
        self.updated_at = now;
        self.odd.forget(&["updatedAt"]);
    }

    /// Idempotent link (ref §2 `addSession`); bumps `updated_at` only if added.
    /// Returns true if the id was added.
    pub fn add_session(&mut self, session_id: &str, now: i64) -> bool {
        if self.session_ids.iter().any(|s| s == session_id) {
            return false;
        }
        self.session_ids.push(session_id.to_owned());
        self.odd.forget(&["sessionIds"]);
        self.touch(now);
        true
    }

    /// Unlink (ref §2 `removeSession`); always bumps `updated_at`. With `drop_status` the
    /// session's entry in `taskSessionStatuses` goes too (session delete, spec §2).
    pub fn remove_session(&mut self, session_id: &str, drop_status: bool, now: i64) {
        self.session_ids.retain(|s| s != session_id);
        self.odd.forget(&["sessionIds"]);
        if drop_status {
            if let Some(map) = &mut self.task_session_statuses {
                map.remove(session_id);
            }
            self.odd.forget(&["taskSessionStatuses", session_id]);
        }
        self.touch(now);
    }

    /// Sets `taskSessionStatuses[session_id] = status` (ref §2 per-session merge) and bumps
    /// `updated_at`.
    pub fn set_session_status(&mut self, session_id: &str, status: TaskSessionStatus, now: i64) {
        self.task_session_statuses
            .get_or_insert_with(BTreeMap::new)
            .insert(session_id.to_owned(), status.into());
        self.odd.forget_whole("taskSessionStatuses");
        self.odd.forget(&["taskSessionStatuses", session_id]);
        self.touch(now);
    }

    /// The per-session status of `session_id`, if any (an unknown stored string included).
    pub fn session_status(&self, session_id: &str) -> Option<&Lenient<TaskSessionStatus>> {
        self.task_session_statuses
            .as_ref()
            .and_then(|m| m.get(session_id))
    }
}

/// Filter for task lists (ref §2): AND of the given fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFilter {
    /// Project.
    pub project_id: Option<String>,
    /// Status.
    pub status: Option<TaskStatus>,
    /// `Some(None)` = root tasks only; `Some(Some(id))` = children of `id`.
    pub parent_id: Option<Option<String>>,
    /// Tasks linked to this session.
    pub session_id: Option<String>,
}

impl TaskFilter {
    /// True if `task` passes the filter.
    pub fn matches(&self, task: &Task) -> bool {
        self.project_id
            .as_ref()
            .is_none_or(|p| &task.project_id == p)
            && self.status.is_none_or(|s| task.status == s)
            && self.parent_id.as_ref().is_none_or(|p| &task.parent_id == p)
            && self
                .session_id
                .as_ref()
                .is_none_or(|s| task.session_ids.contains(s))
    }
}
