//! Issue 12 "Hardening the foundation", input items: ids that become file names (item 6),
//! and from item 11 long ids echoed in messages, JavaScript name trimming and the ordering
//! element message.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::*;

/// The `details` paths of a validation error.
fn detail_paths(r: &Resp) -> Vec<String> {
    r.body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details: {}", r.body))
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect()
}

/// A 400 with `code` whose details name `path`.
fn assert_bad_field(r: &Resp, code: &str, path: &str) {
    assert_error(r, 400, code);
    assert!(
        detail_paths(r).iter().any(|p| p == path),
        "details should name {path}: {}",
        r.body
    );
}

/// Values the hostile-user test sent as ids: each breaks `^[A-Za-z0-9_-]{1,128}$`.
fn bad_ids() -> Vec<String> {
    vec![
        ".".into(),
        ".hidden".into(),
        "~".into(),
        "\n".into(),
        "x".repeat(300),
        "../../x".into(),
        "a,b".into(),
    ]
}

#[tokio::test]
async fn ids_that_name_entities_follow_the_id_rule() {
    let mut h = Harness::new();
    let p = h.project("demo").await;
    let t = h.task(&p, "Build").await;
    let s = h.session(&p, &[&t]).await;

    // Team members: `projectId` names `team-members/<projectId>/`. A blank one ("\n") is
    // "Project ID is required"; the others name the field.
    let check = |r: &Resp, bad: &str| {
        if bad.trim().is_empty() {
            assert_error(r, 400, "VALIDATION_ERROR");
        } else {
            assert_bad_field(r, "VALIDATION_ERROR", "projectId");
        }
    };
    for bad in bad_ids() {
        let r = h
            .post(
                "/api/team-members",
                json!({ "projectId": bad, "name": "Ada", "role": "dev", "avatar": "A" }),
            )
            .await;
        check(&r, &bad);
        let q = urlencode(&bad);
        check(
            &h.get(&format!("/api/team-members?projectId={q}")).await,
            &bad,
        );
        let r = h
            .patch(
                &format!("/api/team-members/tm_{p}_coordinator"),
                json!({ "projectId": bad, "name": "X" }),
            )
            .await;
        check(&r, &bad);
    }
    assert!(h.names().is_empty(), "nothing was created or updated");

    // Typed mail: every id is a lookup key.
    for (field, path) in [
        ("projectId", "projectId"),
        ("fromSessionId", "fromSessionId"),
        ("toSessionId", "toSessionId"),
        ("replyToMailId", "replyToMailId"),
        ("toTeamMemberId", "toTeamMemberId"),
    ] {
        let mut body = json!({ "projectId": p, "fromSessionId": s, "toSessionId": s,
                               "type": "query", "subject": "q" });
        body[field] = json!("../../x");
        let r = h.post("/api/mail", body).await;
        assert_bad_field(&r, "VALIDATION_ERROR", path);
    }
    let r = h
        .post(
            "/api/mail",
            json!({ "fromSessionId": s, "type": "query", "subject": "q" }),
        )
        .await;
    assert_bad_field(&r, "VALIDATION_ERROR", "projectId");
    let r = h
        .get(&format!("/api/mail/inbox/{s}?projectId=%2E%2E"))
        .await;
    assert_bad_field(&r, "VALIDATION_ERROR", "projectId");
    let r = h
        .post(
            &format!("/api/sessions/{s}/mail"),
            json!({ "fromSessionId": "a b", "fromName": "A", "message": "m" }),
        )
        .await;
    assert_bad_field(&r, "VALIDATION_ERROR", "fromSessionId");

    // Tasks, sessions, orderings and query filters.
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/api/tasks".into(),
            json!({ "projectId": ".", "title": "t" }),
            "projectId",
        ),
        (
            "POST",
            "/api/tasks".into(),
            json!({ "projectId": p, "title": "t", "parentId": "~" }),
            "parentId",
        ),
        (
            "POST",
            "/api/tasks".into(),
            json!({ "projectId": p, "title": "t", "teamMemberId": "../x" }),
            "teamMemberId",
        ),
        (
            "POST",
            "/api/tasks".into(),
            json!({ "projectId": p, "title": "t", "referenceTaskIds": ["ok", "a,b"] }),
            "referenceTaskIds[1]",
        ),
        (
            "PATCH",
            format!("/api/tasks/{t}"),
            json!({ "teamMemberIds": ["tm_1", "."] }),
            "teamMemberIds[1]",
        ),
        (
            "PATCH",
            format!("/api/tasks/{t}"),
            json!({ "updateSource": "session", "sessionId": "..", "sessionStatus": "working" }),
            "sessionId",
        ),
        (
            "POST",
            format!("/api/tasks/{t}/timeline"),
            json!({ "message": "m", "sessionId": "a/b" }),
            "sessionId",
        ),
        (
            "POST",
            "/api/sessions".into(),
            json!({ "projectId": p, "taskIds": [t, "\n"] }),
            "taskIds[1]",
        ),
        (
            "POST",
            "/api/sessions".into(),
            json!({ "projectId": p, "taskIds": [], "parentSessionId": "." }),
            "parentSessionId",
        ),
        (
            "POST",
            "/api/sessions".into(),
            json!({ "id": "../s", "projectId": p, "taskIds": [] }),
            "id",
        ),
        (
            "PATCH",
            format!("/api/sessions/{s}"),
            json!({ "taskIds": ["~"] }),
            "taskIds[0]",
        ),
        (
            "POST",
            format!("/api/sessions/{s}/timeline"),
            json!({ "message": "m", "taskId": "." }),
            "taskId",
        ),
        (
            "POST",
            format!("/api/sessions/{s}/prompt"),
            json!({ "content": "c", "senderSessionId": "." }),
            "senderSessionId",
        ),
        (
            "PUT",
            format!("/api/ordering/task/{p}"),
            json!({ "orderedIds": [t, "../x"] }),
            "orderedIds[1]",
        ),
        (
            "GET",
            "/api/tasks?projectId=.hidden".into(),
            Value::Null,
            "projectId",
        ),
        (
            "GET",
            "/api/tasks?parentId=%7E".into(),
            Value::Null,
            "parentId",
        ),
        (
            "GET",
            "/api/sessions?taskId=a%2Cb".into(),
            Value::Null,
            "taskId",
        ),
        (
            "GET",
            "/api/sessions?parentSessionId=..".into(),
            Value::Null,
            "parentSessionId",
        ),
        (
            "GET",
            "/api/sessions/log-digests?sessionIds=ok,..".into(),
            Value::Null,
            "sessionIds[1]",
        ),
    ];
    for (method, path, body, field) in cases {
        let method: axum::http::Method = method.parse().unwrap();
        let body = (!body.is_null()).then_some(body);
        let r = h.call(method.clone(), &path, body.clone()).await;
        assert!(
            detail_paths(&r).iter().any(|p| p == field),
            "{method} {path} {body:?}: {}",
            r.body
        );
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    assert!(h.names().is_empty(), "no refused request changed anything");
    // What the CLI sends still works: generated ids, `tm_<projectId>_<role>`, `parentId=null`.
    let r = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "child", "parentId": t,
                    "teamMemberId": format!("tm_{p}_simple_worker") }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = h
        .get(&format!("/api/tasks?projectId={p}&parentId=null"))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.body);
}

#[tokio::test]
async fn spawn_checks_its_enums_ids_and_cli_values() {
    let mut h = Harness::new();
    let p = h.project("demo").await;
    let t = h.task(&p, "Build").await;
    let base = json!({ "projectId": p, "taskIds": [t] });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, code, path) in [
        (
            with("agentTool", json!("BOGUS")),
            "INVALID_AGENT_TOOL",
            "agentTool",
        ),
        (
            with("agentTool", json!(5)),
            "INVALID_AGENT_TOOL",
            "agentTool",
        ),
        (
            with("projectId", json!("../p")),
            "INVALID_PROJECT_ID",
            "projectId",
        ),
        (
            with("projectId", json!("--help")),
            "INVALID_PROJECT_ID",
            "projectId",
        ),
        (
            with("taskIds", json!([t, "."])),
            "INVALID_TASK_IDS",
            "taskIds[1]",
        ),
        (
            with("sessionId", json!("a b")),
            "INVALID_SESSION_ID",
            "sessionId",
        ),
        (
            with("sessionId", json!(7)),
            "INVALID_SESSION_ID",
            "sessionId",
        ),
        (
            with("teamMemberId", json!("../../x")),
            "INVALID_TEAM_MEMBER_IDS",
            "teamMemberId",
        ),
        (
            with("teamMemberIds", json!(["tm_a", "-x"])),
            "INVALID_TEAM_MEMBER_IDS",
            "teamMemberIds[1]",
        ),
        (
            with("teamMemberIds", json!(["tm_a", 3])),
            "INVALID_TEAM_MEMBER_IDS",
            "teamMemberIds[1]",
        ),
        (
            with("delegateTeamMemberIds", json!(["."])),
            "INVALID_TEAM_MEMBER_IDS",
            "delegateTeamMemberIds[0]",
        ),
        (
            with("model", json!("--output=/tmp/x")),
            "INVALID_MODEL",
            "model",
        ),
        (with("model", json!("opus\n--x")), "INVALID_MODEL", "model"),
        (
            with("skills", json!(["maestro-worker", "a,b"])),
            "INVALID_SKILLS",
            "skills[1]",
        ),
        (
            with("skills", json!(["--output=/tmp/x"])),
            "INVALID_SKILLS",
            "skills[0]",
        ),
        (
            with("skills", json!("maestro-worker")),
            "INVALID_SKILLS",
            "skills",
        ),
    ] {
        let r = h.post("/api/sessions/spawn", body.clone()).await;
        assert_bad_field(&r, code, path);
    }
    assert!(
        h.manifests.requests.lock().unwrap().is_empty(),
        "no refused spawn reached the CLI"
    );
    assert!(h.names().is_empty(), "no refused spawn created a session");

    // Valid values go through, as the CLI sends them.
    let r = h
        .post(
            "/api/sessions/spawn",
            with("agentTool", json!("codex"))
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain([
                    ("model".to_owned(), json!("gpt-5.3-codex")),
                    ("skills".to_owned(), json!(["maestro-worker"])),
                ])
                .collect::<serde_json::Map<_, _>>()
                .into(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let req = h.manifests.requests.lock().unwrap()[0].clone();
    assert_eq!(
        req.agent_tool,
        Some(maestro_domain::entities::AgentTool::Codex)
    );
    assert_eq!(req.model.as_deref(), Some("gpt-5.3-codex"));
}

#[tokio::test]
async fn long_invalid_ids_are_shortened_in_messages() {
    let mut h = Harness::new();
    let p = h.project("demo").await;
    let long = "x".repeat(60_000);
    let long_bad = format!("{long}/");
    // In a path, 60 KB is refused as a whole (414, nothing echoed); an id that fits a URI
    // but breaks the id rule is echoed shortened.
    let in_path = "x".repeat(5_000);
    let checks = [
        h.get(&format!("/api/tasks/{in_path}")).await,
        h.get(&format!("/api/projects/{in_path}")).await,
        h.post(
            "/api/tasks",
            json!({ "projectId": p, "title": "t", "parentId": long_bad }),
        )
        .await,
        h.post(
            "/api/team-members",
            json!({ "projectId": long_bad, "name": "A", "role": "r", "avatar": "a" }),
        )
        .await,
        h.post(
            "/api/tasks",
            json!({ "projectId": p, "title": "t", "priority": long }),
        )
        .await,
        h.get(&format!("/api/nowhere/{in_path}")).await,
        h.post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": ["t"], "agentTool": long }),
        )
        .await,
    ];
    for r in checks {
        assert!(r.status.is_client_error(), "{}", r.body);
        let text = r.body.to_string();
        assert!(
            text.len() < 1_000,
            "the response echoes {} bytes: {}…",
            text.len(),
            &text[..200]
        );
        assert!(
            r.body["message"].as_str().unwrap().contains("xxxx…")
                || r.body["details"].to_string().contains("xxxx…"),
            "the value is shown shortened: {text}"
        );
    }
}

#[tokio::test]
async fn ordering_names_the_wrong_element() {
    let mut h = Harness::new();
    let p = h.project("demo").await;
    let r = h
        .put(
            &format!("/api/ordering/task/{p}"),
            json!({ "orderedIds": [1, "task_1", {"a": 1}] }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "orderedIds[0] must be a string");
    assert_eq!(detail_paths(&r), ["orderedIds[0]", "orderedIds[2]"]);
    let r = h
        .put(
            &format!("/api/ordering/task/{p}"),
            json!({ "orderedIds": "x" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "orderedIds must be an array");
    let r = h
        .put(
            &format!("/api/ordering/task/{p}"),
            json!({ "orderedIds": ["task_1"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn names_are_trimmed_like_javascript() {
    let mut h = Harness::new();
    // U+FEFF alone is blank for JavaScript's trim(); Rust's str::trim keeps it.
    for blank in ["\u{feff}", " \u{feff}\u{3000}\u{2028}"] {
        let r = h.post("/api/projects", json!({ "name": blank })).await;
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    let p = h.project("demo").await;
    let r = h
        .post("/api/tasks", json!({ "projectId": p, "title": "\u{feff}" }))
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "\u{feff}", "role": "r", "avatar": "a" }),
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    // NEL is not whitespace for JavaScript: it stays (Rust's trim would remove it).
    let r = h
        .post("/api/projects", json!({ "name": "\u{85}Alpha\u{feff}" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "\u{85}Alpha");
    let r = h
        .post(
            "/api/tasks",
            json!({ "projectId": p, "title": "\u{feff} Build \u{85}" }),
        )
        .await;
    assert_eq!(r.body["title"], "Build \u{85}");
}

/// Percent-encodes `s` for a query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
