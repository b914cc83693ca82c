//! End-to-end durability: SIGKILL during concurrent writes loses no acknowledged write and
//! leaves a directory that loads; 100 concurrent per-session status updates lose none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::{ServerProc, client, create, send};
use reqwest::Method;
use serde_json::{Value, json};

fn all_json_files_parse(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            n += all_json_files_parse(&path);
        } else if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("torn file {}: {e}", path.display()));
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_concurrent_writes_keeps_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let p = create(&c, &server, "/api/projects", json!({ "name": "crash" })).await;

    // task id → highest acknowledged version (its title is "v<version>").
    let acked: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    // Signalled by the writer whose acknowledgement brings the total to KILL_AFTER.
    const KILL_AFTER: usize = 400;
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (c, base, p, acked, mut stop) = (
            c.clone(),
            server.base.clone(),
            p.clone(),
            acked.clone(),
            stop_rx.clone(),
        );
        let (count, enough) = (count.clone(), enough.clone());
        let ack = move |acked: &Mutex<HashMap<String, u64>>, id: &str, v: u64| {
            acked.lock().unwrap().insert(id.to_owned(), v);
            if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == KILL_AFTER {
                enough.notify_one();
            }
        };
        writers.push(tokio::spawn(async move {
            loop {
                let (st, task) = send(
                    &c,
                    Method::POST,
                    &format!("{base}/api/tasks"),
                    Some(json!({ "projectId": p, "title": "v0" })),
                )
                .await;
                if st != 201 || *stop.borrow_and_update() {
                    return;
                }
                let id = task["id"].as_str().unwrap().to_owned();
                ack(&acked, &id, 0);
                for v in 1..=5u64 {
                    let res = c
                        .patch(format!("{base}/api/tasks/{id}"))
                        .header("content-type", "application/json")
                        .body(json!({ "title": format!("v{v}") }).to_string())
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 200 => {
                            ack(&acked, &id, v);
                        }
                        _ => return,
                    }
                }
            }
        }));
    }
    // Kill once a few hundred writes were acknowledged (bounded wait).
    tokio::time::timeout(std::time::Duration::from_secs(60), enough.notified())
        .await
        .expect("400 writes acknowledged within 60 s");
    let status = server.signal_and_wait("KILL");
    assert!(!status.success());
    let _ = stop_tx.send(true);
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(all_json_files_parse(&data) > 0);

    let server = ServerProc::start(&data, tmp.path(), &[]);
    let (_, tasks) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/tasks?projectId={p}")),
        None,
    )
    .await;
    let stored: HashMap<String, u64> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let v = t["title"]
                .as_str()
                .unwrap()
                .trim_start_matches('v')
                .parse()
                .unwrap();
            (t["id"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    for (id, v) in &acked {
        let got = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged task {id} lost"));
        assert!(got >= v, "task {id}: acknowledged v{v}, stored v{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_session_status_updates_on_one_task() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = ServerProc::start(&data, tmp.path(), &[]);
    let c = client();
    let p = create(&c, &server, "/api/projects", json!({ "name": "x" })).await;
    let t = create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "T" }),
    )
    .await;
    let mut sessions = Vec::new();
    for _ in 0..100 {
        let (_, s) = send(
            &c,
            Method::POST,
            &server.url("/api/sessions"),
            Some(json!({ "projectId": p, "taskIds": [] })),
        )
        .await;
        sessions.push(s["id"].as_str().unwrap().to_owned());
    }
    let mut calls = Vec::new();
    for s in &sessions {
        let (c, url, s) = (c.clone(), server.url(&format!("/api/tasks/{t}")), s.clone());
        calls.push(tokio::spawn(async move {
            send(&c, Method::PATCH, &url, Some(json!({ "updateSource": "session", "sessionId": s, "sessionStatus": "working" }))).await.0
        }));
    }
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let (_, task) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/tasks/{t}")),
        None,
    )
    .await;
    let statuses = task["taskSessionStatuses"].as_object().unwrap();
    assert_eq!(statuses.len(), 100, "no per-session status lost");
    assert_eq!(
        task["sessionIds"].as_array().unwrap().len(),
        100,
        "no link lost"
    );
    drop(server);
    // And all of it was durable.
    let server = ServerProc::start(&data, tmp.path(), &[]);
    let (_, task) = send(
        &c,
        Method::GET,
        &server.url(&format!("/api/tasks/{t}")),
        None,
    )
    .await;
    assert_eq!(task["taskSessionStatuses"].as_object().unwrap().len(), 100);
}
