//! Spawn through both generations of `maestro manifest generate` (issue 13 items 1, 2;
//! NEWER-CLI-REQUESTS §4.3), played by the fake CLI: the 7950ff3 one (`FAKE_MAESTRO_CLI=old`)
//! knows only `--mode execute|coordinate` and `--model`, the 653bc6a one (`new`) also the
//! four modes, `--launch-config`, `--team-id` and hermes. The server asks the CLI once
//! (`manifest generate --help`) and passes each the vocabulary it accepts; `spawn.cli_modes`
//! overrides the probe. The requests are the 653bc6a CLI's own (`session spawn`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{ServerProc, client, create, fake_cli, send};
use reqwest::Method;
use serde_json::{Value, json};

struct Flow {
    _tmp: tempfile::TempDir,
    server: ServerProc,
    log: PathBuf,
    c: reqwest::Client,
    p: String,
    t: String,
    s: String,
}

/// A server whose `MAESTRO_CLI_PATH` is the fake playing `generation`, with a project, a
/// task and a registered coordinator session.
async fn flow(generation: &str, env: &[(&'static str, String)]) -> Flow {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("fake-cli.log");
    let mut all = vec![
        (
            "MAESTRO_CLI_PATH",
            fake_cli().to_string_lossy().into_owned(),
        ),
        ("FAKE_MAESTRO_LOG", log.to_string_lossy().into_owned()),
        ("FAKE_MAESTRO_CLI", generation.to_owned()),
    ];
    all.extend_from_slice(env);
    let server = ServerProc::start(&data, tmp.path(), &all);
    let c = client();
    let p = create(
        &c,
        &server,
        "/api/projects",
        json!({ "name": "flows", "workingDir": "/work/flows" }),
    )
    .await;
    let t = create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "Root task", "description": "", "priority": "high" }),
    )
    .await;
    let s = "sess_flowA_643918400".to_owned();
    let (st, body) = send(
        &c,
        Method::POST,
        &server.url("/api/sessions"),
        Some(json!({ "id": s, "projectId": p, "taskIds": [t], "name": "coordinator: sess_flowA_643918", "status": "working", "metadata": { "mode": "coordinator" } })),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    Flow {
        _tmp: tmp,
        server,
        log,
        c,
        p,
        t,
        s,
    }
}

impl Flow {
    /// `session spawn` as the 653bc6a CLI sends it from session `s`, plus `extra` keys.
    async fn spawn(&self, mode: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "projectId": self.p, "taskIds": [self.t], "mode": mode, "spawnSource": "session",
            "sessionId": self.s,
            "skills": [if mode == "coordinator" { "maestro-orchestrator" } else { "maestro-worker" }],
            "sessionName": "Spawned: Root task",
            "context": { "reason": "Execute task: Root task" }
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        send(
            &self.c,
            Method::POST,
            &self.server.url("/api/sessions/spawn"),
            Some(body),
        )
        .await
    }

    /// Every run of the fake so far: (argv, env).
    fn runs(&self) -> Vec<(Vec<String>, Value)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    serde_json::from_value(v["args"].clone()).unwrap(),
                    v["env"].clone(),
                )
            })
            .collect()
    }

    fn probes(&self) -> usize {
        self.runs()
            .iter()
            .filter(|(a, _)| a.iter().any(|x| x == "--help"))
            .count()
    }

    /// The last `manifest generate` run: its options as a map, and its env.
    fn last_generate(&self) -> (Vec<String>, Value) {
        self.runs()
            .into_iter()
            .rev()
            .find(|(a, _)| !a.iter().any(|x| x == "--help"))
            .expect("a manifest generate run")
    }
}

/// The value of `flag` in `args`.
fn opt<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .map(|i| args[i + 1].as_str())
}

fn manifest(spawned: &Value) -> Value {
    let path = Path::new(spawned["manifestPath"].as_str().unwrap());
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const LAUNCH: &str = r#"{"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess"}"#;

#[tokio::test]
async fn a_653bc6a_cli_gets_four_modes_and_the_launch_config() {
    let f = flow("new", &[]).await;
    let launch: Value = serde_json::from_str(LAUNCH).unwrap();
    let (st, spawned) = f.spawn("worker", json!({ "launchConfig": launch })).await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(f.probes(), 1, "the CLI was asked once");
    let (args, env) = f.last_generate();
    assert_eq!(opt(&args, "--mode"), Some("coordinated-worker"));
    assert_eq!(opt(&args, "--launch-config"), Some(LAUNCH));
    assert_eq!(opt(&args, "--agent-tool"), Some("codex"));
    assert_eq!(opt(&args, "--model"), None);
    assert_eq!(env["MAESTRO_PERMISSION_MODE"], "bypassPermissions");
    let m = manifest(&spawned);
    assert_eq!(m["mode"], "coordinated-worker");
    assert_eq!(m["agentTool"], "codex");
    assert_eq!(m["session"]["launchConfig"]["model"], "gpt-5.5");
    assert_eq!(m["coordinatorSessionId"], json!(f.s));
    let session = &spawned["session"];
    assert_eq!(session["metadata"]["mode"], "coordinated-worker");
    assert_eq!(session["metadata"]["launchConfig"], launch);
    assert_eq!(session["env"]["MAESTRO_MODE"], "coordinated-worker");

    // A coordinator with a team, member overrides and a delegate permission mode; the
    // answer of the probe is kept.
    let overrides = json!({ "tm_a": { "model": "opus" } });
    let (st, spawned) = f
        .spawn(
            "coordinator",
            json!({ "teamId": "team_1", "memberOverrides": overrides, "delegatePermissionMode": "readOnly", "permissionMode": "acceptEdits" }),
        )
        .await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(f.probes(), 1, "detected once, then cached");
    let (args, env) = f.last_generate();
    assert_eq!(opt(&args, "--mode"), Some("coordinated-coordinator"));
    assert_eq!(opt(&args, "--team-id"), Some("team_1"));
    assert_eq!(env["MAESTRO_PERMISSION_MODE"], "acceptEdits");
    assert_eq!(env["MAESTRO_DELEGATE_PERMISSION_MODE"], "readOnly");
    let sent: Value =
        serde_json::from_str(env["MAESTRO_MEMBER_OVERRIDES"].as_str().unwrap()).unwrap();
    assert_eq!(sent, overrides);
    assert_eq!(manifest(&spawned)["mode"], "coordinated-coordinator");
    assert_eq!(manifest(&spawned)["teamId"], "team_1");
    assert_eq!(spawned["session"]["teamId"], "team_1");

    // Hermes runs on a 653bc6a CLI.
    let (st, spawned) = f
        .spawn(
            "worker",
            json!({ "launchConfig": {"provider":"hermes","model":"hermes-default"} }),
        )
        .await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(manifest(&spawned)["agentTool"], "hermes");
}

#[tokio::test]
async fn a_7950ff3_cli_gets_the_legacy_vocabulary() {
    let f = flow("old", &[]).await;
    let (st, spawned) = f.spawn("worker", json!({ "launchConfig": serde_json::from_str::<Value>(LAUNCH).unwrap(), "teamId": "team_1" })).await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(f.probes(), 1);
    let (args, env) = f.last_generate();
    assert_eq!(opt(&args, "--mode"), Some("execute"));
    assert_eq!(opt(&args, "--model"), Some("gpt-5.5"));
    assert_eq!(opt(&args, "--agent-tool"), Some("codex"));
    assert!(
        !args
            .iter()
            .any(|a| a.starts_with("--launch-config") || a.starts_with("--team-id")),
        "{args:?}"
    );
    assert_eq!(env["MAESTRO_PERMISSION_MODE"], Value::Null);
    assert_eq!(manifest(&spawned)["mode"], "execute");
    // The session records the mode as the 653bc6a server does, whatever the CLI.
    assert_eq!(spawned["session"]["metadata"]["mode"], "coordinated-worker");

    let (st, spawned) = f.spawn("coordinator", json!({})).await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(opt(&f.last_generate().0, "--mode"), Some("coordinate"));
    assert_eq!(manifest(&spawned)["mode"], "coordinate");
    assert_eq!(f.probes(), 1, "detected once, then cached");

    // The 7950ff3 CLI cannot run hermes: a clear failure, the session marked failed.
    let (st, err) = f
        .spawn(
            "worker",
            json!({ "launchConfig": {"provider":"hermes","model":"hermes-default"} }),
        )
        .await;
    assert_eq!(st, 500, "{err}");
    assert_eq!(err["code"], "MANIFEST_GENERATION_FAILED");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("does not support the agent tool hermes"),
        "{err}"
    );
    let (_, failed) = send(
        &f.c,
        Method::GET,
        &f.server
            .url(&format!("/api/sessions?projectId={}&status=failed", f.p)),
        None,
    )
    .await;
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
}

#[tokio::test]
async fn spawn_cli_modes_overrides_the_probe() {
    // A 653bc6a CLI configured as legacy: no probe, the legacy vocabulary.
    let f = flow("new", &[("MAESTRO_SPAWN__CLI_MODES", "legacy".into())]).await;
    let (st, spawned) = f.spawn("worker", json!({})).await;
    assert_eq!(st, 201, "{spawned}");
    assert_eq!(f.probes(), 0);
    assert_eq!(opt(&f.last_generate().0, "--mode"), Some("execute"));
    assert_eq!(
        manifest(&spawned)["mode"],
        "worker",
        "the new CLI maps execute"
    );

    // A 7950ff3 CLI wrongly configured as current refuses the four-mode value, as the real
    // one does (exit 1): the spawn fails and says so.
    let f = flow("old", &[("MAESTRO_SPAWN__CLI_MODES", "current".into())]).await;
    let (st, err) = f.spawn("worker", json!({})).await;
    assert_eq!(st, 500, "{err}");
    assert_eq!(f.probes(), 0);
    assert_eq!(
        opt(&f.last_generate().0, "--mode"),
        Some("coordinated-worker")
    );
    assert_eq!(
        err["message"],
        "Failed to generate manifest: Manifest generation failed (exit code 1): "
    );
}

/// The fake plays each CLI's `manifest generate` as the real ones behave (checked against
/// /work/refcli): the old one refuses the four modes and the newer options silently or with
/// commander's error, the new one takes both vocabularies.
#[test]
fn the_fake_cli_refuses_what_each_real_cli_refuses() {
    let run = |generation: &str, extra: &[&str]| {
        let mut args = vec![
            "manifest",
            "generate",
            "--project-id",
            "p",
            "--task-ids",
            "t",
            "--output",
            "/nonexistent/m.json",
        ];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(fake_cli())
            .args(&args)
            .env("FAKE_MAESTRO_CLI", generation)
            .env_remove("FAKE_MAESTRO_LOG")
            .env("DATA_DIR", "/nonexistent")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for mode in [
        "worker",
        "coordinator",
        "coordinated-worker",
        "coordinated-coordinator",
    ] {
        assert_eq!(
            run("old", &["--mode", mode]),
            (Some(1), String::new()),
            "{mode}"
        );
    }
    let (code, err) = run("old", &["--mode", "execute", "--launch-config", "{}"]);
    assert_eq!(
        (code, err.trim()),
        (Some(1), "error: unknown option '--launch-config'")
    );
    let (code, err) = run("old", &["--mode", "execute", "--team-id", "x"]);
    assert_eq!(
        (code, err.trim()),
        (Some(1), "error: unknown option '--team-id'")
    );
    assert_eq!(
        run("old", &["--mode", "execute", "--agent-tool", "hermes"]).0,
        Some(1)
    );
    let (code, err) = run("new", &["--mode", "boss"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("Invalid mode: boss."), "{err}");
    let (code, err) = run("new", &["--mode", "worker", "--launch-config", "{"]);
    assert_eq!((code, err.trim()), (Some(1), "Invalid launch config JSON"));
}
