//! `/api/master/*`: the newer reference's cross-project views (`maestro master projects|
//! tasks|sessions|context`).
//!
//! As in the reference, these routes are open to every caller: they show what
//! `GET /api/projects`, `/api/tasks` and `/api/sessions` already show to anyone, across
//! projects, so the caller's session need not belong to a master project. `?limit&offset`
//! (`limit` 1–500, default 100; `offset` ≥ 0) turns an answer into
//! `{data, pagination: {offset, limit, total, hasMore}}`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maestro_domain::FieldError;
use maestro_domain::entities::{SessionFilter, SessionStatus, TaskFilter, TaskStatus};
use maestro_domain::ids::check_opt_id;
use maestro_domain::services::WorkspaceContext;
use serde_json::json;

use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonList, QueryMap, RawJsonList};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/master/projects", get(projects))
        .route("/api/master/tasks", get(tasks))
        .route("/api/master/sessions", get(sessions))
        .route("/api/master/context", get(context))
}

/// A page asked for with `?limit&offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    limit: usize,
    offset: usize,
}

impl Page {
    /// `None` when neither `limit` nor `offset` is given (the whole list, unwrapped).
    fn from_query(q: &QueryMap) -> ApiResult<Option<Self>> {
        let bounded = |key: &str, min: i64, max: i64| -> ApiResult<Option<usize>> {
            match q.int(key)? {
                None => Ok(None),
                Some(v) if (min..=max).contains(&v) => Ok(usize::try_from(v).ok()),
                Some(_) => {
                    let msg = format!("must be an integer from {min} to {max}");
                    Err(ApiError::invalid(
                        format!("Invalid query parameter '{key}': {msg}"),
                        vec![FieldError::new(key, msg)],
                    ))
                }
            }
        };
        let limit = bounded("limit", 1, 500)?;
        let offset = bounded("offset", 0, i64::from(i32::MAX))?;
        Ok((limit.is_some() || offset.is_some()).then(|| Self {
            limit: limit.unwrap_or(100),
            offset: offset.unwrap_or(0),
        }))
    }

    /// The items of this page and the `pagination` object for `total` items.
    fn cut<T>(self, items: Vec<T>) -> (Vec<T>, serde_json::Value) {
        let total = items.len();
        let page = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let pagination = json!({
            "offset": self.offset,
            "limit": self.limit,
            "total": total,
            "hasMore": self.offset.saturating_add(self.limit) < total,
        });
        (page, pagination)
    }
}

/// A list of typed items, paginated when asked.
fn list<T: serde::Serialize>(items: Vec<T>, page: Option<Page>, bytes_per_item: usize) -> Response {
    match page {
        None => JsonList(items, bytes_per_item).into_response(),
        Some(page) => {
            let (data, pagination) = page.cut(items);
            Json(json!({ "data": data, "pagination": pagination })).into_response()
        }
    }
}

/// A list of items that are JSON text already, paginated when asked (no item is parsed).
fn raw_list(items: Vec<Arc<str>>, page: Option<Page>) -> Response {
    let Some(page) = page else {
        return RawJsonList(items).into_response();
    };
    let (data, pagination) = page.cut(items);
    let mut body = Vec::with_capacity(data.iter().map(|i| i.len() + 1).sum::<usize>() + 128);
    body.extend_from_slice(b"{\"data\":[");
    for (i, item) in data.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.as_bytes());
    }
    body.extend_from_slice(b"],\"pagination\":");
    body.extend_from_slice(pagination.to_string().as_bytes());
    body.push(b'}');
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `GET /api/master/projects`: every project (with `isMaster`).
async fn projects(State(s): State<ApiState>, q: QueryMap) -> ApiResult<Response> {
    let page = Page::from_query(&q)?;
    Ok(list(s.app.projects.list().await?, page, 256))
}

/// `GET /api/master/tasks[?projectId&status]`: the tasks of every project, or of one.
async fn tasks(State(s): State<ApiState>, q: QueryMap) -> ApiResult<Response> {
    let page = Page::from_query(&q)?;
    let project_id = q.string("projectId");
    check_opt_id("projectId", project_id.as_deref())?;
    let filter = TaskFilter {
        project_id,
        status: q.parsed("status", TaskStatus::parse, &TaskStatus::expected())?,
        ..TaskFilter::default()
    };
    Ok(raw_list(s.app.tasks.list_json(&filter).await?, page))
}

/// `GET /api/master/sessions[?projectId&active=true&status=a,b]`: full sessions of every
/// project, or of one; `active=true` keeps `spawning`, `idle` and `working` (not what
/// `active` means on `/api/sessions`), `status` is a comma-separated list.
async fn sessions(State(s): State<ApiState>, q: QueryMap) -> ApiResult<Response> {
    let page = Page::from_query(&q)?;
    let mut statuses = Vec::new();
    for part in q.str("status").unwrap_or_default().split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let status = SessionStatus::parse(part).ok_or_else(|| {
            let msg = format!(
                "must be a comma-separated list of {}",
                SessionStatus::expected()
            );
            ApiError::invalid(
                format!("Invalid query parameter 'status': {msg}"),
                vec![FieldError::new("status", msg)],
            )
        })?;
        statuses.push(status);
    }
    let active = q.str("active") == Some("true");
    let filter = SessionFilter {
        project_id: q.string("projectId"),
        ..SessionFilter::default()
    };
    let sessions: Vec<_> = s
        .app
        .sessions
        .list(&filter)
        .await?
        .into_iter()
        .filter(|session| {
            let status = session.status.known();
            (!active
                || matches!(
                    status,
                    Some(SessionStatus::Spawning | SessionStatus::Idle | SessionStatus::Working)
                ))
                && (statuses.is_empty() || status.is_some_and(|st| statuses.contains(&st)))
        })
        .collect();
    // Sessions carry their timeline: ≈ 2 KB each.
    Ok(list(sessions, page, 2048))
}

/// `GET /api/master/context`: `{projects, taskCounts, sessionCounts}`.
async fn context(State(s): State<ApiState>) -> ApiResult<Json<WorkspaceContext>> {
    Ok(Json(s.app.projects.workspace_context().await?))
}
