//! `/api/skills` (ref §4.7) and `/api/workflow-templates` (ref §4.8).

use std::path::PathBuf;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParams, QueryMap};
use crate::workflow_templates;
use maestro_domain::ids::shown;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/skills", get(list))
        .route("/api/skills/mode/{mode}", get(by_mode))
        .route("/api/skills/{id}", get(get_one))
        .route("/api/skills/{id}/reload", post(reload))
        .route("/api/workflow-templates", get(templates))
        .route("/api/workflow-templates/{id}", get(template))
}

/// Runs a blocking skill-loader call off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "skill loader task failed");
        ApiError::internal()
    })
}

/// Any failure → `[]` (ref §4.7).
async fn list(State(s): State<ApiState>, q: QueryMap) -> Json<Value> {
    let loader = s.skills.clone();
    let project = q.string("projectPath").map(PathBuf::from);
    match blocking(move || loader.list(project.as_deref())).await {
        Ok(items) => Json(json!(items)),
        Err(_) => Json(json!([])),
    }
}

fn skill_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Skill not found: {}", shown(id)))
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<Value>> {
    let loader = s.skills.clone();
    let key = id.clone();
    let skill = blocking(move || loader.get(&key)).await?;
    skill
        .map(|d| Json(json!(d)))
        .ok_or_else(|| skill_not_found(&id))
}

async fn by_mode(
    State(s): State<ApiState>,
    PathParams(mode): PathParams<String>,
) -> ApiResult<Json<Value>> {
    let loader = s.skills.clone();
    let items = blocking(move || loader.by_mode(&mode)).await?;
    items
        .map(|v| Json(json!(v)))
        .map_err(|e| ApiError::validation(e.to_string()))
}

async fn reload(
    State(s): State<ApiState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<Value>> {
    let loader = s.skills.clone();
    let key = id.clone();
    let summary = blocking(move || loader.reload(&key)).await?;
    let summary = summary.ok_or_else(|| skill_not_found(&id))?;
    let mut v = json!(summary);
    v["reloaded"] = Value::Bool(true);
    Ok(Json(v))
}

async fn templates(q: QueryMap) -> Json<Value> {
    Json(json!(workflow_templates::by_mode(q.str("mode"))))
}

async fn template(PathParams(id): PathParams<String>) -> ApiResult<Json<Value>> {
    workflow_templates::get(&id)
        .map(|t| Json(json!(t)))
        .ok_or_else(|| ApiError::not_found(format!("Template '{}' not found", shown(&id))))
}
