//! `/api/tasks` (ref §4.3).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maestro_domain::entities::{
    DocKind, Task, TaskFilter, TaskPatch, TaskPriority, TaskSessionStatus, TaskStatus,
    TimelineEventType, UpdateSource,
};
use maestro_domain::services::{CreateTask, TaskDoc, UpdateTask};
use serde::Deserialize;
use serde_json::{Value, json};

use super::deleted;
use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{
    Id, JsonBody, PathParams, QueryMap, RawJson, RawJsonList, nullable, required,
};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/tasks", get(list).post(create))
        .route("/api/tasks/{id}", get(get_one).patch(update).delete(delete))
        .route("/api/tasks/{id}/children", get(children))
        .route("/api/tasks/{id}/timeline", post(timeline))
        .route("/api/tasks/{id}/docs", get(docs).post(add_doc))
}

async fn list(State(s): State<ApiState>, q: QueryMap) -> ApiResult<RawJsonList> {
    let filter = TaskFilter {
        project_id: q.string("projectId"),
        status: q.parsed("status", TaskStatus::parse, &TaskStatus::expected())?,
        parent_id: q
            .str("parentId")
            .map(|p| (p != "null").then(|| p.to_owned())),
        session_id: q.string("sessionId"),
    };
    Ok(RawJsonList(s.app.tasks.list_json(&filter).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    project_id: Option<String>,
    parent_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    priority: Option<TaskPriority>,
    initial_prompt: Option<String>,
    skill_ids: Option<Vec<String>>,
    reference_task_ids: Option<Vec<String>>,
    team_member_id: Option<String>,
    team_member_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    due_date: Option<Option<String>>,
}

async fn create(
    State(s): State<ApiState>,
    JsonBody(b): JsonBody<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let task = s
        .app
        .tasks
        .create(CreateTask {
            project_id: b.project_id,
            parent_id: b.parent_id,
            title: b.title,
            description: b.description,
            priority: b.priority,
            initial_prompt: b.initial_prompt,
            skill_ids: b.skill_ids,
            reference_task_ids: b.reference_task_ids,
            team_member_id: b.team_member_id,
            team_member_ids: b.team_member_ids,
            team_id: b.team_id,
            due_date: b.due_date,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

async fn get_one(State(s): State<ApiState>, PathParams(id): PathParams<Id>) -> ApiResult<RawJson> {
    Ok(RawJson(s.app.tasks.get_json(&id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    title: Option<String>,
    description: Option<String>,
    status: Option<TaskStatus>,
    priority: Option<TaskPriority>,
    session_ids: Option<Vec<String>>,
    skill_ids: Option<Vec<String>>,
    agent_ids: Option<Vec<String>>,
    reference_task_ids: Option<Vec<String>>,
    pinned: Option<bool>,
    team_member_id: Option<String>,
    team_member_ids: Option<Vec<String>>,
    task_session_statuses: Option<BTreeMap<String, TaskSessionStatus>>,
    #[serde(default, deserialize_with = "nullable")]
    team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    due_date: Option<Option<String>>,
    update_source: Option<UpdateSource>,
    session_id: Option<String>,
    session_status: Option<TaskSessionStatus>,
}

async fn update(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<UpdateBody>,
) -> ApiResult<Json<Task>> {
    let input = UpdateTask {
        patch: TaskPatch {
            title: b.title,
            description: b.description,
            status: b.status,
            priority: b.priority,
            session_ids: b.session_ids,
            skill_ids: b.skill_ids,
            agent_ids: b.agent_ids,
            reference_task_ids: b.reference_task_ids,
            pinned: b.pinned,
            team_member_id: b.team_member_id,
            team_member_ids: b.team_member_ids,
            task_session_statuses: b.task_session_statuses,
            team_id: b.team_id,
            due_date: b.due_date,
        },
        update_source: b.update_source,
        session_id: b.session_id,
        session_status: b.session_status,
    };
    Ok(Json(s.app.tasks.update(&id, input).await?))
}

async fn delete(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Value>> {
    s.app.tasks.delete(&id).await?;
    Ok(Json(deleted(&id)))
}

async fn children(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<RawJsonList> {
    Ok(RawJsonList(s.app.tasks.children_json(&id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimelineBody {
    message: Option<String>,
    session_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<TimelineEventType>,
}

async fn timeline(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<TimelineBody>,
) -> ApiResult<Json<Value>> {
    let message = required(b.message, "message is required")?;
    let session_id = required(b.session_id, "sessionId is required")?;
    let kind = b.kind.unwrap_or(TimelineEventType::Progress);
    s.app
        .tasks
        .add_timeline(&id, &session_id, kind, &message)
        .await?;
    Ok(Json(json!({
        "success": true, "taskId": *id, "sessionId": session_id, "message": message,
        "type": kind.as_str(),
    })))
}

async fn docs(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Vec<TaskDoc>>> {
    Ok(Json(s.app.tasks.docs(&id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocBody {
    title: Option<String>,
    file_path: Option<String>,
    session_id: Option<String>,
    content: Option<String>,
    kind: Option<DocKind>,
}

async fn add_doc(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<DocBody>,
) -> ApiResult<impl IntoResponse> {
    let title = required(b.title, "title is required")?;
    let file_path = required(b.file_path, "filePath is required")?;
    let session_id = required(b.session_id, "sessionId is required")?;
    let session = s
        .app
        .tasks
        .add_doc(&id, &session_id, &title, &file_path, b.content, b.kind)
        .await?;
    let now = session
        .docs
        .last()
        .map_or(session.last_activity, |d| d.added_at);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "success": true, "taskId": *id, "sessionId": session_id, "title": title,
            "filePath": file_path, "addedAt": now,
        })),
    ))
}
