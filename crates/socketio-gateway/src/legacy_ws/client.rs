//! One connection: a writer task that owns the session filter and writes frames, and a reader
//! task that turns client messages into commands for it.
//!
//! Why two tasks: the writer wakes once per event. If it also polled the socket's read side
//! on every wake-up (one task, `select!` over both), each event would cost every client a
//! read attempt (tungstenite zero-fills its read buffer and tries the socket) even though
//! clients almost never send anything; with 200 clients that was a tenth of the server's
//! fan-out CPU. The reader task only runs when the client sends something.
//!
//! The writer owns the filter, so a `subscribe` takes effect for exactly the frames written
//! after its `subscribed` reply. Writes are batched: after one frame arrives, frames already
//! queued (up to [`MAX_BATCH`] frames or [`MAX_BATCH_BYTES`]) go out in the same flush, which keeps bursts cheap without
//! delaying a lone event. Hub shutdown reaches the writer through the ring itself
//! ([`Broadcast::Close`]), so an ordinary wake-up does not register on a separate signal.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use maestro_domain::broadcast::{Receiver, RecvError, TryRecvError};
use tokio::sync::{mpsc, watch};

use super::frame::PreparedFrame;
use super::protocol::{self, ClientRequest};
use super::{Broadcast, Inner, ReadyState, Registration};

/// Most frames written per flush.
const MAX_BATCH: usize = 64;

/// Most bytes of frames taken into one flush: frames taken off the ring no longer count
/// against its byte bound, so a batch of large frames (a session's `session:updated` is
/// megabytes) must stay small or it holds what the ring was bounded to free.
const MAX_BATCH_BYTES: usize = 256 << 10;

/// Time allowed for each half of a close handshake (sending our Close, reading theirs).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// WebSocket close code "going away" (server shutdown).
const GOING_AWAY: u16 = 1001;

/// WebSocket close code "message too big" (RFC 6455 §7.4.1): a client message over
/// `max_message_size`.
const MESSAGE_TOO_BIG: u16 = 1009;

/// Client messages queued from the reader to the writer. Messages are tiny and rare; a client
/// that floods faster than its replies can be written waits on this bound (TCP back-pressure).
const COMMAND_QUEUE: usize = 32;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Why the writer loop ended.
enum End {
    /// The peer closed (Close frame, EOF or a transport error): nothing more to send.
    Peer,
    /// The socket accepted no data for `send_timeout`.
    Stalled,
    /// The hub is shutting down: close the socket gracefully.
    Shutdown,
}

/// Why the reader task ended.
enum ReadEnd {
    /// The peer closed, the transport failed, or the writer went away.
    Closed,
    /// The peer sent a message (or frame) over `max_message_size`: tungstenite stopped
    /// reading, and the connection is closed with 1009 rather than just dropped.
    TooBig,
}

/// Result of a write bounded by `send_timeout` and interruptible by shutdown.
enum Write {
    Done,
    Failed,
    Stalled,
    Shutdown,
}

/// Runs one client connection to its end; the [`Registration`] is dropped (the client leaves
/// the registry) when it returns.
pub(super) async fn run(
    registration: Registration,
    mut frames: Receiver<Broadcast>,
    socket: WebSocket,
) {
    let inner = registration.inner.clone();
    let mut closing = inner.closing.subscribe();
    let (mut sink, stream) = socket.split();
    if *closing.borrow() {
        registration.set_state(ReadyState::Closing);
        close_gracefully(&mut sink, read_until_closed(stream)).await;
        return;
    }
    registration.set_state(ReadyState::Open);
    let id = registration.id;
    tracing::debug!(client = id, "legacy ws: client connected");

    let (commands, mut incoming) = mpsc::channel(COMMAND_QUEUE);
    let mut reader = tokio::spawn(read_loop(stream, commands, registration.state.clone(), id));

    let mut client = Client {
        inner: &inner,
        id,
        filter: None,
        batch: Vec::with_capacity(MAX_BATCH),
        lagged: 0,
        closing_seen: false,
    };
    let end = loop {
        // Client messages first, so a steady stream of events cannot starve their replies.
        let reply = tokio::select! {
            biased;
            body = incoming.recv() => match body {
                Some(body) => match client.handle(&body) {
                    Some(reply) => Some(reply),
                    None => continue,
                },
                // The reader ended: the peer closed or the transport failed.
                None => break End::Peer,
            },
            received = frames.recv() => {
                match received {
                    Ok(Broadcast::Frame(frame)) => client.collect(frame, &mut frames),
                    Ok(Broadcast::Close) | Err(RecvError::Closed) => {
                        break End::Shutdown;
                    }
                    Err(RecvError::Lagged(n)) => {
                        client.note_lag(n);
                        // The close marker may be among the lost items.
                        if *closing.borrow() {
                            break End::Shutdown;
                        }
                        continue;
                    }
                }
                if client.batch.is_empty() {
                    if client.closing_seen {
                        break End::Shutdown;
                    }
                    continue;
                }
                None
            }
        };
        match client.write(&mut sink, &mut closing, reply).await {
            Write::Done if client.closing_seen => break End::Shutdown,
            Write::Done => {}
            Write::Failed => break End::Peer,
            Write::Stalled => break End::Stalled,
            Write::Shutdown => break End::Shutdown,
        }
    };

    match end {
        End::Peer => {
            // The reader has ended (it dropped the command sender) or is about to.
            let ended = tokio::time::timeout(CLOSE_GRACE, &mut reader).await;
            if let Ok(Ok(ReadEnd::TooBig)) = ended {
                close_too_big(&mut sink).await;
            }
        }
        End::Stalled => {
            inner.slow_disconnects.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                client = id,
                timeout_ms = inner.config.send_timeout.as_millis() as u64,
                lagged = client.lagged,
                "legacy ws: client stopped reading; disconnected"
            );
        }
        End::Shutdown => {
            registration.set_state(ReadyState::Closing);
            close_gracefully(&mut sink, &mut reader).await;
        }
    }
    // Both halves must go for the socket to close.
    reader.abort();
    tracing::debug!(
        client = id,
        lagged = client.lagged,
        "legacy ws: client gone"
    );
}

/// The reader task: forwards text and binary message bodies to the writer until the peer
/// closes (after a Close it keeps reading briefly, which flushes tungstenite's Close reply) or
/// the writer goes away. WebSocket Pings are answered by tungstenite itself.
///
/// A message over the size limit ends it with [`ReadEnd::TooBig`]; the sink belongs to the
/// writer task, which then sends the Close (1009).
async fn read_loop(
    mut stream: Stream,
    commands: mpsc::Sender<Bytes>,
    state: Arc<AtomicU8>,
    id: u64,
) -> ReadEnd {
    loop {
        let body = match stream.next().await {
            Some(Ok(Message::Text(text))) => Bytes::from(text),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) => {
                state.store(ReadyState::Closing as u8, Ordering::Relaxed);
                // The next read sends the automatic Close reply, then reports the end.
                let _ = tokio::time::timeout(CLOSE_GRACE, stream.next()).await;
                return ReadEnd::Closed;
            }
            Some(Err(err)) => {
                if is_too_big(err, id) {
                    tracing::warn!(
                        client = id,
                        "legacy ws: message over the size limit; closing with 1009"
                    );
                    state.store(ReadyState::Closing as u8, Ordering::Relaxed);
                    return ReadEnd::TooBig;
                }
                return ReadEnd::Closed;
            }
            None => return ReadEnd::Closed,
        };
        if commands.send(body).await.is_err() {
            return ReadEnd::Closed;
        }
    }
}

/// Whether a read error is tungstenite's "message (or frame) too long"; logs any other.
fn is_too_big(err: axum::Error, id: u64) -> bool {
    let inner = err.into_inner();
    if let Some(tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
        ..
    })) = inner.downcast_ref::<tungstenite::Error>()
    {
        return true;
    }
    tracing::debug!(client = id, error = %inner, "legacy ws: read error");
    false
}

/// Per-connection state owned by the writer task.
struct Client<'a> {
    inner: &'a Inner,
    id: u64,
    /// `None`: every event; `Some(set)`: unscoped events and events of these sessions.
    filter: Option<HashSet<String>>,
    /// Frames (or a reply) waiting for the next write.
    batch: Vec<Utf8Bytes>,
    /// Frames this client lost to drop-oldest.
    lagged: u64,
    /// The hub's close marker came while batching: close once the batch is written.
    closing_seen: bool,
}

impl Client<'_> {
    /// Applies a client message; returns the reply to send, if any.
    fn handle(&mut self, body: &[u8]) -> Option<Utf8Bytes> {
        let now = Inner::now_ms();
        match ClientRequest::parse(body) {
            ClientRequest::Ping => Some(protocol::pong(now)),
            ClientRequest::Subscribe(ids) => {
                let reply = protocol::subscribed(&ids, now);
                self.filter = Some(ids.into_iter().collect());
                Some(reply)
            }
            ClientRequest::Unsubscribe => {
                self.filter = None;
                Some(protocol::unsubscribed(now))
            }
            ClientRequest::Ignored(kind) => {
                if !ClientRequest::is_quiet(kind.as_deref()) {
                    tracing::debug!(client = self.id, kind = ?kind, "legacy ws: message ignored");
                }
                None
            }
            ClientRequest::Unparseable => {
                tracing::warn!(
                    client = self.id,
                    "legacy ws: unparseable client message ignored"
                );
                None
            }
        }
    }

    /// Queues `first` and every frame already waiting (up to [`MAX_BATCH`] frames or
    /// [`MAX_BATCH_BYTES`]) that the filter admits; stops at the hub's close marker.
    fn collect(&mut self, first: Arc<PreparedFrame>, frames: &mut Receiver<Broadcast>) {
        let mut bytes = self.push(&first);
        let mut taken = 1;
        while taken < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match frames.try_recv() {
                Ok(Broadcast::Frame(frame)) => {
                    bytes += self.push(&frame);
                    taken += 1;
                }
                Ok(Broadcast::Close) => {
                    self.closing_seen = true;
                    break;
                }
                Err(TryRecvError::Lagged(n)) => self.note_lag(n),
                Err(_) => break,
            }
        }
    }

    /// Queues `frame` if the filter admits it; returns the bytes queued (0 if filtered out).
    fn push(&mut self, frame: &PreparedFrame) -> usize {
        // Unfiltered clients take everything without computing the scope.
        if self.filter.is_none() || frame.scope().admits(self.filter.as_ref()) {
            self.batch.push(frame.text.clone());
            frame.weight()
        } else {
            0
        }
    }

    fn note_lag(&mut self, n: u64) {
        self.lagged += n;
        self.inner.dropped_frames.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(
            client = self.id,
            dropped = n,
            total = self.lagged,
            "legacy ws: slow client lost its oldest frames"
        );
    }

    /// Writes the queued frames (then `reply`, if any) and flushes, within `send_timeout`;
    /// gives up at once when the hub shuts down during a write that cannot complete.
    async fn write(
        &mut self,
        sink: &mut Sink,
        closing: &mut watch::Receiver<bool>,
        reply: Option<Utf8Bytes>,
    ) -> Write {
        self.batch.extend(reply);
        let batch = std::mem::take(&mut self.batch);
        let send = async {
            for text in &batch {
                sink.feed(Message::Text(text.clone())).await?;
            }
            sink.flush().await
        };
        // The write first: one that completes at once (the usual case) never registers on
        // the shutdown signal.
        let outcome = tokio::select! {
            biased;
            res = tokio::time::timeout(self.inner.config.send_timeout, send) => match res {
                Ok(Ok(())) => Write::Done,
                Ok(Err(err)) => {
                    tracing::debug!(client = self.id, error = %err, "legacy ws: write failed");
                    Write::Failed
                }
                Err(_) => Write::Stalled,
            },
            () = wait_closing(closing) => Write::Shutdown,
        };
        // Reuse the allocation for the next batch.
        self.batch = batch;
        self.batch.clear();
        outcome
    }
}

/// Completes when the hub starts closing (or is gone).
async fn wait_closing(closing: &mut watch::Receiver<bool>) {
    // `Err` means the hub was dropped: treat it as closing too.
    let _ = closing.wait_for(|&c| c).await;
}

/// Reads until the peer's Close (or the end of the stream), sending tungstenite's reply; used
/// when a connection is closed before its reader task starts.
async fn read_until_closed(mut stream: Stream) {
    while let Some(Ok(msg)) = stream.next().await {
        if matches!(msg, Message::Close(_)) {
            let _ = stream.next().await;
            return;
        }
    }
}

/// Sends Close (1009, "message too big") after the reader stopped at an oversized message.
/// tungstenite reads nothing more on that connection, so the peer's reply is not awaited.
async fn close_too_big(sink: &mut Sink) {
    let frame = CloseFrame {
        code: MESSAGE_TOO_BIG,
        reason: Utf8Bytes::from_static("message too big"),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
}

/// Sends Close (1001) and waits briefly for the peer's Close reply, which `reader` (the reader
/// task, or a read loop) sees.
async fn close_gracefully(sink: &mut Sink, reader: impl std::future::Future) {
    let frame = CloseFrame {
        code: GOING_AWAY,
        reason: Utf8Bytes::from_static("server shutting down"),
    };
    if tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame))))
        .await
        .is_ok_and(|r| r.is_ok())
    {
        let _ = tokio::time::timeout(CLOSE_GRACE, reader).await;
    }
}
