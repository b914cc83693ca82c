//! Test harness: the router over in-memory adapters, a recording manifest generator and a
//! bus subscription to assert emitted events.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use maestro_domain::events::{Event, EventSubscription};
use maestro_domain::ids::{ManualClock, SequentialIdGenerator};
use maestro_domain::memory::*;
use maestro_domain::ports::{GeneratedManifest, ManifestGenerator, ManifestRequest};
use maestro_domain::{App, AppConfig, Ports};
use maestro_http_api::{ApiConfig, ApiState, NoRealtime, router};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Records every request; fails with `fail` when set.
#[derive(Default)]
pub struct FakeManifests {
    pub requests: Mutex<Vec<ManifestRequest>>,
    pub fail: Mutex<Option<String>>,
}

#[async_trait]
impl ManifestGenerator for FakeManifests {
    async fn generate(&self, req: &ManifestRequest) -> Result<GeneratedManifest, String> {
        self.requests.lock().unwrap().push(req.clone());
        if let Some(reason) = self.fail.lock().unwrap().clone() {
            return Err(reason);
        }
        Ok(GeneratedManifest {
            path: format!("/sessions/{}/manifest.json", req.session_id),
            manifest: json!({ "manifestVersion": "1.0", "mode": req.mode }),
        })
    }
}

pub struct Harness {
    pub router: Router,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub manifests: Arc<FakeManifests>,
    pub events: EventSubscription,
    pub home: tempfile::TempDir,
    pub metrics: Arc<maestro_http_api::metrics::Metrics>,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(f: impl FnOnce(&mut ApiConfig)) -> Self {
        let clock = Arc::new(ManualClock::new(1_771_493_879_123));
        let bus = Arc::new(MemoryEventBus::new(
            clock.clone(),
            10_000,
            ReplayConfig::default(),
        ));
        let manifests = Arc::new(FakeManifests::default());
        let ports = Ports {
            projects: Arc::new(MemoryProjectRepository::default()),
            tasks: Arc::new(MemoryTaskRepository::default()),
            sessions: Arc::new(MemorySessionRepository::default()),
            mail: Arc::new(MemoryMailRepository::default()),
            team_members: Arc::new(MemoryTeamMemberRepository::default()),
            orderings: Arc::new(MemoryOrderingRepository::default()),
            modals: Arc::new(MemoryModalStore::default()),
            manifests: manifests.clone(),
            bus: bus.clone(),
            ids: Arc::new(SequentialIdGenerator::new(1_771_493_879_123)),
            clock: clock.clone(),
        };
        let app = App::new(
            ports,
            AppConfig {
                hostname: "host1".into(),
                platform: "linux".into(),
                server_url: "http://localhost:3000".into(),
                data_dir: "/data".into(),
                session_dir: "/sessions".into(),
                passthrough_env: [("ANTHROPIC_API_KEY".to_owned(), "k".to_owned())].into(),
            },
        );
        let home = tempfile::tempdir().unwrap();
        let mut config = ApiConfig {
            body_limit_bytes: 1024 * 1024,
            policy: Default::default(),
            home_dir: home.path().to_path_buf(),
            claude_projects_dir: home.path().join(".claude/projects"),
        };
        f(&mut config);
        let events = app.bus.subscribe();
        let state = ApiState::new(app.clone(), Arc::new(NoRealtime), Vec::new(), config);
        let metrics = state.metrics.clone();
        Self {
            metrics,
            router: router(state),
            app,
            clock,
            manifests,
            events,
            home,
        }
    }

    /// Sends a request like the CLI does (`Content-Type: application/json` always).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    /// Sends a request like the newer CLI does: `Content-Type: application/json` and the
    /// given extra headers (`X-Session-Id` when `MAESTRO_SESSION_ID` is set).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let text = body.map(|b| b.to_string());
        self.raw(method, path, text.as_deref(), Some("application/json"))
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Every event emitted since the last drain.
    pub fn drain(&mut self) -> Vec<Arc<Event>> {
        let mut v = Vec::new();
        while let Some(e) = self.events.try_recv() {
            v.push(e);
        }
        v
    }

    /// Names of the events emitted since the last drain.
    pub fn names(&mut self) -> Vec<String> {
        self.drain().iter().map(|e| e.name.clone()).collect()
    }

    pub async fn project(&mut self, name: &str) -> String {
        let r = self
            .post("/api/projects", json!({ "name": name, "workingDir": "/w" }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.drain();
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn task(&mut self, project: &str, title: &str) -> String {
        let r = self
            .post(
                "/api/tasks",
                json!({ "projectId": project, "title": title }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.drain();
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn session(&mut self, project: &str, tasks: &[&str]) -> String {
        let r = self
            .post(
                "/api/sessions",
                json!({ "projectId": project, "taskIds": tasks }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.drain();
        r.body["id"].as_str().unwrap().to_owned()
    }
}

/// Asserts the error contract: `{error:true, statusCode, code, message}`.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    assert_eq!(r.body["error"], json!(true), "{}", r.body);
    assert_eq!(r.body["statusCode"], json!(status), "{}", r.body);
    assert_eq!(r.body["code"], json!(code), "{}", r.body);
    assert!(r.body["message"].is_string(), "{}", r.body);
}
