//! What the 653bc6a `maestro` CLI (and UI) send to the routes that already existed in 7950ff3
//! (issue 13 items 1 and 2; NEWER-CLI-REQUESTS §2.5, §4.1, §4.2): team members with the four
//! modes and hermes, spawn with the four modes, `launchConfig` and the other new keys. The
//! bodies are those of `team-member.ts@653bc6a` / `session.ts@653bc6a` as recorded by
//! `run-flows.sh … new`, with the `X-Session-Id` header the CLI adds.
#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use maestro_domain::entities::{AgentMode, AgentTool, PermissionMode};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

/// Sends `body` as the 653bc6a CLI does: JSON, with `X-Session-Id` when it runs in a session.
async fn cli(h: &Harness, method: Method, path: &str, body: Value, session: Option<&str>) -> Resp {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(s) = session {
        req = req.header("x-session-id", s);
    }
    let res = h
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

// ------------------------------------------------------------------------- team members

#[tokio::test]
async fn team_member_create_with_each_mode_and_hermes() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    // `maestro team-member create "Member <m>" --role … --avatar 🤖 --mode <m> --identity …`
    // with the tool/model/permission flags of run-flows.sh; the CLI sends the normalized mode.
    let cases = [
        (
            "worker",
            json!({ "model": "opus", "agentTool": "codex", "permissionMode": "acceptEdits" }),
        ),
        (
            "coordinator",
            json!({ "model": "sonnet", "agentTool": "claude-code", "permissionMode": "bypassPermissions" }),
        ),
        (
            "coordinated-worker",
            json!({ "model": "haiku", "agentTool": "gemini" }),
        ),
        (
            "coordinated-coordinator",
            json!({ "model": "haiku", "agentTool": "gemini" }),
        ),
        (
            "worker",
            json!({ "agentTool": "hermes", "model": "hermes-default", "skillIds": ["a", "b"] }),
        ),
    ];
    let mut ids = Vec::new();
    for (mode, extra) in cases {
        let mut body = json!({
            "projectId": p, "name": format!("Member {mode}"), "role": format!("role for {mode}"),
            "avatar": "🤖", "mode": mode, "agentTool": "claude-code", "identity": format!("I am {mode}")
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = cli(&h, Method::POST, "/api/team-members", body.clone(), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{mode}: {}", r.body);
        assert_eq!(r.body["mode"], mode, "stored as sent");
        assert_eq!(r.body["agentTool"], body["agentTool"]);
        assert_eq!(r.body["name"], format!("Member {mode}"));
        if let Some(skills) = body.get("skillIds") {
            assert_eq!(&r.body["skillIds"], skills);
        }
        let id = r.body["id"].as_str().unwrap().to_owned();
        let got = h
            .get(&format!("/api/team-members/{id}?projectId={p}"))
            .await;
        assert_eq!(got.body, r.body, "read back as created");
        ids.push(id);
    }
    let listed = h
        .get(&format!("/api/team-members?projectId={p}"))
        .await
        .body;
    for id in &ids {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == json!(id)),
            "{id} listed"
        );
    }
    let stored = h.app.team_members.get(&p, &ids[4]).await.unwrap();
    assert_eq!(stored.agent_tool, Some(AgentTool::Hermes.into()));
    assert_eq!(stored.mode, Some(AgentMode::Worker.into()));

    // The 7950ff3 CLI's legacy values still go through, as sent.
    let r = cli(
        &h,
        Method::POST,
        "/api/team-members",
        json!({ "projectId": p, "name": "Old", "role": "r", "avatar": "x", "mode": "coordinate", "identity": "" }),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["mode"], "coordinate");

    // Anything else is still refused, in the error shape of spec §2.
    let r = cli(
        &h,
        Method::POST,
        "/api/team-members",
        json!({ "projectId": p, "name": "N", "role": "r", "avatar": "x", "mode": "boss" }),
        None,
    )
    .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "mode");
}

#[tokio::test]
async fn team_member_edit_with_four_modes_and_hermes() {
    let mut h = Harness::new();
    let p = h.project("P").await;
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "Member worker", "role": "r", "avatar": "🤖", "mode": "worker", "agentTool": "codex", "identity": "" }),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/team-members/{id}");
    // `team-member edit <id> --name … --mode coordinated-worker --model claude-opus-4-8
    //  --agent-tool hermes --permission-mode readOnly --identity … --skills …`
    let r = cli(
        &h,
        Method::PATCH,
        &path,
        json!({
            "projectId": p, "name": "Exec Renamed", "role": "new role", "avatar": "🛠",
            "mode": "coordinated-worker", "model": "claude-opus-4-8", "agentTool": "hermes",
            "permissionMode": "readOnly", "identity": "new identity",
            "skillIds": ["react-expert", "frontend-design"]
        }),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mode"], "coordinated-worker");
    assert_eq!(r.body["agentTool"], "hermes");
    assert_eq!(r.body["permissionMode"], "readOnly");
    // `team-member edit <id> --mode execute`: the CLI sends the normalized `worker`.
    for mode in [
        "worker",
        "coordinator",
        "coordinated-coordinator",
        "execute",
    ] {
        let r = cli(
            &h,
            Method::PATCH,
            &path,
            json!({ "projectId": p, "mode": mode }),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{mode}: {}", r.body);
        assert_eq!(r.body["mode"], mode);
    }
    // A default member's override takes a four-mode value too.
    let default = format!("/api/team-members/tm_{p}_simple_worker");
    let r = cli(
        &h,
        Method::PATCH,
        &default,
        json!({ "projectId": p, "mode": "coordinated-worker", "agentTool": "hermes" }),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.get(&format!("{default}?projectId={p}")).await.body["mode"],
        "coordinated-worker"
    );
    let r = cli(
        &h,
        Method::PATCH,
        &path,
        json!({ "projectId": p, "agentTool": "cursor" }),
        None,
    )
    .await;
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["path"], "agentTool");
}

// -------------------------------------------------------------------------------- spawn

/// A project, a task and a registered session (`session register` of the 653bc6a CLI).
async fn world(h: &mut Harness) -> (String, String, String) {
    let p = h.project("flows").await;
    let t = h.task(&p, "Root task").await;
    let s = "sess_flowA_643918400";
    let r = cli(
        h,
        Method::POST,
        "/api/sessions",
        json!({ "id": s, "projectId": p, "taskIds": [t], "name": "coordinator: sess_flowA_643918", "status": "working", "metadata": { "mode": "coordinator" } }),
        Some(s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    h.drain();
    (p, t, s.to_owned())
}

/// The `context` the CLI builds for a task (`buildSessionContext`), trimmed to its keys.
fn context(p: &str, t: &str, reason: &str) -> Value {
    json!({
        "primaryTask": {
            "id": t, "projectId": p, "parentId": null, "title": "Root task",
            "description": "root description", "status": "todo", "priority": "high",
            "acceptanceCriteria": [], "technicalNotes": "", "estimatedComplexity": "medium"
        },
        "initialCommands": [],
        "reason": reason
    })
}

#[tokio::test]
async fn spawn_worker_from_a_session_default_skill() {
    let mut h = Harness::new();
    let (p, t, s) = world(&mut h).await;
    // `MAESTRO_SESSION_ID=<s> maestro --json session spawn --task <t>`
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        json!({
            "projectId": p, "taskIds": [t], "mode": "worker", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-worker"], "sessionName": "Worker: Root task",
            "context": context(&p, &t, "Execute task: Root task")
        }),
        Some(&s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let session = &r.body["session"];
    assert_eq!(session["metadata"]["mode"], "coordinated-worker");
    assert_eq!(session["env"]["MAESTRO_MODE"], "coordinated-worker");
    assert_eq!(session["env"]["MAESTRO_COORDINATOR_SESSION_ID"], json!(s));
    assert_eq!(session["parentSessionId"], json!(s));
    assert_eq!(session["name"], "Worker: Root task");
    assert!(session["metadata"].get("launchConfig").is_none());
    let evs = h.drain();
    let spawn = evs.iter().find(|e| e.name == "session:spawn").unwrap();
    assert_eq!(spawn.data.to_value()["command"], "maestro worker init");
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(req.mode, AgentMode::CoordinatedWorker);
    assert_eq!(req.cli_mode(false), AgentMode::Execute);
    assert_eq!(req.cli_mode(true), AgentMode::CoordinatedWorker);
}

#[tokio::test]
async fn spawn_coordinator_with_member_launch_config_and_directive() {
    let mut h = Harness::new();
    let (p, t, s) = world(&mut h).await;
    let tm = format!("tm_{p}_coordinator");
    // `session spawn --task <t> --skill maestro-orchestrator --team-member-id <tm>
    //  --agent-tool claude-code --model claude-opus-4-8 --reasoning-effort high
    //  --permission-mode bypassPermissions --subject Kick-off --message "Start with the API"
    //  --name "Coordinator run" --reason "coordinate it" --include-related`
    let lc = json!({"provider":"claude","model":"claude-opus-4-8","reasoningEffort":"high","accessMode":"fullAccess"});
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        json!({
            "projectId": p, "taskIds": [t], "mode": "coordinator", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-orchestrator"], "sessionName": "Coordinator run",
            "context": context(&p, &t, "coordinate it"),
            "teamMemberId": tm,
            "initialDirective": { "subject": "Kick-off", "message": "Start with the API", "fromSessionId": s },
            "launchConfig": lc
        }),
        Some(&s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let session = &r.body["session"];
    assert_eq!(session["name"], "Coordinator run");
    assert_eq!(session["metadata"]["mode"], "coordinated-coordinator");
    assert_eq!(session["metadata"]["launchConfig"], lc);
    assert_eq!(session["metadata"]["permissionMode"], "bypassPermissions");
    assert_eq!(session["metadata"]["teamMemberId"], json!(tm));
    assert_eq!(session["env"]["MAESTRO_MODE"], "coordinated-coordinator");
    let evs = h.drain();
    let spawn = evs.iter().find(|e| e.name == "session:spawn").unwrap();
    assert_eq!(
        spawn.data.to_value()["command"],
        "maestro orchestrator init"
    );
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(req.mode, AgentMode::CoordinatedCoordinator);
    assert_eq!(
        req.model.as_deref(),
        Some("claude-opus-4-8"),
        "over the member's sonnet"
    );
    assert_eq!(req.agent_tool, Some(AgentTool::ClaudeCode));
    assert_eq!(req.permission_mode, Some(PermissionMode::BypassPermissions));
    assert_eq!(req.team_member_id.as_deref(), Some(tm.as_str()));
    assert_eq!(req.initial_directive.unwrap()["subject"], "Kick-off");
    assert_eq!(
        serde_json::to_value(req.launch_config.unwrap()).unwrap(),
        lc
    );
}

#[tokio::test]
async fn spawn_with_launch_config_and_with_the_legacy_hermes_flag() {
    let mut h = Harness::new();
    let (p, t, s) = world(&mut h).await;
    // `session spawn --task <t> --project <p> --launch-config '{…openai gpt-5.5…}'`
    let lc = json!({"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess"});
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        json!({
            "projectId": p, "taskIds": [t], "mode": "worker", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-worker"], "sessionName": "Worker: Root task",
            "context": context(&p, &t, "Execute task: Root task"), "launchConfig": lc
        }),
        Some(&s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["session"]["metadata"]["launchConfig"], lc);
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(req.agent_tool, Some(AgentTool::Codex));
    assert_eq!(req.model.as_deref(), Some("gpt-5.5"));

    // `session spawn --task <t> --agent-tool hermes`: the CLI folds the flag into a
    // launchConfig with its default hermes model.
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        json!({
            "projectId": p, "taskIds": [t], "mode": "worker", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-worker"], "sessionName": "Worker: Root task",
            "context": context(&p, &t, "Execute task: Root task"),
            "launchConfig": {"provider":"hermes","model":"hermes-default"}
        }),
        Some(&s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(req.agent_tool, Some(AgentTool::Hermes));
    assert_eq!(req.model.as_deref(), Some("hermes-default"));
    // And the legacy top-level `agentTool: "hermes"` of a UI is accepted too.
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": [t], "agentTool": "hermes", "model": "hermes-default" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["session"]["metadata"]["mode"], "execute");
}

#[tokio::test]
async fn spawn_mode_taken_from_a_four_mode_team_member() {
    let mut h = Harness::new();
    let (p, t, s) = world(&mut h).await;
    let r = h
        .post(
            "/api/team-members",
            json!({ "projectId": p, "name": "Global Bot", "role": "r", "avatar": "🌍", "mode": "coordinator", "agentTool": "claude-code", "identity": "" }),
        )
        .await;
    let tm = r.body["id"].as_str().unwrap().to_owned();
    // `session spawn --task <t> --team-member-id <tm>`: the CLI read the member's mode.
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        json!({
            "projectId": p, "taskIds": [t], "mode": "coordinator", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-orchestrator"],
            "sessionName": "Orchestrator: Root task", "teamMemberId": tm,
            "context": context(&p, &t, "Coordinate task: Root task")
        }),
        Some(&s),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["session"]["metadata"]["mode"],
        "coordinated-coordinator"
    );
    assert_eq!(
        r.body["session"]["teamMemberSnapshot"]["name"],
        "Global Bot"
    );
    // From the UI, without a mode: the member's four-mode value, standalone.
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": [t], "teamMemberId": tm }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["session"]["metadata"]["mode"], "coordinator");
    assert_eq!(r.body["session"]["name"], format!("Coordinate for {t}"));
}

/// Every 653bc6a spawn key the UI may send is accepted, stored and passed on.
#[tokio::test]
async fn spawn_accepts_every_newer_key() {
    let mut h = Harness::new();
    let (p, t, _) = world(&mut h).await;
    let overrides = json!({ "tm_a": { "launchConfig": {"provider":"openai","model":"gpt-5.5"}, "permissionMode": "acceptEdits", "skillIds": ["x"] } });
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({
                "projectId": p, "taskIds": [t], "mode": "coordinator", "spawnSource": "ui",
                "memberOverrides": overrides, "permissionMode": "acceptEdits",
                "delegatePermissionMode": "readOnly", "useWorktree": true, "teamId": "team_1",
                "cols": 180, "rows": 48, "strategy": "simple", "reasoningEffort": "high"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let session = &r.body["session"];
    assert_eq!(session["teamId"], "team_1");
    let meta = &session["metadata"];
    assert_eq!(meta["mode"], "coordinator");
    assert_eq!(meta["memberOverrides"], overrides);
    assert_eq!(meta["permissionMode"], "acceptEdits");
    assert_eq!(meta["delegatePermissionMode"], "readOnly");
    assert_eq!(meta["useWorktree"], true);
    let stored = h
        .get(&format!(
            "/api/sessions/{}",
            r.body["sessionId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored.body["teamId"], "team_1");
    assert_eq!(stored.body["metadata"], *meta);
    let req = h
        .manifests
        .requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(req.team_id.as_deref(), Some("team_1"));
    assert_eq!(req.member_overrides, Some(overrides));
    assert_eq!(req.permission_mode, Some(PermissionMode::AcceptEdits));
    assert_eq!(req.delegate_permission_mode, Some(PermissionMode::ReadOnly));
}

/// Keys of the wrong type: 400 in the spec's shape, naming each field, nothing spawned.
#[tokio::test]
async fn spawn_refuses_newer_keys_of_the_wrong_type() {
    let mut h = Harness::new();
    let (p, t, _) = world(&mut h).await;
    let base = json!({ "projectId": p, "taskIds": [t], "mode": "worker" });
    for (key, value, path) in [
        ("launchConfig", json!("claude"), "launchConfig"),
        (
            "launchConfig",
            json!({"provider":"claude"}),
            "launchConfig.model",
        ),
        (
            "launchConfig",
            json!({"provider":"claude","model":"opus","speed":"warp"}),
            "launchConfig.speed",
        ),
        ("memberOverrides", json!([]), "memberOverrides"),
        (
            "memberOverrides",
            json!({"tm_a": {"model": 5}}),
            "memberOverrides.tm_a.model",
        ),
        ("permissionMode", json!("root"), "permissionMode"),
        ("delegatePermissionMode", json!(1), "delegatePermissionMode"),
        ("useWorktree", json!("true"), "useWorktree"),
        ("teamId", json!(["team_1"]), "teamId"),
        ("teamId", json!("../team"), "teamId"),
        ("cols", json!(80.5), "cols"),
        ("rows", json!(0), "rows"),
        ("initialDirective", json!("go"), "initialDirective"),
    ] {
        let mut body = base.clone();
        body[key] = value;
        let r = h.post("/api/sessions/spawn", body).await;
        assert_error(&r, 400, "VALIDATION_ERROR");
        assert_eq!(r.body["details"][0]["path"], path, "{key}: {}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains(path),
            "{}",
            r.body
        );
    }
    let r = h
        .post(
            "/api/sessions/spawn",
            json!({ "projectId": p, "taskIds": [t], "mode": "boss" }),
        )
        .await;
    assert_error(&r, 400, "INVALID_MODE");
    assert_eq!(
        r.body["message"],
        "mode must be one of: worker, coordinator, coordinated-worker, coordinated-coordinator, execute, coordinate"
    );
    assert!(h.manifests.requests.lock().unwrap().is_empty());
    assert!(
        h.drain().iter().all(|e| e.name != "session:spawn"),
        "nothing spawned"
    );
}

/// `GET /api/workflow-templates?mode=` takes the four-mode names as roles (the 653bc6a server
/// maps the legacy names onto them); an unknown value still lists every template.
#[tokio::test]
async fn workflow_templates_filter_by_either_vocabulary() {
    let h = Harness::new();
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(h.get("/api/workflow-templates").await.body);
    let execute = ids(h.get("/api/workflow-templates?mode=execute").await.body);
    let coordinate = ids(h.get("/api/workflow-templates?mode=coordinate").await.body);
    assert_eq!(execute.len() + coordinate.len(), all.len());
    for (mode, want) in [
        ("worker", &execute),
        ("coordinated-worker", &execute),
        ("coordinator", &coordinate),
        ("coordinated-coordinator", &coordinate),
        ("other", &all),
    ] {
        let got = ids(h
            .get(&format!("/api/workflow-templates?mode={mode}"))
            .await
            .body);
        assert_eq!(&got, want, "{mode}");
    }
}

/// The 653bc6a spawn gate: `MAESTRO_SESSION_ID=<worker> maestro session spawn` is refused with
/// 403 and the message the CLI prints; the same body from the coordinator session spawns.
#[tokio::test]
async fn spawn_from_a_worker_session_is_refused() {
    let mut h = Harness::new();
    let (p, t, coordinator) = world(&mut h).await;
    let worker = "sess_flowB_643918400";
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions",
        json!({ "id": worker, "projectId": p, "taskIds": [t], "name": "worker: sess_flowB_643918", "status": "working", "metadata": { "mode": "worker" } }),
        Some(worker),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let body = |s: &str| {
        json!({
            "projectId": p, "taskIds": [t], "mode": "worker", "spawnSource": "session",
            "sessionId": s, "skills": ["maestro-worker"], "sessionName": "Worker: Root task",
            "context": context(&p, &t, "Execute task: Root task")
        })
    };
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        body(worker),
        Some(worker),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["code"], "FORBIDDEN");
    assert_eq!(
        r.body["message"],
        "Spawning requires coordinator mode. Run `maestro coordinator enable` first."
    );
    let r = cli(
        &h,
        Method::POST,
        "/api/sessions/spawn",
        body(&coordinator),
        Some(&coordinator),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}
