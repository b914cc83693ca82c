//! `/api/team-members` (ref §4.5) with persisted `permissionMode` and `memory` (spec §2).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maestro_domain::entities::{
    AgentMode, AgentTool, Capabilities, CommandPermissions, PermissionMode, TeamMember,
    TeamMemberStatus,
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

async fn list(State(s): State<ApiState>, q: QueryMap) -> ApiResult<Json<Vec<TeamMember>>> {
    let project = query_project(&q)?;
    Ok(Json(s.app.team_members.list(&project).await?))
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
        })
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<TeamMember>> {
    let project = query_project(&q)?;
    Ok(Json(s.app.team_members.get(&project, &id).await?))
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
