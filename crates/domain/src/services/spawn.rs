//! SpawnService: `POST /api/sessions/spawn` (ref §3.3.6) with the failure handling of
//! spec §2 (a failed manifest marks the session `failed`, never leaves it `spawning`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::{CreateSession, Ctx, SessionService, TeamMemberService, to_json};
use crate::entities::{
    AgentMode, AgentTool, Extra, LaunchConfig, PermissionMode, Session, SessionPatch,
    SessionStatus, SpawnSource, Task,
};
use crate::error::{DomainError, DomainResult, SpawnErrorKind};
use crate::events::{NewEvent, names};
use crate::ids::{invalid_id_message, is_valid_id, shown};
use crate::ports::ManifestRequest;

mod request;
use request::{argv_id_problem, bad_ids, invalid, invalid_fields, keep_valid_stored};

/// A spawn request as sent by the UI or the CLI. String fields whose values are checked here
/// (spawn source, mode, agent tool) stay strings so the errors come in the reference order.
#[derive(Debug, Clone, Default)]
pub struct SpawnRequest {
    /// Project.
    pub project_id: Option<String>,
    /// Tasks; `None` when missing or not an array of strings.
    pub task_ids: Option<Vec<String>>,
    /// Session name.
    pub session_name: Option<String>,
    /// Skills.
    pub skills: Option<Vec<String>>,
    /// Parent session.
    pub session_id: Option<String>,
    /// `ui` (default) or `session`.
    pub spawn_source: Option<String>,
    /// One of [`AgentMode`]: `worker | coordinator | coordinated-worker |
    /// coordinated-coordinator` or the legacy `execute | coordinate`.
    pub mode: Option<String>,
    /// Free context object.
    pub context: Option<Value>,
    /// Team members.
    pub team_member_ids: Option<Vec<String>>,
    /// Delegates for a coordinator.
    pub delegate_team_member_ids: Option<Vec<String>>,
    /// Single team member.
    pub team_member_id: Option<String>,
    /// Agent tool.
    pub agent_tool: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// `{subject, message, fromSessionId?}` (`MAESTRO_INITIAL_DIRECTIVE` for the CLI).
    pub initial_directive: Option<Value>,
    /// `launchConfig`: decides model and agent tool over `model` / `agentTool` and the
    /// members'; kept in `metadata.launchConfig`.
    pub launch_config: Option<LaunchConfig>,
    /// `memberOverrides` as sent (`{<teamMemberId>: {…}}`); kept in
    /// `metadata.memberOverrides`, given to the CLI as `MAESTRO_MEMBER_OVERRIDES`.
    pub member_overrides: Option<Value>,
    /// Session-level permission mode (below `launchConfig.accessMode`).
    pub permission_mode: Option<PermissionMode>,
    /// Permission mode for the sessions this one spawns; kept in
    /// `metadata.delegatePermissionMode`.
    pub delegate_permission_mode: Option<PermissionMode>,
    /// `useWorktree`: recorded in `metadata.useWorktree`; this server creates no worktree.
    pub use_worktree: Option<bool>,
    /// `teamId`: `None` absent (the parent's is inherited), `Some(None)` an explicit `null`
    /// (no team), `Some(Some(id))` that team. Kept as the session's top-level `teamId`.
    pub team_id: Option<Option<String>>,
    /// Terminal columns for a server-hosted PTY (checked, not used: no server PTY here).
    pub cols: Option<u16>,
    /// Terminal rows for a server-hosted PTY (checked, not used).
    pub rows: Option<u16>,
    /// The session the request comes from (the `X-Session-Id` header, sent by the 653bc6a
    /// CLI). With `spawnSource: "session"` it must be a coordinator to spawn (issue 13); the
    /// 7950ff3 CLI sends no header and is not gated.
    pub sender_session_id: Option<String>,
}

/// The `201` body of a successful spawn.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpawnResponse {
    /// Always true.
    pub success: bool,
    /// New session.
    pub session_id: String,
    /// Path of its manifest.
    pub manifest_path: String,
    /// `Spawn request sent to Agent Maestro`.
    pub message: String,
    /// The session, with its env.
    pub session: Session,
}

/// Spawning sessions.
#[derive(Clone)]
pub struct SpawnService {
    pub(crate) ctx: Arc<Ctx>,
}

fn err(kind: SpawnErrorKind, code: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::spawn(kind, code, message)
}

fn model_power(m: &str) -> u8 {
    match m {
        "opus" => 3,
        "sonnet" => 2,
        "haiku" => 1,
        _ => 0,
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// What a spawned session takes over from its parent session when the request does not say
/// (the 653bc6a server's rules, NEWER-CLI-REQUESTS §4.2).
#[derive(Default)]
struct Inherited {
    /// The parent's `metadata.delegatePermissionMode`, else `bypassPermissions` when the
    /// parent runs with it.
    permission_mode: Option<PermissionMode>,
    /// The parent's `metadata.memberOverrides`.
    member_overrides: Option<Value>,
    /// The parent's top-level `teamId`.
    team_id: Option<String>,
}

impl Inherited {
    fn from_parent(parent: Option<&Session>) -> Self {
        let Some(parent) = parent else {
            return Self::default();
        };
        let meta = |k: &str| parent.metadata.as_ref().and_then(|m| m.get(k));
        let mode = |k: &str| {
            meta(k)
                .and_then(Value::as_str)
                .and_then(PermissionMode::parse)
        };
        Self {
            permission_mode: mode("delegatePermissionMode").or_else(|| {
                mode("permissionMode").filter(|m| *m == PermissionMode::BypassPermissions)
            }),
            member_overrides: meta("memberOverrides").filter(|o| o.is_object()).cloned(),
            team_id: parent
                .extra
                .get("teamId")
                .and_then(Value::as_str)
                .filter(|t| is_valid_id(t) && !t.starts_with('-'))
                .map(str::to_owned),
        }
    }
}

impl SpawnService {
    /// The newer reference's spawn gate: a session spawns others only in a coordinator role
    /// (`metadata.mode` `coordinator`, `coordinated-coordinator` or the legacy `coordinate`;
    /// no mode reads as a worker).
    ///
    /// # Errors
    /// `SENDER_SESSION_NOT_FOUND` 400 for an unknown sender; `Forbidden` "Spawning requires
    /// coordinator mode. Run `maestro coordinator enable` first." for a worker.
    async fn check_sender_may_spawn(&self, sender: &str) -> DomainResult<()> {
        let Some(session) = self.ctx.ports.sessions.get(sender).await? else {
            return Err(err(
                SpawnErrorKind::BadRequest,
                "SENDER_SESSION_NOT_FOUND",
                format!("Sender session {} not found", shown(sender)),
            ));
        };
        let mode = super::session_mode::mode_of(&session);
        if AgentMode::parse(&mode).is_some_and(AgentMode::is_coordinator) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "Spawning requires coordinator mode. Run `maestro coordinator enable` first."
                    .to_owned(),
            ))
        }
    }

    /// Runs the spawn flow of ref §3.3.6 with the 653bc6a additions (issue 13 items 1 and 2,
    /// NEWER-CLI-REQUESTS §4.2): either mode vocabulary (`metadata.mode` and `MAESTRO_MODE`
    /// get [`AgentMode::for_spawn`]); `launchConfig` decides model and agent tool and is kept
    /// in `metadata.launchConfig`; `memberOverrides`, the resolved `permissionMode`,
    /// `delegatePermissionMode` and `useWorktree` go to `metadata`, `teamId` to the session's
    /// top level; a parent session hands down its `delegatePermissionMode`,
    /// `memberOverrides` and `teamId`. Emits `session:updated` (env), `session:spawn`, then
    /// `task:session_added` per task.
    ///
    /// # Errors
    /// `Spawn` with codes, in this order (ref §3.3.6, upper-cased per spec §2; the codes
    /// not in the reference check what the reference passed on unchecked, each 400 with
    /// `details: [{path, message}]`): `MISSING_PROJECT_ID`, `INVALID_PROJECT_ID`,
    /// `INVALID_TASK_IDS` (also for an element breaking the id rule),
    /// `INVALID_SPAWN_SOURCE`, `MISSING_SESSION_ID`, `INVALID_SESSION_ID`,
    /// `INVALID_TEAM_MEMBER_IDS`, `INVALID_AGENT_TOOL` (not one of [`AgentTool`]),
    /// `INVALID_MODEL` / `INVALID_SKILLS` (a value the CLI would read as an option, a skill
    /// with a comma), `SENDER_SESSION_NOT_FOUND` / `Forbidden` (a sender session, the
    /// `X-Session-Id` header, that is unknown or not a coordinator; see
    /// `check_sender_may_spawn`), `PARENT_SESSION_NOT_FOUND`, `TASK_NOT_FOUND` (details `{taskId}`),
    /// `INVALID_MODE` (not one of [`AgentMode`]), `INVALID_AGENT_TOOL` (a member's stored
    /// tool outside the set), `PROJECT_NOT_FOUND`, `MANIFEST_GENERATION_FAILED` (500; the
    /// session is marked failed), `SPAWN_ERROR` (500). A mistyped new key is refused by
    /// [`SpawnRequest::from_json`] (`VALIDATION_ERROR`).
    pub async fn spawn(&self, req: SpawnRequest) -> DomainResult<SpawnResponse> {
        use SpawnErrorKind::*;
        let project_id = req
            .project_id
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| err(BadRequest, "MISSING_PROJECT_ID", "projectId is required"))?;
        if let Some(problem) = argv_id_problem(&project_id) {
            return Err(invalid("INVALID_PROJECT_ID", "projectId", &problem));
        }
        let task_ids = req
            .task_ids
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                err(
                    BadRequest,
                    "INVALID_TASK_IDS",
                    "taskIds must be a non-empty array",
                )
            })?;
        let bad = bad_ids("taskIds", &task_ids);
        if !bad.is_empty() {
            return Err(invalid_fields("INVALID_TASK_IDS", bad));
        }
        // A task listed twice is linked (and announced) once.
        let task_ids = task_ids.iter().fold(Vec::new(), |mut v, t| {
            push_unique(&mut v, t);
            v
        });
        let source = match req.spawn_source.as_deref() {
            None => SpawnSource::Ui,
            Some(s) => SpawnSource::parse(s).ok_or_else(|| {
                err(
                    BadRequest,
                    "INVALID_SPAWN_SOURCE",
                    "spawnSource must be \"ui\" or \"session\"",
                )
            })?,
        };
        let parent = req.session_id.clone().filter(|s| !s.is_empty());
        if source == SpawnSource::Session && parent.is_none() {
            return Err(err(
                BadRequest,
                "MISSING_SESSION_ID",
                "sessionId is required when spawnSource is \"session\"",
            ));
        }
        if let Some(p) = parent.as_deref().filter(|p| !is_valid_id(p)) {
            return Err(invalid(
                "INVALID_SESSION_ID",
                "sessionId",
                &invalid_id_message(p),
            ));
        }
        req.check_values()?;
        if source == SpawnSource::Session
            && let Some(sender) = req.sender_session_id.as_deref()
        {
            self.check_sender_may_spawn(sender).await?;
        }
        let parent_session = match &parent {
            Some(parent_id) => self.ctx.ports.sessions.get(parent_id).await?,
            None => None,
        };
        if source == SpawnSource::Session
            && let Some(parent_id) = &parent
            && parent_session.is_none()
        {
            return Err(err(
                NotFound,
                "PARENT_SESSION_NOT_FOUND",
                format!("Parent session {} not found", shown(parent_id)),
            ));
        }
        let mut tasks: Vec<Task> = Vec::with_capacity(task_ids.len());
        for id in &task_ids {
            match self.ctx.ports.tasks.get(id).await? {
                Some(t) => tasks.push(t),
                None => {
                    return Err(DomainError::Spawn {
                        kind: NotFound,
                        code: "TASK_NOT_FOUND",
                        message: format!("Task {} not found", shown(id)),
                        details: Some(json!({ "taskId": id })),
                    });
                }
            }
        }
        let mut member_ids: Vec<String> = match (&req.team_member_ids, &req.team_member_id) {
            (Some(ids), _) if !ids.is_empty() => ids.clone(),
            (_, Some(id)) if !id.is_empty() => vec![id.clone()],
            _ => Vec::new(),
        };
        if member_ids.is_empty() {
            for t in &tasks {
                match (&t.team_member_ids, &t.team_member_id) {
                    (Some(ids), _) if !ids.is_empty() => {
                        ids.iter().for_each(|i| push_unique(&mut member_ids, i))
                    }
                    (_, Some(id)) => push_unique(&mut member_ids, id),
                    _ => {}
                }
            }
            keep_valid_stored("team member", &mut member_ids);
        }
        let team = TeamMemberService {
            ctx: self.ctx.clone(),
        };
        let mut members = Vec::new();
        for id in &member_ids {
            if let Some(m) = team.find(&project_id, id).await? {
                members.push(m);
            }
        }
        let member_mode = members.iter().find_map(|m| m.mode.clone());
        let member_model = members
            .iter()
            .filter_map(|m| m.model.clone())
            .filter(|m| model_power(m) > 0)
            .max_by_key(|m| model_power(m));
        let member_tool = members.iter().find_map(|m| m.agent_tool.clone());
        let snapshots: Vec<_> = members.iter().map(|m| m.snapshot()).collect();
        // `body.mode || member mode || 'execute'`; anything else is `invalid_mode` (ref §3.3.6
        // step 6), which a member's stored unknown mode reaches too. Either vocabulary is
        // accepted; a four-mode value becomes `coordinated-*` under a parent session, a
        // legacy one is kept as sent (`AgentMode::for_spawn`, issue 13 item 1).
        let mode = match req.mode.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => AgentMode::parse(m),
            None => member_mode.map_or(Some(AgentMode::Execute), |m| m.known()),
        }
        .ok_or_else(|| {
            err(
                BadRequest,
                "INVALID_MODE",
                format!(
                    "mode must be one of: {}",
                    AgentMode::ALL
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?
        .for_spawn(parent.is_some());
        let launch = req.launch_config.clone();
        // `launchConfig.model || body.model || the members' strongest model`.
        let model = launch
            .as_ref()
            .map(|l| l.model.clone())
            .or_else(|| req.model.clone().filter(|m| !m.is_empty()))
            .or(member_model);
        // `launchConfig.provider's tool || body.agentTool || member agentTool`; the body's was
        // checked above. A member's stored tool outside the set is refused like a stored mode
        // (the CLI would exit 1).
        let agent_tool = match req.agent_tool.as_deref().filter(|t| !t.is_empty()) {
            _ if launch.is_some() => launch.as_ref().map(LaunchConfig::agent_tool),
            Some(t) => AgentTool::parse(t),
            None => match member_tool {
                None => None,
                Some(t) => Some(t.known().ok_or_else(|| {
                    invalid(
                        "INVALID_AGENT_TOOL",
                        "agentTool",
                        &format!(
                            "the team member's agent tool {:?} is not one of {}",
                            shown(t.as_str()),
                            AgentTool::expected()
                        ),
                    )
                })?),
            },
        };
        let inherited = Inherited::from_parent(parent_session.as_ref());
        // `launchConfig.accessMode || body.permissionMode || the parent's
        // delegatePermissionMode || bypassPermissions when the parent has it` (§4.2).
        let permission_mode = launch
            .as_ref()
            .and_then(|l| l.access_mode)
            .map(|a| a.permission_mode())
            .or(req.permission_mode)
            .or(inherited.permission_mode);
        let member_overrides = req.member_overrides.clone().or(inherited.member_overrides);
        let team_id = match &req.team_id {
            Some(explicit) => explicit.clone(),
            None => inherited.team_id,
        };
        if req.use_worktree == Some(true) {
            tracing::warn!(
                "spawn asked for useWorktree: this server creates no git worktrees; the session runs in the project directory"
            );
        }
        let Some(project) = self.ctx.ports.projects.get(&project_id).await? else {
            return Err(err(
                NotFound,
                "PROJECT_NOT_FOUND",
                format!("Project {} not found", shown(&project_id)),
            ));
        };

        let mode_word = if mode.is_coordinator() {
            "Coordinate"
        } else {
            "Execute"
        };
        let mut metadata = json!({
            "skills": req.skills.clone().unwrap_or_default(),
            "spawnedBy": parent,
            "spawnSource": source.as_str(),
            "mode": mode.as_str(),
            "teamMemberId": if member_ids.len() == 1 { Some(member_ids[0].clone()) } else { None },
            "teamMemberIds": if member_ids.is_empty() { None } else { Some(member_ids.clone()) },
            "context": req.context.clone().unwrap_or_else(|| json!({})),
        });
        if let Some(obj) = metadata.as_object_mut() {
            if let Some(l) = &launch {
                obj.insert("launchConfig".into(), to_json(l));
            }
            if let Some(o) = &member_overrides {
                obj.insert("memberOverrides".into(), o.clone());
            }
            if let Some(p) = permission_mode {
                obj.insert("permissionMode".into(), p.as_str().into());
            }
            if let Some(p) = req.delegate_permission_mode {
                obj.insert("delegatePermissionMode".into(), p.as_str().into());
            }
            if let Some(w) = req.use_worktree {
                obj.insert("useWorktree".into(), w.into());
            }
        }
        let mut extra = Extra::new();
        if let Some(t) = &team_id {
            extra.insert("teamId".into(), t.clone().into());
        }
        let sessions = SessionService {
            ctx: self.ctx.clone(),
        };
        let members_field = (!member_ids.is_empty()).then(|| (member_ids.clone(), snapshots));
        let session = sessions
            .create_with_members(
                CreateSession {
                    project_id: Some(project_id.clone()),
                    task_ids: task_ids.clone(),
                    name: Some(
                        req.session_name
                            .clone()
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| format!("{mode_word} for {}", task_ids[0])),
                    ),
                    status: Some(SessionStatus::Spawning),
                    env: Some(BTreeMap::new()),
                    metadata: Some(metadata),
                    parent_session_id: parent.clone(),
                    suppress_created_event: true,
                    extra,
                    ..CreateSession::default()
                },
                members_field,
            )
            .await
            .map_err(|e| match e {
                DomainError::NotFound { message } => err(NotFound, "TASK_NOT_FOUND", message),
                other => other,
            })?;

        let mut reference_task_ids = Vec::new();
        for t in &tasks {
            for r in t.reference_task_ids.iter().flatten() {
                push_unique(&mut reference_task_ids, r);
            }
        }
        keep_valid_stored("reference task", &mut reference_task_ids);
        let manifest_request = ManifestRequest {
            session_id: session.id.clone(),
            mode,
            project_id: project_id.clone(),
            task_ids: task_ids.clone(),
            skills: req.skills.clone().unwrap_or_default(),
            model,
            agent_tool,
            launch_config: launch,
            reference_task_ids,
            team_member_ids: if member_ids.len() > 1 {
                member_ids.clone()
            } else {
                req.delegate_team_member_ids.clone().unwrap_or_default()
            },
            team_member_id: (member_ids.len() == 1).then(|| member_ids[0].clone()),
            team_id,
            initial_directive: req.initial_directive.clone(),
            coordinator_session_id: parent.clone(),
            permission_mode,
            delegate_permission_mode: req.delegate_permission_mode,
            member_overrides,
        };
        let manifest = match self.ctx.ports.manifests.generate(&manifest_request).await {
            Ok(m) => m,
            Err(reason) => {
                let message = format!("Failed to generate manifest: {reason}");
                if let Err(e) = sessions.fail_with_error(&session.id, message.clone()).await {
                    tracing::error!(session = %session.id, error = %e, "could not mark failed spawn");
                }
                return Err(err(Internal, "MANIFEST_GENERATION_FAILED", message));
            }
        };

        let cfg = &self.ctx.config;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("MAESTRO_SESSION_ID".into(), session.id.clone());
        env.insert("MAESTRO_MANIFEST_PATH".into(), manifest.path.clone());
        env.insert("MAESTRO_SERVER_URL".into(), cfg.server_url.clone());
        env.insert("MAESTRO_MODE".into(), mode.as_str().to_owned());
        env.insert(
            "MAESTRO_COORDINATOR_SESSION_ID".into(),
            parent.clone().unwrap_or_default(),
        );
        env.insert("DATA_DIR".into(), cfg.data_dir.clone());
        env.insert("SESSION_DIR".into(), cfg.session_dir.clone());
        for (k, v) in &cfg.passthrough_env {
            env.insert(k.clone(), v.clone());
        }
        env.entry("GOOGLE_GENAI_USE_GCA".into())
            .or_insert_with(|| "true".into());
        let session = sessions
            .update(
                &session.id,
                SessionPatch {
                    env: Some(env.clone()),
                    ..SessionPatch::default()
                },
            )
            .await?;

        let command = if mode.is_coordinator() {
            "maestro orchestrator init"
        } else {
            "maestro worker init"
        };
        let spawn_event = json!({
            "session": to_json(&session),
            "projectId": project_id,
            "taskIds": task_ids,
            "command": command,
            "cwd": project.working_dir,
            "envVars": env,
            "manifest": manifest.manifest,
            "spawnSource": source.as_str(),
            "parentSessionId": parent,
            "_isSpawnCreated": true,
        });
        self.ctx
            .emit(
                NewEvent::new(names::SESSION_SPAWN, &project_id, spawn_event)
                    .for_session(&session.id),
            )
            .await;
        for task_id in &task_ids {
            self.ctx
                .emit(
                    NewEvent::new(
                        names::TASK_SESSION_ADDED,
                        &project_id,
                        json!({ "taskId": task_id, "sessionId": session.id }),
                    )
                    .for_session(&session.id),
                )
                .await;
        }
        Ok(SpawnResponse {
            success: true,
            session_id: session.id.clone(),
            manifest_path: manifest.path,
            message: "Spawn request sent to Agent Maestro".into(),
            session,
        })
    }
}
