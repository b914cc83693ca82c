//! Team member (ref §1.9) and the five default members per project.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{
    AgentMode, AgentTool, Extra, Lenient, MemberScope, OddValues, PermissionMode,
    TeamMemberSnapshot, TeamMemberStatus,
};

/// Capabilities; keys are snake_case on the wire (ref §1.9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// May spawn sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_spawn_sessions: Option<bool>,
    /// May edit tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_edit_tasks: Option<bool>,
    /// May report task-level status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_report_task_level: Option<bool>,
    /// May report session-level status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_report_session_level: Option<bool>,
}

/// Command permissions (ref §1.9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPermissions {
    /// Group switches (`task`, `session`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, bool>>,
    /// Command switches (`session:spawn`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<BTreeMap<String, bool>>,
}

/// A team member. Custom ones live in `team-members/<projectId>/<id>.json` (global ones in
/// `team-members/__global__/<id>.json`, see [`TeamMember::home`]); the five defaults are
/// computed, with an optional `<id>.override.json` merged over them. Loads leniently
/// ([`super::Stored`]): a field of an unexpected type is kept in `odd` and served as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct TeamMember {
    /// `tm_<ms>_<rand>` or `tm_<projectId>_<type>` for defaults.
    pub id: String,
    /// Project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Persona / instructions.
    #[serde(default)]
    pub identity: String,
    /// Emoji.
    pub avatar: String,
    /// Model (`opus`, `sonnet`, `haiku`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Agent tool (stored unknown strings are kept, see [`Lenient`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_tool: Option<Lenient<AgentTool>>,
    /// Mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Lenient<AgentMode>>,
    /// Permission mode (persisted, spec §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<Lenient<PermissionMode>>,
    /// Skills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_ids: Option<Vec<String>>,
    /// True for the five defaults.
    #[serde(default)]
    pub is_default: bool,
    /// Status.
    #[serde(default = "active")]
    pub status: Lenient<TeamMemberStatus>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Command permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_permissions: Option<CommandPermissions>,
    /// Workflow template id or `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_template_id: Option<String>,
    /// Custom workflow text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_workflow: Option<String>,
    /// Memory entries (persisted, spec §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Vec<String>>,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Unknown keys from stored files, and the newer reference's `scope`, `modelProfileId`
    /// and `soundInstrument` (see [`member_keys`]).
    #[serde(flatten)]
    pub extra: Extra,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new members.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of a team member (ref §1.9).
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    static CAPABILITIES: [Field; 4] = [
        field("can_spawn_sessions", Bool, Optional),
        field("can_edit_tasks", Bool, Optional),
        field("can_report_task_level", Bool, Optional),
        field("can_report_session_level", Bool, Optional),
    ];
    static COMMAND_PERMISSIONS: [Field; 2] = [
        field("groups", Map(&Bool), Optional),
        field("commands", Map(&Bool), Optional),
    ];
    pub(super) static TEAM_MEMBER: [Field; 20] = [
        field("id", Str, Key),
        field("projectId", Str, Key),
        field("name", Str, Required),
        field("role", Str, Required),
        field("identity", Str, Defaulted),
        field("avatar", Str, Required),
        field("model", Str, Optional),
        field("agentTool", Enum, Optional),
        field("mode", Enum, Optional),
        field("permissionMode", Enum, Optional),
        field("skillIds", StrList, Optional),
        field("isDefault", Bool, Defaulted),
        field("status", Enum, Defaulted),
        field("capabilities", Obj(&CAPABILITIES), Optional),
        field("commandPermissions", Obj(&COMMAND_PERMISSIONS), Optional),
        field("workflowTemplateId", Str, Optional),
        field("customWorkflow", Str, Optional),
        field("memory", StrList, Optional),
        field("createdAt", Str, Required),
        field("updatedAt", Str, Required),
    ];
}

stored_entity!(TeamMember, &shape::TEAM_MEMBER);

fn active() -> Lenient<TeamMemberStatus> {
    TeamMemberStatus::Active.into()
}

/// Keys of the newer reference's (653bc6a) team-member fields kept in [`TeamMember::extra`]
/// under their wire names: older data directories have none of them, and a file round-trips
/// exactly as stored.
pub mod member_keys {
    /// `project` (or absent) or `global` ([`super::MemberScope`]).
    pub const SCOPE: &str = "scope";
    /// The model profile the member is bound to (resolved at spawn by the newer CLI).
    pub const MODEL_PROFILE_ID: &str = "modelProfileId";
    /// Sound of the member in the desktop app.
    pub const SOUND_INSTRUMENT: &str = "soundInstrument";
}

/// Where global custom members live: `team-members/__global__/` in the data directory (the
/// newer reference's `GLOBAL_PROJECT_ID`), and the home the repositories list them under.
pub const GLOBAL_MEMBERS: &str = "__global__";

impl TeamMember {
    /// `scope` as stored (`project`, `global`), if it is a string.
    pub fn scope(&self) -> Option<&str> {
        self.extra
            .get(member_keys::SCOPE)
            .and_then(serde_json::Value::as_str)
    }

    /// True for a member offered in every project (`scope: "global"`).
    pub fn is_global(&self) -> bool {
        self.scope() == Some(MemberScope::Global.as_str())
    }

    /// The home a repository keeps a custom member under: [`GLOBAL_MEMBERS`] for a global
    /// member (its `projectId` stays the project it was created in), else its project.
    pub fn home(&self) -> &str {
        if self.is_global() {
            GLOBAL_MEMBERS
        } else {
            &self.project_id
        }
    }

    /// `modelProfileId`, when stored as a string.
    pub fn model_profile_id(&self) -> Option<&str> {
        self.extra
            .get(member_keys::MODEL_PROFILE_ID)
            .and_then(serde_json::Value::as_str)
    }

    /// The snapshot a session stores (`name, avatar, role, model, agentTool`; ref §1.10).
    pub fn snapshot(&self) -> TeamMemberSnapshot {
        TeamMemberSnapshot {
            name: self.name.clone(),
            avatar: self.avatar.clone(),
            role: self.role.clone(),
            model: self.model.clone(),
            agent_tool: self.agent_tool.clone(),
            permission_mode: None,
        }
    }
}

/// The five default member kinds, in list order (ref §1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultMemberKind {
    /// `simple_worker`.
    SimpleWorker,
    /// `coordinator`.
    Coordinator,
    /// `batch_coordinator`.
    BatchCoordinator,
    /// `dag_coordinator`.
    DagCoordinator,
    /// `recruiter`.
    Recruiter,
}

impl DefaultMemberKind {
    /// All five, in list order.
    pub const ALL: [Self; 5] = [
        Self::SimpleWorker,
        Self::Coordinator,
        Self::BatchCoordinator,
        Self::DagCoordinator,
        Self::Recruiter,
    ];

    /// The id suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::SimpleWorker => "simple_worker",
            Self::Coordinator => "coordinator",
            Self::BatchCoordinator => "batch_coordinator",
            Self::DagCoordinator => "dag_coordinator",
            Self::Recruiter => "recruiter",
        }
    }

    /// `tm_<projectId>_<suffix>`.
    pub fn id_for(self, project_id: &str) -> String {
        format!("tm_{project_id}_{}", self.suffix())
    }

    /// The kind whose default id in `project_id` is `id`.
    pub fn from_id(project_id: &str, id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id_for(project_id) == id)
    }

    /// The code defaults of this member in `project_id`, with both timestamps set to
    /// `created_at` (ISO).
    pub fn member(self, project_id: &str, created_at: &str) -> TeamMember {
        let (name, role, avatar, mode, spawn, template, identity) = match self {
            Self::SimpleWorker => (
                "Simple Worker",
                "Default executor",
                "⚡",
                AgentMode::Execute,
                false,
                "execute-simple",
                "You implement tasks yourself: you write the code, run the tests and fix what breaks until the task is done.",
            ),
            Self::Coordinator => (
                "Coordinator",
                "Task orchestrator",
                "🎯",
                AgentMode::Coordinate,
                true,
                "coordinate-default",
                "You break work into clear subtasks, assign each to the right worker session and follow their progress to the end.",
            ),
            Self::BatchCoordinator => (
                "Batch Coordinator",
                "Intelligent batch orchestrator",
                "📦",
                AgentMode::Coordinate,
                true,
                "coordinate-batching",
                "You group independent tasks into batches and run each batch in parallel before starting the next one.",
            ),
            Self::DagCoordinator => (
                "DAG Coordinator",
                "DAG-based orchestrator",
                "🔀",
                AgentMode::Coordinate,
                true,
                "coordinate-dag",
                "You model the dependencies between tasks as a DAG and execute it wave by wave, each task once its prerequisites are done.",
            ),
            Self::Recruiter => (
                "Recruiter",
                "Team member recruiter",
                "🔍",
                AgentMode::Execute,
                false,
                "execute-recruit",
                "You analyse what the project needs and create fitting team members with the `maestro team-member` commands; you do not write code.",
            ),
        };
        let command_permissions = (self == Self::Recruiter).then(|| CommandPermissions {
            groups: None,
            commands: Some(
                ["team-member:create", "team-member:list", "team-member:get"]
                    .into_iter()
                    .map(|c| (c.to_owned(), true))
                    .collect(),
            ),
        });
        TeamMember {
            id: self.id_for(project_id),
            project_id: project_id.to_owned(),
            name: name.to_owned(),
            role: role.to_owned(),
            identity: identity.to_owned(),
            avatar: avatar.to_owned(),
            model: Some("sonnet".to_owned()),
            agent_tool: Some(AgentTool::ClaudeCode.into()),
            mode: Some(mode.into()),
            permission_mode: None,
            skill_ids: Some(Vec::new()),
            is_default: true,
            status: TeamMemberStatus::Active.into(),
            capabilities: Some(Capabilities {
                can_spawn_sessions: Some(spawn),
                can_edit_tasks: Some(true),
                can_report_task_level: Some(true),
                can_report_session_level: Some(true),
            }),
            command_permissions,
            workflow_template_id: Some(template.to_owned()),
            custom_workflow: None,
            memory: None,
            created_at: created_at.to_owned(),
            updated_at: created_at.to_owned(),
            extra: Extra::new(),
            odd: OddValues::default(),
        }
    }
}
