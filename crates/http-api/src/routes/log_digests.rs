//! Log digests of agent transcripts (ref §3.8, §4.4): `GET /api/sessions/log-digests` and
//! `GET /api/sessions/:id/log-digest`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maestro_domain::entities::{Session, SessionFilter, SessionStatus};

use super::infra::now_ms;
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, PathParams, QueryMap};
use crate::log_digest::{DigestOptions, LogDigester, TextOnlyDigest};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/sessions/log-digests", get(log_digests))
        .route("/api/sessions/{id}/log-digest", get(log_digest))
}

fn digest_options(q: &QueryMap) -> ApiResult<DigestOptions> {
    let mut opts = DigestOptions::default();
    if let Some(last) = q.int("last")? {
        opts.last = last.max(0) as usize;
    }
    if let Some(max) = q.int("maxLength")? {
        opts.max_length = max.max(0) as usize;
    }
    Ok(opts)
}

async fn digest_for(
    s: &ApiState,
    session: Session,
    opts: DigestOptions,
) -> ApiResult<TextOnlyDigest> {
    let working_dir = s
        .app
        .projects
        .get(&session.project_id)
        .await
        .map(|p| p.working_dir)
        .unwrap_or_default();
    let worker_name = session
        .team_member_snapshot
        .as_ref()
        .map(|t| t.name.clone());
    let digester: std::sync::Arc<LogDigester> = s.digester.clone();
    let now = now_ms();
    tokio::task::spawn_blocking(move || {
        digester.digest(&session, &working_dir, opts, worker_name, now)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "log digest task failed");
        ApiError::internal()
    })
}

async fn log_digest(
    State(s): State<ApiState>,
    PathParams(id): PathParams<Id>,
    q: QueryMap,
) -> ApiResult<Json<TextOnlyDigest>> {
    let opts = digest_options(&q)?;
    let session = s.app.sessions.get(&id).await?;
    Ok(Json(digest_for(&s, session, opts).await?))
}

async fn log_digests(
    State(s): State<ApiState>,
    q: QueryMap,
) -> ApiResult<Json<Vec<TextOnlyDigest>>> {
    let opts = digest_options(&q)?;
    // `Err(id)` stands for a requested id whose session is unknown: it gets the fallback.
    let sessions: Vec<Result<Session, String>> = if let Some(parent) = q.string("parentSessionId") {
        s.app
            .sessions
            .list(&SessionFilter {
                parent_session_id: Some(parent),
                ..SessionFilter::default()
            })
            .await?
            .into_iter()
            .filter(|s| !s.status.known().is_some_and(SessionStatus::is_terminal))
            .map(Ok)
            .collect()
    } else if let Some(ids) = q.str("sessionIds") {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .collect();
        maestro_domain::ids::check_ids("sessionIds", &ids)?;
        let mut v = Vec::new();
        for id in ids {
            v.push(s.app.sessions.get(id).await.map_err(|_| id.to_owned()));
        }
        v
    } else {
        return Ok(Json(Vec::new()));
    };
    let mut out = Vec::with_capacity(sessions.len());
    for session in sessions {
        let digest = match session {
            Ok(session) => {
                let id = session.id.clone();
                digest_for(&s, session, opts)
                    .await
                    .unwrap_or_else(|_| LogDigester::fallback(&id, now_ms()))
            }
            Err(id) => LogDigester::fallback(&id, now_ms()),
        };
        out.push(digest);
    }
    Ok(Json(out))
}
