//! Route table (ref §4). One module per resource.

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ApiState;
use crate::error::ApiError;

mod infra;
mod log_digests;
mod mail;
mod master;
mod model_profiles;
mod ordering;
mod projects;
mod sessions;
mod skills;
mod spawn;
mod tasks;
mod team_members;
mod unsupported;

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .merge(infra::routes())
        .merge(projects::routes())
        .merge(tasks::routes())
        .merge(sessions::routes())
        .merge(spawn::routes())
        .merge(log_digests::routes())
        .merge(team_members::routes())
        .merge(ordering::routes())
        .merge(mail::routes())
        .merge(skills::routes())
        .merge(master::routes())
        .merge(model_profiles::routes())
        .merge(unsupported::routes())
}

/// Unknown route or method → 404 in the error shape (spec §2).
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!(
        "Cannot {method} {}",
        maestro_domain::ids::shown(uri.path())
    ))
    .into_response()
}

/// `{success: true, id}`.
pub(crate) fn deleted(id: &str) -> Value {
    json!({ "success": true, "id": id })
}
