//! Fan-out latency of the legacy WebSocket bridge, with the clients in a separate process.
//!
//! ```text
//! cargo run --release -p maestro-socketio-gateway --example legacy_ws_fanout -- [clients] [events]
//! ```
//! The parent runs the bus, the hub and an axum server on 127.0.0.1:0, then re-executes itself
//! as the client process, which opens `clients` connections. Events are emitted one at a
//! time (the next one once every client got the previous one) with the emission time in the
//! payload; the client process reports p50/p99/max of emit → receive over all deliveries.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use futures::StreamExt;
use maestro_domain::events::{EventBus, NewEvent, names};
use maestro_domain::ids::SystemClock;
use maestro_domain::memory::{MemoryEventBus, ReplayConfig};
use maestro_socketio_gateway::{LegacyWsConfig, LegacyWsHub};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("client") {
        let addr = args.get(2).cloned().ok_or("missing addr")?;
        let clients: usize = args.get(3).ok_or("missing clients")?.parse()?;
        let events: u64 = args.get(4).ok_or("missing events")?.parse()?;
        rt.block_on(client(addr, clients, events))
    } else {
        let clients: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
        let events: u64 = args.get(2).map_or(Ok(200), |s| s.parse())?;
        rt.block_on(server(clients, events))
    }
}

async fn server(clients: usize, events: u64) -> Result<(), BoxError> {
    let bus = Arc::new(MemoryEventBus::new(
        Arc::new(SystemClock),
        1024,
        ReplayConfig::default(),
    ));
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let hub = LegacyWsHub::start(bus.clone(), LegacyWsConfig::default(), shutdown_rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handle = hub.clone();
    let app = Router::new().fallback(move |ws: WebSocketUpgrade| {
        let hub = handle.clone();
        async move { hub.upgrade(ws) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "client",
            &addr.to_string(),
            &clients.to_string(),
            &events.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    // Lines from the child: one per fully delivered event.
    let (tx, mut acks) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("ack") {
                if tx.send(line).is_err() {
                    return;
                }
            } else {
                println!("{line}");
            }
        }
    });
    let mut count = hub.watch_client_count();
    tokio::time::timeout(Duration::from_secs(30), count.wait_for(|&n| n == clients)).await??;
    for seq in 0..events {
        let data = serde_json::json!({"seq": seq, "sentNs": now_ns().to_string(), "title": "a task title"});
        bus.emit(NewEvent::new(names::TASK_UPDATED, "proj_1", data))
            .await?;
        tokio::time::timeout(Duration::from_secs(10), acks.recv())
            .await?
            .ok_or("client process ended")?;
    }
    let status = child.wait()?;
    std::io::stdout().flush()?;
    println!(
        "dropped frames: {}; client process: {status}",
        hub.dropped_frames()
    );
    Ok(())
}

async fn client(addr: String, clients: usize, events: u64) -> Result<(), BoxError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, u128)>();
    for _ in 0..clients {
        // A small read buffer: tungstenite zero-fills it on every read (see the hub's docs).
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/"),
            Some(config),
            false,
        )
        .await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let at = now_ns();
                if let Message::Text(text) = msg
                    && let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str())
                {
                    let seq = frame["data"]["seq"].as_u64().unwrap_or(u64::MAX);
                    let sent: u128 = frame["data"]["sentNs"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if tx.send((seq, at.saturating_sub(sent))).is_err() {
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(clients * events as usize);
    let mut out = std::io::stdout();
    for seq in 0..events {
        for _ in 0..clients {
            let (got, lat) = rx.recv().await.ok_or("readers ended")?;
            if got != seq {
                return Err(format!("expected seq {seq}, got {got}").into());
            }
            latencies.push(lat);
        }
        writeln!(out, "ack {seq}")?;
        out.flush()?;
    }
    latencies.sort_unstable();
    let pct = |p: usize| {
        let i = (latencies.len() * p / 100).min(latencies.len().saturating_sub(1));
        Duration::from_nanos(latencies.get(i).copied().unwrap_or(0) as u64)
    };
    writeln!(
        out,
        "{clients} clients × {events} events: p50 {:?}  p99 {:?}  max {:?}",
        pct(50),
        pct(99),
        pct(100)
    )?;
    Ok(())
}
