//! `/api/ordering/:entityType/:projectId` (ref §4.6).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maestro_domain::entities::{Ordering, OrderingEntityType};
use serde::Deserialize;
use serde_json::Value;

use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, PathParams, string_array};

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/api/ordering/{entity_type}/{project_id}",
        get(get_one).put(save),
    )
}

fn entity_type(s: &str) -> ApiResult<OrderingEntityType> {
    OrderingEntityType::parse(s).ok_or_else(|| {
        ApiError::invalid(
            "entityType must be \"task\" or \"session\"",
            vec![maestro_domain::FieldError::new(
                "entityType",
                "task | session",
            )],
        )
    })
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams((kind, project)): PathParams<(String, Id)>,
) -> ApiResult<Json<Ordering>> {
    let kind = entity_type(&kind)?;
    Ok(Json(s.app.orderings.get(&project, kind).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SaveBody {
    ordered_ids: Option<Value>,
}

async fn save(
    State(s): State<ApiState>,
    PathParams((kind, project)): PathParams<(String, Id)>,
    JsonBody(b): JsonBody<SaveBody>,
) -> ApiResult<Json<Ordering>> {
    let kind = entity_type(&kind)?;
    let ids = string_array(b.ordered_ids.as_ref()).ok_or_else(|| {
        ApiError::invalid(
            "orderedIds must be an array",
            vec![maestro_domain::FieldError::new(
                "orderedIds",
                "array of strings",
            )],
        )
    })?;
    Ok(Json(s.app.orderings.save(&project, kind, ids).await?))
}
