//! End-to-end: the real binary, driven with the requests the `maestro` CLI sends (see
//! `../shared/spec` and the CLI notes), a WebSocket watcher like `maestro session watch`, spawn
//! through a fake `maestro manifest generate`, and graceful shutdown. Each flow runs on the
//! filesystem store and on PostgreSQL (skipped without `MAESTRO_TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::pg::TestDb;
use common::{ServerProc, client, create, fake_cli, send};
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Next JSON frame with `data` (the CLI ignores pong/subscribed frames), bounded.
async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v.get("data").is_some() {
                return v;
            }
        }
    }
}

/// The store a flow runs on.
enum Backend {
    /// The data directory.
    Fs,
    /// PostgreSQL, on a schema of the test's own (dropped after).
    Postgres(TestDb),
}

impl Backend {
    /// PostgreSQL, or `None` (skip, reason printed) without a test database.
    fn postgres() -> Option<Self> {
        TestDb::new().map(Self::Postgres)
    }

    /// `env` plus the variables selecting this backend.
    fn env(&self, env: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut all = env.to_vec();
        if let Self::Postgres(db) = self {
            all.extend(db.env());
        }
        all
    }
}

#[tokio::test]
async fn cli_flow_watch_spawn_and_shutdown() {
    cli_flow(Backend::Fs).await;
}

#[tokio::test]
async fn cli_flow_watch_spawn_and_shutdown_postgres() {
    if let Some(backend) = Backend::postgres() {
        cli_flow(backend).await;
    }
}

#[tokio::test]
async fn spawn_failures_mark_the_session_failed() {
    spawn_failures(Backend::Fs).await;
}

#[tokio::test]
async fn spawn_failures_mark_the_session_failed_postgres() {
    if let Some(backend) = Backend::postgres() {
        spawn_failures(backend).await;
    }
}

async fn cli_flow(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("fake-cli.log");
    let scratch = tmp.path().join("scratch");
    let mut server = ServerProc::start(
        &data,
        tmp.path(),
        &backend.env(&[
            (
                "MAESTRO_CLI_PATH",
                fake_cli().to_string_lossy().into_owned(),
            ),
            ("FAKE_MAESTRO_LOG", log.to_string_lossy().into_owned()),
            ("ANTHROPIC_API_KEY", "sk-test".into()),
            ("TMPDIR", scratch.to_string_lossy().into_owned()),
        ]),
    );
    let url_file = std::fs::read_to_string(data.join("server-url")).unwrap();
    assert_eq!(
        url_file,
        format!(
            "http://localhost:{}",
            server.addr.rsplit(':').next().unwrap()
        )
    );
    let c = client();

    // maestro project create demo --dir /work/demo
    let p = create(
        &c,
        &server,
        "/api/projects",
        json!({ "name": "demo", "workingDir": "/work/demo" }),
    )
    .await;
    // maestro task create "Build it" --priority high
    let t = create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "Build it", "description": "", "priority": "high" }),
    )
    .await;
    // maestro session register: GET (404) then POST with the session's own id.
    let s = "sess_1771493879123_abcdefghi";
    let (st, err) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/sessions/{s}")),
        None,
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(err["code"], "NOT_FOUND");
    let (st, _) = send(
        &c,
        Method::POST,
        &server.url("/api/sessions"),
        Some(json!({ "id": s, "projectId": p, "taskIds": [t], "name": "execute: sess_17714938791", "status": "working", "metadata": { "mode": "execute" } })),
    )
    .await;
    assert_eq!(st, 201);

    // maestro session watch <s>
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}", server.addr))
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({ "type": "subscribe", "sessionIds": [s] })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "subscribed" {
                assert_eq!(v["sessionIds"], json!([s]));
                break;
            }
        }
    }

    // maestro task report progress <t> "half way"
    let (st, updated) = send(
        &c,
        Method::PATCH,
        &server.url(&format!("/api/tasks/{t}")),
        Some(json!({ "sessionStatus": "working", "updateSource": "session", "sessionId": s })),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(updated["taskSessionStatuses"][s], "working");
    let (st, _) = send(
        &c,
        Method::POST,
        &server.url(&format!("/api/sessions/{s}/timeline")),
        Some(json!({ "type": "progress", "message": "half way", "taskId": t })),
    )
    .await;
    assert_eq!(st, 200);
    // The watcher gets task:updated (unscoped) and session:updated / notify:progress for s.
    let mut seen = Vec::new();
    while !seen.iter().any(|n: &String| n == "notify:progress") {
        let ev = next_event(&mut ws).await;
        assert_eq!(ev["type"], ev["event"]);
        assert!(ev["timestamp"].is_i64());
        seen.push(ev["event"].as_str().unwrap().to_owned());
    }
    assert!(seen.contains(&"task:updated".to_owned()), "{seen:?}");
    assert!(seen.contains(&"session:updated".to_owned()), "{seen:?}");

    // maestro team-member create "Ada" --role dev --avatar A
    let tm = create(
        &c,
        &server,
        "/api/team-members",
        json!({ "projectId": p, "name": "Ada", "role": "dev", "avatar": "A", "model": "opus" }),
    )
    .await;

    // Spawn a worker from this session (maestro session spawn --task t --team-member-id tm).
    let (st, spawned) = send(
        &c,
        Method::POST,
        &server.url("/api/sessions/spawn"),
        Some(json!({
            "projectId": p, "taskIds": [t], "mode": "execute", "spawnSource": "session", "sessionId": s,
            "teamMemberId": tm,
            "skills": ["maestro-worker"], "sessionName": "Worker: Build it",
            "context": { "reason": "Execute task: Build it" },
            "initialDirective": { "subject": "Go", "message": "Start now", "fromSessionId": s }
        })),
    )
    .await;
    assert_eq!(st, 201, "{spawned}");
    let worker = spawned["sessionId"].as_str().unwrap().to_owned();
    let manifest_path = spawned["manifestPath"].as_str().unwrap();
    assert!(manifest_path.ends_with(&format!("sessions/{worker}/manifest.json")));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_path).unwrap()).unwrap();
    assert_eq!(
        manifest["tasks"][0]["id"],
        json!(t),
        "the CLI read the task from DATA_DIR"
    );
    assert_eq!(manifest["context"]["project"]["name"], "demo");
    assert_eq!(
        manifest["teamMembers"],
        json!([{ "id": tm, "name": "Ada" }]),
        "the CLI read the team member from DATA_DIR"
    );
    assert_eq!(spawned["session"]["parentSessionId"], json!(s));
    assert_eq!(
        spawned["session"]["env"]["MAESTRO_COORDINATOR_SESSION_ID"],
        json!(s)
    );
    assert_eq!(spawned["session"]["env"]["ANTHROPIC_API_KEY"], "sk-test");
    let call: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let args: Vec<String> = serde_json::from_value(call["args"].clone()).unwrap();
    assert_eq!(
        args[..12],
        [
            "manifest",
            "generate",
            "--mode",
            "execute",
            "--project-id",
            &p,
            "--task-ids",
            &t,
            "--skills",
            "maestro-worker",
            "--output",
            manifest_path,
        ]
    );
    assert_eq!(call["env"]["MAESTRO_COORDINATOR_SESSION_ID"], json!(s));
    let cli_data_dir = Path::new(call["env"]["DATA_DIR"].as_str().unwrap());
    match backend {
        Backend::Fs => assert_eq!(cli_data_dir, data, "the CLI reads the data directory"),
        Backend::Postgres(_) => {
            assert!(
                cli_data_dir.starts_with(&scratch),
                "a per-spawn directory in the temp dir: {}",
                cli_data_dir.display()
            );
            assert!(
                !cli_data_dir.exists(),
                "the per-spawn directory is removed after the CLI ran"
            );
        }
    }
    let directive: Value =
        serde_json::from_str(call["env"]["MAESTRO_INITIAL_DIRECTIVE"].as_str().unwrap()).unwrap();
    assert_eq!(directive["fromSessionId"], json!(s));

    // maestro show-modal: the HTML goes to the data directory whatever the store.
    let (st, shown) = send(
        &c,
        Method::POST,
        &server.url(&format!("/api/sessions/{s}/modal")),
        Some(json!({ "modalId": "modal_1", "title": "Q", "html": "<p>ok?</p>" })),
    )
    .await;
    assert_eq!(st, 200, "{shown}");
    assert_eq!(
        std::fs::read_to_string(data.join("modals/modal_1.html")).unwrap(),
        "<p>ok?</p>"
    );

    // maestro session report complete → the watcher sees the completed status.
    let (st, _) = send(
        &c,
        Method::PATCH,
        &server.url(&format!("/api/sessions/{s}")),
        Some(json!({ "status": "completed", "completedAt": 1 })),
    )
    .await;
    assert_eq!(st, 200);
    loop {
        let ev = next_event(&mut ws).await;
        if ev["event"] == "session:updated"
            && ev["data"]["id"] == json!(s)
            && ev["data"]["status"] == "completed"
        {
            break;
        }
    }
    let (_, task) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/tasks/{t}")),
        None,
    )
    .await;
    assert_eq!(task["taskSessionStatuses"][s], "completed");

    // Graceful shutdown on SIGTERM: exit 0, WebSocket closed.
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "{status:?}");
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(msg)) = ws.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket closed on shutdown");
}

async fn spawn_failures(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Where a Postgres-mode server puts its per-spawn data directories.
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let server = ServerProc::start(
        &data,
        tmp.path(),
        &backend.env(&[
            (
                "MAESTRO_CLI_PATH",
                fake_cli().to_string_lossy().into_owned(),
            ),
            ("FAKE_MAESTRO_MODE", "exit1".into()),
            ("TMPDIR", scratch.to_string_lossy().into_owned()),
        ]),
    );
    let c = client();
    let p = create(&c, &server, "/api/projects", json!({ "name": "demo" })).await;
    let t = create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "T" }),
    )
    .await;
    let (st, err) = send(
        &c,
        Method::POST,
        &server.url("/api/sessions/spawn"),
        Some(json!({ "projectId": p, "taskIds": [t] })),
    )
    .await;
    assert_eq!(st, 500);
    assert_eq!(err["code"], "MANIFEST_GENERATION_FAILED");
    assert_eq!(
        err["message"],
        "Failed to generate manifest: Manifest generation failed (exit code 1): boom"
    );
    let (_, sessions) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/sessions?projectId={p}")),
        None,
    )
    .await;
    assert_eq!(sessions[0]["status"], "failed", "never left in spawning");
    assert_eq!(
        sessions[0]["timeline"].as_array().unwrap().last().unwrap()["type"],
        "error"
    );
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "no per-spawn directory is left behind by a failed spawn"
    );
    drop(server);

    // A CLI that does not exist.
    let data2 = tmp.path().join("data2");
    let server = ServerProc::start(
        &data2,
        tmp.path(),
        &backend.env(&[("MAESTRO_CLI_PATH", "/nonexistent/maestro".into())]),
    );
    let p = create(&c, &server, "/api/projects", json!({ "name": "demo" })).await;
    let (_, task) = send(
        &c,
        Method::POST,
        &server.url("/api/tasks"),
        Some(json!({ "projectId": p, "title": "T" })),
    )
    .await;
    let (st, err) = send(
        &c,
        Method::POST,
        &server.url("/api/sessions/spawn"),
        Some(json!({ "projectId": p, "taskIds": [task["id"]] })),
    )
    .await;
    assert_eq!(st, 500);
    assert_eq!(
        err["message"],
        "Failed to generate manifest: maestro CLI not found. Please install maestro: npm install -g maestro-cli"
    );
}
