//! Issue 12 item 4: a client that keeps reading loses nothing of a burst, however fast the
//! burst: the bridge's bus subscription and its frame ring are bounded by bytes with room for
//! bursts (they used to hold 1,024 events each, and the bridge, not the client, dropped half
//! of a burst of 7,519 events). Only a client that stalls loses frames (tests in
//! `legacy_ws.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use futures::StreamExt;
use maestro_domain::events::{EventBus, NewEvent};
use maestro_domain::ids::SystemClock;
use maestro_domain::memory::{DEFAULT_SUBSCRIBER_LIMITS, MemoryEventBus, ReplayConfig};
use maestro_socketio_gateway::{LegacyWsConfig, LegacyWsHub};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(30);

/// Emits `tasks × per_task` events of about 1 KB from concurrent tasks, as fast as the bus
/// takes them, while one client reads; returns how many event frames the client got.
async fn burst(bus_events: usize, config: LegacyWsConfig, tasks: usize, per_task: usize) -> u64 {
    let bus = Arc::new(MemoryEventBus::with_limits(
        Arc::new(SystemClock),
        maestro_domain::broadcast::RingLimits {
            max_items: bus_events,
            ..DEFAULT_SUBSCRIBER_LIMITS
        },
        ReplayConfig::default(),
    ));
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let hub = LegacyWsHub::start(bus.clone(), config, shutdown_rx);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = hub.clone();
    let app = Router::new().fallback(move |ws: WebSocketUpgrade| {
        let hub = handle.clone();
        async move { hub.upgrade(ws) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("connect");
    let mut count = hub.watch_client_count();
    tokio::time::timeout(WAIT, count.wait_for(|&n| n == 1))
        .await
        .expect("client registered")
        .expect("hub alive");

    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (_, mut rx) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = rx.next().await {
            if let Message::Text(text) = msg {
                let done = text.as_str().contains("\"end\"");
                counter.fetch_add(1, Ordering::SeqCst);
                if done {
                    break;
                }
            }
        }
    });
    let emitters: Vec<_> = (0..tasks)
        .map(|t| {
            let bus = bus.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let data =
                        json!({ "id": format!("task_{t}_{i}"), "description": "x".repeat(1_000) });
                    bus.emit(NewEvent::new("task:updated", "proj_1", data))
                        .await
                        .expect("emit");
                }
            })
        })
        .collect();
    for e in emitters {
        e.await.expect("emitter");
    }
    bus.emit(NewEvent::new(
        "project:updated",
        "proj_1",
        json!({ "id": "end" }),
    ))
    .await
    .expect("emit");
    tokio::time::timeout(WAIT, reader)
        .await
        .expect("the end marker arrives")
        .expect("reader");
    received.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_reading_gets_every_event_of_a_fast_burst() {
    let got = burst(
        DEFAULT_SUBSCRIBER_LIMITS.max_items,
        LegacyWsConfig::default(),
        8,
        1_250,
    )
    .await;
    assert_eq!(got, 10_001, "every event and the end marker");
}
