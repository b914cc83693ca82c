//! Event fan-out: many raw WebSocket clients (no `subscribe`, so each receives every event),
//! one request per event at a steady pace, latency from just before each request is written to
//! each client's receipt of the matching frame. Two event sources are measured: a task `PATCH`
//! (`task:updated`, after a durable write) and a modal action (`session:modal_action`, which
//! stores nothing, so it measures the bus → WebSocket path alone).
//!
//! Client read loops only take a timestamp and look for the title marker with a substring
//! search; latencies are computed after the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use hdrhistogram::Histogram;
use hyper::Method;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::load::{Conn, histogram, record};

/// The title prefix that identifies a benchmark event; the event number and a `.` follow.
const MARKER: &str = "bench-fanout-";

/// Fan-out settings.
pub struct Config {
    /// WebSocket clients.
    pub clients: usize,
    /// Measured events (one request each).
    pub events: usize,
    /// Time between two requests.
    pub interval: Duration,
    /// HTTP connections the requests are spread over (so a slow answer does not delay the pace).
    pub senders: usize,
}

/// What the fan-out measured.
pub struct FanoutResult {
    /// Request sent → frame receipt, every (client, event) pair, microseconds.
    pub latency: Histogram<u64>,
    /// First client's receipt → each client's receipt of the same event, microseconds.
    pub spread: Histogram<u64>,
    /// Request round trip (for a PATCH: durable write included), microseconds.
    pub request_rtt: Histogram<u64>,
    /// Frames expected (clients × events).
    pub expected: u64,
    /// Matching frames received.
    pub received: u64,
    /// Failed requests.
    pub errors: u64,
    /// Time to open every WebSocket.
    pub connect: Duration,
    /// Events whose first delivery (to any client) came more than [`STALL`] after their request.
    pub stalled_events: usize,
}

/// A first delivery later than this after the request counts as a stalled event.
pub const STALL: Duration = Duration::from_millis(20);

impl FanoutResult {
    /// Delivered share, in percent.
    pub fn delivery_pct(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.received as f64 * 100.0 / self.expected as f64
    }
}

/// The clients' WebSocket settings. tungstenite zero-fills its whole read buffer before every
/// read attempt (at least two per frame: the read that gets it and the one that finds the
/// socket empty); with the 128 KiB default that memset, not the server, dominated the
/// generator's CPU (200 clients × 256 KiB per event). Frames here are < 1 KiB; larger ones are
/// still read, in several chunks.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// The event number in a frame, if it carries the benchmark marker.
fn marker(text: &str) -> Option<u32> {
    let at = text.find(MARKER)? + MARKER.len();
    let digits = &text[at..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// The request that triggers event number `event` (0 is the warm-up): method, path, body.
pub type EventRequest = Arc<dyn Fn(usize) -> (Method, String, Bytes) + Send + Sync>;

/// `PATCH /api/tasks/:id {title}` on the tasks of `task_ids` in turn: a `task:updated` event
/// after a durable write.
pub fn task_patch(task_ids: Arc<Vec<String>>) -> EventRequest {
    Arc::new(move |event| {
        (
            Method::PATCH,
            format!("/api/tasks/{}", task_ids[event % task_ids.len()]),
            Bytes::from(format!(r#"{{"title":"{MARKER}{event}."}}"#)),
        )
    })
}

/// `POST /api/sessions/:id/modal/bench/actions {action}`: a `session:modal_action` event that
/// stores nothing (ref §4.4), so only the bus and the WebSocket fan-out are measured.
pub fn modal_action(session_id: String) -> EventRequest {
    Arc::new(move |event| {
        (
            Method::POST,
            format!("/api/sessions/{session_id}/modal/bench/actions"),
            Bytes::from(format!(r#"{{"action":"{MARKER}{event}.","data":{{}}}}"#)),
        )
    })
}

/// Runs the fan-out against `addr`, sending `request(i)` for event `i`.
pub async fn run(
    addr: SocketAddr,
    request: EventRequest,
    cfg: &Config,
) -> anyhow::Result<FanoutResult> {
    anyhow::ensure!(cfg.senders > 0, "no senders");
    let (stop_tx, stop_rx) = watch::channel(false);
    let warm = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let url = format!("ws://{addr}/");

    let connect_start = Instant::now();
    let mut clients = Vec::with_capacity(cfg.clients);
    for _ in 0..cfg.clients {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
            url.as_str(),
            Some(client_config()),
            false,
        )
        .await
        .with_context(|| format!("WebSocket connect to {url}"))?;
        let mut stop = stop_rx.clone();
        let warm = warm.clone();
        let seen = seen.clone();
        let capacity = cfg.events;
        clients.push(tokio::spawn(async move {
            let mut got: Vec<(u32, Instant)> = Vec::with_capacity(capacity);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            let now = Instant::now();
                            match marker(t.as_str()) {
                                Some(0) => { warm.fetch_add(1, Ordering::Relaxed); }
                                Some(i) => {
                                    got.push((i, now));
                                    seen.fetch_add(1, Ordering::Relaxed);
                                }
                                None => {}
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    },
                }
            }
            let _ = ws.close(None).await;
            got
        }));
    }
    let connect = connect_start.elapsed();

    // Barrier: one warm-up event must reach every client, so all are registered with the hub.
    let mut conn = Conn::connect(addr).await?;
    let (method, path, body) = request(0);
    let (status, _) = conn.send(method, &path, Some(body)).await?;
    anyhow::ensure!(status.is_success(), "warm-up request answered {status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while warm.load(Ordering::Relaxed) < cfg.clients {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} WebSocket clients received the warm-up event",
                warm.load(Ordering::Relaxed),
                cfg.clients
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // Paced senders: event i (1-based) goes out at t0 + i × interval on connection i % senders.
    let t0 = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut senders = Vec::with_capacity(cfg.senders);
    for s in 0..cfg.senders {
        let mut conn = Conn::connect(addr).await?;
        let request = request.clone();
        let (events, interval, n) = (cfg.events, cfg.interval, cfg.senders);
        senders.push(tokio::spawn(async move {
            let mut sent: Vec<(usize, Instant, Duration, bool)> = Vec::new();
            let mut i = if s == 0 { n } else { s };
            while i <= events {
                tokio::time::sleep_until(t0 + interval * i as u32).await;
                let (method, path, body) = request(i);
                let at = Instant::now();
                let ok = matches!(
                    conn.send(method, &path, Some(body)).await,
                    Ok((st, _)) if st.is_success()
                );
                sent.push((i, at, at.elapsed(), ok));
                i += n;
            }
            sent
        }));
    }
    drop(conn);
    let mut send_at: Vec<Option<Instant>> = vec![None; cfg.events + 1];
    let mut request_rtt = histogram()?;
    let mut errors = 0;
    for s in senders {
        for (i, at, rtt, ok) in s.await? {
            send_at[i] = Some(at);
            record(&mut request_rtt, rtt);
            if !ok {
                errors += 1;
            }
        }
    }

    // Let stragglers arrive (bounded), then stop the clients.
    let expected = cfg.clients * cfg.events;
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop_tx.send(true)?;
    let mut per_client = Vec::with_capacity(clients.len());
    for c in clients {
        per_client.push(c.await?);
    }

    let mut first: Vec<Option<Instant>> = vec![None; cfg.events + 1];
    for got in &per_client {
        for &(i, t) in got {
            if let Some(f) = first.get_mut(i as usize) {
                *f = Some(f.map_or(t, |f: Instant| f.min(t)));
            }
        }
    }
    let mut latency = histogram()?;
    let mut spread = histogram()?;
    let mut received = 0u64;
    for got in &per_client {
        let mut dup = vec![false; cfg.events + 1];
        for &(i, t) in got {
            let i = i as usize;
            let (Some(Some(sent)), Some(Some(f))) = (send_at.get(i), first.get(i)) else {
                continue;
            };
            if std::mem::replace(&mut dup[i], true) {
                continue;
            }
            received += 1;
            record(&mut latency, t.saturating_duration_since(*sent));
            record(&mut spread, t.saturating_duration_since(*f));
        }
    }
    let stalled_events = (1..=cfg.events)
        .filter(|&i| match (send_at[i], first[i]) {
            (Some(sent), Some(f)) => f.saturating_duration_since(sent) > STALL,
            _ => false,
        })
        .count();
    if std::env::var_os("MAESTRO_BENCH_DEBUG").is_some() {
        for i in 1..=cfg.events {
            let (Some(sent), Some(f)) = (send_at[i], first[i]) else {
                continue;
            };
            let mut last = f;
            for got in &per_client {
                for &(j, t) in got {
                    if j as usize == i && t > last {
                        last = t;
                    }
                }
            }
            eprintln!(
                "event {i}: first {:.2} ms, last {:.2} ms",
                f.saturating_duration_since(sent).as_secs_f64() * 1e3,
                last.saturating_duration_since(sent).as_secs_f64() * 1e3
            );
        }
    }
    Ok(FanoutResult {
        latency,
        spread,
        request_rtt,
        expected: expected as u64,
        received,
        errors,
        connect,
        stalled_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_marker() {
        let frame = format!(
            r#"{{"type":"task:updated","event":"task:updated","data":{{"title":"{MARKER}42."}}}}"#
        );
        assert_eq!(marker(&frame), Some(42));
        assert_eq!(marker(r#"{"title":"other"}"#), None);
    }
}
