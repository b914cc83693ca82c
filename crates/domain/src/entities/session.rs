//! Session (ref §1.3–§1.7, §1.10) and its atomic mutations (ref §2 ISessionRepository).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{
    AgentTool, DocKind, Extra, Lenient, OddValues, PermissionMode, SessionStatus, TimelineKind,
};

/// An agent session: `sessions/<id>.json`, with events, timeline and docs embedded. Loads
/// leniently ([`super::Stored`]): a field of an unexpected type, also inside the timeline,
/// events, docs and snapshots, is kept in `odd` and served as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Session {
    /// `sess_<ms>_<rand>` or client supplied.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Linked tasks.
    #[serde(default)]
    pub task_ids: Vec<String>,
    /// Display name.
    pub name: String,
    /// Agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Environment; PATCH merges into it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Status (a stored unknown string is kept, see [`Lenient`]).
    pub status: Lenient<SessionStatus>,
    /// Creation time, epoch ms.
    pub started_at: i64,
    /// Bumped by every mutation, epoch ms.
    pub last_activity: i64,
    /// Set when the status becomes completed / failed / stopped, epoch ms.
    #[serde(default)]
    pub completed_at: Option<i64>,
    /// Server host name at creation.
    #[serde(default)]
    pub hostname: String,
    /// Server platform (`linux`, `darwin`, `win32`).
    #[serde(default)]
    pub platform: String,
    /// Raw session events.
    #[serde(default)]
    pub events: Vec<SessionEvent>,
    /// Timeline.
    #[serde(default)]
    pub timeline: Vec<TimelineEvent>,
    /// Docs.
    #[serde(default)]
    pub docs: Vec<DocEntry>,
    /// Free metadata; spawn writes a fixed shape (ref §3.3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Needs-input flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_input: Option<NeedsInput>,
    /// Single team member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_id: Option<String>,
    /// Snapshot of the single team member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_snapshot: Option<TeamMemberSnapshot>,
    /// Team members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_ids: Option<Vec<String>>,
    /// Snapshots of the team members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_member_snapshots: Option<Vec<TeamMemberSnapshot>>,
    /// Parent session, `null` if none.
    #[serde(default)]
    pub parent_session_id: Option<String>,
    /// Unknown keys from stored files.
    #[serde(flatten)]
    pub extra: Extra,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new sessions.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of a session (ref §1.3–§1.7, §1.10).
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    static EVENT: [Field; 4] = [
        field("id", Str, Required),
        field("timestamp", Int, Required),
        field("type", Str, Required),
        field("data", Any, Optional),
    ];
    static TIMELINE: [Field; 6] = [
        field("id", Str, Required),
        field("type", Enum, Required),
        field("timestamp", Int, Required),
        field("message", Str, Optional),
        field("taskId", Str, Optional),
        field("metadata", Any, Optional),
    ];
    static DOC: [Field; 9] = [
        field("id", Str, Required),
        field("title", Str, Required),
        field("filePath", Str, Required),
        field("kind", Enum, Optional),
        field("content", Str, Optional),
        field("contentFilePath", Str, Optional),
        field("taskId", Str, Optional),
        field("addedAt", Int, Required),
        field("addedBy", Str, Optional),
    ];
    static NEEDS_INPUT: [Field; 3] = [
        field("active", Bool, Required),
        field("message", Str, Optional),
        field("since", Int, Optional),
    ];
    static SNAPSHOT: [Field; 6] = [
        field("name", Str, Required),
        field("avatar", Str, Required),
        field("role", Str, Required),
        field("model", Str, Optional),
        field("agentTool", Enum, Optional),
        field("permissionMode", Enum, Optional),
    ];
    pub(super) static SESSION: [Field; 22] = [
        field("id", Str, Key),
        field("projectId", Str, Key),
        field("taskIds", StrList, Defaulted),
        field("name", Str, Required),
        field("agentId", Str, Optional),
        field("env", Map(&Str), Defaulted),
        field("status", Enum, Required),
        field("startedAt", Int, Required),
        field("lastActivity", Int, Required),
        field("completedAt", Int, Nullable),
        field("hostname", Str, Defaulted),
        field("platform", Str, Defaulted),
        field("events", List(&EVENT), Defaulted),
        field("timeline", List(&TIMELINE), Defaulted),
        field("docs", List(&DOC), Defaulted),
        field("metadata", Any, Optional),
        field("needsInput", Obj(&NEEDS_INPUT), Optional),
        field("teamMemberId", Str, Optional),
        field("teamMemberSnapshot", Obj(&SNAPSHOT), Optional),
        field("teamMemberIds", StrList, Optional),
        field("teamMemberSnapshots", List(&SNAPSHOT), Optional),
        field("parentSessionId", Str, Nullable),
    ];
}

stored_entity!(Session, &shape::SESSION);

/// A raw session event (ref §1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// `evt_…`.
    pub id: String,
    /// Epoch ms.
    pub timestamp: i64,
    /// Free type string.
    #[serde(rename = "type")]
    pub kind: String,
    /// Payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// A timeline entry (ref §1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// `evt_…`.
    pub id: String,
    /// Entry type (unknown types from stored data are kept verbatim).
    #[serde(rename = "type")]
    pub kind: TimelineKind,
    /// Epoch ms.
    pub timestamp: i64,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Related task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Metadata object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// A doc entry (ref §1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocEntry {
    /// `doc_…`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Path of the doc file.
    pub file_path: String,
    /// `markdown` or `diagram` (newer reference); absent means markdown. A stored unknown
    /// string is kept (see [`Lenient`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Lenient<DocKind>>,
    /// Inline content (markdown, or the scene JSON of a diagram). This server always stores
    /// content inline; see `content_file_path` for the newer reference's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where the newer reference server (653bc6a) keeps the content instead of `content`:
    /// `<DATA_DIR>/session-docs/<sessionId>/<docId>.md` (`.excalidraw` for a diagram). Kept as
    /// stored; the content is read from that file when docs are listed
    /// (`SessionRepository::doc_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_file_path: Option<String>,
    /// Related task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Epoch ms.
    pub added_at: i64,
    /// Owning session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
    /// Unknown keys from stored docs.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DocEntry {
    /// True for a doc of kind `diagram`.
    pub fn is_diagram(&self) -> bool {
        self.kind.as_ref().is_some_and(|k| *k == DocKind::Diagram)
    }
}

/// Needs-input flag (ref §1.7); replaced wholesale on update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedsInput {
    /// Whether input is needed.
    pub active: bool,
    /// Question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Since, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

/// A team member as seen by a session (ref §1.10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamMemberSnapshot {
    /// Name.
    pub name: String,
    /// Emoji avatar.
    pub avatar: String,
    /// Role.
    pub role: String,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Agent tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_tool: Option<Lenient<AgentTool>>,
    /// Permission mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<Lenient<PermissionMode>>,
}

/// Fields of a session update (ref §2 `update`, extended with the spawn-only fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionPatch {
    /// Replace the task ids (tasks are not touched).
    pub task_ids: Option<Vec<String>>,
    /// New status; terminal ones set `completedAt = now`.
    pub status: Option<SessionStatus>,
    /// Agent id.
    pub agent_id: Option<String>,
    /// Merged into `env`.
    pub env: Option<BTreeMap<String, String>>,
    /// Appended; the service gives an empty `id` a generated one and a `timestamp` of 0 the
    /// current time.
    pub events: Vec<SessionEvent>,
    /// Appended; ids and timestamps filled in as for `events`.
    pub timeline: Vec<TimelineEvent>,
    /// Replaced wholesale.
    pub needs_input: Option<NeedsInput>,
    /// Team member fields written by spawn / enrichment: `(ids, snapshots)`; one id also sets
    /// the singular fields.
    pub team_members: Option<(Vec<String>, Vec<TeamMemberSnapshot>)>,
    /// Keys set in `metadata` (a shallow merge; metadata that is not an object is replaced
    /// by one). The mode switch (`POST /api/sessions/:id/mode`) sets `mode` this way.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl SessionPatch {
    /// True if applying this patch would change nothing but `lastActivity`.
    pub fn is_empty(&self) -> bool {
        self.task_ids.is_none()
            && self.status.is_none()
            && self.agent_id.is_none()
            && self.env.is_none()
            && self.events.is_empty()
            && self.timeline.is_empty()
            && self.needs_input.is_none()
            && self.team_members.is_none()
            && self.metadata.is_none()
    }
}

impl Session {
    /// Applies a patch and sets `last_activity = now`.
    pub fn apply(&mut self, patch: &SessionPatch, now: i64) {
        if let Some(v) = &patch.task_ids {
            self.task_ids = v.clone();
            self.odd.forget(&["taskIds"]);
        }
        if let Some(status) = patch.status {
            self.status = status.into();
            self.odd.forget(&["status"]);
            if status.is_terminal() {
                self.completed_at = Some(now);
                self.odd.forget(&["completedAt"]);
            }
        }
        if let Some(v) = &patch.agent_id {
            self.agent_id = Some(v.clone());
            self.odd.forget(&["agentId"]);
        }
        if let Some(env) = &patch.env {
            self.odd.forget_whole("env");
            for (k, v) in env {
                self.env.insert(k.clone(), v.clone());
                self.odd.forget(&["env", k]);
            }
        }
        if !patch.events.is_empty() {
            self.events.extend(patch.events.iter().cloned());
            self.odd.forget_whole("events");
        }
        if !patch.timeline.is_empty() {
            self.timeline.extend(patch.timeline.iter().cloned());
            self.odd.forget_whole("timeline");
        }
        if let Some(v) = &patch.needs_input {
            self.needs_input = Some(v.clone());
            self.odd.forget(&["needsInput"]);
        }
        if let Some((ids, snaps)) = &patch.team_members {
            self.set_team_members(ids, snaps);
        }
        if let Some(keys) = &patch.metadata {
            let meta = self
                .metadata
                .get_or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !meta.is_object() {
                *meta = serde_json::Value::Object(Default::default());
            }
            if let Some(map) = meta.as_object_mut() {
                map.extend(keys.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            self.odd.forget(&["metadata"]);
        }
        self.touch(now);
    }

    /// `last_activity = now`.
    fn touch(&mut self, now: i64) {
        self.last_activity = now;
        self.odd.forget(&["lastActivity"]);
    }

    /// Sets `teamMemberIds`/`teamMemberSnapshots`, and the singular fields when exactly one
    /// id is given (ref §3.3.6 step 9).
    pub fn set_team_members(&mut self, ids: &[String], snapshots: &[TeamMemberSnapshot]) {
        self.team_member_ids = Some(ids.to_vec());
        self.team_member_snapshots = Some(snapshots.to_vec());
        self.odd.forget(&["teamMemberIds"]);
        self.odd.forget(&["teamMemberSnapshots"]);
        if ids.len() == 1 {
            self.team_member_id = Some(ids[0].clone());
            self.team_member_snapshot = snapshots.first().cloned();
            self.odd.forget(&["teamMemberId"]);
            self.odd.forget(&["teamMemberSnapshot"]);
        }
    }

    /// Idempotent link; bumps `last_activity` only if added. True if added.
    pub fn add_task(&mut self, task_id: &str, now: i64) -> bool {
        if self.task_ids.iter().any(|t| t == task_id) {
            return false;
        }
        self.task_ids.push(task_id.to_owned());
        self.odd.forget(&["taskIds"]);
        self.touch(now);
        true
    }

    /// Unlink; always bumps `last_activity`.
    pub fn remove_task(&mut self, task_id: &str, now: i64) {
        self.task_ids.retain(|t| t != task_id);
        self.odd.forget(&["taskIds"]);
        self.touch(now);
    }

    /// Appends a raw event and bumps `last_activity` (ref §2 `addEvent`).
    pub fn push_event(&mut self, event: SessionEvent, now: i64) {
        self.events.push(event);
        self.odd.forget_whole("events");
        self.touch(now);
    }

    /// Appends a timeline entry and bumps `last_activity` (ref §2 `addTimelineEvent`).
    pub fn push_timeline(&mut self, event: TimelineEvent, now: i64) {
        self.timeline.push(event);
        self.odd.forget_whole("timeline");
        self.touch(now);
    }

    /// Appends a doc and bumps `last_activity` (ref §2 `addDoc`).
    pub fn push_doc(&mut self, doc: DocEntry, now: i64) {
        self.docs.push(doc);
        self.odd.forget_whole("docs");
        self.touch(now);
    }

    /// True if `needsInput.active`.
    pub fn needs_input_active(&self) -> bool {
        self.needs_input.as_ref().is_some_and(|n| n.active)
    }
}

/// Filter for session lists (ref §2): AND of the given fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    /// Project.
    pub project_id: Option<String>,
    /// Sessions linked to this task.
    pub task_id: Option<String>,
    /// Status.
    pub status: Option<SessionStatus>,
    /// Parent session.
    pub parent_session_id: Option<String>,
    /// `active=true`: excludes status `completed` only (ref §4.4).
    pub active_only: bool,
}

impl SessionFilter {
    /// True if `s` passes the filter.
    pub fn matches(&self, s: &Session) -> bool {
        self.project_id.as_ref().is_none_or(|p| &s.project_id == p)
            && self.task_id.as_ref().is_none_or(|t| s.task_ids.contains(t))
            && self.status.is_none_or(|st| s.status == st)
            && self
                .parent_session_id
                .as_ref()
                .is_none_or(|p| s.parent_session_id.as_ref() == Some(p))
            && (!self.active_only || s.status != SessionStatus::Completed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::entities::TimelineEventType;

    #[test]
    fn unknown_stored_timeline_types_round_trip() {
        let text = r#"{"id":"evt_1","type":"custom_note","timestamp":5,"message":"m"}"#;
        let e: TimelineEvent = serde_json::from_str(text).unwrap();
        assert_eq!(e.kind, TimelineKind::Other("custom_note".into()));
        assert_eq!(serde_json::to_string(&e).unwrap(), text);
        let known: TimelineEvent =
            serde_json::from_str(r#"{"id":"evt_2","type":"progress","timestamp":5}"#).unwrap();
        assert_eq!(known.kind, TimelineEventType::Progress);
    }
}
