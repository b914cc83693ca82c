//! Boots the real `maestro-server` binary on port 0 and waits for its ready line.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub mod pg;
pub mod proxy;

pub struct ServerProc {
    pub child: Child,
    pub addr: String,
    pub base: String,
    pub data_dir: PathBuf,
}

impl ServerProc {
    /// Starts the binary with `DATA_DIR=data_dir` plus `env`, and waits (bounded) for
    /// `maestro-server listening on <addr>` on stdout.
    pub fn start(data_dir: &Path, home: &Path, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro-server"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("PORT", "0")
            .env("DATA_DIR", data_dir)
            .env("SESSION_DIR", home.join("sessions"))
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn maestro-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not print its ready line within 30 s");
        let addr = line
            .strip_prefix("maestro-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            child,
            base: format!("http://{addr}"),
            addr,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a signal with the `kill` command and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that behaves like the CLI: JSON content type on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .request(method, url)
        .header("content-type", "application/json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// The fake CLI script, made executable.
pub fn fake_cli() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-maestro.js");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        perm.set_mode(0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    p
}

/// POSTs `body` to `path`, asserts `201 Created` and returns the new entity's `id`.
pub async fn create(c: &reqwest::Client, server: &ServerProc, path: &str, body: Value) -> String {
    let (status, created) = send(c, reqwest::Method::POST, &server.url(path), Some(body)).await;
    assert_eq!(status, 201, "POST {path}: {created}");
    created["id"].as_str().expect("id").to_owned()
}

/// Copies the directory tree `from` into `to` (created), files byte for byte.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
