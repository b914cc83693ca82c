//! `POST /api/sessions/spawn` (ref §3.3.6).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use maestro_domain::services::SpawnRequest;
use serde_json::Value;

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, string_array};

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/api/sessions/spawn", post(spawn))
}

/// Lenient view of a spawn body: wrong types become "absent" so the spawn service reports
/// the reference's error codes in the reference's order.
fn spawn_request(body: &Value) -> SpawnRequest {
    let str_of = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let strs_of = |k: &str| {
        body.get(k).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
    };
    let task_ids = string_array(body.get("taskIds"));
    SpawnRequest {
        project_id: str_of("projectId"),
        task_ids,
        session_name: str_of("sessionName"),
        skills: strs_of("skills"),
        session_id: str_of("sessionId"),
        spawn_source: str_of("spawnSource"),
        mode: str_of("mode"),
        context: body.get("context").cloned().filter(|v| !v.is_null()),
        team_member_ids: strs_of("teamMemberIds"),
        delegate_team_member_ids: strs_of("delegateTeamMemberIds"),
        team_member_id: str_of("teamMemberId"),
        agent_tool: str_of("agentTool"),
        model: str_of("model"),
        initial_directive: body
            .get("initialDirective")
            .cloned()
            .filter(Value::is_object),
    }
}

async fn spawn(
    State(s): State<ApiState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<impl IntoResponse> {
    let res = s.app.spawn.spawn(spawn_request(&body)).await?;
    Ok((StatusCode::CREATED, Json(res)))
}
