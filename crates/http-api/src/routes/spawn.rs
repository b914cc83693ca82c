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
use crate::extract::JsonBody;

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/api/sessions/spawn", post(spawn))
}

async fn spawn(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<impl IntoResponse> {
    let mut req = SpawnRequest::from_json(&body)?;
    req.sender_session_id = super::sessions::caller_session(&headers).map(str::to_owned);
    let res = s.app.spawn.spawn(req).await?;
    Ok((StatusCode::CREATED, Json(res)))
}
