//! SpawnService behaviour (ref §3.3.6; spec §2 spawn failure) against the in-memory adapters
//! and a recording manifest generator.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use maestro_domain::entities::{
    AgentMode, AgentTool, Project, SessionStatus, Task, TeamMember, TimelineEventType,
};
use maestro_domain::error::SpawnErrorKind;
use maestro_domain::events::names as ev;
use maestro_domain::memory::ReplayConfig;
use maestro_domain::ports::ManifestRequest;
use maestro_domain::services::{CreateSession, CreateTask, CreateTeamMember, SpawnRequest};
use maestro_domain::{DomainError, DomainResult};
use serde_json::{Value, json};
use support::*;

struct World {
    h: Harness,
    p: Project,
    t1: Task,
    t2: Task,
}

async fn world_with(config: maestro_domain::AppConfig) -> World {
    let h = harness_with(config, ReplayConfig::default());
    let p = h.project("p").await;
    let t1 = h
        .task_with(CreateTask {
            project_id: Some(p.id.clone()),
            title: Some("one".into()),
            reference_task_ids: Some(vec!["ref_a".into(), "ref_b".into()]),
            ..CreateTask::default()
        })
        .await;
    let t2 = h
        .task_with(CreateTask {
            project_id: Some(p.id.clone()),
            title: Some("two".into()),
            reference_task_ids: Some(vec!["ref_b".into(), "ref_c".into()]),
            ..CreateTask::default()
        })
        .await;
    World { h, p, t1, t2 }
}

async fn world() -> World {
    world_with(test_config()).await
}

async fn member(
    w: &World,
    name: &str,
    model: Option<&str>,
    mode: Option<AgentMode>,
    tool: Option<AgentTool>,
) -> TeamMember {
    w.h.app
        .team_members
        .create(CreateTeamMember {
            project_id: Some(w.p.id.clone()),
            name: Some(name.into()),
            role: Some("role".into()),
            avatar: Some("🤖".into()),
            model: model.map(Into::into),
            mode,
            agent_tool: tool,
            ..CreateTeamMember::default()
        })
        .await
        .unwrap()
}

fn request(w: &World) -> SpawnRequest {
    SpawnRequest {
        project_id: Some(w.p.id.clone()),
        task_ids: Some(vec![w.t1.id.clone(), w.t2.id.clone()]),
        ..SpawnRequest::default()
    }
}

#[track_caller]
fn spawn_err(
    r: DomainResult<impl std::fmt::Debug>,
    kind: SpawnErrorKind,
    code: &str,
    message: &str,
) -> Option<Value> {
    match r.unwrap_err() {
        DomainError::Spawn {
            kind: k,
            code: c,
            message: m,
            details,
        } => {
            assert_eq!((k, c, m.as_str()), (kind, code, message));
            details
        }
        other => panic!("expected a spawn error {code}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------- errors

#[tokio::test]
async fn errors_come_in_reference_order() {
    use SpawnErrorKind::*;
    let w = world().await;
    let parent = w.h.session(&w.p, &[]).await;
    let mut sub = w.h.subscribe();
    let spawn = |r: SpawnRequest| w.h.app.spawn.spawn(r);

    let mut r = SpawnRequest {
        project_id: None,
        task_ids: None,
        spawn_source: Some("robot".into()),
        session_id: None,
        mode: Some("fly".into()),
        ..SpawnRequest::default()
    };
    spawn_err(
        spawn(r.clone()).await,
        BadRequest,
        "MISSING_PROJECT_ID",
        "projectId is required",
    );
    r.project_id = Some(String::new());
    spawn_err(
        spawn(r.clone()).await,
        BadRequest,
        "MISSING_PROJECT_ID",
        "projectId is required",
    );

    r.project_id = Some("proj_missing".into());
    let msg = "taskIds must be a non-empty array";
    spawn_err(spawn(r.clone()).await, BadRequest, "INVALID_TASK_IDS", msg);
    r.task_ids = Some(vec![]);
    spawn_err(spawn(r.clone()).await, BadRequest, "INVALID_TASK_IDS", msg);

    r.task_ids = Some(vec![w.t1.id.clone(), "task_missing".into()]);
    let msg = "spawnSource must be \"ui\" or \"session\"";
    spawn_err(
        spawn(r.clone()).await,
        BadRequest,
        "INVALID_SPAWN_SOURCE",
        msg,
    );

    r.spawn_source = Some("session".into());
    let msg = "sessionId is required when spawnSource is \"session\"";
    spawn_err(
        spawn(r.clone()).await,
        BadRequest,
        "MISSING_SESSION_ID",
        msg,
    );

    r.session_id = Some("sess_missing".into());
    let msg = "Parent session sess_missing not found";
    spawn_err(
        spawn(r.clone()).await,
        NotFound,
        "PARENT_SESSION_NOT_FOUND",
        msg,
    );

    r.session_id = Some(parent.id.clone());
    let details = spawn_err(
        spawn(r.clone()).await,
        NotFound,
        "TASK_NOT_FOUND",
        "Task task_missing not found",
    );
    assert_eq!(details, Some(json!({ "taskId": "task_missing" })));

    r.task_ids = Some(vec![w.t1.id.clone()]);
    let msg = "mode must be one of: worker, coordinator, coordinated-worker, coordinated-coordinator, execute, coordinate";
    spawn_err(spawn(r.clone()).await, BadRequest, "INVALID_MODE", msg);

    r.mode = Some("coordinate".into());
    let msg = "Project proj_missing not found";
    spawn_err(spawn(r.clone()).await, NotFound, "PROJECT_NOT_FOUND", msg);

    expect_no_events(&mut sub);
    assert!(w.h.manifests.requests().is_empty());
    assert_eq!(
        w.h.app
            .sessions
            .list(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(w.h.stored_task(&w.t1.id).await.session_ids.is_empty());
}

#[tokio::test]
async fn ui_source_uses_an_unknown_parent_unchecked() {
    let w = world().await;
    let r = SpawnRequest {
        session_id: Some("sess_not_there".into()),
        ..request(&w)
    };
    let resp = w.h.app.spawn.spawn(r).await.unwrap();
    assert_eq!(
        resp.session.parent_session_id.as_deref(),
        Some("sess_not_there")
    );
    assert_eq!(
        w.h.manifests.single().coordinator_session_id.as_deref(),
        Some("sess_not_there")
    );
}

// --------------------------------------------------------------------------------- success

#[tokio::test]
async fn default_spawn_session_manifest_env_and_events() {
    let mut config = test_config();
    config.passthrough_env = BTreeMap::from([("ANTHROPIC_API_KEY".to_owned(), "sk-x".to_owned())]);
    let w = world_with(config).await;
    w.h.tick(100);
    let mut sub = w.h.subscribe();
    let resp = w.h.app.spawn.spawn(request(&w)).await.unwrap();
    let s = &resp.session;
    let sid = s.id.clone();

    assert!(resp.success);
    assert_eq!(resp.session_id, sid);
    assert_eq!(resp.manifest_path, format!("/sessions/{sid}/manifest.json"));
    assert_eq!(resp.message, "Spawn request sent to Agent Maestro");

    // Session.
    assert_eq!(s.name, format!("Execute for {}", w.t1.id));
    assert_eq!(s.status, SessionStatus::Spawning);
    assert_eq!(s.parent_session_id, None);
    assert_eq!(s.task_ids, vec![w.t1.id.clone(), w.t2.id.clone()]);
    assert_eq!(
        s.metadata,
        Some(json!({
            "skills": [], "spawnedBy": null, "spawnSource": "ui", "mode": "execute",
            "teamMemberId": null, "teamMemberIds": null, "context": {},
        }))
    );
    assert!(s.team_member_ids.is_none() && s.team_member_snapshots.is_none());
    let kinds: Vec<_> = s
        .timeline
        .iter()
        .map(|e| (e.kind.clone(), e.task_id.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (TimelineEventType::SessionStarted.into(), None),
            (TimelineEventType::TaskStarted.into(), Some(w.t1.id.clone())),
            (TimelineEventType::TaskStarted.into(), Some(w.t2.id.clone())),
        ]
    );
    let expected_env: BTreeMap<String, String> = [
        ("MAESTRO_SESSION_ID", sid.as_str()),
        ("MAESTRO_MANIFEST_PATH", resp.manifest_path.as_str()),
        ("MAESTRO_SERVER_URL", "http://127.0.0.1:3000"),
        ("MAESTRO_MODE", "execute"),
        ("MAESTRO_COORDINATOR_SESSION_ID", ""),
        ("DATA_DIR", "/data"),
        ("SESSION_DIR", "/sessions"),
        ("ANTHROPIC_API_KEY", "sk-x"),
        ("GOOGLE_GENAI_USE_GCA", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(s.env, expected_env);
    assert_eq!(
        w.h.stored_session(&sid).await,
        *s,
        "the response is the stored session"
    );
    for t in [&w.t1, &w.t2] {
        assert_eq!(w.h.stored_task(&t.id).await.session_ids, vec![sid.clone()]);
    }

    // Manifest request.
    assert_eq!(
        w.h.manifests.single(),
        ManifestRequest {
            session_id: sid.clone(),
            mode: AgentMode::Execute,
            project_id: w.p.id.clone(),
            task_ids: vec![w.t1.id.clone(), w.t2.id.clone()],
            skills: vec![],
            model: None,
            agent_tool: None,
            launch_config: None,
            reference_task_ids: vec!["ref_a".into(), "ref_b".into(), "ref_c".into()],
            team_member_ids: vec![],
            team_member_id: None,
            team_id: None,
            initial_directive: None,
            coordinator_session_id: None,
            permission_mode: None,
            delegate_permission_mode: None,
            member_overrides: None,
        }
    );

    // Events: no session:created.
    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_UPDATED,
            ev::SESSION_SPAWN,
            ev::TASK_SESSION_ADDED,
            ev::TASK_SESSION_ADDED,
        ],
    );
    for e in &events {
        assert_eq!(e.project_id, w.p.id);
        assert_eq!(e.session_id.as_deref(), Some(sid.as_str()));
    }
    assert_eq!(
        events[0].data,
        to_json(s),
        "session:updated carries the env"
    );
    assert_eq!(
        events[1].data,
        json!({
            "session": to_json(s),
            "projectId": w.p.id,
            "taskIds": [w.t1.id, w.t2.id],
            "command": "maestro worker init",
            "cwd": "/work/p",
            "envVars": to_json(&expected_env),
            "manifest": { "manifestVersion": "1.0", "mode": "execute" },
            "spawnSource": "ui",
            "parentSessionId": null,
            "_isSpawnCreated": true,
        })
    );
    assert_eq!(
        events[2].data,
        json!({ "taskId": w.t1.id, "sessionId": sid })
    );
    assert_eq!(
        events[3].data,
        json!({ "taskId": w.t2.id, "sessionId": sid })
    );
}

#[tokio::test]
async fn session_spawn_with_single_member_and_options() {
    let mut config = test_config();
    config.passthrough_env =
        BTreeMap::from([("GOOGLE_GENAI_USE_GCA".to_owned(), "false".to_owned())]);
    let w = world_with(config).await;
    let parent = w.h.session(&w.p, &[]).await;
    let m = member(
        &w,
        "Solo",
        Some("opus"),
        Some(AgentMode::Coordinate),
        Some(AgentTool::Gemini),
    )
    .await;
    let mut sub = w.h.subscribe();
    let directive = json!({ "subject": "Do it", "message": "now", "fromSessionId": parent.id });
    let resp =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                task_ids: Some(vec![w.t2.id.clone()]),
                spawn_source: Some("session".into()),
                session_id: Some(parent.id.clone()),
                session_name: Some("My worker".into()),
                skills: Some(vec!["rust".into()]),
                context: Some(json!({ "k": 1 })),
                team_member_id: Some(m.id.clone()),
                delegate_team_member_ids: Some(vec!["tm_d1".into(), "tm_d2".into()]),
                initial_directive: Some(directive.clone()),
                ..request(&w)
            })
            .await
            .unwrap();
    let s = &resp.session;
    assert_eq!(s.name, "My worker");
    assert_eq!(s.parent_session_id.as_deref(), Some(parent.id.as_str()));
    assert_eq!(
        s.metadata,
        Some(json!({
            "skills": ["rust"], "spawnedBy": parent.id, "spawnSource": "session",
            "mode": "coordinate", "teamMemberId": m.id, "teamMemberIds": [m.id], "context": { "k": 1 },
        }))
    );
    assert_eq!(s.team_member_id.as_deref(), Some(m.id.as_str()));
    assert_eq!(s.team_member_snapshot, Some(m.snapshot()));
    assert_eq!(s.team_member_ids, Some(vec![m.id.clone()]));
    assert_eq!(s.team_member_snapshots, Some(vec![m.snapshot()]));
    assert_eq!(s.env["MAESTRO_MODE"], "coordinate");
    assert_eq!(s.env["MAESTRO_COORDINATOR_SESSION_ID"], parent.id);
    assert_eq!(
        s.env["GOOGLE_GENAI_USE_GCA"], "false",
        "forced only when absent"
    );

    let req = w.h.manifests.single();
    assert_eq!(req.mode, AgentMode::Coordinate);
    assert_eq!(req.model.as_deref(), Some("opus"));
    assert_eq!(req.agent_tool, Some(AgentTool::Gemini));
    assert_eq!(req.skills, vec!["rust"]);
    assert_eq!(req.team_member_id.as_deref(), Some(m.id.as_str()));
    assert_eq!(
        req.team_member_ids,
        vec!["tm_d1", "tm_d2"],
        "one member: the delegates"
    );
    assert_eq!(req.reference_task_ids, vec!["ref_b", "ref_c"]);
    assert_eq!(req.initial_directive, Some(directive));
    assert_eq!(
        req.coordinator_session_id.as_deref(),
        Some(parent.id.as_str())
    );

    let events = expect_events(
        &mut sub,
        &[
            ev::SESSION_UPDATED,
            ev::SESSION_SPAWN,
            ev::TASK_SESSION_ADDED,
        ],
    );
    assert_eq!(
        events[1].data.to_value()["command"],
        "maestro orchestrator init"
    );
    assert_eq!(events[1].data.to_value()["spawnSource"], "session");
    assert_eq!(events[1].data.to_value()["parentSessionId"], parent.id);
    assert_eq!(events[1].data.to_value()["session"]["teamMemberId"], m.id);
}

#[tokio::test]
async fn several_members_resolve_mode_model_and_tool() {
    let w = world().await;
    let a = member(&w, "A", Some("haiku"), None, None).await;
    let b = member(
        &w,
        "B",
        Some("sonnet"),
        Some(AgentMode::Coordinate),
        Some(AgentTool::Codex),
    )
    .await;
    let c = member(
        &w,
        "C",
        Some("opus"),
        Some(AgentMode::Execute),
        Some(AgentTool::Gemini),
    )
    .await;
    let d = member(&w, "D", Some("gpt-9"), None, None).await;
    let ids = vec![
        a.id.clone(),
        "tm_unknown".into(),
        b.id.clone(),
        c.id.clone(),
        d.id.clone(),
    ];
    let resp =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                team_member_ids: Some(ids.clone()),
                team_member_id: Some("tm_ignored".into()),
                delegate_team_member_ids: Some(vec!["tm_delegate".into()]),
                ..request(&w)
            })
            .await
            .unwrap();
    let req = w.h.manifests.single();
    assert_eq!(
        req.mode,
        AgentMode::Coordinate,
        "mode of the first member that has one"
    );
    assert_eq!(
        req.model.as_deref(),
        Some("opus"),
        "the most powerful known model"
    );
    assert_eq!(
        req.agent_tool,
        Some(AgentTool::Codex),
        "tool of the first member that has one"
    );
    assert_eq!(
        req.team_member_ids, ids,
        "more than one: the effective ids, not the delegates"
    );
    assert_eq!(req.team_member_id, None);

    let s = &resp.session;
    assert_eq!(s.team_member_ids, Some(ids.clone()));
    assert_eq!(
        s.team_member_snapshots,
        Some(vec![a.snapshot(), b.snapshot(), c.snapshot(), d.snapshot()]),
        "unknown ids are skipped"
    );
    assert!(s.team_member_id.is_none() && s.team_member_snapshot.is_none());
    let meta = s.metadata.as_ref().unwrap();
    assert_eq!(meta["teamMemberId"], json!(null));
    assert_eq!(meta["teamMemberIds"], json!(ids));
    assert_eq!(s.name, format!("Coordinate for {}", w.t1.id));
}

#[tokio::test]
async fn body_values_override_members_and_unknown_models_are_never_chosen() {
    let w = world().await;
    let m = member(
        &w,
        "M",
        Some("gpt-9"),
        Some(AgentMode::Coordinate),
        Some(AgentTool::Gemini),
    )
    .await;
    w.h.app
        .spawn
        .spawn(SpawnRequest {
            team_member_id: Some(m.id.clone()),
            ..request(&w)
        })
        .await
        .unwrap();
    let req = &w.h.manifests.requests()[0];
    assert_eq!(req.model, None, "a model of power 0 is never chosen");
    assert_eq!(req.mode, AgentMode::Coordinate);

    w.h.app
        .spawn
        .spawn(SpawnRequest {
            team_member_id: Some(m.id.clone()),
            mode: Some("execute".into()),
            model: Some("haiku".into()),
            agent_tool: Some("claude-code".into()),
            ..request(&w)
        })
        .await
        .unwrap();
    let req = &w.h.manifests.requests()[1];
    assert_eq!(req.mode, AgentMode::Execute);
    assert_eq!(req.model.as_deref(), Some("haiku"));
    assert_eq!(req.agent_tool, Some(AgentTool::ClaudeCode));
}

#[tokio::test]
async fn members_fall_back_to_the_tasks() {
    let w = world().await;
    let a = member(&w, "A", Some("sonnet"), None, None).await;
    let b = member(&w, "B", Some("opus"), None, None).await;
    let mk = |title: &str, ids: Option<Vec<String>>, id: Option<String>| CreateTask {
        project_id: Some(w.p.id.clone()),
        title: Some(title.into()),
        team_member_ids: ids,
        team_member_id: id,
        ..CreateTask::default()
    };
    let t1 =
        w.h.task_with(mk(
            "1",
            Some(vec![a.id.clone()]),
            Some("tm_shadowed".into()),
        ))
        .await;
    let t2 =
        w.h.task_with(mk("2", Some(vec![]), Some(b.id.clone())))
            .await;
    let t3 = w.h.task_with(mk("3", None, Some(a.id.clone()))).await;
    let t4 = w.h.task_with(mk("4", None, None)).await;
    let resp =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                task_ids: Some(vec![t1.id, t2.id, t3.id, t4.id]),
                ..request(&w)
            })
            .await
            .unwrap();
    assert_eq!(
        resp.session.team_member_ids,
        Some(vec![a.id.clone(), b.id.clone()])
    );
    let req = w.h.manifests.single();
    assert_eq!(req.team_member_ids, vec![a.id, b.id]);
    assert_eq!(req.model.as_deref(), Some("opus"));
}

#[tokio::test]
async fn default_members_resolve_like_custom_ones() {
    let w = world().await;
    let coord = format!("tm_{}_coordinator", w.p.id);
    w.h.app
        .spawn
        .spawn(SpawnRequest {
            team_member_id: Some(coord.clone()),
            ..request(&w)
        })
        .await
        .unwrap();
    let req = w.h.manifests.single();
    assert_eq!(req.mode, AgentMode::Coordinate);
    assert_eq!(req.model.as_deref(), Some("sonnet"));
    assert_eq!(req.agent_tool, Some(AgentTool::ClaudeCode));
    assert_eq!(req.team_member_id, Some(coord));
}

// --------------------------------------------------------------------------------- failure

#[tokio::test]
async fn manifest_failure_marks_the_session_failed() {
    let w = world().await;
    let reason = "maestro CLI not found. Please install maestro: npm install -g maestro-cli";
    w.h.manifests.fail_with(reason);
    w.h.tick(10);
    let mut sub = w.h.subscribe();
    let message = format!("Failed to generate manifest: {reason}");
    spawn_err(
        w.h.app.spawn.spawn(request(&w)).await,
        SpawnErrorKind::Internal,
        "MANIFEST_GENERATION_FAILED",
        &message,
    );

    let sessions = w.h.app.sessions.list(&Default::default()).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.status, SessionStatus::Failed, "never left in spawning");
    assert_eq!(s.completed_at, Some(T0 + 10));
    let last = s.timeline.last().unwrap();
    assert_eq!(last.kind, TimelineEventType::Error);
    assert_eq!(last.message.as_deref(), Some(message.as_str()));

    let events = expect_events(&mut sub, &[ev::SESSION_UPDATED, ev::NOTIFY_SESSION_FAILED]);
    envelope(&events[0], ev::SESSION_UPDATED, &w.p.id, Some(&s.id));
    assert_eq!(events[0].data.to_value()["status"], "failed");
    assert_eq!(
        events[0].data.to_value()["timeline"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["type"],
        "error"
    );
    assert_eq!(events[1].data, json!({ "sessionId": s.id, "name": s.name }));
    assert_eq!(w.h.manifests.requests().len(), 1);
}

// ------------------------------------------------------- stored values reaching the CLI

/// Ids stored unchecked by the reference that break the id rule never reach the CLI's argv
/// (they would also name its files and URLs); a member's stored agent tool outside the set
/// is refused like a stored mode (issue 12 item 6).
#[tokio::test]
async fn stored_ids_breaking_the_rule_are_skipped_and_unknown_stored_tools_refused() {
    use maestro_domain::entities::Lenient;
    use maestro_domain::ports::{TaskRepository, TeamMemberRepository};

    let w = world().await;
    let good = member(&w, "Good", Some("opus"), None, None).await;
    let mut stored = w.t1.clone();
    stored.id = "task_1771493879123_storedodd".into();
    stored.team_member_ids = Some(vec!["../../x".into(), good.id.clone(), "a,b".into()]);
    stored.reference_task_ids = Some(vec!["task_ref_ok".into(), "--output=/tmp/x".into()]);
    w.h.tasks.insert(stored.clone()).await.unwrap();
    w.h.app
        .spawn
        .spawn(SpawnRequest {
            project_id: Some(w.p.id.clone()),
            task_ids: Some(vec![stored.id.clone()]),
            ..SpawnRequest::default()
        })
        .await
        .unwrap();
    let req = w.h.manifests.single();
    assert_eq!(req.team_member_id.as_deref(), Some(good.id.as_str()));
    assert!(req.team_member_ids.is_empty(), "{req:?}");
    assert_eq!(req.reference_task_ids, ["task_ref_ok"]);
    assert_eq!(req.model.as_deref(), Some("opus"));

    let mut cursor = good.clone();
    cursor.id = "tm_1771493879123_cursorfan".into();
    cursor.agent_tool = Some(Lenient::Other("cursor".into()));
    w.h.team_members.put_custom(cursor.clone()).await.unwrap();
    let r =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                team_member_id: Some(cursor.id.clone()),
                ..request(&w)
            })
            .await;
    let details = spawn_err(
        r,
        SpawnErrorKind::BadRequest,
        "INVALID_AGENT_TOOL",
        "Invalid value for 'agentTool': the team member's agent tool \"cursor\" is not one of claude-code | codex | gemini | hermes",
    );
    assert_eq!(details.unwrap()[0]["path"], "agentTool");
    // The body's tool wins over the member's (ref §3.3.6 step 6).
    w.h.app
        .spawn
        .spawn(SpawnRequest {
            team_member_id: Some(cursor.id.clone()),
            agent_tool: Some("codex".into()),
            ..request(&w)
        })
        .await
        .unwrap();
}

// ------------------------------------------- the 653bc6a modes and keys (issue 13 items 1, 2)

/// The role mapping used for the CLIs: legacy for a 7950ff3 CLI, four modes (coordinated
/// under a coordinator) for a 653bc6a one, and what a spawned session records.
#[test]
fn mode_mapping_between_the_two_vocabularies() {
    use AgentMode::*;
    let all = [
        Worker,
        Coordinator,
        CoordinatedWorker,
        CoordinatedCoordinator,
        Execute,
        Coordinate,
    ];
    assert_eq!(AgentMode::ALL, all);
    let legacy: Vec<_> = all.iter().map(|m| m.legacy()).collect();
    assert_eq!(
        legacy,
        [
            Execute, Coordinate, Execute, Coordinate, Execute, Coordinate
        ]
    );
    let standalone: Vec<_> = all.iter().map(|m| m.four_mode(false)).collect();
    assert_eq!(
        standalone,
        [
            Worker,
            Coordinator,
            Worker,
            Coordinator,
            Worker,
            Coordinator
        ]
    );
    let coordinated: Vec<_> = all.iter().map(|m| m.four_mode(true)).collect();
    assert_eq!(
        coordinated,
        [
            CoordinatedWorker,
            CoordinatedCoordinator,
            CoordinatedWorker,
            CoordinatedCoordinator,
            CoordinatedWorker,
            CoordinatedCoordinator
        ]
    );
    // Recorded: legacy values as sent, four-mode ones normalized.
    let recorded: Vec<_> = all.iter().map(|m| m.for_spawn(true)).collect();
    assert_eq!(
        recorded,
        [
            CoordinatedWorker,
            CoordinatedCoordinator,
            CoordinatedWorker,
            CoordinatedCoordinator,
            Execute,
            Coordinate
        ]
    );
    let recorded: Vec<_> = all.iter().map(|m| m.for_spawn(false)).collect();
    assert_eq!(
        recorded,
        [
            Worker,
            Coordinator,
            Worker,
            Coordinator,
            Execute,
            Coordinate
        ]
    );
    let coordinators: Vec<_> = all.iter().map(|m| m.is_coordinator()).collect();
    assert_eq!(coordinators, [false, true, false, true, false, true]);
}

/// Every mode the 653bc6a CLI and UI send, with and without a parent session: what the
/// session records, its name and init command, and the `--mode` each CLI generation gets.
#[tokio::test]
async fn spawn_accepts_both_mode_vocabularies() {
    let w = world().await;
    let parent = w.h.session(&w.p, &[]).await;
    // (sent, has parent) → (recorded, name word, command, legacy CLI, current CLI)
    let cases = [
        (
            "worker", false, "worker", "Execute", "worker", "execute", "worker",
        ),
        (
            "worker",
            true,
            "coordinated-worker",
            "Execute",
            "worker",
            "execute",
            "coordinated-worker",
        ),
        (
            "coordinator",
            false,
            "coordinator",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinator",
        ),
        (
            "coordinator",
            true,
            "coordinated-coordinator",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinated-coordinator",
        ),
        (
            "coordinated-worker",
            false,
            "worker",
            "Execute",
            "worker",
            "execute",
            "worker",
        ),
        (
            "coordinated-worker",
            true,
            "coordinated-worker",
            "Execute",
            "worker",
            "execute",
            "coordinated-worker",
        ),
        (
            "coordinated-coordinator",
            false,
            "coordinator",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinator",
        ),
        (
            "coordinated-coordinator",
            true,
            "coordinated-coordinator",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinated-coordinator",
        ),
        (
            "execute", false, "execute", "Execute", "worker", "execute", "worker",
        ),
        (
            "execute",
            true,
            "execute",
            "Execute",
            "worker",
            "execute",
            "coordinated-worker",
        ),
        (
            "coordinate",
            false,
            "coordinate",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinator",
        ),
        (
            "coordinate",
            true,
            "coordinate",
            "Coordinate",
            "orchestrator",
            "coordinate",
            "coordinated-coordinator",
        ),
    ];
    for (i, (sent, from_parent, recorded, word, init, legacy, current)) in
        cases.into_iter().enumerate()
    {
        let mut sub = w.h.subscribe();
        let resp =
            w.h.app
                .spawn
                .spawn(SpawnRequest {
                    mode: Some(sent.into()),
                    spawn_source: from_parent.then(|| "session".into()),
                    session_id: from_parent.then(|| parent.id.clone()),
                    task_ids: Some(vec![w.t1.id.clone()]),
                    ..request(&w)
                })
                .await
                .unwrap_or_else(|e| panic!("{sent}: {e:?}"));
        let s = &resp.session;
        assert_eq!(s.metadata.as_ref().unwrap()["mode"], recorded, "{sent}");
        assert_eq!(s.env["MAESTRO_MODE"], recorded, "{sent}");
        assert_eq!(s.name, format!("{word} for {}", w.t1.id), "{sent}");
        let req = &w.h.manifests.requests()[i];
        assert_eq!(req.mode.as_str(), recorded, "{sent}");
        assert_eq!(req.cli_mode(false).as_str(), legacy, "{sent}");
        assert_eq!(req.cli_mode(true).as_str(), current, "{sent}");
        let events = drain(&mut sub);
        let spawn = events.iter().find(|e| e.name == ev::SESSION_SPAWN).unwrap();
        assert_eq!(
            spawn.data.to_value()["command"],
            format!("maestro {init} init"),
            "{sent}"
        );
    }
}

/// A member stored with a four-mode value (written by the 653bc6a CLI or server) decides the
/// mode when the request has none.
#[tokio::test]
async fn a_member_with_a_four_mode_value_decides_the_mode() {
    let w = world().await;
    let parent = w.h.session(&w.p, &[]).await;
    let m = member(
        &w,
        "Lead",
        None,
        Some(AgentMode::Coordinator),
        Some(AgentTool::Hermes),
    )
    .await;
    assert_eq!(m.mode, Some(AgentMode::Coordinator.into()));
    let resp =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                team_member_id: Some(m.id.clone()),
                spawn_source: Some("session".into()),
                session_id: Some(parent.id.clone()),
                ..request(&w)
            })
            .await
            .unwrap();
    assert_eq!(
        resp.session.metadata.as_ref().unwrap()["mode"],
        "coordinated-coordinator"
    );
    let req = w.h.manifests.single();
    assert_eq!(req.mode, AgentMode::CoordinatedCoordinator);
    assert_eq!(req.agent_tool, Some(AgentTool::Hermes), "the member's tool");
    assert_eq!(req.cli_mode(false), AgentMode::Coordinate);
}

fn launch(v: Value) -> maestro_domain::entities::LaunchConfig {
    serde_json::from_value(v).unwrap()
}

/// `launchConfig` decides model and tool over the body's `model` / `agentTool` and the
/// members', its access mode decides the permission mode, and it is kept in the metadata.
#[tokio::test]
async fn launch_config_decides_model_tool_and_permission() {
    use maestro_domain::entities::PermissionMode;
    let w = world().await;
    let m = member(&w, "M", Some("opus"), None, Some(AgentTool::Gemini)).await;
    let lc = json!({"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess"});
    let resp =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                mode: Some("worker".into()),
                team_member_id: Some(m.id.clone()),
                model: Some("haiku".into()),
                agent_tool: Some("claude-code".into()),
                permission_mode: Some(PermissionMode::ReadOnly),
                launch_config: Some(launch(lc.clone())),
                ..request(&w)
            })
            .await
            .unwrap();
    let meta = resp.session.metadata.clone().unwrap();
    assert_eq!(meta["launchConfig"], lc);
    assert_eq!(
        meta["permissionMode"], "bypassPermissions",
        "accessMode wins over permissionMode"
    );
    let req = w.h.manifests.single();
    assert_eq!(req.model.as_deref(), Some("gpt-5.5"));
    assert_eq!(req.agent_tool, Some(AgentTool::Codex));
    assert_eq!(req.launch_config, Some(launch(lc)));
    assert_eq!(req.permission_mode, Some(PermissionMode::BypassPermissions));

    // Without accessMode the body's permissionMode is used; the provider picks the tool.
    w.h.app
        .spawn
        .spawn(SpawnRequest {
            permission_mode: Some(PermissionMode::ReadOnly),
            launch_config: Some(launch(
                json!({"provider":"hermes","model":"hermes-default"}),
            )),
            ..request(&w)
        })
        .await
        .unwrap();
    let req = &w.h.manifests.requests()[1];
    assert_eq!(req.agent_tool, Some(AgentTool::Hermes));
    assert_eq!(req.model.as_deref(), Some("hermes-default"));
    assert_eq!(req.permission_mode, Some(PermissionMode::ReadOnly));
}

/// The other 653bc6a keys are stored and passed on, and a child spawned by a session
/// inherits the parent's delegate permission mode, member overrides and team.
#[tokio::test]
async fn newer_keys_are_stored_passed_on_and_inherited() {
    use maestro_domain::entities::PermissionMode;
    let w = world().await;
    let overrides = json!({ "tm_a": { "launchConfig": {"provider":"claude","model":"claude-haiku-4-5"}, "permissionMode": "acceptEdits" } });
    let coordinator =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                mode: Some("coordinator".into()),
                member_overrides: Some(overrides.clone()),
                delegate_permission_mode: Some(PermissionMode::ReadOnly),
                use_worktree: Some(false),
                team_id: Some(Some("team_1".into())),
                cols: Some(120),
                rows: Some(40),
                ..request(&w)
            })
            .await
            .unwrap()
            .session;
    let meta = coordinator.metadata.clone().unwrap();
    assert_eq!(meta["mode"], "coordinator");
    assert_eq!(meta["memberOverrides"], overrides);
    assert_eq!(meta["delegatePermissionMode"], "readOnly");
    assert_eq!(meta["useWorktree"], false);
    assert!(meta.get("permissionMode").is_none(), "{meta}");
    assert!(meta.get("cols").is_none() && meta.get("rows").is_none());
    assert_eq!(coordinator.extra.get("teamId"), Some(&json!("team_1")));
    assert_eq!(to_json(&coordinator)["teamId"], "team_1");
    let req = w.h.manifests.single();
    assert_eq!(req.team_id.as_deref(), Some("team_1"));
    assert_eq!(req.member_overrides, Some(overrides.clone()));
    assert_eq!(req.delegate_permission_mode, Some(PermissionMode::ReadOnly));
    assert_eq!(req.permission_mode, None);

    // A worker spawned by the coordinator session.
    let worker =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                mode: Some("worker".into()),
                spawn_source: Some("session".into()),
                session_id: Some(coordinator.id.clone()),
                ..request(&w)
            })
            .await
            .unwrap()
            .session;
    let meta = worker.metadata.clone().unwrap();
    assert_eq!(meta["mode"], "coordinated-worker");
    assert_eq!(
        meta["permissionMode"], "readOnly",
        "the parent's delegate mode"
    );
    assert_eq!(meta["memberOverrides"], overrides);
    assert_eq!(worker.extra.get("teamId"), Some(&json!("team_1")));
    let req = &w.h.manifests.requests()[1];
    assert_eq!(req.permission_mode, Some(PermissionMode::ReadOnly));
    assert_eq!(req.team_id.as_deref(), Some("team_1"));

    // An explicit `teamId: null` leaves the parent's team.
    let loner =
        w.h.app
            .spawn
            .spawn(SpawnRequest {
                spawn_source: Some("session".into()),
                session_id: Some(coordinator.id.clone()),
                team_id: Some(None),
                ..request(&w)
            })
            .await
            .unwrap()
            .session;
    assert!(loner.extra.get("teamId").is_none());
    assert_eq!(w.h.manifests.requests()[2].team_id, None);
}

/// The exact bodies of the 653bc6a CLI read without a complaint; a key of the wrong type is
/// a 400 `VALIDATION_ERROR` naming every offending field.
#[test]
fn from_json_reads_the_newer_keys_and_refuses_bad_types() {
    use maestro_domain::entities::PermissionMode;
    let body = json!({
        "projectId": "proj_1", "taskIds": ["task_1"], "mode": "coordinator",
        "spawnSource": "session", "sessionId": "sess_1", "skills": ["maestro-orchestrator"],
        "sessionName": "Coordinator run", "teamMemberId": "tm_1",
        "context": { "reason": "coordinate it" },
        "initialDirective": { "subject": "Kick-off", "message": "Start with the API", "fromSessionId": "sess_1" },
        "launchConfig": {"provider":"claude","model":"claude-opus-4-8","reasoningEffort":"high","accessMode":"fullAccess"},
        "memberOverrides": { "tm_2": { "model": "opus", "skillIds": ["a"] } },
        "permissionMode": "acceptEdits", "delegatePermissionMode": "readOnly",
        "useWorktree": true, "teamId": null, "cols": 200, "rows": 50
    });
    let r = SpawnRequest::from_json(&body).unwrap();
    assert_eq!(r.mode.as_deref(), Some("coordinator"));
    assert_eq!(
        r.launch_config,
        Some(launch(
            json!({"provider":"claude","model":"claude-opus-4-8","reasoningEffort":"high","accessMode":"fullAccess"})
        ))
    );
    assert_eq!(r.member_overrides, Some(body["memberOverrides"].clone()));
    assert_eq!(r.permission_mode, Some(PermissionMode::AcceptEdits));
    assert_eq!(r.delegate_permission_mode, Some(PermissionMode::ReadOnly));
    assert_eq!(r.use_worktree, Some(true));
    assert_eq!(r.team_id, Some(None));
    assert_eq!((r.cols, r.rows), (Some(200), Some(50)));
    assert_eq!(r.initial_directive, Some(body["initialDirective"].clone()));
    let r = SpawnRequest::from_json(&json!({ "teamId": "team_1" })).unwrap();
    assert_eq!(r.team_id, Some(Some("team_1".into())));
    assert_eq!(SpawnRequest::from_json(&json!({})).unwrap().team_id, None);

    let bad = json!({
        "projectId": "proj_1", "taskIds": ["task_1"],
        "launchConfig": { "provider": "azure", "model": "gpt-5.5" },
        "memberOverrides": { "tm_2": { "permissionMode": "yolo" }, "tm_3": 4 },
        "permissionMode": true, "delegatePermissionMode": "all",
        "useWorktree": "yes", "teamId": 7, "cols": 0, "rows": 1001,
        "initialDirective": "go"
    });
    let err = SpawnRequest::from_json(&bad).unwrap_err();
    assert_eq!(err.code(), "VALIDATION_ERROR");
    let DomainError::Spawn {
        kind,
        message,
        details,
        ..
    } = err
    else {
        panic!("a spawn error");
    };
    assert_eq!(kind, SpawnErrorKind::BadRequest);
    assert_eq!(
        message,
        "Invalid value for 'launchConfig.provider': must be one of claude | openai | hermes | gemini"
    );
    let paths: Vec<String> = details
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "launchConfig.provider",
            "memberOverrides.tm_2.permissionMode",
            "memberOverrides.tm_3",
            "permissionMode",
            "delegatePermissionMode",
            "useWorktree",
            "teamId",
            "cols",
            "rows",
            "initialDirective"
        ]
    );
}

/// The 653bc6a spawn gate (issue 13): a session that names itself (`X-Session-Id`) spawns
/// others only in a coordinator role; without the header (the 7950ff3 CLI) nothing changes.
#[tokio::test]
async fn a_sender_session_spawns_only_as_a_coordinator() {
    let w = world().await;
    let parent = w.h.session(&w.p, &[]).await;
    let with_mode = |mode: Option<&str>| {
        let h = &w.h;
        let p = w.p.clone();
        let mode = mode.map(str::to_owned);
        async move {
            h.session_with(CreateSession {
                project_id: Some(p.id.clone()),
                metadata: mode.map(|m| json!({ "mode": m })),
                ..CreateSession::default()
            })
            .await
        }
    };
    let from = |sender: Option<String>| SpawnRequest {
        spawn_source: Some("session".into()),
        session_id: Some(parent.id.clone()),
        sender_session_id: sender,
        ..request(&w)
    };
    for mode in [
        None,
        Some("worker"),
        Some("coordinated-worker"),
        Some("execute"),
    ] {
        let sender = with_mode(mode).await;
        match w.h.app.spawn.spawn(from(Some(sender.id.clone()))).await {
            Err(DomainError::Forbidden(m)) => assert_eq!(
                m,
                "Spawning requires coordinator mode. Run `maestro coordinator enable` first."
            ),
            other => panic!("{mode:?}: expected Forbidden, got {other:?}"),
        }
    }
    spawn_err(
        w.h.app.spawn.spawn(from(Some("sess_nobody".into()))).await,
        SpawnErrorKind::BadRequest,
        "SENDER_SESSION_NOT_FOUND",
        "Sender session sess_nobody not found",
    );
    for mode in ["coordinator", "coordinated-coordinator", "coordinate"] {
        let sender = with_mode(Some(mode)).await;
        w.h.app
            .spawn
            .spawn(from(Some(sender.id.clone())))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e:?}"));
    }
    // No header: the older CLI spawns from any session, as before.
    w.h.app.spawn.spawn(from(None)).await.unwrap();
}
