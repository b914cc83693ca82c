//! A client that disconnects during `GET /api/mail/wait/:id` cancels the wait and frees its
//! bus subscription (spec §3). Needs a real socket: `oneshot` cannot disconnect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Polls `cond` until true, at most `limit`; real time is unavoidable here because the
/// server notices the disconnect on its own schedule.
async fn eventually(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn disconnect_cancels_the_wait() {
    let h = support::Harness::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let bus = h.app.bus.clone();
    let base = bus.subscriber_count();

    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"GET /api/mail/wait/sess_1?projectId=p&timeout=120000 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n",
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(5), "the wait subscribed", || {
        bus.subscriber_count() == base + 1
    })
    .await;
    drop(conn);
    eventually(Duration::from_secs(5), "the wait was cancelled", || {
        bus.subscriber_count() == base
    })
    .await;
}
