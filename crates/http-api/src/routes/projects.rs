//! `/api/projects` (ref §4.2), and the newer reference's `PUT /api/projects/:id/master`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Router, response::IntoResponse};
use maestro_domain::entities::{Project, ProjectPatch};
use maestro_domain::services::CreateProject;
use serde::Deserialize;
use serde_json::Value;

use super::deleted;
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, PathParams};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/projects", get(list).post(create))
        .route(
            "/api/projects/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/api/projects/{id}/master", put(set_master))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectBody {
    name: Option<String>,
    working_dir: Option<String>,
    description: Option<String>,
    is_master: Option<bool>,
}

async fn list(State(s): State<ApiState>) -> ApiResult<Json<Vec<Project>>> {
    Ok(Json(s.app.projects.list().await?))
}

async fn create(
    State(s): State<ApiState>,
    JsonBody(b): JsonBody<ProjectBody>,
) -> ApiResult<impl IntoResponse> {
    let p = s
        .app
        .projects
        .create(CreateProject {
            name: b.name,
            working_dir: b.working_dir,
            description: b.description,
            is_master: b.is_master,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.app.projects.get(&id).await?))
}

async fn update(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<ProjectBody>,
) -> ApiResult<Json<Project>> {
    let patch = ProjectPatch {
        name: b.name,
        working_dir: b.working_dir,
        description: b.description,
        is_master: b.is_master,
    };
    Ok(Json(s.app.projects.update(&id, patch).await?))
}

async fn delete(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Value>> {
    s.app.projects.delete(&id).await?;
    Ok(Json(deleted(&id)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MasterBody {
    is_master: Option<bool>,
}

/// `PUT /api/projects/:id/master {isMaster}` (`maestro project set-master|unset-master`):
/// 200 with the updated project; `isMaster` is required.
async fn set_master(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<MasterBody>,
) -> ApiResult<Json<Project>> {
    let is_master = b.is_master.ok_or_else(|| {
        ApiError::invalid(
            "isMaster is required",
            vec![maestro_domain::FieldError::new(
                "isMaster",
                "required boolean",
            )],
        )
    })?;
    Ok(Json(s.app.projects.set_master(&id, is_master).await?))
}
