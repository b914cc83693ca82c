//! Features of the newer reference server (agent-maestro 653bc6a) that this server does not
//! serve: every method on their routes answers 404 `NOT_SUPPORTED` in the error shape, with a
//! `message` naming the feature (the `maestro` CLI prints only `message`, and exits 2) and
//! `details: {feature}`, instead of an anonymous "Cannot GET …".
//!
//! [`UNSUPPORTED`] is the whole list, one row per route pattern: audit it there.

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;

use crate::ApiState;
use crate::error::ApiError;

/// Route pattern → feature, as named in the answer's `message`. Rows cover what the newer
/// CLI calls (NEWER-CLI-REQUESTS §3.5) and the rest of each feature's routes.
pub(crate) const UNSUPPORTED: &[(&str, &str)] = &[
    // `maestro team …`, and `manifest generate --team-id` (GET /api/teams/:id/tree).
    ("/api/teams", "teams"),
    ("/api/teams/{*rest}", "teams"),
    // `maestro spell …`.
    ("/api/spells", "spells"),
    ("/api/spells/{*rest}", "spells"),
    // `maestro git status|diff|pr|merge` (git worktrees of spawned sessions).
    ("/api/sessions/{id}/git", "git integration"),
    ("/api/sessions/{id}/git/{*rest}", "git integration"),
    // `maestro announce …` (voice announcements).
    ("/api/announce", "announcements"),
];

/// Feature name of the write routes of model profiles, which are served read-only.
pub(crate) const MODEL_PROFILE_EDITING: &str = "creating, editing or deleting model profiles";

/// The 404 `NOT_SUPPORTED` answer for `feature`.
pub(crate) fn answer(feature: &str, method: &Method, uri: &Uri) -> Response {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_SUPPORTED",
        format!(
            "This Maestro server does not support {feature} ({method} {})",
            maestro_domain::ids::shown(uri.path())
        ),
    );
    e.details = Some(Box::new(json!({ "feature": feature })));
    e.into_response()
}

pub(super) fn routes() -> Router<ApiState> {
    UNSUPPORTED
        .iter()
        .fold(Router::new(), |router, &(pattern, feature)| {
            router.route(
                pattern,
                any(move |method: Method, uri: Uri| async move { answer(feature, &method, &uri) }),
            )
        })
}
