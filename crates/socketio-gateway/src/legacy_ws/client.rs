//! One task per connection: reads client messages, writes the frames its filter admits.
//!
//! The task owns the socket and the session filter, so neither needs a lock. Writes are
//! batched: after one frame arrives, frames already queued (up to [`MAX_BATCH`]) go out in the
//! same flush, which keeps bursts cheap without delaying a lone event.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::{broadcast, watch};

use super::frame::PreparedFrame;
use super::protocol::{self, ClientRequest};
use super::{Inner, ReadyState, Registration};

/// Most frames written per flush.
const MAX_BATCH: usize = 64;

/// Time allowed for each half of a close handshake (sending our Close, reading theirs).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// WebSocket close code "going away" (server shutdown).
const GOING_AWAY: u16 = 1001;

/// Why the client loop ended.
enum End {
    /// The peer closed (Close frame, EOF or a transport error): nothing more to send.
    Peer,
    /// The socket accepted no data for `send_timeout`.
    Stalled,
    /// The hub is shutting down: close the socket gracefully.
    Shutdown,
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
    mut frames: broadcast::Receiver<Arc<PreparedFrame>>,
    mut socket: WebSocket,
) {
    let inner = registration.inner.clone();
    let mut closing = inner.closing.subscribe();
    if *closing.borrow() {
        registration.set_state(ReadyState::Closing);
        close_gracefully(&mut socket).await;
        return;
    }
    registration.set_state(ReadyState::Open);
    let id = registration.id;
    tracing::debug!(client = id, "legacy ws: client connected");

    let mut client = Client {
        inner: &inner,
        id,
        filter: None,
        batch: Vec::with_capacity(MAX_BATCH),
        lagged: 0,
    };
    let end = loop {
        tokio::select! {
            biased;
            () = wait_closing(&mut closing) => break End::Shutdown,
            incoming = socket.next() => {
                let Some(reply) = (match incoming {
                    Some(Ok(Message::Text(text))) => client.handle(text.as_bytes()),
                    Some(Ok(Message::Binary(bytes))) => client.handle(&bytes),
                    // tungstenite answers Ping itself (flushed on the next read) and replies
                    // to Close; Pong needs nothing.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) => {
                        registration.set_state(ReadyState::Closing);
                        // Flush the automatic Close reply; the error that follows is expected.
                        let _ = tokio::time::timeout(CLOSE_GRACE, socket.flush()).await;
                        break End::Peer;
                    }
                    Some(Err(err)) => {
                        tracing::debug!(client = id, error = %err, "legacy ws: read error");
                        break End::Peer;
                    }
                    None => break End::Peer,
                }) else {
                    continue;
                };
                match client.write(&mut socket, &mut closing, Some(reply)).await {
                    Write::Done => {}
                    Write::Failed => break End::Peer,
                    Write::Stalled => break End::Stalled,
                    Write::Shutdown => break End::Shutdown,
                }
            }
            received = frames.recv() => {
                match received {
                    Ok(frame) => client.collect(frame, &mut frames),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        client.note_lag(n);
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break End::Shutdown,
                }
                if client.batch.is_empty() {
                    continue;
                }
                match client.write(&mut socket, &mut closing, None).await {
                    Write::Done => {}
                    Write::Failed => break End::Peer,
                    Write::Stalled => break End::Stalled,
                    Write::Shutdown => break End::Shutdown,
                }
            }
        }
    };

    match end {
        End::Peer => {}
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
            close_gracefully(&mut socket).await;
        }
    }
    tracing::debug!(
        client = id,
        lagged = client.lagged,
        "legacy ws: client gone"
    );
}

/// Per-connection state owned by the client task.
struct Client<'a> {
    inner: &'a Inner,
    id: u64,
    /// `None`: every event; `Some(set)`: unscoped events and events of these sessions.
    filter: Option<HashSet<String>>,
    /// Frames (or a reply) waiting for the next write.
    batch: Vec<Utf8Bytes>,
    /// Frames this client lost to drop-oldest.
    lagged: u64,
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

    /// Queues `first` and every frame already waiting (up to [`MAX_BATCH`]) that the filter
    /// admits.
    fn collect(
        &mut self,
        first: Arc<PreparedFrame>,
        frames: &mut broadcast::Receiver<Arc<PreparedFrame>>,
    ) {
        self.push(&first);
        let mut taken = 1;
        while taken < MAX_BATCH {
            match frames.try_recv() {
                Ok(frame) => {
                    self.push(&frame);
                    taken += 1;
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.note_lag(n),
                Err(_) => break,
            }
        }
    }

    fn push(&mut self, frame: &PreparedFrame) {
        if frame.scope.admits(self.filter.as_ref()) {
            self.batch.push(frame.text.clone());
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
    /// gives up at once when the hub shuts down.
    async fn write(
        &mut self,
        socket: &mut WebSocket,
        closing: &mut watch::Receiver<bool>,
        reply: Option<Utf8Bytes>,
    ) -> Write {
        self.batch.extend(reply);
        let batch = std::mem::take(&mut self.batch);
        let send = async {
            for text in &batch {
                socket.feed(Message::Text(text.clone())).await?;
            }
            socket.flush().await
        };
        let outcome = tokio::select! {
            biased;
            () = wait_closing(closing) => Write::Shutdown,
            res = tokio::time::timeout(self.inner.config.send_timeout, send) => match res {
                Ok(Ok(())) => Write::Done,
                Ok(Err(err)) => {
                    tracing::debug!(client = self.id, error = %err, "legacy ws: write failed");
                    Write::Failed
                }
                Err(_) => Write::Stalled,
            },
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

/// Sends Close (1001) and waits briefly for the peer's Close reply.
async fn close_gracefully(socket: &mut WebSocket) {
    let frame = CloseFrame {
        code: GOING_AWAY,
        reason: Utf8Bytes::from_static("server shutting down"),
    };
    if tokio::time::timeout(CLOSE_GRACE, socket.send(Message::Close(Some(frame))))
        .await
        .is_ok_and(|r| r.is_ok())
    {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = socket.next().await {}
        })
        .await;
    }
}
