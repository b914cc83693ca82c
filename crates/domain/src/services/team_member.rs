//! TeamMemberService (ref §3.5, §1.9) with the decisions of spec §2: `permissionMode` and
//! `memory` are persisted; a default member's `createdAt` is its project's creation time.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Ctx, non_blank, to_json};
use crate::entities::{
    AgentMode, AgentTool, Capabilities, CommandPermissions, DefaultMemberKind, Extra,
    GLOBAL_MEMBERS, MemberScope, PermissionMode, TeamMember, TeamMemberSnapshot, TeamMemberStatus,
    js_trim, member_keys,
};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};
use crate::ids::{check_id, check_opt_id, iso_from_ms};

/// Input of `createTeamMember` (ref §4.5 POST).
#[derive(Debug, Clone, Default)]
pub struct CreateTeamMember {
    /// Required.
    pub project_id: Option<String>,
    /// Required, trimmed.
    pub name: Option<String>,
    /// Required, trimmed.
    pub role: Option<String>,
    /// Required, trimmed.
    pub avatar: Option<String>,
    /// Trimmed; `''` default.
    pub identity: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Tool.
    pub agent_tool: Option<AgentTool>,
    /// Mode.
    pub mode: Option<AgentMode>,
    /// Permission mode (persisted, spec §2).
    pub permission_mode: Option<PermissionMode>,
    /// Skills (`[]` default).
    pub skill_ids: Option<Vec<String>>,
    /// Capabilities.
    pub capabilities: Option<Capabilities>,
    /// Command permissions.
    pub command_permissions: Option<CommandPermissions>,
    /// Workflow template.
    pub workflow_template_id: Option<String>,
    /// Custom workflow.
    pub custom_workflow: Option<String>,
    /// Memory (persisted, spec §2).
    pub memory: Option<Vec<String>>,
    /// `global` makes the member available in every project (newer reference, 653bc6a);
    /// stored as sent.
    pub scope: Option<MemberScope>,
    /// Model profile binding (newer reference); `''` is no binding.
    pub model_profile_id: Option<String>,
    /// Sound of the member in the desktop app (newer reference; at most 100 characters).
    /// The reference accepts it without storing it; we store it.
    pub sound_instrument: Option<String>,
}

/// Fields of `updateTeamMember`; each `Some` replaces. Serializes to the partial object stored
/// as a default member's override.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTeamMember {
    /// Trimmed, non-blank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Trimmed, non-blank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Trimmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Trimmed, non-blank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_tool: Option<AgentTool>,
    /// Mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<AgentMode>,
    /// Permission mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    /// Skills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_ids: Option<Vec<String>>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TeamMemberStatus>,
    /// Capabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Command permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_permissions: Option<CommandPermissions>,
    /// Workflow template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_template_id: Option<String>,
    /// Custom workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_workflow: Option<String>,
    /// Memory; `[]` clears.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Vec<String>>,
    /// Scope; a custom member moves between its project and the global members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<MemberScope>,
    /// Model profile binding; `''` removes it (newer reference).
    #[serde(skip)]
    pub model_profile_id: Option<String>,
    /// Sound of the member; `''` removes it.
    #[serde(skip)]
    pub sound_instrument: Option<String>,
}

impl UpdateTeamMember {
    /// The fields this update sets (the object merged into the member, or into a default
    /// member's override) and the keys it removes.
    fn changes(&self) -> (Map<String, Value>, Vec<&'static str>) {
        let mut set = match to_json(self) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut removed = Vec::new();
        for (key, value) in [
            (member_keys::MODEL_PROFILE_ID, &self.model_profile_id),
            (member_keys::SOUND_INSTRUMENT, &self.sound_instrument),
        ] {
            match value.as_deref() {
                None => {}
                Some("") => removed.push(key),
                Some(v) => {
                    set.insert(key.to_owned(), Value::String(v.to_owned()));
                }
            }
        }
        (set, removed)
    }
}

/// Longest `soundInstrument` (the reference's limit).
const MAX_SOUND_INSTRUMENT: usize = 100;

/// Checks the newer reference's fields of a create or update: `modelProfileId` follows the id
/// rule (`''` allowed), `soundInstrument` has at most 100 characters.
fn check_new_fields(model_profile_id: Option<&str>, sound: Option<&str>) -> DomainResult<()> {
    check_opt_id("modelProfileId", model_profile_id.filter(|s| !s.is_empty()))?;
    if sound.is_some_and(|s| s.chars().count() > MAX_SOUND_INSTRUMENT) {
        return Err(DomainError::invalid_field(
            "soundInstrument",
            format!("at most {MAX_SOUND_INSTRUMENT} characters"),
        ));
    }
    Ok(())
}

/// Team members.
#[derive(Clone)]
pub struct TeamMemberService {
    pub(crate) ctx: Arc<Ctx>,
}

/// `Validation` "Project ID is required" for a blank id; `Validation` with details for one
/// breaking the id rule (it names the `team-members/<projectId>/` directory, spec §2).
fn require_project(project_id: &str) -> DomainResult<()> {
    if js_trim(project_id).is_empty() {
        return Err(DomainError::validation("Project ID is required"));
    }
    check_id("projectId", project_id)
}

fn member_not_found(id: &str) -> DomainError {
    DomainError::not_found("Team member", id)
}

/// `base` with the keys of `over` set and the keys `removed` taken out.
fn merge(
    base: &TeamMember,
    over: &Map<String, Value>,
    removed: &[&str],
) -> DomainResult<TeamMember> {
    let mut value = to_json(base);
    if let Value::Object(obj) = &mut value {
        for k in removed {
            obj.shift_remove(*k);
        }
        for (k, v) in over {
            obj.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(value).map_err(|e| DomainError::internal("invalid team member", e))
}

impl TeamMemberService {
    async fn created_at_of_project(&self, project_id: &str) -> DomainResult<String> {
        let ms = self
            .ctx
            .ports
            .projects
            .get(project_id)
            .await?
            .map_or(0, |p| p.created_at);
        Ok(iso_from_ms(ms))
    }

    async fn default_member(
        &self,
        project_id: &str,
        kind: DefaultMemberKind,
    ) -> DomainResult<TeamMember> {
        let created = self.created_at_of_project(project_id).await?;
        let base = kind.member(project_id, &created);
        let Some(over) = self
            .ctx
            .ports
            .team_members
            .get_override(project_id, &base.id)
            .await?
        else {
            return Ok(base);
        };
        let mut member = match merge(&base, &over, &[]) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(member = %base.id, error = %err, "ignoring unreadable override");
                return Ok(base);
            }
        };
        member.id = base.id;
        member.project_id = project_id.to_owned();
        member.is_default = true;
        Ok(member)
    }

    /// A member seen from `project_id` (a default, a custom member of the project, or a
    /// global member) or `None`.
    pub(crate) async fn find(
        &self,
        project_id: &str,
        id: &str,
    ) -> DomainResult<Option<TeamMember>> {
        if let Some(kind) = DefaultMemberKind::from_id(project_id, id) {
            return self.default_member(project_id, kind).await.map(Some);
        }
        let store = &self.ctx.ports.team_members;
        if let Some(m) = store.get_custom(project_id, id).await? {
            return Ok(Some(m));
        }
        if project_id == GLOBAL_MEMBERS {
            return Ok(None);
        }
        store.get_custom(GLOBAL_MEMBERS, id).await
    }

    /// The five defaults, the custom members of the project, then the global members,
    /// archived ones excluded (ref §3.5; globals: newer reference, 653bc6a).
    ///
    /// # Errors
    /// `Validation` "Project ID is required".
    pub async fn list(&self, project_id: &str) -> DomainResult<Vec<TeamMember>> {
        require_project(project_id)?;
        let mut out = Vec::new();
        for kind in DefaultMemberKind::ALL {
            out.push(self.default_member(project_id, kind).await?);
        }
        let store = &self.ctx.ports.team_members;
        out.extend(store.list_custom(project_id).await?);
        if project_id != GLOBAL_MEMBERS {
            out.extend(store.list_custom(GLOBAL_MEMBERS).await?);
        }
        out.retain(|m| m.status != TeamMemberStatus::Archived);
        Ok(out)
    }

    /// The global members (`scope: "global"`), archived ones excluded: `GET
    /// /api/team-members` without a project (newer reference, 653bc6a).
    ///
    /// # Errors
    /// Store errors only.
    pub async fn list_global(&self) -> DomainResult<Vec<TeamMember>> {
        let mut out = self
            .ctx
            .ports
            .team_members
            .list_custom(GLOBAL_MEMBERS)
            .await?;
        out.retain(|m| m.status != TeamMemberStatus::Archived && m.is_global());
        Ok(out)
    }

    /// One member, archived ones included: a default or custom member of the project, or a
    /// global member.
    ///
    /// # Errors
    /// `Validation`; `NotFound` "Team member with id '<id>' not found".
    pub async fn get(&self, project_id: &str, id: &str) -> DomainResult<TeamMember> {
        require_project(project_id)?;
        self.find(project_id, id)
            .await?
            .ok_or_else(|| member_not_found(id))
    }

    /// One member by id alone (`GET /api/team-members/:id` without a project, newer
    /// reference): a global member, a custom member of any project, or a default member
    /// `tm_<projectId>_<kind>` of an existing project. Archived ones included.
    ///
    /// # Errors
    /// `Validation` for an id breaking the id rule; `NotFound`.
    pub async fn get_by_id(&self, id: &str) -> DomainResult<TeamMember> {
        check_id("id", id)?;
        if let Some(m) = self.ctx.ports.team_members.find_custom(id).await? {
            return Ok(m);
        }
        for project in self.ctx.ports.projects.list().await? {
            if let Some(kind) = DefaultMemberKind::from_id(&project.id, id) {
                return self.default_member(&project.id, kind).await;
            }
        }
        Err(member_not_found(id))
    }

    /// The snapshot of a member (ref §1.10).
    pub async fn snapshot(&self, project_id: &str, id: &str) -> DomainResult<TeamMemberSnapshot> {
        Ok(self.get(project_id, id).await?.snapshot())
    }

    /// Creates a custom member; emits `team_member:created`.
    ///
    /// # Errors
    /// `Validation` "Project ID is required" (or a `projectId` breaking the id rule),
    /// "Team member name|role|avatar is required".
    pub async fn create(&self, input: CreateTeamMember) -> DomainResult<TeamMember> {
        let project_id = non_blank(input.project_id.as_deref())
            .ok_or_else(|| DomainError::validation("Project ID is required"))?;
        check_id("projectId", &project_id)?;
        let required = |v: &Option<String>, what: &str| {
            non_blank(v.as_deref())
                .ok_or_else(|| DomainError::validation(format!("Team member {what} is required")))
        };
        let name = required(&input.name, "name")?;
        let role = required(&input.role, "role")?;
        let avatar = required(&input.avatar, "avatar")?;
        check_new_fields(
            input.model_profile_id.as_deref(),
            input.sound_instrument.as_deref(),
        )?;
        let mut extra = Extra::new();
        if let Some(scope) = input.scope {
            extra.insert(member_keys::SCOPE.to_owned(), scope.as_str().into());
        }
        for (key, value) in [
            (member_keys::MODEL_PROFILE_ID, input.model_profile_id),
            (member_keys::SOUND_INSTRUMENT, input.sound_instrument),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                extra.insert(key.to_owned(), Value::String(v));
            }
        }
        let now = iso_from_ms(self.ctx.now());
        let member = TeamMember {
            id: self.ctx.id("tm"),
            project_id,
            name,
            role,
            identity: input
                .identity
                .map(|s| js_trim(&s).to_owned())
                .unwrap_or_default(),
            avatar,
            model: input.model,
            agent_tool: input.agent_tool.map(Into::into),
            mode: input.mode.map(Into::into),
            permission_mode: input.permission_mode.map(Into::into),
            skill_ids: Some(input.skill_ids.unwrap_or_default()),
            is_default: false,
            status: TeamMemberStatus::Active.into(),
            capabilities: input.capabilities,
            command_permissions: input.command_permissions,
            workflow_template_id: input.workflow_template_id.filter(|s| !s.is_empty()),
            custom_workflow: input.custom_workflow.filter(|s| !s.is_empty()),
            memory: input.memory,
            created_at: now.clone(),
            updated_at: now,
            extra,
            odd: Default::default(),
        };
        let member = self.ctx.ports.team_members.put_custom(member).await?;
        self.emit(names::TEAM_MEMBER_CREATED, &member).await;
        Ok(member)
    }

    async fn emit(&self, name: &'static str, member: &TeamMember) {
        self.ctx
            .emit(NewEvent::new(name, &member.project_id, Payload::of(member)))
            .await;
    }

    /// Writes an update without validation or events: to the override for defaults, to the
    /// member's file for custom members.
    async fn store_update(
        &self,
        member: &TeamMember,
        update: &UpdateTeamMember,
    ) -> DomainResult<TeamMember> {
        let now = iso_from_ms(self.ctx.now());
        let (mut fields, removed) = update.changes();
        fields.insert("updatedAt".into(), Value::String(now));
        fields.insert("projectId".into(), Value::String(member.project_id.clone()));
        if member.is_default {
            let store = &self.ctx.ports.team_members;
            let mut over = store
                .get_override(&member.project_id, &member.id)
                .await?
                .unwrap_or_default();
            for k in &removed {
                over.shift_remove(*k);
            }
            over.extend(fields);
            store
                .put_override(&member.project_id, &member.id, over)
                .await?;
            self.get(&member.project_id, &member.id).await
        } else {
            let mut updated = merge(member, &fields, &removed)?;
            updated.id = member.id.clone();
            updated.is_default = false;
            self.ctx.ports.team_members.put_custom(updated).await
        }
    }

    /// Updates a member (ref §3.5, spec §2); emits `team_member:updated`.
    ///
    /// # Errors
    /// `Validation` "Team member name|role|avatar cannot be empty"; `NotFound`.
    pub async fn update(
        &self,
        project_id: &str,
        id: &str,
        mut update: UpdateTeamMember,
    ) -> DomainResult<TeamMember> {
        require_project(project_id)?;
        for (v, what) in [
            (&mut update.name, "name"),
            (&mut update.role, "role"),
            (&mut update.avatar, "avatar"),
        ] {
            if let Some(s) = v {
                let t = js_trim(s);
                if t.is_empty() {
                    return Err(DomainError::validation(format!(
                        "Team member {what} cannot be empty"
                    )));
                }
                *s = t.to_owned();
            }
        }
        if let Some(i) = &mut update.identity {
            *i = js_trim(i).to_owned();
        }
        check_new_fields(
            update.model_profile_id.as_deref(),
            update.sound_instrument.as_deref(),
        )?;
        let member = self.get(project_id, id).await?;
        let member = self.store_update(&member, &update).await?;
        self.emit(names::TEAM_MEMBER_UPDATED, &member).await;
        Ok(member)
    }

    /// Appends memory entries (spec §2: persisted); emits `team_member:updated`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn append_memory(
        &self,
        project_id: &str,
        id: &str,
        entries: Vec<String>,
    ) -> DomainResult<TeamMember> {
        let member = self.get(project_id, id).await?;
        let mut memory = member.memory.clone().unwrap_or_default();
        memory.extend(entries);
        let update = UpdateTeamMember {
            memory: Some(memory),
            ..UpdateTeamMember::default()
        };
        let member = self.store_update(&member, &update).await?;
        self.emit(names::TEAM_MEMBER_UPDATED, &member).await;
        Ok(member)
    }

    /// Deletes an archived custom member; emits `team_member:deleted` `{id}`.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` for defaults; `BusinessRule` if not archived.
    pub async fn delete(&self, project_id: &str, id: &str) -> DomainResult<()> {
        let member = self.get(project_id, id).await?;
        if member.is_default {
            return Err(DomainError::Forbidden(
                "Cannot delete default team members. You can customize them using the update endpoint."
                    .into(),
            ));
        }
        if member.status != TeamMemberStatus::Archived {
            return Err(DomainError::BusinessRule(
                "Team member must be archived before deletion. Use the archive endpoint first."
                    .into(),
            ));
        }
        self.ctx
            .ports
            .team_members
            .delete_custom(member.home(), id)
            .await?;
        self.ctx
            .emit(NewEvent::new(
                names::TEAM_MEMBER_DELETED,
                project_id,
                json!({ "id": id }),
            ))
            .await;
        Ok(())
    }

    async fn set_status(
        &self,
        project_id: &str,
        id: &str,
        status: TeamMemberStatus,
    ) -> DomainResult<TeamMember> {
        let member = self.get(project_id, id).await?;
        if member.is_default {
            let verb = match status {
                TeamMemberStatus::Archived => "archive",
                TeamMemberStatus::Active => "unarchive",
            };
            return Err(DomainError::Forbidden(format!(
                "Cannot {verb} default team members."
            )));
        }
        if member.status == status {
            return Ok(member);
        }
        let update = UpdateTeamMember {
            status: Some(status),
            ..UpdateTeamMember::default()
        };
        let member = self.store_update(&member, &update).await?;
        let name = match status {
            TeamMemberStatus::Archived => names::TEAM_MEMBER_ARCHIVED,
            TeamMemberStatus::Active => names::TEAM_MEMBER_UPDATED,
        };
        self.emit(name, &member).await;
        Ok(member)
    }

    /// Archives a custom member; emits `team_member:archived` unless already archived.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` for defaults.
    pub async fn archive(&self, project_id: &str, id: &str) -> DomainResult<TeamMember> {
        self.set_status(project_id, id, TeamMemberStatus::Archived)
            .await
    }

    /// Unarchives a custom member; emits `team_member:updated` unless already active.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` for defaults.
    pub async fn unarchive(&self, project_id: &str, id: &str) -> DomainResult<TeamMember> {
        self.set_status(project_id, id, TeamMemberStatus::Active)
            .await
    }

    /// Drops a default member's override; emits `team_member:updated`.
    ///
    /// # Errors
    /// `NotFound` "Default team member with id '<id>' not found" for anything else.
    pub async fn reset(&self, project_id: &str, id: &str) -> DomainResult<TeamMember> {
        require_project(project_id)?;
        if DefaultMemberKind::from_id(project_id, id).is_none() {
            return Err(DomainError::not_found("Default team member", id));
        }
        self.ctx
            .ports
            .team_members
            .delete_override(project_id, id)
            .await?;
        let member = self.get(project_id, id).await?;
        self.emit(names::TEAM_MEMBER_UPDATED, &member).await;
        Ok(member)
    }
}
