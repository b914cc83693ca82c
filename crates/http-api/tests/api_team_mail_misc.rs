//! Team members (ref §4.5), orderings (§4.6), typed mail (spec §3), the error contract and
//! infrastructure routes (spec §2, §10).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Harness, Resp, assert_error};

#[tokio::test]
async fn default_team_members_override_reset() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    // Without a project: the global members (none yet), as the newer reference answers.
    let r = h.get("/api/team-members").await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!([])));
    let list = h
        .get(&format!("/api/team-members?projectId={p}"))
        .await
        .body;
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "simple_worker",
            "coordinator",
            "batch_coordinator",
            "dag_coordinator",
            "recruiter"
        ]
        .map(|t| format!("tm_{p}_{t}"))
    );
    let worker = &list[0];
    assert_eq!(worker["name"], "Simple Worker");
    assert_eq!(worker["isDefault"], true);
    assert_eq!(worker["model"], "sonnet");
    assert_eq!(worker["agentTool"], "claude-code");
    assert_eq!(worker["capabilities"]["can_spawn_sessions"], false);
    assert_eq!(
        worker["createdAt"], "2026-02-19T09:37:59.123Z",
        "stable: the project's creation time"
    );
    assert_eq!(
        list[4]["commandPermissions"]["commands"]["team-member:create"],
        true
    );

    let wid = format!("tm_{p}_simple_worker");
    let r = h
        .patch(&format!("/api/team-members/{wid}"), json!({ "name": "X" }))
        .await;
    assert_eq!(r.body["message"], "projectId is required in request body");
    h.clock.advance(1000);
    let r = h
        .patch(&format!("/api/team-members/{wid}"), json!({ "projectId": p, "name": " Worker ", "permissionMode": "readOnly", "model": "opus" }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Worker");
    assert_eq!(r.body["permissionMode"], "readOnly");
    assert_eq!(r.body["isDefault"], true);
    assert_eq!(r.body["updatedAt"], "2026-02-19T09:38:00.123Z");
    assert_eq!(h.names(), ["team_member:updated"]);
    let r = h
        .get(&format!("/api/team-members/{wid}?projectId={p}"))
        .await;
    assert_eq!(r.body["model"], "opus", "override persisted");
    let r = h
        .post(
            &format!("/api/team-members/{wid}/memory"),
            json!({ "projectId": p, "entries": "x" }),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "entries (string array) is required in request body"
    );
    let r = h
        .post(
            &format!("/api/team-members/{wid}/memory"),
            json!({ "projectId": p, "entries": ["likes rust"] }),
        )
        .await;
    assert_eq!(r.body["memory"], json!(["likes rust"]));
    let r = h
        .get(&format!("/api/team-members/{wid}?projectId={p}"))
        .await;
    assert_eq!(
        r.body["memory"],
        json!(["likes rust"]),
        "memory persisted (spec §2)"
    );
    let r = h
        .patch(
            &format!("/api/team-members/{wid}"),
            json!({ "projectId": p, "memory": [] }),
        )
        .await;
    assert_eq!(r.body["memory"], json!([]));

    let r = h
        .post(
            &format!("/api/team-members/{wid}/reset"),
            json!({ "projectId": p }),
        )
        .await;
    assert_eq!(r.body["name"], "Simple Worker");
    assert_eq!(r.body["model"], "sonnet");
    assert!(r.body.get("permissionMode").is_none());
    h.drain();
    assert_error(
        &h.delete(&format!("/api/team-members/{wid}?projectId={p}"))
            .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &h.post(
            &format!("/api/team-members/{wid}/archive"),
            json!({ "projectId": p }),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let r = h
        .post(
            "/api/team-members/tm_custom_x/reset",
            json!({ "projectId": p }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(
        r.body["message"],
        "Default team member with id 'tm_custom_x' not found"
    );
}

#[tokio::test]
async fn custom_team_member_lifecycle() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "N", "role": "R" }),
        )
        .await;
    assert_eq!(r.body["message"], "Team member avatar is required");
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "Rev", "role": "Reviewer", "avatar": "🧐", "mode": "execute", "agentTool": "codex", "identity": " careful ", "permissionMode": "acceptEdits" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tm_"));
    assert_eq!(r.body["identity"], "careful");
    assert_eq!(r.body["isDefault"], false);
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["skillIds"], json!([]));
    assert_eq!(r.body["permissionMode"], "acceptEdits");
    assert_eq!(h.names(), ["team_member:created"]);
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "N", "role": "R", "avatar": "a", "agentTool": "vim" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "agentTool");

    let r = h
        .delete(&format!("/api/team-members/{id}?projectId={p}"))
        .await;
    assert_error(&r, 422, "BUSINESS_RULE_ERROR");
    let r = h
        .post(
            &format!("/api/team-members/{id}/archive"),
            json!({ "projectId": p }),
        )
        .await;
    assert_eq!(r.body["status"], "archived");
    assert_eq!(h.names(), ["team_member:archived"]);
    h.post(
        &format!("/api/team-members/{id}/archive"),
        json!({ "projectId": p }),
    )
    .await;
    assert!(h.drain().is_empty(), "already archived: no event");
    let list = h
        .get(&format!("/api/team-members?projectId={p}"))
        .await
        .body;
    assert_eq!(
        list.as_array().unwrap().len(),
        5,
        "archived excluded from the list"
    );
    assert_eq!(
        h.get(&format!("/api/team-members/{id}?projectId={p}"))
            .await
            .body["status"],
        "archived"
    );
    let r = h
        .post(
            &format!("/api/team-members/{id}/unarchive"),
            json!({ "projectId": p }),
        )
        .await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(h.names(), ["team_member:updated"]);
    h.post(
        &format!("/api/team-members/{id}/archive"),
        json!({ "projectId": p }),
    )
    .await;
    h.drain();
    let r = h
        .delete(&format!("/api/team-members/{id}?projectId={p}"))
        .await;
    assert_eq!(r.body, json!({ "success": true, "id": id }));
    let evs = h.drain();
    assert_eq!(evs[0].name, "team_member:deleted");
    assert_eq!(evs[0].data, json!({ "id": id }));
    assert_error(
        &h.get(&format!("/api/team-members/{id}?projectId={p}"))
            .await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn orderings() {
    let h = Harness::new();
    let r = h.get("/api/ordering/task/proj_1").await;
    assert_eq!(
        r.body,
        json!({ "projectId": "proj_1", "entityType": "task", "orderedIds": [], "updatedAt": 0 })
    );
    let r = h
        .put(
            "/api/ordering/session/proj_1",
            json!({ "orderedIds": ["b", "a"] }),
        )
        .await;
    assert_eq!(r.body["orderedIds"], json!(["b", "a"]));
    assert!(r.body["updatedAt"].as_i64().unwrap() > 0);
    assert_eq!(
        h.get("/api/ordering/session/proj_1").await.body["orderedIds"],
        json!(["b", "a"])
    );
    let r = h.get("/api/ordering/epic/proj_1").await;
    assert_eq!(
        r.body["message"],
        "entityType must be \"task\" or \"session\""
    );
    let r = h
        .put("/api/ordering/task/proj_1", json!({ "orderedIds": "a" }))
        .await;
    assert_eq!(r.body["message"], "orderedIds must be an array");
}

#[tokio::test]
async fn typed_mail_and_wait() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let r = h
        .post("/api/mail", json!({ "projectId": p, "fromSessionId": "sess_boss", "toSessionId": s, "type": "assignment", "subject": "Do it", "priority": "high" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let direct = r.body.clone();
    assert_eq!(direct["threadId"], direct["id"]);
    assert_eq!(direct["replyToMailId"], json!(null));
    assert_eq!(direct["body"], json!({}));
    let evs = h.drain();
    assert_eq!(evs[0].name, "mail:received");
    assert_eq!(evs[0].session_id.as_deref(), Some(s.as_str()));
    let r = h
        .post("/api/mail", json!({ "projectId": p, "fromSessionId": s, "toSessionId": null, "type": "status_update", "subject": "fyi", "replyToMailId": direct["id"] }))
        .await;
    let broadcast = r.body.clone();
    assert_eq!(broadcast["toSessionId"], json!(null));
    assert_eq!(broadcast["threadId"], direct["id"]);

    let inbox = h
        .get(&format!("/api/mail/inbox/{s}?projectId={p}"))
        .await
        .body;
    assert_eq!(inbox.as_array().unwrap().len(), 2);
    assert_eq!(inbox[0]["id"], direct["id"], "high priority first");
    let inbox = h
        .get(&format!(
            "/api/mail/inbox/{s}?projectId={p}&type=assignment"
        ))
        .await
        .body;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_error(
        &h.get(&format!("/api/mail/inbox/{s}?projectId={p}&bogus=1"))
            .await,
        400,
        "VALIDATION_ERROR",
    );
    let thread = h
        .get(&format!(
            "/api/mail/thread/{}",
            direct["id"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(thread.as_array().unwrap().len(), 2);
    assert_eq!(
        h.get(&format!("/api/mail/{}", direct["id"].as_str().unwrap()))
            .await
            .body,
        direct
    );

    // Strict bodies.
    let r = h.post("/api/mail", json!({ "projectId": p, "fromSessionId": s, "type": "query", "subject": "q", "extra": 1 })).await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .post(
            "/api/mail",
            json!({ "projectId": p, "fromSessionId": s, "type": "memo", "subject": "q" }),
        )
        .await;
    assert_eq!(r.body["details"][0]["path"], "type");
    let r = h
        .post(
            "/api/mail",
            json!({ "projectId": p, "fromSessionId": s, "type": "query", "subject": "" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");

    // Wait returns existing mail at once, then blocks until a new one arrives.
    let now = h
        .get(&format!("/api/mail/wait/{s}?projectId={p}"))
        .await
        .body;
    assert_eq!(now.as_array().unwrap().len(), 2);
    let since = broadcast["createdAt"].as_i64().unwrap();
    let router = h.router.clone();
    let path = format!("/api/mail/wait/{s}?projectId={p}&since={since}&timeout=5000");
    let waiter = tokio::spawn(async move {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = router.oneshot(req).await.unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    });
    tokio::task::yield_now().await;
    h.clock.advance(1);
    let r = h.post("/api/mail", json!({ "projectId": p, "fromSessionId": "x", "toSessionId": s, "type": "directive", "subject": "now" })).await;
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("wait woke up")
        .unwrap();
    assert_eq!(got, json!([r.body]));

    let r = h
        .get(&format!("/api/mail/wait/{s}?projectId={p}&timeout=10"))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let id = direct["id"].as_str().unwrap();
    h.drain();
    let r = h.delete(&format!("/api/mail/{id}")).await;
    assert_eq!(r.body, json!({ "deleted": true, "id": id }));
    assert_eq!(h.names(), ["mail:deleted"]);
    assert_error(&h.get(&format!("/api/mail/{id}")).await, 404, "NOT_FOUND");
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_with_empty_list() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let r = h
        .get(&format!(
            "/api/mail/wait/sess_1?projectId={p}&timeout=120000"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn error_contract_for_bad_input() {
    let h = Harness::with_config(|c| c.body_limit_bytes = 1024);
    // Malformed JSON → 400, never 500.
    let r = h
        .raw(
            Method::POST,
            "/api/projects",
            Some("{\"name\": "),
            Some("application/json"),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .raw(
            Method::POST,
            "/api/projects",
            Some("[1,2]"),
            Some("application/json"),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .raw(
            Method::POST,
            "/api/projects",
            Some("name=x"),
            Some("text/plain"),
        )
        .await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    // Missing body → {} (ref §0 quirk fixed).
    let r = h.raw(Method::POST, "/api/projects", None, None).await;
    assert_eq!(r.body["message"], "Project name is required");
    // GET/DELETE with the CLI's Content-Type and no body.
    let r = h
        .raw(Method::GET, "/api/projects", None, Some("application/json"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Wrong types.
    let r = h.post("/api/projects", json!({ "name": 42 })).await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "name");
    // Oversized.
    let big = json!({ "name": "x".repeat(2000) });
    let r = h.post("/api/projects", big).await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    // Bad ids.
    let r = h.get("/api/projects/a%20b").await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h.get(&format!("/api/tasks/{}", "x".repeat(129))).await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    // Unknown route and method.
    let r = h.get("/api/nothing").await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Cannot GET /api/nothing");
    let r = h
        .call(Method::PATCH, "/api/projects", Some(json!({})))
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    // Request id on every response: a fresh UUID v4 for each request.
    let id = |r: &Resp| r.headers["x-request-id"].to_str().unwrap().to_owned();
    let first = id(&r);
    let second = id(&h.get("/api/nothing").await);
    assert_ne!(first, second);
    for value in [&first, &second] {
        let parsed = uuid::Uuid::parse_str(value).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{value}");
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{value}");
        assert_eq!(value.len(), 36, "hyphenated: {value}");
    }
}

#[tokio::test]
async fn infra_routes_and_cors() {
    let h = Harness::new();
    let r = h.get("/health").await;
    assert_eq!(r.body["status"], "ok");
    assert!(r.body["uptime"].is_f64());
    assert!(r.body["timestamp"].is_i64());
    assert_eq!(h.get("/ready").await.body["status"], "ready");
    assert_eq!(
        h.get("/ws-status").await.body["error"],
        "WebSocket server not initialized yet"
    );
    h.get("/api/tasks/task_nope").await;
    let metrics = h.get("/metrics").await;
    let text = metrics.body.as_str().expect("text exposition");
    assert!(
        text.contains(
            r#"maestro_http_requests_total{method="GET",route="/api/tasks/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("maestro_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("maestro_events_emitted"), "{text}");
    let req = axum::http::Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/projects")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "PATCH")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let res = h.router.clone().oneshot(req).await.unwrap();
    let hdr = res.headers();
    assert_eq!(hdr["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(hdr["access-control-allow-credentials"], "true");
    assert!(
        hdr["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PATCH")
    );
}

/// Gauges of another adapter, read at each scrape, inside the one exposition (before `# EOF`).
#[tokio::test]
async fn metrics_include_gauge_sources() {
    use maestro_http_api::metrics::{GaugeSample, GaugeSource};
    use std::sync::atomic::{AtomicI64, Ordering};
    struct Pool(AtomicI64);
    impl GaugeSource for Pool {
        fn gauges(&self) -> Vec<GaugeSample> {
            let open = self.0.load(Ordering::SeqCst);
            vec![
                GaugeSample {
                    name: "test_pool_connections",
                    help: "Test pool connections",
                    labels: vec![("state", "open".to_owned())],
                    value: open,
                },
                GaugeSample {
                    name: "test_pool_connections",
                    help: "Test pool connections",
                    labels: vec![("state", "max".to_owned())],
                    value: 8,
                },
                GaugeSample {
                    name: "test_pool_waiting",
                    help: "Waiting",
                    labels: Vec::new(),
                    value: 0,
                },
            ]
        }
    }
    let h = Harness::new();
    let pool = std::sync::Arc::new(Pool(AtomicI64::new(3)));
    h.metrics.add_gauge_source(pool.clone());
    let scrape = || async { h.get("/metrics").await.body.as_str().unwrap().to_owned() };
    let text = scrape().await;
    assert!(
        text.contains("# TYPE maestro_test_pool_connections gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("maestro_test_pool_connections{state=\"open\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("maestro_test_pool_connections{state=\"max\"} 8\n"),
        "{text}"
    );
    assert!(text.contains("maestro_test_pool_waiting 0\n"), "{text}");
    assert!(text.contains("maestro_events_emitted"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    pool.0.store(5, Ordering::SeqCst);
    assert!(
        scrape()
            .await
            .contains("maestro_test_pool_connections{state=\"open\"} 5\n")
    );
}

#[tokio::test]
async fn workflow_templates_and_skills() {
    let h = Harness::new();
    let all = h.get("/api/workflow-templates").await.body;
    assert_eq!(all.as_array().unwrap().len(), 5);
    let ex = h.get("/api/workflow-templates?mode=execute").await.body;
    assert_eq!(ex.as_array().unwrap().len(), 2);
    assert_eq!(
        h.get("/api/workflow-templates?mode=other")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let t = h.get("/api/workflow-templates/coordinate-dag").await.body;
    assert_eq!(t["builtIn"], true);
    assert_eq!(t["mode"], "coordinate");
    let r = h.get("/api/workflow-templates/nope").await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Template 'nope' not found");

    let dir = h.home.path().join(".claude/skills/reviewer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: reviewer\ndescription: Reviews code\nrole: worker\n---\nReview carefully.\n",
    )
    .unwrap();
    let list = h.get("/api/skills").await.body;
    assert_eq!(list[0]["id"], "reviewer");
    assert_eq!(list[0]["skillScope"], "global");
    let one = h.get("/api/skills/reviewer").await.body;
    assert_eq!(one["type"], "custom");
    assert_error(&h.get("/api/skills/missing").await, 404, "NOT_FOUND");
    assert_eq!(
        h.get("/api/skills/mode/execute")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_error(
        &h.get("/api/skills/mode/fly").await,
        400,
        "VALIDATION_ERROR",
    );
    let r = h.post("/api/skills/reviewer/reload", json!({})).await;
    assert_eq!(r.body["reloaded"], true);
}
