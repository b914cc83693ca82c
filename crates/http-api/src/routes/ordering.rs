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
use crate::extract::{Id, JsonBody, PathParams};
use maestro_domain::FieldError;

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
            vec![FieldError::new("entityType", "task | session")],
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
    let ids = ordered_ids(b.ordered_ids.as_ref())?;
    Ok(Json(s.app.orderings.save(&project, kind, ids).await?))
}

/// `orderedIds` as strings. Not an array → "orderedIds must be an array"; a non-string
/// element → "orderedIds[i] must be a string", every such element in `details`.
fn ordered_ids(value: Option<&Value>) -> ApiResult<Vec<String>> {
    let Some(items) = value.and_then(Value::as_array) else {
        return Err(ApiError::invalid(
            "orderedIds must be an array",
            vec![FieldError::new("orderedIds", "must be an array of strings")],
        ));
    };
    let bad: Vec<FieldError> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_string())
        .map(|(i, v)| {
            FieldError::new(
                format!("orderedIds[{i}]"),
                format!("must be a string, not {}", json_type(v)),
            )
        })
        .collect();
    if let Some(first) = bad.first() {
        return Err(ApiError::invalid(
            format!("{} must be a string", first.path),
            bad,
        ));
    }
    Ok(items
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// The JSON type name of `v`, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
