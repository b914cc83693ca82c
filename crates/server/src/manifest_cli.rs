//! [`CliManifestGenerator`]: runs `maestro manifest generate` as the reference does
//! (ref §3.3.6 step 11), with a time limit. The CLI reads projects and tasks from `DATA_DIR`;
//! [`ManifestDataSource`] says where that directory comes from.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use maestro_domain::ports::{GeneratedManifest, ManifestGenerator, ManifestRequest};
use maestro_fs_store::FsStore;
use tokio::process::Command;

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
        let data_dir = self.prepare_data_dir(req).await?;
        let result = self.run(req, data_dir.path()).await;
        data_dir.close().await;
        result
    }
}

impl CliManifestGenerator {
    /// The CLI's argv (ref §3.3.6 step 11). Every value goes through [`push_option`], so a
    /// value starting with `-` is never an argv entry of its own.
    fn args(&self, req: &ManifestRequest, output: &str) -> Vec<String> {
        let mut args: Vec<String> = vec!["manifest".into(), "generate".into()];
        push_option(&mut args, "--mode", req.mode.clone());
        push_option(&mut args, "--project-id", req.project_id.clone());
        push_option(&mut args, "--task-ids", req.task_ids.join(","));
        push_option(&mut args, "--skills", req.skills.join(","));
        push_option(&mut args, "--output", output.to_owned());
        if let Some(m) = &req.model {
            push_option(&mut args, "--model", m.clone());
        }
        if let Some(t) = req.agent_tool.as_ref().filter(|t| *t != "claude-code") {
            push_option(&mut args, "--agent-tool", t.clone());
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
        cmd.args(self.args(req, &output_str))
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
        }
    }

    fn request() -> ManifestRequest {
        ManifestRequest {
            session_id: "sess_1".into(),
            mode: "execute".into(),
            project_id: "proj_1".into(),
            task_ids: vec!["task_1".into(), "task_2".into()],
            skills: vec!["maestro-worker".into()],
            model: None,
            agent_tool: None,
            reference_task_ids: Vec::new(),
            team_member_ids: Vec::new(),
            team_member_id: None,
            initial_directive: None,
            coordinator_session_id: None,
        }
    }

    #[test]
    fn reference_argv_for_ordinary_values() {
        let mut req = request();
        req.model = Some("opus".into());
        req.agent_tool = Some("codex".into());
        req.reference_task_ids = vec!["task_9".into()];
        req.team_member_id = Some("tm_1".into());
        assert_eq!(
            generator().args(&req, "/sessions/sess_1/manifest.json"),
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
        let args = generator().args(&req, "/sessions/sess_1/manifest.json");
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
}
