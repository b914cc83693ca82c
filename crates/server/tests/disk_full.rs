//! Issue 12 item 3, end to end: the data directory on a small tmpfs that fills up. Writes
//! then fail fast with 503 `STORE_UNAVAILABLE` (never a hang, never a 500), readers see only
//! what was acknowledged, `/ready` says why, the server takes writes again by itself once
//! space is freed, SIGTERM exits 0 promptly, and a restart finds every acknowledged write and
//! nothing else.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN); where that is refused the test says so and
//! skips. The same behaviour is covered without a mount by the filesystem store's injected
//! journal failures (`crates/fs-store/src/failure_tests.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ServerProc, client, create, send};
use reqwest::Method;
use serde_json::json;

/// A tmpfs mounted for the test; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        if out.status.success() {
            Some(Self(dir.to_path_buf()))
        } else {
            eprintln!(
                "skipping: cannot mount a tmpfs here ({}); the injected-failure tests in \
                 maestro-fs-store cover this behaviour",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_fast_and_recovers_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_fs) = Tmpfs::mount(&mnt, "4m") else {
        return;
    };
    // Space to free later. A quarter of the disk is enough: on a filling disk the journal is
    // checkpointed early, so it never holds much that the entity files still wait for.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 1 << 20]).unwrap();
    let data = mnt.join("data");
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let p = create(&c, &server, "/api/projects", json!({ "name": "full" })).await;

    let description = "x".repeat(16 << 10);
    let mut acked = Vec::new();
    let mut refused = 0;
    for i in 0..400 {
        let started = Instant::now();
        let (status, body) = send(
            &c,
            Method::POST,
            &server.url("/api/tasks"),
            Some(json!({ "projectId": p, "title": format!("t{i}"), "description": description })),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a write answered within bounds"
        );
        match status {
            201 => acked.push(body["id"].as_str().unwrap().to_owned()),
            503 => {
                assert_eq!(body["code"], "STORE_UNAVAILABLE", "{body}");
                refused += 1;
                if refused == 5 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        refused,
        5,
        "the disk filled up ({} tasks stored)",
        acked.len()
    );
    assert!(!acked.is_empty());

    // Only acknowledged tasks are visible.
    let (_, tasks) = send(&c, Method::GET, &server.url("/api/tasks"), None).await;
    let listed: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, acked, "no unacknowledged task is served");
    let (status, ready) = send(&c, Method::GET, &server.url("/ready"), None).await;
    assert_eq!(status, 503, "{ready}");

    // Space comes back: the store takes writes again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = send(
            &c,
            Method::POST,
            &server.url("/api/tasks"),
            Some(json!({ "projectId": p, "title": "after" })),
        )
        .await;
        if status == 201 {
            acked.push(body["id"].as_str().unwrap().to_owned());
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "writes work again once space is freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SIGTERM: a prompt, clean exit.
    let started = Instant::now();
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // Every acknowledged task and nothing else after a restart.
    let server = ServerProc::start(&data, tmp.path(), &[]);
    let (_, tasks) = send(&c, Method::GET, &server.url("/api/tasks"), None).await;
    let listed: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, acked);
}
