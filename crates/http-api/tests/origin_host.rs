//! CORS allowlist, Origin checks on state-changing requests and upgrades, and the Host check
//! against DNS rebinding (spec §8.1, §8.5), through the router wrapped by `guarded` as the
//! server composes it.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use maestro_http_api::{HostPolicy, OriginPolicy, RequestPolicy, guarded};
use serde_json::Value;
use support::Harness;
use tower::ServiceExt;

/// The server's policy in `auth.mode = none` with one configured origin and one extra host.
fn policy() -> Arc<RequestPolicy> {
    Arc::new(RequestPolicy::new(
        HostPolicy::new(["maestro.example.com"]).expect("hosts"),
        OriginPolicy::new(["https://app.example.com"], true).expect("origins"),
    ))
}

fn app_with(policy: Arc<RequestPolicy>) -> Router {
    let h = Harness::with_config(|c| c.policy = policy.clone());
    guarded(h.router.clone(), policy)
}

fn app() -> Router {
    app_with(policy())
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("text"))
    }

    fn varies_on_origin(&self) -> bool {
        self.headers
            .get_all("vary")
            .iter()
            .flat_map(|v| v.to_str().expect("text").split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("origin"))
    }
}

async fn send(app: &Router, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().method(method.clone()).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = if method == Method::POST {
        req = req.header("content-type", "application/json");
        Body::from(r#"{"name":"p","workingDir":"/w"}"#)
    } else {
        Body::empty()
    };
    let res = app
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn preflight(app: &Router, origin: &str) -> Answer {
    send(
        app,
        Method::OPTIONS,
        "/api/projects",
        &[
            ("host", "localhost:3000"),
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await
}

fn assert_forbidden(a: &Answer, mentions: &str) {
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.body["error"], true, "{}", a.body);
    assert_eq!(a.body["statusCode"], 403, "{}", a.body);
    assert_eq!(a.body["code"], "FORBIDDEN", "{}", a.body);
    let message = a.body["message"].as_str().expect("message");
    assert!(message.contains(mentions), "{message}");
    assert!(
        a.header("x-request-id").is_some(),
        "refusals carry a request id"
    );
}

async fn project_count(app: &Router) -> usize {
    let a = send(app, Method::GET, "/api/projects", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    a.body.as_array().expect("list").len()
}

#[tokio::test]
async fn preflight_echoes_allowed_origins_only() {
    let app = app();
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:8080",
        "tauri://localhost",
        "http://tauri.localhost",
        "https://app.example.com",
    ] {
        let a = preflight(&app, origin).await;
        assert_eq!(a.header("access-control-allow-origin"), Some(origin));
        assert_eq!(a.header("access-control-allow-credentials"), Some("true"));
        assert!(a.varies_on_origin(), "{origin}: {:?}", a.headers);
    }
    for origin in [
        "https://evil.example",
        "http://localhost.evil.example",
        "null",
        "https://app.example.com.evil.example",
    ] {
        let a = preflight(&app, origin).await;
        assert_eq!(
            a.header("access-control-allow-origin"),
            None,
            "{origin} must not be allowed"
        );
        assert!(a.varies_on_origin(), "{origin}: {:?}", a.headers);
    }
}

#[tokio::test]
async fn simple_reads_get_cors_headers_only_for_allowed_origins() {
    let app = app();
    let a = send(
        &app,
        Method::GET,
        "/api/projects",
        &[("origin", "http://localhost:5173")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(a.varies_on_origin());
    let a = send(
        &app,
        Method::GET,
        "/api/projects",
        &[("origin", "https://evil.example")],
    )
    .await;
    // The browser hides the answer: no Access-Control-Allow-Origin, never `*`.
    assert_eq!(a.header("access-control-allow-origin"), None);
    assert!(a.varies_on_origin());
}

#[tokio::test]
async fn writes_from_a_foreign_origin_are_refused_before_they_act() {
    let app = app();
    let a = send(
        &app,
        Method::POST,
        "/api/projects",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_forbidden(&a, "http.cors_origins");
    assert_eq!(a.header("access-control-allow-origin"), None);
    assert!(a.varies_on_origin());
    assert_eq!(
        project_count(&app).await,
        0,
        "the refused POST created nothing"
    );

    for origin in ["tauri://localhost", "https://app.example.com"] {
        let a = send(&app, Method::POST, "/api/projects", &[("origin", origin)]).await;
        assert_eq!(a.status, StatusCode::CREATED, "{origin}: {}", a.body);
        assert_eq!(a.header("access-control-allow-origin"), Some(origin));
    }
    // The CLI sends no Origin.
    let a = send(
        &app,
        Method::POST,
        "/api/projects",
        &[("host", "localhost:3000")],
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(project_count(&app).await, 3);
}

#[tokio::test]
async fn upgrades_from_a_foreign_origin_are_refused() {
    let app = app();
    let upgrade = [
        ("host", "localhost:3000"),
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let mut headers = upgrade.to_vec();
    headers.push(("origin", "https://evil.example"));
    let a = send(&app, Method::GET, "/", &headers).await;
    assert_forbidden(&a, "http.cors_origins");
    // An allowed origin passes the guard (this router has no bridge behind it: 404).
    let mut headers = upgrade.to_vec();
    headers.push(("origin", "tauri://localhost"));
    let a = send(&app, Method::GET, "/", &headers).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
}

#[tokio::test]
async fn foreign_hosts_are_refused_with_the_key_that_admits_them() {
    let app = app();
    for host in ["evil.example:3000", "evil.example", "0.0.0.0:3000"] {
        let a = send(&app, Method::GET, "/api/projects", &[("host", host)]).await;
        assert_forbidden(&a, "http.allowed_hosts");
        assert_eq!(a.body["details"]["host"], host);
    }
    // A rebound page posting to itself: its Origin names its Host, which is still refused.
    let a = send(
        &app,
        Method::POST,
        "/api/projects",
        &[
            ("host", "evil.example:3000"),
            ("origin", "http://evil.example:3000"),
        ],
    )
    .await;
    assert_forbidden(&a, "http.allowed_hosts");
    assert_eq!(project_count(&app).await, 0);

    for host in [
        "localhost:3000",
        "127.0.0.1:40123",
        "[::1]:3000",
        "dev.localhost",
        "maestro.example.com",
        "MAESTRO.example.com:8443",
    ] {
        let a = send(&app, Method::GET, "/api/projects", &[("host", host)]).await;
        assert_eq!(a.status, StatusCode::OK, "{host}: {}", a.body);
    }
    // No Host at all (HTTP/1.0): not a browser, served.
    let a = send(&app, Method::GET, "/health", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let app = app();
    let a = send(
        &app,
        Method::GET,
        "/api/projects",
        &[("host", "localhost:3000"), ("host", "evil.example")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "VALIDATION_ERROR");
}

/// The phone web client opened through an allowed name calls the API from that origin.
#[tokio::test]
async fn a_page_served_under_an_allowed_host_may_call_its_server() {
    let app = app();
    let headers = [
        ("host", "maestro.example.com:3000"),
        ("origin", "http://maestro.example.com:3000"),
    ];
    let a = send(&app, Method::POST, "/api/projects", &headers).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://maestro.example.com:3000")
    );
    // Another port on the same name is another origin.
    let headers = [
        ("host", "maestro.example.com:3000"),
        ("origin", "http://maestro.example.com:8000"),
    ];
    let a = send(&app, Method::POST, "/api/projects", &headers).await;
    assert_forbidden(&a, "http.cors_origins");
}

/// Outside `auth.mode = none` loopback pages and the desktop app are not implicit.
#[tokio::test]
async fn local_origins_are_implicit_only_in_mode_none() {
    let app = app_with(Arc::new(RequestPolicy::new(
        HostPolicy::default(),
        OriginPolicy::new(["https://app.example.com"], false).expect("origins"),
    )));
    for origin in ["http://localhost:5173", "tauri://localhost"] {
        let a = send(&app, Method::POST, "/api/projects", &[("origin", origin)]).await;
        assert_forbidden(&a, "http.cors_origins");
    }
    let a = send(
        &app,
        Method::POST,
        "/api/projects",
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}
