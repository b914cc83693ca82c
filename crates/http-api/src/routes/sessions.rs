//! `/api/sessions` (ref §4.4): sessions, their timeline, docs, tasks, modals, prompts and
//! session mail, and the newer reference's `GET|POST /api/sessions/:id/mode`. Spawn and log
//! digests have their own modules.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maestro_domain::entities::{
    DocEntry, DocKind, NeedsInput, PromptMode, Session, SessionEvent, SessionFilter, SessionMail,
    SessionPatch, SessionStatus, TimelineEvent, TimelineEventType,
};
use maestro_domain::services::{
    CreateSession, ModalInput, PromptInput, SessionMailInput, SessionModeChange, SessionModeView,
    SessionRole,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::deleted;
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, JsonList, PathParams, PayloadJson, QueryMap, required};
use maestro_domain::ids::{check_id, check_opt_id};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/sessions", get(list).post(create))
        .route(
            "/api/sessions/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/api/sessions/{id}/status", get(status))
        .route("/api/sessions/{id}/events", post(add_event))
        .route("/api/sessions/{id}/timeline", post(add_timeline))
        .route("/api/sessions/{id}/docs", get(docs).post(add_doc))
        .route(
            "/api/sessions/{id}/tasks/{task_id}",
            post(add_task).delete(remove_task),
        )
        .route("/api/sessions/{id}/modal", post(modal))
        .route(
            "/api/sessions/{id}/modal/{modal_id}/actions",
            post(modal_action),
        )
        .route(
            "/api/sessions/{id}/modal/{modal_id}/close",
            post(modal_close),
        )
        .route("/api/sessions/{id}/prompt", post(prompt))
        .route("/api/sessions/{id}/mode", get(mode).post(set_mode))
        .route("/api/sessions/{id}/mail", get(read_mail).post(send_mail))
}

async fn list(State(s): State<ApiState>, q: QueryMap) -> ApiResult<JsonList<Session>> {
    let filter = SessionFilter {
        project_id: q.string("projectId"),
        task_id: q.string("taskId"),
        status: q.parsed("status", SessionStatus::parse, &SessionStatus::expected())?,
        parent_session_id: q.string("parentSessionId"),
        active_only: q.str("active") == Some("true"),
    };
    // Sessions carry their timeline: ≈ 2 KB each.
    Ok(JsonList(s.app.sessions.list(&filter).await?, 2048))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    id: Option<String>,
    project_id: Option<String>,
    task_ids: Option<Vec<String>>,
    task_id: Option<String>,
    name: Option<String>,
    agent_id: Option<String>,
    status: Option<SessionStatus>,
    env: Option<BTreeMap<String, String>>,
    metadata: Option<Value>,
    parent_session_id: Option<String>,
    #[serde(rename = "_suppressCreatedEvent")]
    suppress_created_event: Option<bool>,
}

async fn create(
    State(s): State<ApiState>,
    JsonBody(b): JsonBody<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let task_ids = match (b.task_ids, b.task_id) {
        (Some(ids), _) => ids,
        (None, Some(id)) => vec![id],
        (None, None) => return Err(ApiError::validation("taskIds is required")),
    };
    let session = s
        .app
        .sessions
        .create(CreateSession {
            id: b.id,
            project_id: b.project_id,
            task_ids,
            name: b.name,
            agent_id: b.agent_id,
            status: b.status,
            env: b.env,
            metadata: b.metadata,
            parent_session_id: b.parent_session_id,
            suppress_created_event: b.suppress_created_event.unwrap_or(false),
            ..CreateSession::default()
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Session>> {
    Ok(Json(s.app.sessions.get(&id).await?))
}

/// `GET /api/sessions/:id/status` (spec §7.2): the cached status fields.
async fn status(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Value>> {
    let session = s.app.sessions.get_raw(&id).await?;
    Ok(Json(json!({
        "id": session.id,
        "projectId": session.project_id,
        "status": session.status,
        "lastActivity": session.last_activity,
        "needsInput": session.needs_input_active(),
    })))
}

/// A timeline item of a PATCH body; `id` and `timestamp` are filled in when missing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimelineItem {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: TimelineEventType,
    timestamp: Option<i64>,
    message: Option<String>,
    task_id: Option<String>,
    metadata: Option<Value>,
}

/// A raw event of a PATCH body; `id` and `timestamp` are filled in when missing.
#[derive(Deserialize)]
struct EventItem {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    timestamp: Option<i64>,
    data: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    task_ids: Option<Vec<String>>,
    status: Option<SessionStatus>,
    agent_id: Option<String>,
    env: Option<BTreeMap<String, String>>,
    events: Option<Vec<EventItem>>,
    timeline: Option<Vec<TimelineItem>>,
    needs_input: Option<NeedsInput>,
}

async fn update(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<UpdateBody>,
) -> ApiResult<PayloadJson> {
    // Missing ids and timestamps stay empty / 0: the service fills them in.
    let patch = SessionPatch {
        task_ids: b.task_ids,
        status: b.status,
        agent_id: b.agent_id,
        env: b.env,
        events: b
            .events
            .unwrap_or_default()
            .into_iter()
            .map(|e| SessionEvent {
                id: e.id.unwrap_or_default(),
                timestamp: e.timestamp.unwrap_or(0),
                kind: e.kind,
                data: e.data,
            })
            .collect(),
        timeline: b
            .timeline
            .unwrap_or_default()
            .into_iter()
            .map(|t| TimelineEvent {
                id: t.id.unwrap_or_default(),
                kind: t.kind.into(),
                timestamp: t.timestamp.unwrap_or(0),
                message: t.message,
                task_id: t.task_id,
                metadata: t.metadata,
            })
            .collect(),
        needs_input: b.needs_input,
        team_members: None,
        metadata: None,
    };
    Ok(PayloadJson(
        s.app.sessions.update_saved(&id, patch).await?.json,
    ))
}

async fn delete(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Value>> {
    s.app.sessions.delete(&id).await?;
    Ok(Json(deleted(&id)))
}

#[derive(Deserialize)]
struct EventBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    data: Option<Value>,
}

async fn add_event(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<EventBody>,
) -> ApiResult<PayloadJson> {
    let kind = required(b.kind, "type is required")?;
    Ok(PayloadJson(
        s.app
            .sessions
            .add_event_saved(&id, kind, b.data)
            .await?
            .json,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimelineBody {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<TimelineEventType>,
    task_id: Option<String>,
    metadata: Option<Value>,
}

async fn add_timeline(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<TimelineBody>,
) -> ApiResult<PayloadJson> {
    let message = required(b.message, "message is required")?;
    let kind = b.kind.unwrap_or(TimelineEventType::Progress);
    Ok(PayloadJson(
        s.app
            .sessions
            .add_timeline_event_saved(&id, kind, Some(message), b.task_id, b.metadata)
            .await?
            .json,
    ))
}

async fn docs(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Vec<DocEntry>>> {
    Ok(Json(s.app.sessions.docs(&id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocBody {
    title: Option<String>,
    file_path: Option<String>,
    content: Option<String>,
    task_id: Option<String>,
    kind: Option<DocKind>,
}

async fn add_doc(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<DocBody>,
) -> ApiResult<PayloadJson> {
    let title = required(b.title, "title is required")?;
    let file_path = required(b.file_path, "filePath is required")?;
    Ok(PayloadJson(
        s.app
            .sessions
            .add_doc_saved(&id, &title, &file_path, b.content, b.task_id, b.kind)
            .await?
            .json,
    ))
}

async fn add_task(
    State(s): State<ApiState>,
    PathParams((id, task_id)): PathParams<(Id, Id)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(s.app.sessions.add_task(&id, &task_id).await?))
}

async fn remove_task(
    State(s): State<ApiState>,
    PathParams((id, task_id)): PathParams<(Id, Id)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(s.app.sessions.remove_task(&id, &task_id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModalBody {
    modal_id: Option<String>,
    html: Option<String>,
    title: Option<String>,
    file_path: Option<String>,
}

async fn modal(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<ModalBody>,
) -> ApiResult<Json<Value>> {
    let modal_id = required(b.modal_id, "modalId is required")?;
    // The modal id names `modals/<modalId>.html`.
    check_id("modalId", &modal_id)?;
    let html = required(b.html, "html content is required")?;
    s.app
        .sessions
        .show_modal(
            &id,
            ModalInput {
                modal_id: modal_id.clone(),
                html,
                title: b.title,
                file_path: b.file_path,
            },
        )
        .await?;
    Ok(Json(json!({
        "success": true, "modalId": modal_id, "sessionId": *id, "message": "Modal sent to UI",
    })))
}

#[derive(Deserialize)]
struct ModalActionBody {
    action: Option<String>,
    data: Option<Value>,
}

async fn modal_action(
    State(s): State<ApiState>,
    PathParams((id, modal_id)): PathParams<(Id, Id)>,
    JsonBody(b): JsonBody<ModalActionBody>,
) -> ApiResult<Json<Value>> {
    let action = required(b.action, "action is required")?;
    s.app
        .sessions
        .modal_action(&id, &modal_id, &action, b.data.unwrap_or_else(|| json!({})))
        .await?;
    Ok(Json(
        json!({ "success": true, "modalId": *modal_id, "action": action }),
    ))
}

async fn modal_close(
    State(s): State<ApiState>,
    PathParams((id, modal_id)): PathParams<(Id, Id)>,
) -> ApiResult<Json<Value>> {
    s.app.sessions.modal_close(&id, &modal_id).await?;
    Ok(Json(json!({ "success": true, "modalId": *modal_id })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptBody {
    content: Option<Value>,
    mode: Option<Value>,
    sender_session_id: Option<String>,
}

async fn prompt(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<PromptBody>,
) -> ApiResult<Json<Value>> {
    let content = match b.content {
        Some(Value::String(c)) if !c.is_empty() => c,
        _ => {
            return Err(ApiError::invalid(
                "content is required and must be a string",
                vec![maestro_domain::FieldError::new(
                    "content",
                    "required non-empty string",
                )],
            ));
        }
    };
    let mode = match b.mode {
        None | Some(Value::Null) => PromptMode::Send,
        Some(Value::String(m)) if PromptMode::parse(&m).is_some() => {
            PromptMode::parse(&m).unwrap_or(PromptMode::Send)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "mode must be \"send\" or \"paste\"",
                vec![maestro_domain::FieldError::new("mode", "send | paste")],
            ));
        }
    };
    check_opt_id("senderSessionId", b.sender_session_id.as_deref())?;
    s.app
        .sessions
        .prompt(
            &id,
            PromptInput {
                content,
                mode,
                sender_session_id: b.sender_session_id,
            },
        )
        .await?;
    Ok(Json(json!({ "success": true })))
}

/// The session a request comes from: the `X-Session-Id` header the newer CLI sends whenever
/// `MAESTRO_SESSION_ID` is set (NEWER-CLI-REQUESTS §1); `None` when absent or empty.
pub(crate) fn caller_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `GET /api/sessions/:id/mode` (`maestro coordinator status`): `{id, mode, relation, role}`.
async fn mode(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<SessionModeView>> {
    Ok(Json(s.app.sessions.mode(&id).await?))
}

#[derive(Deserialize)]
struct ModeBody {
    role: Option<SessionRole>,
}

/// `POST /api/sessions/:id/mode {role: "coordinator" | "worker"}` (`maestro coordinator
/// enable|disable`): only the session itself (`X-Session-Id` = `:id`, else 403).
async fn set_mode(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<ModeBody>,
) -> ApiResult<Json<SessionModeChange>> {
    let role = b.role.ok_or_else(|| {
        ApiError::invalid(
            "role is required",
            vec![maestro_domain::FieldError::new(
                "role",
                "one of \"worker\", \"coordinator\"",
            )],
        )
    })?;
    Ok(Json(
        s.app
            .sessions
            .set_role(&id, caller_session(&headers), role)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MailBody {
    from_session_id: Option<String>,
    from_name: Option<String>,
    message: Option<String>,
    detail: Option<String>,
}

async fn send_mail(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    JsonBody(b): JsonBody<MailBody>,
) -> ApiResult<Json<Value>> {
    let (Some(from_session_id), Some(from_name), Some(message)) = (
        b.from_session_id.filter(|v| !v.is_empty()),
        b.from_name.filter(|v| !v.is_empty()),
        b.message.filter(|v| !v.is_empty()),
    ) else {
        return Err(ApiError::validation(
            "fromSessionId, fromName, and message are required",
        ));
    };
    let mail = s
        .app
        .mail
        .notify(
            &id,
            SessionMailInput {
                from_session_id,
                from_name,
                message,
                detail: b.detail,
            },
        )
        .await?;
    Ok(Json(json!({ "success": true, "mailId": mail.id })))
}

async fn read_mail(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Vec<SessionMail>>> {
    Ok(Json(s.app.mail.read_session_mail(&id).await?))
}
