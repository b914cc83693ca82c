//! `/health`, `/ready`, `/ws-status` (ref §4.1, spec §10).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use maestro_domain::ids::{Clock, SystemClock};

use crate::ApiState;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/ws-status", get(ws_status))
}

pub(super) fn now_ms() -> i64 {
    SystemClock.now_ms()
}

/// Liveness: `{status:'ok', timestamp: ms, uptime: seconds (float)}`.
async fn health(State(s): State<ApiState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "timestamp": now_ms(),
        "uptime": s.started.elapsed().as_secs_f64(),
    }))
}

/// Readiness: checks every enabled backend; 503 naming the ones that failed.
async fn ready(State(s): State<ApiState>) -> impl IntoResponse {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for check in s.readiness.iter() {
        let entry = match check.check().await {
            Ok(()) => json!({ "ok": true }),
            Err(reason) => {
                ok = false;
                json!({ "ok": false, "error": reason })
            }
        };
        checks.insert(check.name().to_owned(), entry);
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "checks": checks,
        "timestamp": now_ms(),
    });
    (status, Json(body))
}

async fn ws_status(State(s): State<ApiState>) -> Json<Value> {
    Json(s.realtime.ws_status())
}
