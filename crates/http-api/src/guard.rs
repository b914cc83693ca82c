//! The outermost checks of every request (spec §8.1, §8.5): the `Host` must be one the server
//! answers ([`RequestPolicy::allows_host`]), and a WebSocket upgrade or a state-changing
//! request (any method but `GET`, `HEAD`, `OPTIONS`) that carries an `Origin` must come from an
//! allowed one ([`RequestPolicy::allows_origin`]).
//!
//! Why state-changing requests and not only CORS: CORS keeps a foreign page from *reading*
//! answers, but a "simple" cross-origin `POST` (a form, or `fetch` with `mode: "no-cors"`) is
//! sent without a preflight and would act before the browser looks at the answer; upgrades
//! are not covered by CORS at all. Reads from a foreign origin pass through to the CORS layer,
//! which leaves out `Access-Control-Allow-Origin`, so the browser hides the answer.
//!
//! Requests without `Origin` (the `maestro` CLI, `maestro session watch`, curl) and without
//! `Host` (HTTP/1.0 health checkers) pass those checks: browsers always send `Host`, and send
//! `Origin` on every upgrade and every cross-origin or state-changing request, so the attacks
//! these checks stop always carry them.
//!
//! A refused `Host` is 403 `FORBIDDEN`, not 421 Misdirected Request: 421 would need a code
//! outside spec §2's list, and it tells HTTP/2 clients to retry on another connection, which
//! cannot help here; every client already handles 403, and the body names the key
//! (`http.allowed_hosts`) that admits the name.
//!
//! [`guarded`] applies the checks around a finished router, so they see what the server
//! layers outside the REST router (the WebSocket bridge) as well.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::error::ApiError;
use crate::request_policy::RequestPolicy;
use crate::{RandomRequestId, X_REQUEST_ID};

/// Wraps `inner` (the REST router, possibly behind the WebSocket dispatch) in the Host and
/// Origin checks and gives every answer, refusals and `101`s included, an `X-Request-Id`
/// (spec §2). Refusals are 403 `FORBIDDEN` in the error shape; a refused upgrade never
/// reaches `inner`.
pub fn guarded(inner: Router, policy: Arc<RequestPolicy>) -> Router {
    inner
        .layer(axum::middleware::from_fn_with_state(policy, check))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID.clone(),
            RandomRequestId,
        ))
}

/// The middleware of [`guarded`].
async fn check(State(policy): State<Arc<RequestPolicy>>, req: Request, next: Next) -> Response {
    let host = match request_host(&req) {
        Ok(host) => host,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(host) = host
        && !policy.allows_host(host)
    {
        tracing::warn!(host, "request refused: Host not allowed");
        return host_refused(host).into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && (is_upgrade(req.headers()) || !is_safe(req.method()))
    {
        let allowed = origin.to_str().is_ok_and(|o| policy.allows_origin(o, host));
        if !allowed {
            let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            tracing::warn!(origin = %shown, method = %req.method(), "request refused: Origin not allowed");
            let mut res = origin_refused(&shown).into_response();
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("origin"));
            return res;
        }
    }
    next.run(req).await
}

/// The host the request names ([`named_host`]); two `Host` headers, or one that is not
/// text, are refused.
fn request_host(req: &Request) -> Result<Option<&str>, ApiError> {
    let headers = req.headers();
    let mut values = headers.get_all(header::HOST).iter();
    if let Some(first) = values.next() {
        if values.next().is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "More than one Host header",
            ));
        }
        if first.to_str().is_err() {
            return Err(host_refused("(not text)"));
        }
    }
    Ok(named_host(req.uri(), headers))
}

/// The host a request names: the authority of an absolute-form target (HTTP/2's
/// `:authority`), else the `Host` header; `None` when neither is given, or `Host` is empty or
/// not text.
pub(crate) fn named_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    if let Some(authority) = uri.authority() {
        return Some(authority.as_str());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?.trim();
    (!host.is_empty()).then_some(host)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Any `Upgrade` request counts (not only `websocket`): whatever protocol a later layer
/// switches to, a foreign page must not get it.
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
}

fn host_refused(host: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        format!(
            "Host {host:?} is not allowed (DNS rebinding protection); to serve it, add it to http.allowed_hosts (MAESTRO_HTTP__ALLOWED_HOSTS) or set server_url / external_url to a URL with this host"
        ),
    );
    e.details = Some(Box::new(
        json!({ "host": host, "configKey": "http.allowed_hosts" }),
    ));
    e
}

fn origin_refused(origin: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        format!(
            "Origin {origin:?} is not allowed; to allow it, add it to http.cors_origins (CORS_ORIGINS)"
        ),
    );
    e.details = Some(Box::new(
        json!({ "origin": origin, "configKey": "http.cors_origins" }),
    ));
    e
}
