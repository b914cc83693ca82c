//! `/api/team-members` (ref §4.5) with persisted `permissionMode` and `memory` (spec §2), and
//! the newer reference's (653bc6a) global members, `scope`, `modelProfileId` and
//! `soundInstrument`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maestro_domain::entities::{
    AgentMode, AgentTool, Capabilities, CommandPermissions, MemberScope, PermissionMode,
    TeamMember, TeamMemberStatus,
};
use maestro_domain::services::{CreateTeamMember, UpdateTeamMember};
use serde::Deserialize;
use serde_json::Value;

use super::deleted;
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, PathParams, QueryMap, string_array};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/team-members", get(list).post(create))
        .route(
            "/api/team-members/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/api/team-members/{id}/archive", post(archive))
        .route("/api/team-members/{id}/unarchive", post(unarchive))
        .route("/api/team-members/{id}/memory", post(memory))
        .route("/api/team-members/{id}/reset", post(reset))
}

fn query_project(q: &QueryMap) -> ApiResult<String> {
    q.string("projectId")
        .ok_or_else(|| ApiError::validation("projectId query parameter is required"))
}

fn body_project(p: Option<String>) -> ApiResult<String> {
    p.filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::validation("projectId is required in request body"))
}

/// `?projectId=X`: the project's members (defaults, its custom members, the global ones);
/// without it, the global members (newer reference, 653bc6a). `?scope=global` keeps only the
/// global members.
async fn list(State(s): State<ApiState>, q: QueryMap) -> ApiResult<Json<Vec<TeamMember>>> {
    let scope = q.parsed("scope", MemberScope::parse, &MemberScope::expected())?;
    let mut members = match q.string("projectId") {
        Some(project) => s.app.team_members.list(&project).await?,
        None => s.app.team_members.list_global().await?,
    };
    if scope == Some(MemberScope::Global) {
        members.retain(TeamMember::is_global);
    }
    Ok(Json(members))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    project_id: Option<String>,
    name: Option<String>,
    role: Option<String>,
    avatar: Option<String>,
    identity: Option<String>,
    model: Option<String>,
    agent_tool: Option<AgentTool>,
    mode: Option<AgentMode>,
    permission_mode: Option<PermissionMode>,
    skill_ids: Option<Vec<String>>,
    capabilities: Option<Capabilities>,
    command_permissions: Option<CommandPermissions>,
    workflow_template_id: Option<String>,
    custom_workflow: Option<String>,
    memory: Option<Vec<String>>,
    scope: Option<MemberScope>,
    model_profile_id: Option<String>,
    sound_instrument: Option<String>,
}

async fn create(
    State(s): State<ApiState>,
    JsonBody(b): JsonBody<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let member = s
        .app
        .team_members
        .create(CreateTeamMember {
            project_id: b.project_id,
            name: b.name,
            role: b.role,
            avatar: b.avatar,
            identity: b.identity,
            model: b.model,
            agent_tool: b.agent_tool,
            mode: b.mode,
            permission_mode: b.permission_mode,
            skill_ids: b.skill_ids,
            capabilities: b.capabilities,
            command_permissions: b.command_permissions,
            workflow_template_id: b.workflow_template_id,
            custom_workflow: b.custom_workflow,
            memory: b.memory,
            scope: b.scope,
            model_profile_id: b.model_profile_id,
            sound_instrument: b.sound_instrument,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// With `?projectId=X` a member seen from that project; without it, a member by id alone
/// (newer reference, 653bc6a).
async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<TeamMember>> {
    Ok(Json(match q.string("projectId") {
        Some(project) => s.app.team_members.get(&project, &id).await?,
        None => s.app.team_members.get_by_id(&id).await?,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    project_id: Option<String>,
    name: Option<String>,
    role: Option<String>,
    identity: Option<String>,
    avatar: Option<String>,
    model: Option<String>,
    agent_tool: Option<AgentTool>,
    mode: Option<AgentMode>,
    permission_mode: Option<PermissionMode>,
    skill_ids: Option<Vec<String>>,
    status: Option<TeamMemberStatus>,
    capabilities: Option<Capabilities>,
    command_permissions: Option<CommandPermissions>,
    workflow_template_id: Option<String>,
    custom_workflow: Option<String>,
    memory: Option<Vec<String>>,
    scope: Option<MemberScope>,
    model_profile_id: Option<String>,
    sound_instrument: Option<String>,
}

async fn update(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<UpdateBody>,
) -> ApiResult<Json<TeamMember>> {
    let project = body_project(b.project_id)?;
    let update = UpdateTeamMember {
        name: b.name,
        role: b.role,
        identity: b.identity,
        avatar: b.avatar,
        model: b.model,
        agent_tool: b.agent_tool,
        mode: b.mode,
        permission_mode: b.permission_mode,
        skill_ids: b.skill_ids,
        status: b.status,
        capabilities: b.capabilities,
        command_permissions: b.command_permissions,
        workflow_template_id: b.workflow_template_id,
        custom_workflow: b.custom_workflow,
        memory: b.memory,
        scope: b.scope,
        model_profile_id: b.model_profile_id,
        sound_instrument: b.sound_instrument,
    };
    Ok(Json(
        s.app.team_members.update(&project, &id, update).await?,
    ))
}

async fn delete(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let project = query_project(&q)?;
    s.app.team_members.delete(&project, &id).await?;
    Ok(Json(deleted(&id)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectBody {
    project_id: Option<String>,
}

async fn archive(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<ProjectBody>,
) -> ApiResult<Json<TeamMember>> {
    let project = body_project(b.project_id)?;
    Ok(Json(s.app.team_members.archive(&project, &id).await?))
}

async fn unarchive(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<ProjectBody>,
) -> ApiResult<Json<TeamMember>> {
    let project = body_project(b.project_id)?;
    Ok(Json(s.app.team_members.unarchive(&project, &id).await?))
}

async fn reset(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<ProjectBody>,
) -> ApiResult<Json<TeamMember>> {
    let project = body_project(b.project_id)?;
    Ok(Json(s.app.team_members.reset(&project, &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemoryBody {
    project_id: Option<String>,
    entries: Option<Value>,
}

async fn memory(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<MemoryBody>,
) -> ApiResult<Json<TeamMember>> {
    let project = body_project(b.project_id)?;
    let entries = string_array(b.entries.as_ref())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "entries (string array) is required in request body",
                vec![maestro_domain::FieldError::new(
                    "entries",
                    "non-empty array of strings",
                )],
            )
        })?;
    Ok(Json(
        s.app
            .team_members
            .append_memory(&project, &id, entries)
            .await?,
    ))
}
