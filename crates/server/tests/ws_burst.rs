//! Issue 12 item 4: a raw-WebSocket client that keeps reading gets every event of a burst of
//! concurrent per-session status updates and link/unlink requests; the server's own
//! buffers (the bus subscription of the bridge, its frame ring) must not be what drops them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{ServerProc, client, create, send};
use futures::StreamExt;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// `maestro_events_emitted` from `/metrics`.
async fn emitted(c: &reqwest::Client, server: &ServerProc) -> u64 {
    let text = c
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("maestro_events_emitted "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maestro_events_emitted in {text}"))
}

/// The burst: 200 status updates and 400 link changes (here on 20 tasks and sessions;
/// the bridge's own limits are tested against a faster burst in maestro-socketio-gateway).
const PATCHES: usize = 200;
const LINKS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_keeps_reading_gets_every_event_of_a_burst() {
    let tmp = tempfile::tempdir().unwrap();
    let server = ServerProc::start(&tmp.path().join("data"), tmp.path(), &[]);
    let c = client();
    let p = create(&c, &server, "/api/projects", json!({ "name": "burst" })).await;
    let mut tasks = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..20 {
        let t = create(
            &c,
            &server,
            "/api/tasks",
            json!({ "projectId": p, "title": format!("t{i}") }),
        )
        .await;
        let s = create(
            &c,
            &server,
            "/api/sessions",
            json!({ "projectId": p, "taskIds": [t] }),
        )
        .await;
        tasks.push(t);
        sessions.push(s);
    }

    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", server.addr))
        .await
        .unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        let (_, mut rx) = ws.split();
        while let Some(Ok(msg)) = rx.next().await {
            if matches!(msg, Message::Text(_)) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    // The bridge has the client registered once its upgrade answered; one event proves the
    // path end to end before the burst starts.
    let before = emitted(&c, &server).await;
    create(
        &c,
        &server,
        "/api/tasks",
        json!({ "projectId": p, "title": "warm-up" }),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline, "the warm-up event arrives");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut burst = Vec::new();
    for i in 0..PATCHES {
        let (c, url, s) = (
            c.clone(),
            server.url(&format!("/api/tasks/{}", tasks[i % 20])),
            sessions[(i / 20) % 20].clone(),
        );
        burst.push(tokio::spawn(async move {
            let body =
                json!({ "sessionId": s, "sessionStatus": "working", "updateSource": "session" });
            send(&c, Method::PATCH, &url, Some(body)).await.0
        }));
    }
    for i in 0..LINKS {
        let method = if i % 2 == 0 {
            Method::POST
        } else {
            Method::DELETE
        };
        let (c, url) = (
            c.clone(),
            server.url(&format!(
                "/api/sessions/{}/tasks/{}",
                sessions[i % 20],
                tasks[(i / 2 + 1) % 20]
            )),
        );
        burst.push(tokio::spawn(
            async move { send(&c, method, &url, None).await.0 },
        ));
    }
    for b in burst {
        let status = b.await.unwrap();
        assert!(status < 500, "status {status}");
    }
    let expected = emitted(&c, &server).await - before;
    assert!(expected > 1_000, "a real burst: {expected} events");
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::SeqCst) < expected {
        assert!(
            Instant::now() < deadline,
            "received {} of {expected} events",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        received.load(Ordering::SeqCst),
        expected,
        "nothing more, nothing less"
    );
    reader.abort();
}
