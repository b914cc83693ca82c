//! [`CliManifestGenerator`]: runs `maestro manifest generate` as the reference does
//! (ref §3.3.6 step 11), with a time limit. The CLI reads projects and tasks from `DATA_DIR`;
//! [`ManifestDataSource`] says where that directory comes from.
//!
//! Two generations of the CLI are in use (issue 13, NEWER-CLI-REQUESTS §4.3): the 7950ff3
//! CLI knows only `--mode execute|coordinate`, `--model` and the tools claude-code, codex,
//! gemini, and exits 1 on anything else; the 653bc6a CLI also takes the four modes,
//! `--launch-config`, `--team-id`, the tool hermes and the environment
//! `MAESTRO_PERMISSION_MODE`, `MAESTRO_DELEGATE_PERMISSION_MODE`, `MAESTRO_MEMBER_OVERRIDES`.
//! [`CliModes`] says which one is installed; `auto` asks the CLI once
//! (`manifest generate --help`) and keeps the answer.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use maestro_domain::entities::AgentTool;
use maestro_domain::ports::{GeneratedManifest, ManifestGenerator, ManifestRequest};
use maestro_fs_store::FsStore;
use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio::sync::OnceCell;

use crate::spawn_data::{SpawnDataPorts, materialise};

/// Where the CLI's `DATA_DIR` comes from.
#[derive(Clone)]
pub enum ManifestDataSource {
    /// The filesystem store's own data directory.
    DataDir {
        /// The data directory.
        dir: PathBuf,
        /// The store whose files the CLI reads: flushed before each run so the CLI sees
        /// every acknowledged write.
        store: Option<Arc<FsStore>>,
    },
    /// Any other store: for each run, the records the request needs are written to a fresh
    /// directory under `scratch_root` in the reference layout (see [`crate::spawn_data`]),
    /// and the directory is removed when the CLI has finished.
    Materialised {
        /// The repositories to read.
        ports: SpawnDataPorts,
        /// Parent of the per-spawn directories (default: the system temp directory).
        scratch_root: PathBuf,
    },
}

/// Which `maestro manifest generate` the configured CLI is (`spawn.cli_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CliModes {
    /// Ask the CLI once, at the first spawn: a `manifest generate --help` that mentions
    /// `--launch-config` or `coordinated-worker` is [`CliModes::Current`], any other answer
    /// [`CliModes::Legacy`]. A probe that fails (no CLI, timeout, non-zero exit) counts as
    /// legacy for that spawn and is retried at the next one.
    Auto,
    /// The 7950ff3 CLI: `--mode execute|coordinate`, `--model`, no hermes.
    Legacy,
    /// The 653bc6a CLI: the four modes, `--launch-config`, `--team-id`, hermes.
    Current,
}

/// The generation a probe or the configuration settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    Legacy,
    Current,
}

/// Time limit of the `--help` probe (it never needs the full `spawn.timeout_ms`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// The `maestro` CLI as manifest generator.
#[derive(Clone)]
pub struct CliManifestGenerator {
    /// CLI binary (`MAESTRO_CLI_PATH`, default `maestro`).
    pub cli_path: String,
    /// `<SESSION_DIR>`: manifests go to `<SESSION_DIR>/<sessionId>/manifest.json`.
    pub session_dir: PathBuf,
    /// Where the CLI reads projects and tasks from (`DATA_DIR`).
    pub data: ManifestDataSource,
    /// `MAESTRO_SERVER_URL` for the CLI.
    pub server_url: String,
    /// Time limit.
    pub timeout: Duration,
    /// Which CLI generation to speak to (`spawn.cli_modes`).
    pub modes: CliModes,
    /// The generation found by the `auto` probe, once one succeeded.
    pub detected: Arc<OnceCell<CliModes>>,
}

/// The CLI's `DATA_DIR` for one run; a materialised directory is removed on drop.
enum RunDataDir {
    Shared(PathBuf),
    Scratch(tempfile::TempDir),
}

impl RunDataDir {
    fn path(&self) -> &std::path::Path {
        match self {
            Self::Shared(p) => p,
            Self::Scratch(t) => t.path(),
        }
    }

    /// Removes a scratch directory off the async threads, logging (not failing) on error.
    async fn close(self) {
        if let Self::Scratch(dir) = self {
            let path = dir.path().to_path_buf();
            match tokio::task::spawn_blocking(move || dir.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, dir = %path.display(), "could not remove the spawn data directory");
                }
                Err(e) => tracing::warn!(error = %e, "spawn data directory cleanup failed"),
            }
        }
    }
}

const NOT_FOUND: &str = "maestro CLI not found. Please install maestro: npm install -g maestro-cli";

/// Appends one option with its value: `flag value` as the reference passes it, or
/// `flag=value` when the value starts with `-`. The CLI's parser (commander) reads a
/// separate argv entry starting with `-` as an option of its own (`--model --output=/x`
/// would redirect the manifest), but takes everything after the `=` of `--flag=value` as
/// the value. The spawn service already refuses such values (spec §2, issue 12); this keeps
/// any that slip through (stored data, another caller) from becoming options.
fn push_option(args: &mut Vec<String>, flag: &str, value: String) {
    if value.starts_with('-') {
        args.push(format!("{flag}={value}"));
    } else {
        args.push(flag.to_owned());
        args.push(value);
    }
}

#[async_trait]
impl ManifestGenerator for CliManifestGenerator {
    async fn generate(&self, req: &ManifestRequest) -> Result<GeneratedManifest, String> {
        let generation = self.generation().await;
        if generation == Generation::Legacy && req.agent_tool == Some(AgentTool::Hermes) {
            return Err(format!(
                "the maestro CLI at {} does not support the agent tool hermes (it takes \
                 claude-code, codex or gemini); install a newer maestro CLI (653bc6a or \
                 later), or set spawn.cli_modes = \"current\" if it already is one",
                self.cli_path
            ));
        }
        let data_dir = self.prepare_data_dir(req).await?;
        let result = self.run(req, generation, data_dir.path()).await;
        data_dir.close().await;
        result
    }
}

impl CliManifestGenerator {
    /// The CLI generation to speak to: the configured one, or the cached answer of the
    /// `--help` probe (run once; a failed probe is not cached and counts as legacy).
    async fn generation(&self) -> Generation {
        let modes = match self.modes {
            CliModes::Auto => match self.detected.get_or_try_init(|| self.probe()).await {
                Ok(found) => *found,
                Err(e) => {
                    tracing::warn!(cli = %self.cli_path, error = %e, "could not tell which maestro CLI this is; passing the legacy execute|coordinate modes");
                    CliModes::Legacy
                }
            },
            configured => configured,
        };
        match modes {
            CliModes::Current => Generation::Current,
            CliModes::Legacy | CliModes::Auto => Generation::Legacy,
        }
    }

    /// Runs `<cli> manifest generate --help` (NEWER-CLI-REQUESTS §4.3: both CLIs print
    /// version 0.1.0, only the 653bc6a one documents `--launch-config` and the
    /// `coordinated-*` modes).
    async fn probe(&self) -> Result<CliModes, String> {
        let mut cmd = Command::new(&self.cli_path);
        cmd.args(["manifest", "generate", "--help"])
            // The 653bc6a CLI logs every command to DATA_DIR/command-logs otherwise.
            .env("MAESTRO_DISABLE_COMMAND_TRACKING", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| format!("cannot run it: {e}"))?;
        let out = tokio::time::timeout(PROBE_TIMEOUT.min(self.timeout), child.wait_with_output())
            .await
            .map_err(|_| "manifest generate --help timed out".to_owned())?
            .map_err(|e| format!("cannot run it: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "manifest generate --help exited with {}",
                out.status
            ));
        }
        let help = String::from_utf8_lossy(&out.stdout);
        let found = if help.contains("--launch-config") || help.contains("coordinated-worker") {
            CliModes::Current
        } else {
            CliModes::Legacy
        };
        tracing::info!(cli = %self.cli_path, generation = ?found, "maestro CLI detected");
        Ok(found)
    }

    /// The CLI's argv (ref §3.3.6 step 11; NEWER-CLI-REQUESTS §4.3 for a 653bc6a CLI). Every
    /// value goes through [`push_option`], so a value starting with `-` is never an argv
    /// entry of its own.
    fn args(&self, req: &ManifestRequest, generation: Generation, output: &str) -> Vec<String> {
        let current = generation == Generation::Current;
        let mut args: Vec<String> = vec!["manifest".into(), "generate".into()];
        push_option(
            &mut args,
            "--mode",
            req.cli_mode(current).as_str().to_owned(),
        );
        push_option(&mut args, "--project-id", req.project_id.clone());
        push_option(&mut args, "--task-ids", req.task_ids.join(","));
        push_option(&mut args, "--skills", req.skills.join(","));
        push_option(&mut args, "--output", output.to_owned());
        match (&req.launch_config, &req.model) {
            (Some(lc), _) if current => {
                let json = serde_json::to_string(lc).unwrap_or_default();
                push_option(&mut args, "--launch-config", json);
            }
            (_, Some(m)) => push_option(&mut args, "--model", m.clone()),
            (_, None) => {}
        }
        if let Some(t) = req.agent_tool.filter(|t| *t != AgentTool::ClaudeCode) {
            push_option(&mut args, "--agent-tool", t.as_str().to_owned());
        }
        if !req.reference_task_ids.is_empty() {
            push_option(
                &mut args,
                "--reference-task-ids",
                req.reference_task_ids.join(","),
            );
        }
        if !req.team_member_ids.is_empty() {
            push_option(
                &mut args,
                "--team-member-ids",
                req.team_member_ids.join(","),
            );
        }
        if let Some(id) = &req.team_member_id {
            push_option(&mut args, "--team-member-id", id.clone());
        }
        if let Some(id) = req.team_id.as_ref().filter(|_| current) {
            push_option(&mut args, "--team-id", id.clone());
        }
        args
    }

    /// Makes `DATA_DIR` current for `req`: flushes the filesystem store, or writes the
    /// request's records into a fresh scratch directory.
    async fn prepare_data_dir(&self, req: &ManifestRequest) -> Result<RunDataDir, String> {
        match &self.data {
            ManifestDataSource::DataDir { dir, store } => {
                if let Some(store) = store {
                    store.flush().await.map_err(|e| {
                        format!(
                            "Failed to spawn maestro CLI: could not flush the data directory: {e}"
                        )
                    })?;
                }
                Ok(RunDataDir::Shared(dir.clone()))
            }
            ManifestDataSource::Materialised {
                ports,
                scratch_root,
            } => {
                let root = scratch_root.clone();
                let prefix = format!("maestro-spawn-{}-", req.session_id);
                let dir = tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&root)?;
                    tempfile::Builder::new().prefix(&prefix).tempdir_in(&root)
                })
                .await
                .map_err(|e| format!("Failed to spawn maestro CLI: {e}"))?
                .map_err(|e| {
                    format!(
                        "Failed to spawn maestro CLI: cannot create a data directory in {}: {e}",
                        scratch_root.display()
                    )
                })?;
                let dir = RunDataDir::Scratch(dir);
                if let Err(e) = materialise(ports, req, dir.path()).await {
                    dir.close().await;
                    return Err(format!(
                        "Failed to spawn maestro CLI: could not write the project and task files: {e}"
                    ));
                }
                Ok(dir)
            }
        }
    }

    async fn run(
        &self,
        req: &ManifestRequest,
        generation: Generation,
        data_dir: &std::path::Path,
    ) -> Result<GeneratedManifest, String> {
        let dir = self.session_dir.join(&req.session_id);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            format!(
                "Failed to spawn maestro CLI: cannot create {}: {e}",
                dir.display()
            )
        })?;
        let output = dir.join("manifest.json");
        let output_str = output.to_string_lossy().into_owned();
        let mut cmd = Command::new(&self.cli_path);
        cmd.args(self.args(req, generation, &output_str))
            .env("MAESTRO_SERVER_URL", &self.server_url)
            .env("DATA_DIR", data_dir)
            .env("SESSION_DIR", &self.session_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(d) = &req.initial_directive {
            cmd.env("MAESTRO_INITIAL_DIRECTIVE", d.to_string());
        }
        if let Some(c) = &req.coordinator_session_id {
            cmd.env("MAESTRO_COORDINATOR_SESSION_ID", c);
        }
        if generation == Generation::Current {
            if let Some(o) = &req.member_overrides {
                cmd.env("MAESTRO_MEMBER_OVERRIDES", o.to_string());
            }
            if let Some(p) = req.permission_mode {
                cmd.env("MAESTRO_PERMISSION_MODE", p.as_str());
            }
            if let Some(p) = req.delegate_permission_mode {
                cmd.env("MAESTRO_DELEGATE_PERMISSION_MODE", p.as_str());
            }
        }
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NOT_FOUND.to_owned()
            } else {
                format!("Failed to spawn maestro CLI: {e}")
            }
        })?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                format!(
                    "Manifest generation timed out after {} ms",
                    self.timeout.as_millis()
                )
            })?
            .map_err(|e| format!("Failed to spawn maestro CLI: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if stderr.contains("command not found") || stderr.contains("ENOENT") {
                return Err(NOT_FOUND.to_owned());
            }
            let code = out
                .status
                .code()
                .map_or_else(|| "signal".to_owned(), |c| c.to_string());
            return Err(format!(
                "Manifest generation failed (exit code {code}): {stderr}"
            ));
        }
        let text = tokio::fs::read_to_string(&output)
            .await
            .map_err(|e| format!("Failed to read manifest: {e}"))?;
        let manifest =
            serde_json::from_str(&text).map_err(|e| format!("Failed to read manifest: {e}"))?;
        Ok(GeneratedManifest {
            path: output_str,
            manifest,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use maestro_domain::entities::AgentMode;

    use super::*;

    fn generator() -> CliManifestGenerator {
        CliManifestGenerator {
            cli_path: "maestro".into(),
            session_dir: PathBuf::from("/sessions"),
            data: ManifestDataSource::DataDir {
                dir: PathBuf::from("/data"),
                store: None,
            },
            server_url: "http://127.0.0.1:3000".into(),
            timeout: Duration::from_secs(1),
            modes: CliModes::Auto,
            detected: Arc::default(),
        }
    }

    fn request() -> ManifestRequest {
        ManifestRequest {
            session_id: "sess_1".into(),
            mode: AgentMode::Execute,
            project_id: "proj_1".into(),
            task_ids: vec!["task_1".into(), "task_2".into()],
            skills: vec!["maestro-worker".into()],
            model: None,
            agent_tool: None,
            launch_config: None,
            reference_task_ids: Vec::new(),
            team_member_ids: Vec::new(),
            team_member_id: None,
            team_id: None,
            initial_directive: None,
            coordinator_session_id: None,
            permission_mode: None,
            delegate_permission_mode: None,
            member_overrides: None,
        }
    }

    /// What the 653bc6a CLI's `session spawn --launch-config …` leads to, from a parent.
    fn newer_request() -> ManifestRequest {
        let mut req = request();
        req.mode = AgentMode::CoordinatedCoordinator;
        req.coordinator_session_id = Some("sess_parent".into());
        req.launch_config = Some(
            serde_json::from_value(serde_json::json!({
                "provider": "openai", "model": "gpt-5.5", "reasoningEffort": "high",
                "speed": "fast", "accessMode": "fullAccess"
            }))
            .unwrap(),
        );
        req.model = Some("gpt-5.5".into());
        req.agent_tool = Some(AgentTool::Codex);
        req.team_member_id = Some("tm_1".into());
        req.team_id = Some("team_1".into());
        req
    }

    #[test]
    fn reference_argv_for_ordinary_values() {
        let mut req = request();
        req.model = Some("opus".into());
        req.agent_tool = Some(AgentTool::Codex);
        req.reference_task_ids = vec!["task_9".into()];
        req.team_member_id = Some("tm_1".into());
        assert_eq!(
            generator().args(&req, Generation::Legacy, "/sessions/sess_1/manifest.json"),
            [
                "manifest",
                "generate",
                "--mode",
                "execute",
                "--project-id",
                "proj_1",
                "--task-ids",
                "task_1,task_2",
                "--skills",
                "maestro-worker",
                "--output",
                "/sessions/sess_1/manifest.json",
                "--model",
                "opus",
                "--agent-tool",
                "codex",
                "--reference-task-ids",
                "task_9",
                "--team-member-id",
                "tm_1",
            ]
        );
    }

    #[test]
    fn a_value_starting_with_a_dash_is_never_an_argv_entry_of_its_own() {
        let mut req = request();
        req.model = Some("--output=/tmp/x".into());
        req.skills = vec!["-x".into()];
        req.team_member_ids = vec!["-a".into(), "b".into()];
        let args = generator().args(&req, Generation::Legacy, "/sessions/sess_1/manifest.json");
        assert!(
            args.contains(&"--model=--output=/tmp/x".to_owned()),
            "{args:?}"
        );
        assert!(args.contains(&"--skills=-x".to_owned()), "{args:?}");
        assert!(
            args.contains(&"--team-member-ids=-a,b".to_owned()),
            "{args:?}"
        );
        for (i, a) in args.iter().enumerate() {
            if a.starts_with('-') {
                assert!(a.starts_with("--"), "{args:?}");
                // A flag is followed by its value, or carries it after `=`.
                let carries = a.contains('=');
                let next_is_value = args.get(i + 1).is_some_and(|n| !n.starts_with('-'));
                assert!(carries || next_is_value, "dangling flag {a} in {args:?}");
            }
        }
        assert_eq!(args.iter().filter(|a| a.starts_with("--output")).count(), 1);
    }

    #[test]
    fn a_legacy_cli_gets_its_own_vocabulary_and_no_newer_options() {
        let args = generator().args(
            &newer_request(),
            Generation::Legacy,
            "/sessions/sess_1/manifest.json",
        );
        assert_eq!(
            args,
            [
                "manifest",
                "generate",
                "--mode",
                "coordinate",
                "--project-id",
                "proj_1",
                "--task-ids",
                "task_1,task_2",
                "--skills",
                "maestro-worker",
                "--output",
                "/sessions/sess_1/manifest.json",
                "--model",
                "gpt-5.5",
                "--agent-tool",
                "codex",
                "--team-member-id",
                "tm_1",
            ]
        );
    }

    #[test]
    fn a_current_cli_gets_four_modes_the_launch_config_and_the_team() {
        let args = generator().args(
            &newer_request(),
            Generation::Current,
            "/sessions/sess_1/manifest.json",
        );
        assert_eq!(
            args,
            [
                "manifest",
                "generate",
                "--mode",
                "coordinated-coordinator",
                "--project-id",
                "proj_1",
                "--task-ids",
                "task_1,task_2",
                "--skills",
                "maestro-worker",
                "--output",
                "/sessions/sess_1/manifest.json",
                "--launch-config",
                r#"{"provider":"openai","model":"gpt-5.5","reasoningEffort":"high","speed":"fast","accessMode":"fullAccess"}"#,
                "--agent-tool",
                "codex",
                "--team-member-id",
                "tm_1",
                "--team-id",
                "team_1",
            ]
        );
        // A legacy mode from a parent becomes the coordinated four-mode value.
        let mut req = request();
        req.coordinator_session_id = Some("sess_parent".into());
        req.model = Some("opus".into());
        let args = generator().args(&req, Generation::Current, "/o.json");
        assert_eq!(args[2..4], ["--mode", "coordinated-worker"]);
        assert_eq!(args[args.len() - 2..], ["--model", "opus"]);
    }

    #[tokio::test]
    async fn a_configured_generation_runs_no_probe_and_hermes_needs_a_current_cli() {
        let mut legacy = generator();
        legacy.cli_path = "/nonexistent/maestro".into();
        legacy.modes = CliModes::Legacy;
        let mut req = request();
        req.agent_tool = Some(AgentTool::Hermes);
        let e = legacy.generate(&req).await.unwrap_err();
        assert!(e.contains("does not support the agent tool hermes"), "{e}");
        assert!(legacy.detected.get().is_none(), "no probe ran");

        let sessions = tempfile::tempdir().unwrap();
        let mut current = legacy.clone();
        current.modes = CliModes::Current;
        current.session_dir = sessions.path().to_path_buf();
        assert_eq!(current.generation().await, Generation::Current);
        // With a current CLI the request goes on (and here fails: there is no CLI).
        let e = current.generate(&req).await.unwrap_err();
        assert_eq!(e, NOT_FOUND);
    }

    #[tokio::test]
    async fn a_failed_probe_counts_as_legacy_and_is_not_kept() {
        let mut g = generator();
        g.cli_path = "/nonexistent/maestro".into();
        assert_eq!(g.generation().await, Generation::Legacy);
        assert!(g.detected.get().is_none(), "retried at the next spawn");
    }
}
