//! `GET /api/model-profiles[/:id]` (newer reference; `maestro model-profile list|get`): the
//! built-in tiers, read-only. Other methods answer 404 `NOT_SUPPORTED`.

use axum::Json;
use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::{MethodRouter, get};
use maestro_domain::entities::{ModelProfile, model_profile, model_profiles};

use super::unsupported::{MODEL_PROFILE_EDITING, answer};
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, PathParams};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/model-profiles", read_only(get(list)))
        .route("/api/model-profiles/{id}", read_only(get(get_one)))
}

/// `route` with every other method answered `NOT_SUPPORTED`.
fn read_only(route: MethodRouter<ApiState>) -> MethodRouter<ApiState> {
    route.fallback(|method: Method, uri: Uri| async move {
        answer(MODEL_PROFILE_EDITING, &method, &uri)
    })
}

async fn list() -> Json<&'static [ModelProfile]> {
    Json(model_profiles())
}

async fn get_one(PathParams(id): PathParams<Id>) -> ApiResult<Json<&'static ModelProfile>> {
    model_profile(&id).map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "Model profile {} not found",
            maestro_domain::ids::shown(&id)
        ))
    })
}
