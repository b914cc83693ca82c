//! The legacy raw WebSocket bridge (spec §1.2, ref §5.3).
//!
//! The desktop app and `maestro session watch` open `ws://HOST:PORT/` (any path), optionally
//! send `{type:'subscribe', sessionIds}` and receive every domain event as a JSON text frame
//! `{type, event, data, timestamp}`.
//!
//! # Fan-out design
//! ```text
//! EventBus ──subscription──▶ hub task ──Broadcast::Frame──▶ broadcast ring ──▶ writer task ×N
//!                            (serialize once,               (client_buffer      (filter, batch,
//!                             extractSessionId once)         slots, shared)      write, replies)
//!                                                    reader task ×N ──commands──┘
//! ```
//! - One hub task subscribes to the bus, serializes each event **once** into a
//!   `PreparedFrame` (JSON text in a ref-counted `Utf8Bytes` plus the event's
//!   session scope) and publishes it on an internal `tokio::sync::broadcast` ring.
//! - Each connection has a writer task, which owns the session filter and writes the frames
//!   it admits (batching whatever is already queued into one flush), and a reader task, which
//!   only runs when the client sends something and hands its messages (ping, subscribe,
//!   unsubscribe) to the writer. One ring and one writer per client keep frames in emission
//!   order; a separate reader keeps a read attempt off every event's path.
//! - The emitter never waits for clients: `EventBus::emit` only pushes into the bus's ring,
//!   and the hub only pushes into the internal ring. Shutdown travels on the ring too
//!   (`Broadcast::Close`).
//!
//! # Slow clients
//! Memory is bounded by the ring: `client_buffer` frames, **shared** by all clients (frames
//! are reference-counted), whatever the number of clients. A client whose task falls more
//! than `client_buffer` frames behind loses the **oldest** frames (drop-oldest, like the bus):
//! the loss is logged at `warn` and counted in [`LegacyWsHub::dropped_frames`]. A client whose
//! socket accepts no write for [`LegacyWsConfig::send_timeout`] (it stopped reading and the
//! kernel buffers are full) is **disconnected** and counted in
//! [`LegacyWsHub::slow_disconnects`]; it can reconnect. Neither case affects other clients.

mod client;
mod frame;
mod protocol;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use maestro_domain::broadcast::{Ring, RingLimits};
use maestro_domain::events::{EventBus, EventSubscription};
use maestro_domain::ids::{Clock, SystemClock};
use serde_json::{Value, json};
use tokio::sync::watch;

use self::frame::PreparedFrame;

/// Largest accepted `client_buffer`.
const MAX_CLIENT_BUFFER: usize = 1 << 20;

/// Read buffer per connection. tungstenite zero-fills up to this many bytes before **every**
/// read attempt; its 128 KiB default once made that memset the dominant cost of fan-out.
/// Client messages are tiny; larger ones are still read, in several chunks.
const READ_BUFFER_SIZE: usize = 1024;

/// How long [`LegacyWsHub::close_all`] waits for clients to finish their close handshake.
const CLOSE_ALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the legacy bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyWsConfig {
    /// Frames a client may lag behind before it loses the oldest ones (drop-oldest). This is
    /// a bound of the ring shared by all clients, so it bounds memory independently of the
    /// number of clients. Clamped to `1..=1_048_576`. Default 65,536: a client that keeps
    /// reading never loses frames in a burst (issue 12 item 4: 1,024 lost half of a burst of
    /// 7,519 events).
    pub client_buffer: usize,
    /// Bytes of frames a client may lag behind before it loses the oldest ones (the ring's
    /// other bound; a frame read by every client is freed at once). Default 32 MiB.
    pub client_buffer_bytes: usize,
    /// A client whose socket accepts no data for this long is disconnected. Default 10 s.
    pub send_timeout: Duration,
    /// Largest client → server message (and frame) accepted, in bytes; a bigger one closes the
    /// connection. The protocol's messages are small; the default, 1 MiB, matches the REST body
    /// limit (a `subscribe` with tens of thousands of ids still fits).
    pub max_message_size: usize,
}

impl Default for LegacyWsConfig {
    fn default() -> Self {
        Self {
            client_buffer: 65_536,
            client_buffer_bytes: 32 << 20,
            send_timeout: Duration::from_secs(10),
            max_message_size: 1024 * 1024,
        }
    }
}

/// `WebSocket.readyState` values of the reference's `ws` library, reported by `/ws-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ReadyState {
    Connecting = 0,
    Open = 1,
    Closing = 2,
    Closed = 3,
}

impl ReadyState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Connecting,
            1 => Self::Open,
            2 => Self::Closing,
            _ => Self::Closed,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Connecting => "CONNECTING",
            Self::Open => "OPEN",
            Self::Closing => "CLOSING",
            Self::Closed => "CLOSED",
        }
    }
}

/// What the internal ring carries.
#[derive(Clone)]
enum Broadcast {
    /// A frame for every client whose filter admits it.
    Frame(Arc<PreparedFrame>),
    /// The hub is shutting down: close. (The `closing` watch says so too, for connections
    /// that start later and for clients that lagged past this marker.)
    Close,
}

/// State shared by the hub handle, the fan-out task and the client tasks.
struct Inner {
    config: LegacyWsConfig,
    /// The internal ring every client task reads.
    frames: Ring<Broadcast>,
    /// Connected clients by connection number (so `/ws-status` lists them in connection
    /// order), with their ready state.
    clients: Mutex<BTreeMap<u64, Arc<AtomicU8>>>,
    next_id: AtomicU64,
    /// Mirrors `clients.len()`; updated under the `clients` lock.
    count: watch::Sender<usize>,
    /// `true` once the hub shuts down: client tasks close their sockets, new ones are refused.
    closing: watch::Sender<bool>,
    dropped_frames: AtomicU64,
    slow_disconnects: AtomicU64,
}

impl Inner {
    fn clients(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<AtomicU8>>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms() -> i64 {
        SystemClock.now_ms()
    }

    /// Starts shutdown: new connections are closed at once, connected clients close.
    fn close(&self) {
        self.closing.send_replace(true);
        // Dropped at once when no client is connected.
        self.frames.send(Broadcast::Close, 0);
    }
}

/// A connected (or connecting) client's entry in the registry; removing it on drop keeps the
/// count right on every exit path, including an upgrade that never completes.
struct Registration {
    inner: Arc<Inner>,
    id: u64,
    state: Arc<AtomicU8>,
}

impl Registration {
    fn new(inner: Arc<Inner>) -> Self {
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(AtomicU8::new(ReadyState::Connecting as u8));
        {
            let mut clients = inner.clients();
            clients.insert(id, state.clone());
            inner.count.send_replace(clients.len());
        }
        Self { inner, id, state }
    }

    fn set_state(&self, state: ReadyState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut clients = self.inner.clients();
        clients.remove(&self.id);
        self.inner.count.send_replace(clients.len());
    }
}

/// The legacy WebSocket bridge: a handle on the fan-out task and the connected clients.
/// Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct LegacyWsHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LegacyWsHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyWsHub")
            .field("clients", &self.client_count())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl LegacyWsHub {
    /// Subscribes to `bus` (synchronously: every event emitted after this returns is
    /// bridged) and spawns the fan-out task.
    ///
    /// `config.client_buffer` is the number of frames a slow client may lag before it loses
    /// the oldest ones; a client whose socket stays blocked for `config.send_timeout` is
    /// disconnected (see the module docs). When `shutdown` becomes `true` **or its sender is
    /// dropped**, the fan-out task stops and every client is closed with code 1001.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns a task).
    pub fn start(
        bus: Arc<dyn EventBus>,
        config: LegacyWsConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let frames = Ring::new(RingLimits {
            max_items: config.client_buffer.clamp(1, MAX_CLIENT_BUFFER),
            max_bytes: config.client_buffer_bytes.max(1),
        });
        let inner = Arc::new(Inner {
            config,
            frames,
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            count: watch::Sender::new(0),
            closing: watch::Sender::new(false),
            dropped_frames: AtomicU64::new(0),
            slow_disconnects: AtomicU64::new(0),
        });
        let subscription = bus.subscribe();
        tokio::spawn(fan_out(inner.clone(), subscription, shutdown));
        Self { inner }
    }

    /// Upgrades an HTTP request on any path to a bridge connection (the server routes every
    /// request carrying `Upgrade: websocket` here).
    ///
    /// The client is registered, and starts receiving frames, before the `101` response is
    /// sent: an event emitted after the client saw the handshake complete is never missed.
    /// After shutdown the upgrade still completes but the socket is closed at once (1001).
    pub fn upgrade(&self, ws: WebSocketUpgrade) -> Response {
        let frames = self.inner.frames.subscribe();
        let registration = Registration::new(self.inner.clone());
        let max = self.inner.config.max_message_size;
        ws.read_buffer_size(READ_BUFFER_SIZE)
            .max_message_size(max)
            .max_frame_size(max)
            .on_failed_upgrade(|err| tracing::debug!(error = %err, "legacy ws: upgrade failed"))
            .on_upgrade(move |socket| client::run(registration, frames, socket))
    }

    /// Body of `GET /ws-status` (ref §4.1):
    /// `{connectedClients, clients: [{readyState, readyStateText}]}`, in connection order.
    pub fn status(&self) -> Value {
        let clients = self.inner.clients();
        let list: Vec<Value> = clients
            .values()
            .map(|s| {
                let state = ReadyState::from_u8(s.load(Ordering::Relaxed));
                json!({"readyState": state as u8, "readyStateText": state.text()})
            })
            .collect();
        json!({"connectedClients": clients.len(), "clients": list})
    }

    /// Number of connected clients (every state but closed, as `ws`'s `clients.size`).
    pub fn client_count(&self) -> usize {
        self.inner.clients().len()
    }

    /// A receiver that observes [`client_count`](Self::client_count) changes, to wait for
    /// connects and disconnects without polling (tests, metrics, shutdown).
    pub fn watch_client_count(&self) -> watch::Receiver<usize> {
        self.inner.count.subscribe()
    }

    /// Frames lost by lagging clients (drop-oldest), summed over all clients since start.
    pub fn dropped_frames(&self) -> u64 {
        self.inner.dropped_frames.load(Ordering::Relaxed)
    }

    /// Clients disconnected because their socket accepted no data for `send_timeout`.
    pub fn slow_disconnects(&self) -> u64 {
        self.inner.slow_disconnects.load(Ordering::Relaxed)
    }

    /// Closes every client (close code 1001, "going away") and refuses new ones; waits up to
    /// 5 s for their close handshakes, logging a warning if some did not finish.
    pub async fn close_all(&self) {
        self.inner.close();
        let mut count = self.watch_client_count();
        let done = tokio::time::timeout(CLOSE_ALL_TIMEOUT, count.wait_for(|&n| n == 0)).await;
        if done.is_err() {
            tracing::warn!(
                remaining = self.client_count(),
                "legacy ws: clients still open after close_all timeout"
            );
        }
    }
}

/// The hub task: bus events → prepared frames on the internal ring, until shutdown.
async fn fan_out(
    inner: Arc<Inner>,
    mut subscription: EventSubscription,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.wait_for(|&stop| stop) => break,
            event = subscription.recv() => event,
        };
        let Some(event) = event else {
            tracing::debug!("legacy ws: event bus closed; fan-out stops");
            return;
        };
        match PreparedFrame::build(&event, Inner::now_ms()) {
            Ok(frame) => {
                let weight = frame.weight();
                // Dropped at once when no client is connected.
                inner.frames.send(Broadcast::Frame(Arc::new(frame)), weight);
            }
            Err(err) => {
                tracing::error!(event = %event.name, error = %err, "legacy ws: cannot serialize event");
            }
        }
    }
    tracing::debug!("legacy ws: shutdown; closing clients");
    inner.close();
}
