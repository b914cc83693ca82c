//! The HTTP/1.1 accept loop: connection cap, header-read, idle keep-alive and request-body
//! timeouts (issue 12 item 5), and the connection side of the graceful drain.
//!
//! `axum::serve` has none of these: its hyper connections have no timer (so hyper's
//! `header_read_timeout` is off), and it accepts until `accept` fails with "Too many open
//! files". Here, per connection:
//! - hyper's `header_read_timeout` ([`TokioTimer`]) bounds the time from the moment the server
//!   waits for a request — the accept, or the end of the previous response — until the
//!   request's headers are complete. A client that dribbles header bytes, or connects and
//!   sends nothing, is closed. (hyper 1.x re-arms that timer whenever it starts reading a
//!   request head, so it also bounds a keep-alive connection waiting for its next request;
//!   hyper's HTTP/1 server has no other keep-alive limit.)
//! - [`ConnIo`] ends a connection that has no request in flight, no blocked write and no bytes
//!   in either direction for `idle_timeout`, by reporting end-of-stream to hyper, which closes
//!   an idle connection quietly. Once a response switched protocols (WebSocket) it stops
//!   doing so: the gateway owns that socket's liveness.
//! - Each request carries a [`BodyTimeout`]; [`maestro_http_api::extract::JsonBody`] answers
//!   408 `REQUEST_TIMEOUT` when the body has not fully arrived in time, and hyper then closes
//!   the connection (it never keeps a connection whose request body was left unread).
//!
//! Capacity: a semaphore of `max_connections` permits. The accept loop takes a permit
//! *before* it accepts, so at the cap new connections wait in the kernel's listen backlog
//! rather than being accepted and failing; the permit lives in the connection's I/O object and
//! returns when the socket closes (for a WebSocket, when the upgraded socket closes). Reaching
//! the cap logs one line per minute at most and is counted for `/metrics`.
//!
//! Memory per idle connection (≈ 14 KiB of RSS; `cargo xtask bench --only conns`): hyper's
//! read and write buffers, 8 KiB each (its minimum; the write buffer is allocated with the
//! connection, the read buffer at the first read), the task and the socket's registration. A
//! request in flight (a mail long-poll: ≈ 21 KiB) adds the router's boxed futures.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use maestro_http_api::extract::BodyTimeout;
use maestro_http_api::metrics::{GaugeSample, GaugeSource};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Largest request head hyper buffers, bytes. The router answers heads above its own, lower
/// limits (8 KiB URI, 16 KiB of header lines) with 414 / 431 in the error shape; beyond this
/// one hyper answers 431 itself, with an empty body (see [`maestro_http_api::router`]).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How often, at most, reaching the connection cap is logged.
const CAP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// File descriptors always kept out of the connection cap: standard streams, the runtime's
/// epoll and wake-up descriptors, the listener, the journal and the entity file being
/// written, PostgreSQL pool and Redis sockets (16 + a few by default), and the pipes of a
/// few concurrent `maestro manifest generate` subprocesses.
const RESERVED_FDS: u64 = 64;

/// Share of the descriptor limit kept for descriptors that grow with the load: requests that
/// read files (skills, log digests, modal HTML), spawns in parallel.
const RESERVED_FDS_DIVISOR: u64 = 8;

/// Fewest connections an automatic cap allows, however low the descriptor limit.
const MIN_AUTO_CAP: usize = 16;

/// Timeouts of every connection, from `http.*`.
#[derive(Debug, Clone, Copy)]
pub struct ConnTimeouts {
    /// From waiting for a request to its complete headers (`http.header_read_timeout_ms`).
    pub header_read: Duration,
    /// Longest quiet time of a keep-alive connection between requests
    /// (`http.idle_timeout_ms`).
    pub idle: Duration,
    /// From the headers to the complete body (`http.body_timeout_ms`).
    pub body: Duration,
}

/// The connection cap and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCap {
    /// Most connections open at once (WebSockets included).
    pub max: usize,
    /// The soft `RLIMIT_NOFILE` read at start-up; `None` when unlimited or unknown.
    pub fd_limit: Option<u64>,
    /// Descriptors kept for everything but connections.
    pub reserved: u64,
    /// Whether `max` was configured (`http.max_connections > 0`) rather than derived.
    pub configured: bool,
}

impl ConnectionCap {
    /// The cap for `http.max_connections = configured` (0 = automatic) with the soft
    /// descriptor limit `fd_limit`: automatic is `fd_limit − reserve` with `reserve = 64 +
    /// fd_limit / 8` (1,024 → 832), at least 16; without a known limit, 4,096.
    pub fn resolve(configured: usize, fd_limit: Option<u64>) -> Self {
        let reserved = fd_limit.map_or(RESERVED_FDS, |l| RESERVED_FDS + l / RESERVED_FDS_DIVISOR);
        let max = match (configured, fd_limit) {
            (0, Some(limit)) => usize::try_from(limit.saturating_sub(reserved))
                .unwrap_or(usize::MAX)
                .max(MIN_AUTO_CAP),
            (0, None) => 4_096,
            (n, _) => n,
        };
        Self {
            // `Connections::closed` acquires every permit at once, counted in a `u32`.
            max: max.min(u32::MAX as usize).min(Semaphore::MAX_PERMITS),
            fd_limit,
            reserved,
            configured: configured > 0,
        }
    }

    /// Whether a configured cap leaves fewer descriptors than the reserve.
    pub fn exceeds_fd_limit(&self) -> bool {
        self.fd_limit
            .is_some_and(|l| self.max as u64 > l.saturating_sub(self.reserved))
    }

    /// `"http.max_connections = 0: 832 from RLIMIT_NOFILE 1024 − 192 reserved"` style text.
    pub fn describe(&self) -> String {
        match (self.configured, self.fd_limit) {
            (true, _) => format!("http.max_connections = {}", self.max),
            (false, Some(l)) => format!(
                "http.max_connections = 0: {} from RLIMIT_NOFILE {l} − {} reserved",
                self.max, self.reserved
            ),
            (false, None) => format!(
                "http.max_connections = 0: {} (no descriptor limit known)",
                self.max
            ),
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process; `None` when unlimited (or not a Unix).
pub fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Open connections and cap hits, shared by the accept loop and `/metrics`.
pub struct Connections {
    /// One per connection, plus the one the accept loop holds while it waits to accept.
    permits: Arc<Semaphore>,
    cap: ConnectionCap,
    open: AtomicUsize,
    cap_reached: AtomicU64,
}

impl Connections {
    /// Room for `cap.max` connections.
    pub fn new(cap: ConnectionCap) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(cap.max)),
            cap,
            open: AtomicUsize::new(0),
            cap_reached: AtomicU64::new(0),
        })
    }

    /// Connections open now (HTTP and upgraded WebSockets).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Waits until every connection has closed (once the accept loop has returned).
    pub async fn closed(&self) {
        // `max` fits a `u32` (`ConnectionCap::resolve`).
        let all = u32::try_from(self.cap.max).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }
}

impl GaugeSource for Connections {
    fn gauges(&self) -> Vec<GaugeSample> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        vec![
            GaugeSample {
                name: "http_connections",
                help: "Open HTTP connections, upgraded WebSockets included",
                labels: Vec::new(),
                value: n(self.open() as u64),
            },
            GaugeSample {
                name: "http_connection_limit",
                help: "Most connections open at once (http.max_connections)",
                labels: Vec::new(),
                value: n(self.cap.max as u64),
            },
            GaugeSample {
                name: "http_connection_limit_reached",
                help: "Times the server stopped accepting because the connection limit was reached, since start",
                labels: Vec::new(),
                value: n(self.cap_reached.load(Ordering::Relaxed)),
            },
        ]
    }
}

/// What every connection task shares.
struct Shared {
    router: Router,
    http1: http1::Builder,
    timeouts: ConnTimeouts,
}

/// Accepts until `stop` turns true, then returns (dropping the listener). Connections
/// already open drain on their own: on `stop` each one closes when idle, finishes the
/// request in flight first otherwise.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    timeouts: ConnTimeouts,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .max_buf_size(MAX_HEAD_BYTES);
    let shared = Arc::new(Shared {
        router,
        http1,
        timeouts,
    });
    let mut cap_logged: Option<Instant> = None;
    let mut error_logged: Option<Instant> = None;
    loop {
        let permit = match connections.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                connections.cap_reached.fetch_add(1, Ordering::Relaxed);
                if cap_logged.is_none_or(|at| at.elapsed() >= CAP_LOG_INTERVAL) {
                    cap_logged = Some(Instant::now());
                    tracing::warn!(
                        open = connections.open(),
                        "connection limit reached ({}): new connections wait in the listen \
                         backlog until one closes; idle and stalled clients are closed after \
                         http.idle_timeout_ms / http.header_read_timeout_ms (logged at most \
                         once a minute)",
                        connections.cap.describe()
                    );
                }
                tokio::select! {
                    permit = connections.permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                    () = stopped(&mut stop) => return,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => return,
        };
        match accepted {
            Ok((tcp, _peer)) => {
                // Small frames (WebSocket events, short JSON answers) must not wait for the
                // peer's delayed ACK: disable Nagle on every accepted socket.
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
                let slot = Slot::new(permit, connections.clone());
                tokio::spawn(serve_connection(tcp, slot, shared.clone(), stop.clone()));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of descriptors or memory (the cap leaves room, but files and
                // subprocesses count too): back off instead of spinning.
                if error_logged.is_none_or(|at| at.elapsed() >= CAP_LOG_INTERVAL) {
                    error_logged = Some(Instant::now());
                    tracing::error!(error = %e, "accept failed; retrying every 100 ms (logged at most once a minute)");
                }
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone: the server is going away).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors of one connection that went away before it was accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Serves one connection until it closes; on `stop`, drains it.
async fn serve_connection(
    tcp: TcpStream,
    slot: Slot,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState::default());
    let io = ConnIo {
        tcp,
        state: state.clone(),
        idle_timeout: shared.timeouts.idle,
        last_activity: Instant::now(),
        write_blocked: false,
        idle_timer: None,
        _slot: slot,
    };
    let service = {
        let shared = shared.clone();
        let state = state.clone();
        hyper::service::service_fn(move |req| handle(shared.clone(), state.clone(), req))
    };
    let conn = shared
        .http1
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            state.draining.store(true, Ordering::Release);
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests are the client's business.
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// One request: counted in flight while the router works on it, with the body deadline.
async fn handle(
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    mut req: Request<Incoming>,
) -> Result<Response, Infallible> {
    let _in_flight = InFlight::enter(&state);
    req.extensions_mut()
        .insert(BodyTimeout(shared.timeouts.body));
    let res = shared.router.clone().oneshot(req).await;
    if let Ok(r) = &res
        && r.status() == StatusCode::SWITCHING_PROTOCOLS
    {
        state.upgraded.store(true, Ordering::Release);
    }
    res
}

/// What a connection's task, its requests and its I/O object share.
#[derive(Default)]
struct ConnState {
    /// Requests handed to the router that have not produced their response yet.
    in_flight: AtomicUsize,
    /// A response switched protocols: the socket is a WebSocket now.
    upgraded: AtomicBool,
    /// The server drains: a connection with nothing in flight ends at once.
    draining: AtomicBool,
}

/// Counts one request in flight until dropped (also when the client goes away and hyper
/// drops the request's future).
struct InFlight<'a>(&'a ConnState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a ConnState) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's place under the cap: counted open until dropped with its socket.
struct Slot {
    _permit: OwnedSemaphorePermit,
    connections: Arc<Connections>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, connections: Arc<Connections>) -> Self {
        connections.open.fetch_add(1, Ordering::Relaxed);
        Self {
            _permit: permit,
            connections,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The accepted socket as hyper sees it: tracks activity for the idle timeout and holds the
/// connection's [`Slot`].
struct ConnIo {
    tcp: TcpStream,
    state: Arc<ConnState>,
    idle_timeout: Duration,
    /// Last time bytes moved in either direction.
    last_activity: Instant,
    /// The last write found the socket full (a slow reader is not idle).
    write_blocked: bool,
    /// Allocated the first time the connection waits idle.
    idle_timer: Option<Pin<Box<Sleep>>>,
    _slot: Slot,
}

impl ConnIo {
    /// Whether the connection has been idle long enough to end, arming the timer that wakes
    /// the task when it will have been otherwise.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.write_blocked
            || self.state.in_flight.load(Ordering::Acquire) > 0
            || self.state.upgraded.load(Ordering::Acquire)
        {
            return false;
        }
        let limit = if self.state.draining.load(Ordering::Acquire) {
            Duration::ZERO
        } else {
            self.idle_timeout
        };
        let deadline = self.last_activity + limit;
        if Instant::now() >= deadline {
            return true;
        }
        let timer = self
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // End-of-stream: hyper closes an idle connection quietly (and one in the middle of
            // a request head as incomplete).
            Poll::Pending if this.idle_expired(cx) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl ConnIo {
    /// Records the outcome of a write for the idle rule.
    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Pending => self.write_blocked = true,
            Poll::Ready(Ok(n)) => {
                self.write_blocked = false;
                if *n > 0 {
                    self.last_activity = Instant::now();
                }
            }
            Poll::Ready(Err(_)) => self.write_blocked = false,
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_cap_keeps_a_reserve_below_the_descriptor_limit() {
        let cap = ConnectionCap::resolve(0, Some(1024));
        assert_eq!(cap.reserved, 64 + 128);
        assert_eq!(cap.max, 832);
        assert!(!cap.configured);
        assert!(!cap.exceeds_fd_limit());
        assert!(
            cap.describe().contains("RLIMIT_NOFILE 1024"),
            "{}",
            cap.describe()
        );
        // A tiny limit still lets a few clients in; no known limit gives a fixed default.
        assert_eq!(ConnectionCap::resolve(0, Some(64)).max, MIN_AUTO_CAP);
        assert_eq!(ConnectionCap::resolve(0, None).max, 4_096);
        // A configured cap is kept, and flagged when it leaves less than the reserve.
        let cap = ConnectionCap::resolve(2_000, Some(1024));
        assert_eq!(cap.max, 2_000);
        assert!(cap.configured && cap.exceeds_fd_limit());
        assert!(!ConnectionCap::resolve(100, Some(1024)).exceeds_fd_limit());
    }
}
