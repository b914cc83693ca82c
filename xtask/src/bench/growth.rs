//! A session that grows (issue 12 item 1): 16 connections append 1 KB timeline entries
//! (`POST /api/sessions/:id/timeline`) to one session until it holds `entries` of them, with
//! one raw WebSocket client connected that receives every `session:updated` (each carries the
//! whole session, as the reference protocol does). Measured: the server's RSS throughout
//! (sampled every 20 ms), the append latency while the session holds up to 1,000 entries and
//! over its last 1,000, the time per append then (the appenders' wall time divided by the
//! appends: how much of the server an append costs), the time to serialize and send the whole
//! session once (`GET /api/sessions/:id`, one at a time), and the start-up after a `SIGKILL`
//! at the end (the journal replay of the grown session).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::load::{Conn, histogram, record};
use super::server::{self, Dirs, Server};

/// Appending connections.
pub const APPENDERS: usize = 16;
/// Size of each entry's message, bytes.
const ENTRY_BYTES: usize = 1_000;
/// The early window: appends while the session holds fewer entries than this.
pub const EARLY: usize = 1_000;
/// `GET`s of the grown session.
const GETS: usize = 10;

/// What [`run`] measured.
pub struct GrowthResult {
    /// Append latency while the session held fewer than [`EARLY`] entries, µs.
    pub early: Histogram<u64>,
    /// Append latency over the last 1,000 entries, µs.
    pub late: Histogram<u64>,
    /// Appenders' wall time over the last 1,000 entries divided by their number.
    pub late_per_append: Duration,
    /// `GET` of the grown session (serialize and send it once), µs.
    pub get: Histogram<u64>,
    /// Size of the grown session's JSON, bytes.
    pub session_bytes: usize,
    /// Highest RSS sampled while the session grew, MiB.
    pub peak_rss_mib: f64,
    /// RSS at the end, MiB.
    pub end_rss_mib: f64,
    /// Frames and bytes the WebSocket client received.
    pub ws_frames: u64,
    /// See `ws_frames`.
    pub ws_bytes: u64,
    /// Failed appends.
    pub errors: u64,
    /// Spawn → ready line after a `SIGKILL` with the grown session (journal replay).
    pub restart: Duration,
    /// Whole run.
    pub elapsed: Duration,
}

/// `{"id": …}` of a JSON answer.
fn id_of(body: &Bytes) -> anyhow::Result<String> {
    let v: Value = serde_json::from_slice(body)?;
    v["id"]
        .as_str()
        .map(str::to_owned)
        .context("no id in the answer")
}

/// Grows a session to `entries` timeline entries on a server started on the empty data
/// directory of `dirs` (see the module docs).
pub async fn run(
    bin: &std::path::Path,
    dirs: &Dirs<'_>,
    entries: usize,
) -> anyhow::Result<GrowthResult> {
    let started = Instant::now();
    let mut srv = Server::spawn(bin, dirs, 0)?;
    let (addr, _) = srv.wait_ready(Duration::from_secs(60))?;
    let mut c = Conn::connect(addr).await?;
    let (_, body) = c
        .send(
            Method::POST,
            "/api/projects",
            Some(Bytes::from(
                json!({ "name": "growth", "workingDir": "/w" }).to_string(),
            )),
        )
        .await?;
    let project = id_of(&body)?;
    let (status, body) = c
        .send(
            Method::POST,
            "/api/sessions",
            Some(Bytes::from(
                json!({ "projectId": project, "taskIds": [] }).to_string(),
            )),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "creating the session: {status}");
    let session = id_of(&body)?;

    let (ws_frames, ws_bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let ws = ws_client(addr, ws_frames.clone(), ws_bytes.clone()).await?;

    let pid = srv.pid();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while sampling.load(Ordering::Relaxed) {
                if let Ok(rss) = server::rss_mib(pid) {
                    peak = peak.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };

    let next = Arc::new(AtomicU64::new(0));
    // Wall time of the late window: first late append sent → last one answered.
    let late_window = Arc::new(std::sync::Mutex::new((None::<Instant>, None::<Instant>)));
    let late_from = entries.saturating_sub(1_000) as u64;
    let mut workers = Vec::new();
    for _ in 0..APPENDERS {
        let (next, late_window, path) = (
            next.clone(),
            late_window.clone(),
            format!("/api/sessions/{session}/timeline"),
        );
        workers.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await?;
            let (mut early, mut late) = (histogram()?, histogram()?);
            let mut errors = 0u64;
            let filler = "x".repeat(ENTRY_BYTES - 20);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= entries as u64 {
                    break;
                }
                let body = Bytes::from(
                    json!({ "message": format!("{n:08} {filler}"), "type": "progress" })
                        .to_string(),
                );
                let t = Instant::now();
                if n >= late_from {
                    let mut w = late_window.lock().unwrap_or_else(|e| e.into_inner());
                    w.0.get_or_insert(t);
                }
                match c.send(Method::POST, &path, Some(body)).await {
                    Ok((status, _)) if status.is_success() => {}
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        c.reconnect().await?;
                    }
                }
                let done = Instant::now();
                if n < EARLY as u64 {
                    record(&mut early, done - t);
                } else if n >= late_from {
                    record(&mut late, done - t);
                    let mut w = late_window.lock().unwrap_or_else(|e| e.into_inner());
                    w.1 = Some(w.1.map_or(done, |d: Instant| d.max(done)));
                }
            }
            anyhow::Ok((early, late, errors))
        }));
    }
    let (mut early, mut late) = (histogram()?, histogram()?);
    let mut errors = 0;
    for w in workers {
        let (e, l, n) = w.await??;
        early.add(e)?;
        late.add(l)?;
        errors += n;
    }
    sampling.store(false, Ordering::Relaxed);
    let peak_rss_mib = sampler.await?;
    let (first, last) = *late_window.lock().unwrap_or_else(|e| e.into_inner());
    let late_count = (entries as u64 - late_from).max(1);
    let late_per_append = match (first, last) {
        (Some(a), Some(b)) => (b - a) / late_count as u32,
        _ => Duration::ZERO,
    };

    let mut get = histogram()?;
    let mut session_bytes = 0;
    // The set-up connection sat idle past the server's idle timeout meanwhile.
    let mut c = Conn::connect(addr).await?;
    for _ in 0..GETS {
        let t = Instant::now();
        let (status, body) = c
            .send(Method::GET, &format!("/api/sessions/{session}"), None)
            .await?;
        record(&mut get, t.elapsed());
        anyhow::ensure!(status.is_success(), "GET session: {status}");
        session_bytes = body.len();
    }
    let end_rss_mib = srv.rss_mib()?;
    ws.abort();

    // A crash with the grown session: the next start replays what the journal holds.
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -KILL {pid} failed");
    }
    drop(srv);
    let mut again = Server::spawn(bin, dirs, 0)?;
    let (addr2, restart) = again.wait_ready(Duration::from_secs(60))?;
    let mut c2 = Conn::connect(addr2).await?;
    let (status, body) = c2
        .send(Method::GET, &format!("/api/sessions/{session}"), None)
        .await?;
    anyhow::ensure!(status.is_success(), "GET after restart: {status}");
    let v: Value = serde_json::from_slice(&body)?;
    let kept = v["timeline"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        kept > entries,
        "after the restart the session holds {kept} timeline entries, not {}",
        entries + 1
    );
    Ok(GrowthResult {
        early,
        late,
        late_per_append,
        get,
        session_bytes,
        peak_rss_mib,
        end_rss_mib,
        ws_frames: ws_frames.load(Ordering::Relaxed),
        ws_bytes: ws_bytes.load(Ordering::Relaxed),
        errors,
        restart,
        elapsed: started.elapsed(),
    })
}

/// A raw WebSocket client that reads everything, counting frames and bytes.
async fn ws_client(
    addr: SocketAddr,
    frames: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let config = WebSocketConfig::default()
        .read_buffer_size(64 << 10)
        .max_message_size(Some(256 << 20))
        .max_frame_size(Some(256 << 20));
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/"), Some(config), false)
            .await
            .context("connecting the WebSocket client")?;
    Ok(tokio::spawn(async move {
        let (_, mut rx) = ws.split();
        while let Some(Ok(msg)) = rx.next().await {
            if let Message::Text(text) = msg {
                frames.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
            }
        }
    }))
}
