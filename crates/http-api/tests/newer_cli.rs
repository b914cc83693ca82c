//! Requests of the newer `maestro` CLI (agent-maestro 653bc6a, NEWER-CLI-REQUESTS §2.4, §3)
//! as it sends them — `X-Session-Id: $MAESTRO_SESSION_ID` on every request of a session —
//! and what the 7950ff3 CLI sends for the same commands (no header).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::{Method, StatusCode};
use maestro_domain::ids::Clock;
use serde_json::{Value, json};
use support::{Harness, assert_error};

const S1: &str = "sess_flowA_1";
const S2: &str = "sess_flowB_1";

/// `maestro session register` of the newer CLI with `MAESTRO_SESSION_ID=id`,
/// `MAESTRO_MODE=mode` (`GET` answered 404, then `POST /api/sessions`).
async fn register(h: &mut Harness, project: &str, task: &str, id: &str, mode: &str) {
    let hdr = [("X-Session-Id", id)];
    let r = h
        .send(Method::GET, &format!("/api/sessions/{id}"), None, &hdr)
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    let name = format!("{mode}: {}", &id[..id.len().min(16)]);
    let r = h
        .send(
            Method::POST,
            "/api/sessions",
            Some(json!({
                "id": id, "projectId": project, "taskIds": [task], "name": name,
                "status": "working", "metadata": { "mode": mode },
            })),
            &hdr,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    h.drain();
}

/// A project with one task and the two sessions of the flows: `S1` registered as a
/// coordinator, `S2` as a worker.
async fn workspace(h: &mut Harness) -> (String, String) {
    let p = h.project("Flow Project").await;
    let t = h.task(&p, "Root task").await;
    register(h, &p, &t, S1, "coordinator").await;
    register(h, &p, &t, S2, "worker").await;
    (p, t)
}

// ------------------------------------------------------------------------ coordinator mode

#[tokio::test]
async fn coordinator_status_enable_disable_are_self_only() {
    let mut h = Harness::new();
    let (p, _) = workspace(&mut h).await;
    let own = [("X-Session-Id", S2)];
    let mode = format!("/api/sessions/{S2}/mode");

    // `maestro coordinator status`
    let r = h.send(Method::GET, &mode, None, &own).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({ "id": S2, "mode": "worker", "relation": "standalone", "role": "worker" })
    );

    // Another session, or no session at all, may not flip it: 403 in the error shape.
    for headers in [&[("X-Session-Id", S1)][..], &[]] {
        let r = h
            .send(
                Method::POST,
                &mode,
                Some(json!({ "role": "coordinator" })),
                headers,
            )
            .await;
        assert_error(&r, 403, "FORBIDDEN");
        assert_eq!(r.body["message"], "You can only flip your own role");
    }
    assert!(h.drain().is_empty(), "a refused switch emits nothing");

    // `maestro coordinator enable`
    let r = h
        .send(
            Method::POST,
            &mode,
            Some(json!({ "role": "coordinator" })),
            &own,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({ "id": S2, "mode": "coordinator", "previousMode": "worker", "changed": true,
                "manifestRegenerated": false })
    );
    let events = h.drain();
    assert_eq!(events.len(), 1, "only session:mode_changed");
    let e = &events[0];
    assert_eq!(e.name, "session:mode_changed");
    assert_eq!(e.project_id, p);
    assert_eq!(e.session_id.as_deref(), Some(S2));
    assert_eq!(
        e.data.to_value(),
        json!({ "sessionId": S2, "mode": "coordinator", "previousMode": "worker",
                "changed": true, "timestamp": h.clock.now_ms() })
    );
    // Stored where the reference keeps it.
    let stored = h.get(&format!("/api/sessions/{S2}")).await.body;
    assert_eq!(stored["metadata"]["mode"], "coordinator");
    let r = h.send(Method::GET, &mode, None, &own).await;
    assert_eq!(r.body["role"], "coordinator");

    // Again: nothing changes.
    let r = h
        .send(
            Method::POST,
            &mode,
            Some(json!({ "role": "coordinator" })),
            &own,
        )
        .await;
    assert_eq!(
        r.body,
        json!({ "id": S2, "mode": "coordinator", "previousMode": "coordinator", "changed": false })
    );
    assert!(h.drain().is_empty());

    // `maestro coordinator disable`
    let r = h
        .send(Method::POST, &mode, Some(json!({ "role": "worker" })), &own)
        .await;
    assert_eq!(r.body["mode"], "worker");
    assert_eq!(r.body["previousMode"], "coordinator");
    assert_eq!(h.names(), ["session:mode_changed"]);

    // A bad role, a missing one, an unknown session.
    for body in [json!({ "role": "boss" }), json!({})] {
        let r = h.send(Method::POST, &mode, Some(body), &own).await;
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    let r = h
        .send(Method::GET, "/api/sessions/sess_none/mode", None, &[])
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    let r = h
        .send(
            Method::POST,
            "/api/sessions/sess_none/mode",
            Some(json!({ "role": "worker" })),
            &[("X-Session-Id", "sess_none")],
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
}

#[tokio::test]
async fn a_coordinated_session_keeps_its_relation() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let t = h.task(&p, "T").await;
    register(&mut h, &p, &t, S1, "coordinated-worker").await;
    let own = [("X-Session-Id", S1)];
    let mode = format!("/api/sessions/{S1}/mode");
    let r = h.send(Method::GET, &mode, None, &own).await;
    assert_eq!(r.body["relation"], "coordinated");
    let r = h
        .send(
            Method::POST,
            &mode,
            Some(json!({ "role": "coordinator" })),
            &own,
        )
        .await;
    assert_eq!(r.body["mode"], "coordinated-coordinator");
    // A session registered by the 7950ff3 CLI (legacy mode) reads as a standalone worker.
    register(&mut h, &p, &t, S2, "coordinate").await;
    let r = h
        .send(Method::GET, &format!("/api/sessions/{S2}/mode"), None, &[])
        .await;
    assert_eq!(
        r.body,
        json!({ "id": S2, "mode": "coordinate", "relation": "standalone", "role": "worker" })
    );
}

// ------------------------------------------------------------------------------- master

#[tokio::test]
async fn master_set_unset_and_the_four_views() {
    let mut h = Harness::new();
    let (p, t) = workspace(&mut h).await;
    let p2 = h.project("Scratch Project").await;

    // `maestro project set-master <id>`
    let r = h
        .put(
            &format!("/api/projects/{p}/master"),
            json!({ "isMaster": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], json!(p));
    assert_eq!(r.body["isMaster"], json!(true));
    let events = h.drain();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "project:updated");
    assert_eq!(events[0].data.to_value()["isMaster"], json!(true));
    assert_eq!(
        h.get(&format!("/api/projects/{p}")).await.body["isMaster"],
        json!(true)
    );
    let r = h.get(&format!("/api/projects/{p2}")).await;
    assert!(r.body.get("isMaster").is_none(), "absent until set");

    // `maestro master projects`
    let r = h.get("/api/master/projects").await;
    let projects = r.body.as_array().unwrap();
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[0]["id"], json!(p));
    assert_eq!(projects[0]["isMaster"], json!(true));

    // `maestro master tasks` (the CLI's --project is swallowed; the query works anyway).
    let r = h.get("/api/master/tasks").await;
    assert_eq!(ids(&r.body), [t.as_str()]);
    let r = h.get(&format!("/api/master/tasks?projectId={p2}")).await;
    assert_eq!(r.body, json!([]));
    let r = h.get("/api/master/tasks?status=completed").await;
    assert_eq!(r.body, json!([]));

    // `maestro master sessions --active` / `--status completed,working`
    let r = h
        .patch(
            &format!("/api/sessions/{S2}"),
            json!({ "status": "completed" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    h.drain();
    let r = h.get("/api/master/sessions?active=true").await;
    assert_eq!(ids(&r.body), [S1]);
    assert!(r.body[0]["timeline"].is_array(), "full sessions");
    let r = h
        .get(&format!(
            "/api/master/sessions?projectId={p}&status=completed,working"
        ))
        .await;
    assert_eq!(ids(&r.body), [S1, S2]);
    let r = h.get("/api/master/sessions?status=completed").await;
    assert_eq!(ids(&r.body), [S2]);
    let r = h.get("/api/master/sessions?status=done").await;
    assert_error(&r, 400, "VALIDATION_ERROR");

    // `maestro master context`
    let r = h.get("/api/master/context").await;
    assert_eq!(ids(&r.body["projects"]), [p.as_str(), p2.as_str()]);
    assert_eq!(r.body["taskCounts"], json!({ p.clone(): 1, p2.clone(): 0 }));
    assert_eq!(
        r.body["sessionCounts"],
        json!({ p.clone(): 2, p2.clone(): 0 })
    );

    // ?limit&offset → {data, pagination}.
    let r = h.get("/api/master/projects?limit=1&offset=1").await;
    assert_eq!(ids(&r.body["data"]), [p2.as_str()]);
    assert_eq!(
        r.body["pagination"],
        json!({ "offset": 1, "limit": 1, "total": 2, "hasMore": false })
    );
    let r = h.get("/api/master/tasks?offset=0").await;
    assert_eq!(ids(&r.body["data"]), [t.as_str()]);
    assert_eq!(
        r.body["pagination"],
        json!({ "offset": 0, "limit": 100, "total": 1, "hasMore": false })
    );
    let r = h.get("/api/master/sessions?limit=1").await;
    assert_eq!(r.body["pagination"]["hasMore"], json!(true));
    for bad in ["limit=0", "limit=501", "offset=-1", "limit=x"] {
        let r = h.get(&format!("/api/master/projects?{bad}")).await;
        assert_error(&r, 400, "VALIDATION_ERROR");
    }

    // `maestro project unset-master <id>`
    let r = h
        .put(
            &format!("/api/projects/{p}/master"),
            json!({ "isMaster": false }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["isMaster"], json!(false));
    assert_eq!(h.names(), ["project:updated"]);

    let r = h
        .put(
            "/api/projects/proj_none/master",
            json!({ "isMaster": true }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Project with id 'proj_none' not found");
    for body in [json!({}), json!({ "isMaster": "yes" })] {
        let r = h.put(&format!("/api/projects/{p}/master"), body).await;
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    assert!(h.drain().is_empty());
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect()
}

// ------------------------------------------------------------------------------ prompt

#[tokio::test]
async fn prompts_are_signed_and_a_session_cannot_prompt_itself() {
    let mut h = Harness::new();
    let (p, _) = workspace(&mut h).await;

    // `maestro session prompt <S2> --message …` from S1 (newer CLI: with the header).
    let r = h
        .send(
            Method::POST,
            &format!("/api/sessions/{S2}/prompt"),
            Some(json!({ "content": "please report status", "mode": "send",
                         "senderSessionId": S1 })),
            &[("X-Session-Id", S1)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({ "success": true }));
    let signed = format!("[From: coordinator: sess_flowA_1 ({S1})] please report status");
    let events = h.drain();
    assert_eq!(events[0].name, "session:prompt_send");
    assert_eq!(
        events[0].data.to_value(),
        json!({ "sessionId": S2, "content": signed, "mode": "send", "senderSessionId": S1,
                "senderProjectId": p, "targetProjectId": p,
                "timestamp": h.clock.now_ms() })
    );
    let target = h.get(&format!("/api/sessions/{S2}")).await.body;
    let last = target["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "prompt_received");
    assert_eq!(
        last["message"],
        format!("Received prompt from session {S1}: \"{signed}\"")
    );

    // To itself: 400, the message the CLI prints.
    let r = h
        .send(
            Method::POST,
            &format!("/api/sessions/{S1}/prompt"),
            Some(json!({ "content": "talking to myself", "mode": "send",
                         "senderSessionId": S1 })),
            &[("X-Session-Id", S1)],
        )
        .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "A session cannot prompt itself.");
    assert!(h.drain().is_empty());

    // The 7950ff3 CLI sends the same body without the header: still fine.
    let r = h
        .post(
            &format!("/api/sessions/{S1}/prompt"),
            json!({ "content": "pasted text", "mode": "paste", "senderSessionId": S2 }),
        )
        .await;
    assert_eq!(r.body, json!({ "success": true }));
    assert_eq!(
        h.drain()[0].data.to_value()["content"],
        format!("[From: worker: sess_flowB_1 ({S2})] pasted text")
    );

    // No sender (older clients may omit it): delivered as sent, no check.
    let r = h
        .post(
            &format!("/api/sessions/{S1}/prompt"),
            json!({ "content": "from the UI" }),
        )
        .await;
    assert_eq!(r.body, json!({ "success": true }));
    assert_eq!(h.drain()[0].data.to_value()["content"], "from the UI");

    // An unknown sender.
    let r = h
        .post(
            &format!("/api/sessions/{S1}/prompt"),
            json!({ "content": "x", "senderSessionId": "sess_gone" }),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
}

// ------------------------------------------------------------- features not served here

/// Every request of NEWER-CLI-REQUESTS §3.5 the newer CLI makes for a feature this server does
/// not serve, with the word of the feature its `message` must name.
const UNSUPPORTED: &[(&str, &str, Option<&str>, &str)] = &[
    ("GET", "/api/teams?projectId=proj_1", None, "teams"),
    ("GET", "/api/teams/team_1?projectId=proj_1", None, "teams"),
    (
        "POST",
        "/api/teams",
        Some(
            r#"{"projectId":"proj_1","name":"Core team","leaderId":"tm_1","memberIds":["tm_2"],"description":"d","avatar":"A"}"#,
        ),
        "teams",
    ),
    (
        "PATCH",
        "/api/teams/team_1",
        Some(r#"{"projectId":"proj_1","name":"Renamed"}"#),
        "teams",
    ),
    (
        "POST",
        "/api/teams/team_1/archive",
        Some(r#"{"projectId":"proj_1"}"#),
        "teams",
    ),
    (
        "POST",
        "/api/teams/team_1/unarchive",
        Some(r#"{"projectId":"proj_1"}"#),
        "teams",
    ),
    (
        "DELETE",
        "/api/teams/team_1?projectId=proj_1",
        None,
        "teams",
    ),
    (
        "POST",
        "/api/teams/team_1/members",
        Some(r#"{"projectId":"proj_1","memberIds":["tm_3"]}"#),
        "teams",
    ),
    (
        "DELETE",
        "/api/teams/team_1/members?projectId=proj_1&memberIds=tm_3%2Ctm_4",
        None,
        "teams",
    ),
    (
        "POST",
        "/api/teams/team_1/sub-teams",
        Some(r#"{"projectId":"proj_1","subTeamId":"team_2"}"#),
        "teams",
    ),
    (
        "DELETE",
        "/api/teams/team_1/sub-teams?projectId=proj_1&subTeamId=team_2",
        None,
        "teams",
    ),
    (
        "GET",
        "/api/teams/team_1/tree?projectId=proj_1",
        None,
        "teams",
    ),
    (
        "GET",
        "/api/spells/entities/maestro?projectId=proj_1",
        None,
        "spells",
    ),
    (
        "GET",
        "/api/spells/entities/custom-prompt?projectId=proj_1",
        None,
        "spells",
    ),
    (
        "GET",
        "/api/spells/definitions?entityType=&projectId=proj_1",
        None,
        "spells",
    ),
    (
        "POST",
        "/api/spells/invoke",
        Some(
            r#"{"entityId":"sp_1","spellName":null,"targetSessionId":"sess_2","invokerSessionId":"sess_1","args":{"x":1}}"#,
        ),
        "spells",
    ),
    (
        "POST",
        "/api/spells/custom-prompts",
        Some(r#"{"name":"Greeting","prompt":"Say hello","description":"d"}"#),
        "spells",
    ),
    ("DELETE", "/api/spells/custom-prompts/sp_1", None, "spells"),
    ("GET", "/api/sessions/sess_1/git", None, "git"),
    ("GET", "/api/sessions/sess_1/git/diff", None, "git"),
    (
        "GET",
        "/api/sessions/sess_1/git/diff?file=README.md",
        None,
        "git",
    ),
    ("GET", "/api/sessions/sess_1/git/pr", None, "git"),
    (
        "POST",
        "/api/sessions/sess_1/git/pr",
        Some(r#"{"title":"t","body":"b","baseBranch":"main"}"#),
        "git",
    ),
    (
        "POST",
        "/api/sessions/sess_1/git/merge",
        Some(r#"{"targetBranch":"main"}"#),
        "git",
    ),
    (
        "POST",
        "/api/announce",
        Some(r#"{"text":"Build finished"}"#),
        "announcements",
    ),
    // Model profiles are served read-only.
    (
        "POST",
        "/api/model-profiles",
        Some(r#"{"name":"Mine","launchConfig":{"provider":"claude","model":"opus"}}"#),
        "model profiles",
    ),
    (
        "PUT",
        "/api/model-profiles/mp_fast",
        Some(r#"{"name":"Faster"}"#),
        "model profiles",
    ),
    (
        "DELETE",
        "/api/model-profiles/mp_fast",
        None,
        "model profiles",
    ),
];

#[tokio::test]
async fn unsupported_features_answer_404_not_supported_naming_the_feature() {
    let mut h = Harness::new();
    for &(method, path, body, feature) in UNSUPPORTED {
        let method: Method = method.parse().unwrap();
        let body = body.map(|b| serde_json::from_str::<Value>(b).unwrap());
        let r = h
            .send(method.clone(), path, body, &[("X-Session-Id", "sess_1")])
            .await;
        let what = format!("{method} {path}");
        assert_error(&r, 404, "NOT_SUPPORTED");
        let message = r.body["message"].as_str().unwrap();
        assert!(
            message.contains(feature) && message.contains("not support"),
            "{what}: {message}"
        );
        assert!(!message.starts_with("Cannot"), "{what}: {message}");
        assert!(r.body["details"]["feature"].is_string(), "{what}");
    }
    assert!(h.drain().is_empty());
}

#[tokio::test]
async fn model_profiles_list_and_get_the_four_tiers() {
    let h = Harness::new();
    // `maestro model-profile list`
    let r = h.get("/api/model-profiles").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        ids(&r.body),
        ["mp_ultra", "mp_heavy", "mp_balanced", "mp_fast"]
    );
    for p in r.body.as_array().unwrap() {
        assert_eq!(p["launchConfig"]["provider"], "claude");
        assert_eq!(p["isDefault"], true);
        assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));
    }
    // `maestro model-profile get <id>`
    let r = h.get("/api/model-profiles/mp_balanced").await;
    assert_eq!(r.body["name"], "Balanced");
    assert_eq!(r.body["launchConfig"]["model"], "claude-sonnet-4-6");
    let r = h.get("/api/model-profiles/mp_nope").await;
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.body["message"], "Model profile mp_nope not found");
}
