//! Sessions over HTTP (ref §4.4) with the request shapes the `maestro` CLI sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use support::{Harness, assert_error};
use tower::ServiceExt;

#[tokio::test]
async fn create_links_tasks_and_emits_in_order() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t1 = h.task(&p, "T1").await;
    let t2 = h.task(&p, "T2").await;
    let r = h.post("/api/sessions", json!({ "projectId": p })).await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "taskIds is required");
    let r = h.post("/api/sessions", json!({ "taskIds": [] })).await;
    assert_eq!(r.body["message"], "Project ID is required");
    let r = h
        .post(
            "/api/sessions",
            json!({ "projectId": p, "taskIds": ["task_x"] }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");

    let r = h
        .post(
            "/api/sessions",
            json!({ "projectId": p, "taskIds": [t1, t2], "name": "S", "env": { "A": "1" }, "metadata": { "k": 1 } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let s = r.body.clone();
    let sid = s["id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("sess_"));
    assert_eq!(s["status"], "idle");
    assert_eq!(s["hostname"], "host1");
    assert_eq!(s["platform"], "linux");
    assert_eq!(s["parentSessionId"], json!(null));
    assert_eq!(s["completedAt"], json!(null));
    assert_eq!(s["env"], json!({ "A": "1" }));
    let tl = s["timeline"].as_array().unwrap();
    assert_eq!(tl.len(), 3);
    assert_eq!(tl[0]["type"], "session_started");
    assert_eq!(tl[0]["message"], "Session created");
    assert_eq!(tl[1]["type"], "task_started");
    assert_eq!(tl[1]["taskId"], json!(t1));
    assert_eq!(tl[1]["message"], "Started working on task");
    let evs = h.drain();
    let names: Vec<_> = evs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "session:created",
            "task:session_added",
            "task:session_added"
        ]
    );
    assert_eq!(evs[0].session_id.as_deref(), Some(sid.as_str()));
    assert_eq!(evs[1].data, json!({ "taskId": t1, "sessionId": sid }));
    assert_eq!(
        h.get(&format!("/api/tasks/{t1}")).await.body["sessionIds"],
        json!([sid])
    );

    // Legacy taskId and client-supplied id (CLI `session register`).
    let r = h
        .post("/api/sessions", json!({ "id": "sess_cli_1", "projectId": p, "taskId": t1, "status": "working", "metadata": { "mode": "execute" } }))
        .await;
    assert_eq!(r.body["id"], "sess_cli_1");
    assert_eq!(r.body["taskIds"], json!([t1]));
    assert_eq!(r.body["status"], "working");
    h.drain();
    let r = h
        .post(
            "/api/sessions",
            json!({ "projectId": p, "taskIds": [], "_suppressCreatedEvent": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(h.drain().is_empty());
}

#[tokio::test]
async fn list_filters_and_active() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let a = h.session(&p, &[&t]).await;
    let b = h.session(&p, &[]).await;
    h.patch(
        &format!("/api/sessions/{b}"),
        json!({ "status": "completed" }),
    )
    .await;
    let c = h
        .post(
            "/api/sessions",
            json!({ "projectId": p, "taskIds": [], "parentSessionId": a }),
        )
        .await
        .body["id"]
        .clone();
    h.patch(
        &format!("/api/sessions/{}", c.as_str().unwrap()),
        json!({ "status": "failed" }),
    )
    .await;
    let ids = |v: serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(h.get(&format!("/api/sessions?taskId={t}")).await.body),
        [json!(a)]
    );
    assert_eq!(
        ids(h
            .get(&format!("/api/sessions?parentSessionId={a}"))
            .await
            .body),
        vec![c.clone()]
    );
    assert_eq!(
        ids(h.get("/api/sessions?active=true").await.body),
        [json!(a), c.clone()],
        "failed stays, completed goes"
    );
    assert_eq!(
        ids(h.get("/api/sessions?status=completed").await.body),
        [json!(b)]
    );
    assert_error(
        &h.get("/api/sessions?status=zombie").await,
        400,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn patch_with_cli_shapes() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[&t]).await;
    // `session needs-input` hook: client-supplied timeline id with a hyphen.
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({
                "needsInput": { "active": true, "message": "Session is waiting for user input", "since": 5 },
                "timeline": [{ "id": "evt-5", "type": "needs_input", "timestamp": 5, "message": "Session is waiting for user input" }]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["needsInput"]["active"], true);
    assert_eq!(
        r.body["timeline"].as_array().unwrap().last().unwrap()["id"],
        "evt-5"
    );
    let evs = h.drain();
    assert_eq!(
        evs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["session:updated", "notify:needs_input"]
    );
    assert_eq!(
        evs[1].data,
        json!({ "sessionId": s, "name": "Unnamed Session", "message": "Session is waiting for user input" })
    );
    // Again active: no second notification.
    h.patch(
        &format!("/api/sessions/{s}"),
        json!({ "needsInput": { "active": true } }),
    )
    .await;
    assert_eq!(h.names(), ["session:updated"]);

    // Env merges; a session reports per-task working; `session complete` sends completedAt.
    h.patch(
        &format!("/api/sessions/{s}"),
        json!({ "env": { "A": "1" } }),
    )
    .await;
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({ "env": { "B": "2" } }),
        )
        .await;
    assert_eq!(r.body["env"], json!({ "A": "1", "B": "2" }));
    h.patch(
        &format!("/api/tasks/{t}"),
        json!({ "updateSource": "session", "sessionId": s, "sessionStatus": "working" }),
    )
    .await;
    h.drain();
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({ "status": "completed", "completedAt": 123 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "completed");
    assert!(r.body["completedAt"].is_i64());
    let evs = h.drain();
    let names: Vec<_> = evs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "task:updated",
            "session:updated",
            "notify:session_completed"
        ]
    );
    assert_eq!(
        evs[0].data.to_value()["taskSessionStatuses"],
        json!({ s.clone(): "completed" })
    );
    // Stopped after completed: nothing happens.
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({ "status": "stopped" }),
        )
        .await;
    assert_eq!(r.body["status"], "completed");
    assert!(h.drain().is_empty());
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({ "status": "sleeping" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .patch(
            &format!("/api/sessions/{s}"),
            json!({ "timeline": [{ "type": "bogus" }] }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "timeline[0].type");
}

#[tokio::test]
async fn events_timeline_docs_and_task_links() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[]).await;
    let r = h
        .post(&format!("/api/sessions/{s}/events"), json!({ "data": 1 }))
        .await;
    assert_eq!(r.body["message"], "type is required");
    let r = h
        .post(
            &format!("/api/sessions/{s}/events"),
            json!({ "type": "file_modified", "data": { "file": "a" } }),
        )
        .await;
    assert_eq!(r.body["events"][0]["type"], "file_modified");
    assert_eq!(h.names(), ["session:updated"]);

    let r = h
        .post(
            &format!("/api/sessions/{s}/timeline"),
            json!({ "type": "progress" }),
        )
        .await;
    assert_eq!(r.body["message"], "message is required");
    h.post(
        &format!("/api/sessions/{s}/timeline"),
        json!({ "message": "going", "taskId": t }),
    )
    .await;
    let evs = h.drain();
    assert_eq!(evs[1].name, "notify:progress");
    assert_eq!(
        evs[1].data,
        json!({ "sessionId": s, "taskId": t, "message": "going" })
    );
    // Accepted for the CLI's `task update --status` audit entries.
    let r = h
        .post(&format!("/api/sessions/{s}/timeline"), json!({ "type": "task_status_changed", "message": "Status changed to completed", "taskId": t }))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .post(
            &format!("/api/sessions/{s}/timeline"),
            json!({ "type": "needs_input", "message": "?" }),
        )
        .await;
    assert_eq!(r.body["needsInput"]["active"], true);
    h.drain();

    let r = h
        .post(
            &format!("/api/sessions/{s}/docs"),
            json!({ "title": "D", "filePath": "/d", "content": "# hi" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = &r.body["docs"][0];
    assert_eq!(doc["addedBy"], json!(s));
    assert_eq!(
        r.body["timeline"].as_array().unwrap().last().unwrap()["message"],
        "Doc added: D"
    );
    assert_eq!(
        h.get(&format!("/api/sessions/{s}/docs")).await.body[0]["title"],
        "D"
    );

    let r = h
        .post(&format!("/api/sessions/{s}/tasks/{t}"), json!({}))
        .await;
    assert_eq!(r.body["taskIds"], json!([t]));
    assert_eq!(
        h.names(),
        [
            "session:updated",
            "session:task_added",
            "task:session_added"
        ]
    );
    let r = h.delete(&format!("/api/sessions/{s}/tasks/{t}")).await;
    assert_eq!(r.body["taskIds"], json!([]));
    assert_eq!(
        r.body["timeline"].as_array().unwrap().last().unwrap()["message"],
        "Removed task from session"
    );
    assert_eq!(h.names(), ["session:task_removed", "task:session_removed"]);
    assert_error(
        &h.post(&format!("/api/sessions/{s}/tasks/task_x"), json!({}))
            .await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn delete_unlinks_tasks_and_their_statuses() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let s = h.session(&p, &[&t]).await;
    h.patch(
        &format!("/api/tasks/{t}"),
        json!({ "updateSource": "session", "sessionId": s, "sessionStatus": "working" }),
    )
    .await;
    h.drain();
    let r = h.delete(&format!("/api/sessions/{s}")).await;
    assert_eq!(r.body, json!({ "success": true, "id": s }));
    let evs = h.drain();
    assert_eq!(evs[0].name, "session:deleted");
    assert_eq!(evs[0].data, json!({ "id": s }));
    let task = h.get(&format!("/api/tasks/{t}")).await.body;
    assert_eq!(task["sessionIds"], json!([]));
    assert_eq!(task["taskSessionStatuses"], json!({}));
    assert_error(
        &h.get(&format!("/api/sessions/{s}")).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn modal_prompt_and_session_mail() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let r = h
        .post(
            &format!("/api/sessions/{s}/modal"),
            json!({ "html": "<p>" }),
        )
        .await;
    assert_eq!(r.body["message"], "modalId is required");
    let r = h
        .post(
            &format!("/api/sessions/{s}/modal"),
            json!({ "modalId": "m1" }),
        )
        .await;
    assert_eq!(r.body["message"], "html content is required");
    let r = h
        .post(
            &format!("/api/sessions/{s}/modal"),
            json!({ "modalId": "m1", "html": "<p>hi</p>" }),
        )
        .await;
    assert_eq!(
        r.body,
        json!({ "success": true, "modalId": "m1", "sessionId": s, "message": "Modal sent to UI" })
    );
    let ev = &h.drain()[0];
    assert_eq!(ev.name, "session:modal");
    assert_eq!(ev.data.to_value()["title"], "Agent Modal");
    assert_eq!(ev.data.to_value()["filePath"], "memory://modals/m1.html");
    let r = h
        .post(
            &format!("/api/sessions/{s}/modal/m1/actions"),
            json!({ "action": "ok", "data": { "x": 1 } }),
        )
        .await;
    assert_eq!(
        r.body,
        json!({ "success": true, "modalId": "m1", "action": "ok" })
    );
    let r = h
        .post(&format!("/api/sessions/{s}/modal/m1/close"), json!({}))
        .await;
    assert_eq!(r.body, json!({ "success": true, "modalId": "m1" }));
    assert_eq!(h.names(), ["session:modal_action", "session:modal_closed"]);

    let r = h
        .post(
            &format!("/api/sessions/{s}/prompt"),
            json!({ "content": "" }),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "content is required and must be a string"
    );
    let r = h
        .post(
            &format!("/api/sessions/{s}/prompt"),
            json!({ "content": "x", "mode": "type" }),
        )
        .await;
    assert_eq!(r.body["message"], "mode must be \"send\" or \"paste\"");
    let long = "a".repeat(120);
    let r = h
        .post(
            &format!("/api/sessions/{s}/prompt"),
            json!({ "content": long, "senderSessionId": "sess_x" }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Session with id 'sess_x' not found");
    let r = h
        .post(
            "/api/sessions",
            json!({ "id": "sess_x", "projectId": p, "taskIds": [], "name": "X" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    h.drain();
    let r = h
        .post(
            &format!("/api/sessions/{s}/prompt"),
            json!({ "content": long, "senderSessionId": "sess_x" }),
        )
        .await;
    assert_eq!(r.body, json!({ "success": true }));
    let evs = h.drain();
    assert_eq!(evs[0].name, "session:prompt_send");
    assert_eq!(evs[0].data.to_value()["mode"], "send");
    assert_eq!(evs[0].data.to_value()["senderSessionId"], "sess_x");
    assert!(evs[0].data.to_value()["timestamp"].is_i64());
    assert_eq!(evs[1].name, "session:updated");
    let last = h.get(&format!("/api/sessions/{s}")).await.body["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "prompt_received");
    assert_eq!(
        last["message"],
        format!(
            "Received prompt from session sess_x: \"[From: X (sess_x)] {}...\"",
            "a".repeat(100 - "[From: X (sess_x)] ".len())
        )
    );

    let r = h
        .post(
            &format!("/api/sessions/{s}/mail"),
            json!({ "fromSessionId": "sess_a" }),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "fromSessionId, fromName, and message are required"
    );
    let r = h
        .post(
            "/api/sessions/sess_none/mail",
            json!({ "fromSessionId": "a", "fromName": "A", "message": "m" }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    let r = h
        .post(&format!("/api/sessions/{s}/mail"), json!({ "fromSessionId": "sess_a", "fromName": "Alice", "message": " hello ", "detail": "d" }))
        .await;
    assert_eq!(r.body["success"], true);
    let mail_id = r.body["mailId"].as_str().unwrap().to_owned();
    let evs = h.drain();
    assert_eq!(evs[0].name, "mail:received");
    assert_eq!(evs[1].name, "session:prompt_send");
    assert_eq!(
        evs[1].data,
        json!({ "sessionId": s, "content": "[From: Alice] hello — mail stored, run: maestro session mail read", "mode": "send", "senderSessionId": "sess_a" })
    );
    let read = h.get(&format!("/api/sessions/{s}/mail")).await.body;
    assert_eq!(read.as_array().unwrap().len(), 1);
    let m = &read[0];
    assert_eq!(m["id"], json!(mail_id));
    assert_eq!(m["parentSessionId"], json!(s));
    assert_eq!(m["fromName"], "Alice");
    assert_eq!(m["message"], " hello ");
    assert_eq!(m["detail"], "d");
    assert!(m["readAt"].is_i64());
    assert_eq!(
        h.get(&format!("/api/sessions/{s}/mail")).await.body,
        json!([]),
        "reading is destructive"
    );
}

#[tokio::test]
async fn spawn_success_and_failure() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    let r = h.post("/api/sessions/spawn", json!({ "projectId": p, "taskIds": [t], "teamMemberId": format!("tm_{p}_coordinator") })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let sid = r.body["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(r.body["message"], "Spawn request sent to Agent Maestro");
    assert_eq!(
        r.body["manifestPath"],
        format!("/sessions/{sid}/manifest.json")
    );
    let session = &r.body["session"];
    assert_eq!(session["status"], "spawning");
    assert_eq!(session["name"], format!("Coordinate for {t}"));
    assert_eq!(session["teamMemberSnapshot"]["name"], "Coordinator");
    assert_eq!(session["env"]["MAESTRO_MODE"], "coordinate");
    assert_eq!(session["env"]["MAESTRO_SESSION_ID"], json!(sid));
    assert_eq!(session["env"]["ANTHROPIC_API_KEY"], "k");
    assert_eq!(session["env"]["GOOGLE_GENAI_USE_GCA"], "true");
    assert_eq!(session["metadata"]["spawnSource"], "ui");
    let evs = h.drain();
    let names: Vec<_> = evs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["session:updated", "session:spawn", "task:session_added"]
    );
    assert_eq!(evs[1].data.to_value()["_isSpawnCreated"], true);
    assert_eq!(
        evs[1].data.to_value()["command"],
        "maestro orchestrator init"
    );
    assert_eq!(evs[1].data.to_value()["cwd"], "/w");
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        req.team_member_id.as_deref(),
        Some(format!("tm_{p}_coordinator").as_str())
    );
    assert_eq!(req.mode.as_str(), "coordinate");

    for (body, status, code) in [
        (json!({}), 400, "MISSING_PROJECT_ID"),
        (
            json!({ "projectId": p, "taskIds": [] }),
            400,
            "INVALID_TASK_IDS",
        ),
        (
            json!({ "projectId": p, "taskIds": "x" }),
            400,
            "INVALID_TASK_IDS",
        ),
        (
            json!({ "projectId": p, "taskIds": [t], "spawnSource": "cron" }),
            400,
            "INVALID_SPAWN_SOURCE",
        ),
        (
            json!({ "projectId": p, "taskIds": [t], "spawnSource": "session" }),
            400,
            "MISSING_SESSION_ID",
        ),
        (
            json!({ "projectId": p, "taskIds": [t], "spawnSource": "session", "sessionId": "sess_x" }),
            404,
            "PARENT_SESSION_NOT_FOUND",
        ),
        (
            json!({ "projectId": p, "taskIds": ["task_x"] }),
            404,
            "TASK_NOT_FOUND",
        ),
        (
            json!({ "projectId": p, "taskIds": [t], "mode": "review" }),
            400,
            "INVALID_MODE",
        ),
        (
            json!({ "projectId": "proj_x", "taskIds": [t] }),
            404,
            "PROJECT_NOT_FOUND",
        ),
    ] {
        let r = h.post("/api/sessions/spawn", body.clone()).await;
        assert_error(&r, status, code);
    }
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": ["task_x"] }),
        )
        .await;
    assert_eq!(r.body["details"], json!({ "taskId": "task_x" }));
    h.drain();

    *h.manifests.fail.lock().unwrap() =
        Some("Manifest generation failed (exit code 1): boom".into());
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": [t] }),
        )
        .await;
    assert_error(&r, 500, "MANIFEST_GENERATION_FAILED");
    assert_eq!(
        r.body["message"],
        "Failed to generate manifest: Manifest generation failed (exit code 1): boom"
    );
    let failed = h
        .get(&format!("/api/sessions?projectId={p}&status=failed"))
        .await
        .body;
    assert_eq!(
        failed.as_array().unwrap().len(),
        1,
        "the spawned session is marked failed"
    );
    let tl = failed[0]["timeline"].as_array().unwrap();
    assert_eq!(tl.last().unwrap()["type"], "error");
    assert!(h.names().contains(&"session:updated".to_owned()));
}

#[tokio::test]
async fn log_digests_and_status() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    assert_eq!(h.get("/api/sessions/log-digests").await.body, json!([]));
    let r = h
        .get(&format!(
            "/api/sessions/log-digests?sessionIds={s},sess_unknown"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["sessionId"], json!(s));
    assert_eq!(r.body[1]["sessionId"], "sess_unknown");
    assert_eq!(r.body[1]["state"], "idle");
    let r = h.get(&format!("/api/sessions/{s}/log-digest?last=3")).await;
    assert_eq!(r.body["sessionId"], json!(s));
    assert_eq!(r.body["entries"], json!([]));
    assert_error(
        &h.get(&format!("/api/sessions/{s}/log-digest?last=x")).await,
        400,
        "VALIDATION_ERROR",
    );
    let r = h.get(&format!("/api/sessions/{s}/status")).await;
    assert_eq!(r.body["status"], "idle");
    assert_eq!(r.body["needsInput"], false);
}

/// Issue 12 item 1: an append is answered with the very text announced in its
/// `session:updated` event (the session is serialized once per change, not per consumer).
#[tokio::test]
async fn appends_answer_with_the_text_of_their_session_updated_event() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let s = h.session(&p, &[]).await;
    let requests = [
        (
            format!("/api/sessions/{s}/timeline"),
            json!({ "message": "going" }),
        ),
        (
            format!("/api/sessions/{s}/events"),
            json!({ "type": "tool", "data": { "x": 1 } }),
        ),
        (
            format!("/api/sessions/{s}/docs"),
            json!({ "title": "D", "filePath": "/d.md" }),
        ),
    ];
    for (path, body) in requests {
        let req = Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let res = h.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let updated: Vec<_> = h
            .drain()
            .into_iter()
            .filter(|e| e.name == "session:updated")
            .collect();
        assert_eq!(updated.len(), 1, "{path}");
        assert_eq!(&bytes[..], updated[0].data.json().as_bytes(), "{path}");
    }
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(format!("/api/sessions/{s}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "status": "working" }).to_string()))
        .unwrap();
    let res = h.router.clone().oneshot(req).await.unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let updated = h
        .drain()
        .into_iter()
        .find(|e| e.name == "session:updated")
        .unwrap();
    assert_eq!(&bytes[..], updated.data.json().as_bytes());
}
