//! `maestro-http-api`: the REST API of ref §4 and spec §2–§3 as an axum [`Router`].
//!
//! Entry point: [`router`] with an [`ApiState`]. The router knows only the domain services
//! ([`maestro_domain::App`]) and a few small traits for what lives elsewhere (real-time
//! status, readiness of backends). Every error leaves through [`error::ApiError`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::IntoResponse;
use maestro_domain::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub mod error;
pub mod extract;
pub mod guard;
pub mod log_digest;
pub mod metrics;
pub mod request_policy;
mod routes;
pub mod skills;
pub mod workflow_templates;

pub use error::{ApiError, ApiResult};
pub use guard::guarded;
pub use request_policy::{HostPolicy, OriginPolicy, PolicyError, RequestPolicy};

/// Real-time delivery status for `GET /ws-status` (implemented by the gateway).
pub trait RealtimeStatus: Send + Sync {
    /// JSON body of `/ws-status` (ref §4.1 shape plus per-namespace counts).
    fn ws_status(&self) -> serde_json::Value;

    /// Connected clients per namespace (`legacy_ws`, …) for `/metrics`.
    fn client_counts(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }
}

/// A backend `/ready` checks (spec §10).
#[async_trait::async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// Name shown in the report (`store`, `bus`, …).
    fn name(&self) -> &str;
    /// `Err(reason)` when the backend cannot serve.
    async fn check(&self) -> Result<(), String>;
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Maximum request body, bytes (spec §2: 1 MiB default).
    pub body_limit_bytes: usize,
    /// Allowed hosts and origins (spec §8.1, §8.5): the CORS layer echoes an allowed
    /// `Origin` (with `Vary: Origin`) and omits `Access-Control-Allow-Origin` for any other;
    /// [`guarded`] refuses the rest. Default: [`RequestPolicy::default`] (loopback only).
    pub policy: Arc<RequestPolicy>,
    /// Home directory for skills (`~/.claude/skills`, `~/.agents/skills`).
    pub home_dir: PathBuf,
    /// Claude Code transcripts (`~/.claude/projects`) for log digests.
    pub claude_projects_dir: PathBuf,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        Self {
            body_limit_bytes: 1024 * 1024,
            policy: Arc::new(RequestPolicy::default()),
            claude_projects_dir: home.join(".claude").join("projects"),
            home_dir: home,
        }
    }
}

/// Shared state of every handler: one `Arc`, so the per-request clones the extractors and
/// middleware make cost a single reference-count update (cloning the services themselves
/// touched a dozen shared counters per request, which two cores fought over). Fields are
/// reached through `Deref` to [`ApiShared`].
#[derive(Clone)]
pub struct ApiState(Arc<ApiShared>);

impl std::ops::Deref for ApiState {
    type Target = ApiShared;

    fn deref(&self) -> &ApiShared {
        &self.0
    }
}

/// What [`ApiState`] shares.
pub struct ApiShared {
    /// The services.
    pub app: App,
    /// Real-time status provider.
    pub realtime: Arc<dyn RealtimeStatus>,
    /// Backends checked by `/ready`.
    pub readiness: Arc<Vec<Arc<dyn ReadinessCheck>>>,
    /// Skill loader.
    pub skills: Arc<skills::SkillLoader>,
    /// Log digests.
    pub digester: Arc<log_digest::LogDigester>,
    /// Process start, for `/health` uptime.
    pub started: Instant,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Metrics registry for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

impl ApiState {
    /// Builds the state.
    pub fn new(
        app: App,
        realtime: Arc<dyn RealtimeStatus>,
        readiness: Vec<Arc<dyn ReadinessCheck>>,
        config: ApiConfig,
    ) -> Self {
        Self(Arc::new(ApiShared {
            app,
            realtime,
            readiness: Arc::new(readiness),
            skills: Arc::new(skills::SkillLoader::new(config.home_dir.clone())),
            digester: Arc::new(log_digest::LogDigester::new(
                config.claude_projects_dir.clone(),
            )),
            started: Instant::now(),
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
        }))
    }
}

/// A `RealtimeStatus` for servers without real-time delivery.
pub struct NoRealtime;

impl RealtimeStatus for NoRealtime {
    fn ws_status(&self) -> serde_json::Value {
        serde_json::json!({ "error": "WebSocket server not initialized yet" })
    }
}

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `X-Request-Id` values: random UUID v4 text drawn from the thread-local generator, so a
/// request costs no `getrandom` system call (tower-http's `MakeRequestUuid` makes one).
#[derive(Clone, Copy)]
pub(crate) struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
            .ok()
            .map(RequestId::new)
    }
}

/// CORS (spec §8.5): an allowed origin is echoed, never `*` (credentials are on); a refused
/// one gets no `Access-Control-Allow-Origin`. `Vary: Origin` is on every answer.
fn cors(config: &ApiConfig) -> CorsLayer {
    let policy = config.policy.clone();
    let origins = AllowOrigin::predicate(move |origin, parts| {
        let host = guard::named_host(&parts.uri, &parts.headers);
        origin.to_str().is_ok_and(|o| policy.allows_origin(o, host))
    });
    CorsLayer::new()
        .allow_origin(origins)
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-requested-with"),
        ])
        .expose_headers([header::CONTENT_LENGTH, X_REQUEST_ID.clone()])
        .max_age(Duration::from_secs(600))
}

/// Longest request target the router serves, bytes; a longer one gets 414 `URI_TOO_LONG`
/// (nginx's default request-line buffer). hyper refuses targets over 65,534 bytes itself.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most bytes of header lines (`name: value\r\n`) the router serves; more gets 431
/// `REQUEST_HEADER_FIELDS_TOO_LARGE` (the reference's Node server allows 16 KiB). The server
/// lets hyper buffer larger heads so that these answers carry the error shape; beyond its
/// buffer (or 100 headers) hyper answers 431 itself, with an empty body.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Middleware: 414 / 431 in the error shape (spec §2) for request heads beyond
/// [`MAX_URI_BYTES`] / [`MAX_HEADER_BYTES`].
async fn head_limits(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = req.uri();
    let uri_len = uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("The request URI is {uri_len} bytes; the limit is {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
            format!(
                "The request headers are {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"
            ),
        )
        .into_response();
    }
    next.run(req).await
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

/// The full REST router (ref §4, spec §3, §10) with request ids, CORS, request-head limits
/// ([`MAX_URI_BYTES`], [`MAX_HEADER_BYTES`]), body limit and panic containment.
pub fn router(state: ApiState) -> Router {
    let limit = state.config.body_limit_bytes;
    let cors = cors(&state.config);
    routes::routes()
        .route("/metrics", axum::routing::get(metrics::render))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&X_REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(axum::middleware::from_fn(head_limits))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), RandomRequestId))
}
