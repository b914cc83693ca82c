//! `/api/mail/*` (spec §3, ref Appendix A): typed mail with the `waitForMail` long-poll.
//! Bodies and queries are strict: unknown keys → 400.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maestro_domain::FieldError;
use maestro_domain::entities::{MailFilter, MailMessage, MailPriority, MailScope, MailType};
use maestro_domain::services::SendMail;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, PathParams, QueryMap};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/mail", axum::routing::post(send))
        .route("/api/mail/inbox/{session_id}", get(inbox))
        .route("/api/mail/wait/{session_id}", get(wait))
        .route("/api/mail/thread/{thread_id}", get(thread))
        .route("/api/mail/{id}", get(get_one).delete(delete))
}

/// `toSessionId`: absent, `null` (broadcast) or an id.
fn double_option<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBody {
    project_id: Option<String>,
    from_session_id: String,
    #[serde(default, deserialize_with = "double_option")]
    to_session_id: Option<Option<String>>,
    to_team_member_id: Option<String>,
    reply_to_mail_id: Option<String>,
    #[serde(rename = "type")]
    kind: MailType,
    subject: String,
    body: Option<serde_json::Map<String, Value>>,
    priority: Option<MailPriority>,
    scope: Option<MailScope>,
}

async fn send(State(s): State<ApiState>, JsonBody(b): JsonBody<SendBody>) -> ApiResult<Response> {
    let mut mails = s
        .app
        .mail
        .send(SendMail {
            project_id: b.project_id.unwrap_or_default(),
            from_session_id: b.from_session_id,
            to_session_id: b.to_session_id,
            to_team_member_id: b.to_team_member_id,
            reply_to_mail_id: b.reply_to_mail_id,
            kind: b.kind,
            subject: b.subject,
            body: b.body.map(Value::Object),
            priority: b.priority,
            scope: b.scope,
        })
        .await?;
    let body = if mails.len() == 1 {
        json!(mails.remove(0))
    } else {
        json!(mails)
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn strict(q: &QueryMap, allowed: &[&str]) -> ApiResult<()> {
    let unknown: Vec<FieldError> =
        q.0.keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| FieldError::new(k.clone(), "unknown query parameter"))
            .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("Invalid query parameters", unknown))
    }
}

async fn inbox(
    State(s): State<ApiState>,
    PathParams(session): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<Vec<MailMessage>>> {
    strict(&q, &["projectId", "type", "since"])?;
    let filter = MailFilter {
        kind: q.parsed("type", MailType::parse, &MailType::expected())?,
        since: q.int("since")?,
    };
    let project = q.string("projectId").unwrap_or_default();
    Ok(Json(s.app.mail.inbox(&session, &project, &filter).await?))
}

async fn wait(
    State(s): State<ApiState>,
    PathParams(session): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<Vec<MailMessage>>> {
    strict(&q, &["projectId", "timeout", "since"])?;
    let timeout = match q.int("timeout")? {
        None => None,
        Some(t) if (1000..=120_000).contains(&t) => Some(t as u64),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid query parameters",
                vec![FieldError::new(
                    "timeout",
                    "must be between 1000 and 120000 (ms)",
                )],
            ));
        }
    };
    let project = q.string("projectId").unwrap_or_default();
    Ok(Json(
        s.app
            .mail
            .wait(&session, &project, timeout, q.int("since")?)
            .await?,
    ))
}

async fn thread(
    State(s): State<ApiState>,
    PathParams(thread): PathParams<Id>,
) -> ApiResult<Json<Vec<MailMessage>>> {
    Ok(Json(s.app.mail.thread(&thread).await?))
}

async fn get_one(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<MailMessage>> {
    Ok(Json(s.app.mail.get(&id).await?))
}

async fn delete(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
) -> ApiResult<Json<Value>> {
    s.app.mail.delete(&id).await?;
    Ok(Json(json!({ "deleted": true, "id": *id })))
}
