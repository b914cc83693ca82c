//! Issue 12 item 7: a session↔task link is stored on both sides, written by two port calls;
//! a SIGKILL between them used to leave one-sided links for good. The real binary is killed
//! at random points while sessions are created with tasks and tasks are added to and removed
//! from sessions concurrently; after each restart every link must be two-sided.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ServerProc, client, create, send};
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};

const ROUNDS: usize = 10;
const WORKERS: usize = 6;
const TASKS: usize = 6;

/// A request that may fail because the server was killed: `None` then.
async fn try_send(
    c: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let mut req = c
        .request(method, url)
        .header("content-type", "application/json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    let bytes = res.bytes().await.ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Every link of project `p` whose other side exists but does not list it back.
async fn one_sided(c: &reqwest::Client, server: &ServerProc, p: &str) -> Vec<String> {
    let (_, sessions) = send(
        c,
        Method::GET,
        &server.url(&format!("/api/sessions?projectId={p}")),
        None,
    )
    .await;
    let (_, tasks) = send(
        c,
        Method::GET,
        &server.url(&format!("/api/tasks?projectId={p}")),
        None,
    )
    .await;
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let sessions: HashMap<String, Vec<String>> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), ids(s, "taskIds")))
        .collect();
    let tasks: HashMap<String, Vec<String>> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), ids(t, "sessionIds")))
        .collect();
    let mut bad = Vec::new();
    for (s, task_ids) in &sessions {
        for t in task_ids {
            if tasks.get(t).is_some_and(|back| !back.contains(s)) {
                bad.push(format!("session {s} lists task {t}, not the reverse"));
            }
        }
    }
    for (t, session_ids) in &tasks {
        for s in session_ids {
            if sessions.get(s).is_some_and(|back| !back.contains(t)) {
                bad.push(format!("task {t} lists session {s}, not the reverse"));
            }
        }
    }
    bad.sort();
    bad
}

/// What the workers of one round share.
#[derive(Clone)]
struct Round {
    c: reqwest::Client,
    base: String,
    project: String,
    tasks: Arc<Vec<String>>,
    /// Sessions created so far (by acknowledged creates).
    sessions: Arc<Mutex<Vec<String>>>,
    answered: Arc<AtomicUsize>,
    enough: Arc<tokio::sync::Notify>,
    kill_after: usize,
}

/// One worker: creates sessions with tasks, adds and removes tasks, until a request fails
/// (the server was killed). Counts every answered request.
async fn churn(r: Round) {
    loop {
        let (op, picked, session) = {
            let mut rng = rand::rng();
            let n = rng.random_range(1..=3);
            let picked: Vec<String> = (0..n)
                .map(|_| r.tasks[rng.random_range(0..r.tasks.len())].clone())
                .collect();
            let known = r.sessions.lock().unwrap();
            let session =
                (!known.is_empty()).then(|| known[rng.random_range(0..known.len())].clone());
            (rng.random_range(0..3), picked, session)
        };
        let base = &r.base;
        let answer = match (op, session) {
            (1, Some(s)) => {
                let url = format!("{base}/api/sessions/{s}/tasks/{}", picked[0]);
                try_send(&r.c, Method::DELETE, &url, None).await
            }
            (2, Some(s)) => {
                let url = format!("{base}/api/sessions/{s}/tasks/{}", picked[0]);
                try_send(&r.c, Method::POST, &url, None).await
            }
            _ => {
                let body = json!({ "projectId": r.project, "taskIds": picked });
                let url = format!("{base}/api/sessions");
                let answer = try_send(&r.c, Method::POST, &url, Some(body)).await;
                if let Some((201, created)) = &answer {
                    let id = created["id"].as_str().unwrap().to_owned();
                    r.sessions.lock().unwrap().push(id);
                }
                answer
            }
        };
        let Some((status, body)) = answer else {
            return;
        };
        assert!(matches!(status, 200 | 201), "{status}: {body}");
        if r.answered.fetch_add(1, Ordering::SeqCst) + 1 == r.kill_after {
            r.enough.notify_one();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_link_changes_leaves_every_link_two_sided() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let c = client();
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let p = create(&c, &server, "/api/projects", json!({ "name": "links" })).await;
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let body = json!({ "projectId": p, "title": format!("t{i}") });
        tasks.push(create(&c, &server, "/api/tasks", body).await);
    }
    let tasks = Arc::new(tasks);
    let sessions: Arc<Mutex<Vec<String>>> = Arc::default();
    for n in 0..ROUNDS {
        // Kill after a random number of answered requests, with WORKERS requests in flight.
        let round = Round {
            c: c.clone(),
            base: server.base.clone(),
            project: p.clone(),
            tasks: tasks.clone(),
            sessions: sessions.clone(),
            answered: Arc::new(AtomicUsize::new(0)),
            enough: Arc::new(tokio::sync::Notify::new()),
            kill_after: rand::rng().random_range(5..60),
        };
        let (kill_after, enough) = (round.kill_after, round.enough.clone());
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(churn(round.clone())))
            .collect();
        tokio::time::timeout(Duration::from_secs(30), enough.notified())
            .await
            .unwrap_or_else(|_| panic!("round {n}: {kill_after} requests answered within 30 s"));
        let status = server.signal_and_wait("KILL");
        assert!(!status.success());
        for w in workers {
            w.await.unwrap();
        }
        server = ServerProc::start(&data, tmp.path(), &[]);
        let bad = one_sided(&c, &server, &p).await;
        assert!(
            bad.is_empty(),
            "round {n} (killed after {kill_after} answers): {bad:#?}"
        );
    }
}
