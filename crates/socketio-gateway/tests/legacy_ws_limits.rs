//! The legacy bridge's message size limit (`LegacyWsConfig::max_message_size`): a client
//! message over it ends the connection with a Close frame 1009 ("message too big"), not a
//! dropped TCP connection (1006), and other clients are unaffected. A real axum server on
//! 127.0.0.1:0 and tokio-tungstenite clients; every wait is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use futures::{SinkExt, StreamExt};
use maestro_domain::ids::SystemClock;
use maestro_domain::memory::{MemoryEventBus, ReplayConfig};
use maestro_socketio_gateway::{LegacyWsConfig, LegacyWsHub};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

/// The limit under test, bytes.
const LIMIT: usize = 4096;

struct Server {
    hub: LegacyWsHub,
    addr: SocketAddr,
    _shutdown: watch::Sender<bool>,
}

async fn start() -> Server {
    let bus = Arc::new(MemoryEventBus::new(
        Arc::new(SystemClock),
        1024,
        ReplayConfig::default(),
    ));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let config = LegacyWsConfig {
        max_message_size: LIMIT,
        ..LegacyWsConfig::default()
    };
    let hub = LegacyWsHub::start(bus, config, shutdown_rx);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handle = hub.clone();
    let app = Router::new().fallback(move |ws: WebSocketUpgrade| {
        let hub = handle.clone();
        async move { hub.upgrade(ws) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        hub,
        addr,
        _shutdown: shutdown,
    }
}

async fn connect(server: &Server) -> Ws {
    let url = format!("ws://{}/", server.addr);
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    ws
}

/// Reads until a Close frame and returns its code; fails on anything else ending the stream.
async fn close_code(ws: &mut Ws) -> CloseCode {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no Close frame within the wait bound")
            .expect("the connection ended without a Close frame (1006)")
            .expect("read error before a Close frame (1006)");
        if let Message::Close(frame) = msg {
            return frame.expect("Close frame without a code").code;
        }
    }
}

async fn ping(ws: &mut Ws) -> Value {
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .expect("send ping");
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no pong within the wait bound")
            .expect("socket closed")
            .expect("read error");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("json");
        }
    }
}

async fn wait_clients(server: &Server, n: usize) {
    let mut count = server.hub.watch_client_count();
    let reached = tokio::time::timeout(WAIT, count.wait_for(|&c| c == n)).await;
    assert!(
        reached.is_ok(),
        "client count never reached {n} (it is {})",
        server.hub.client_count()
    );
}

#[tokio::test]
async fn an_oversized_text_message_closes_with_1009() {
    let server = start().await;
    let mut bystander = connect(&server).await;
    let mut ws = connect(&server).await;
    wait_clients(&server, 2).await;
    // A message at the limit is read (and ignored: it is not a request).
    ws.send(Message::text(" ".repeat(LIMIT)))
        .await
        .expect("send at the limit");
    assert_eq!(ping(&mut ws).await["type"], "pong");

    ws.send(Message::text("x".repeat(LIMIT + 1)))
        .await
        .expect("send over the limit");
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);
    wait_clients(&server, 1).await;
    assert_eq!(ping(&mut bystander).await["type"], "pong");
}

#[tokio::test]
async fn an_oversized_fragmented_binary_message_closes_with_1009() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let server = start().await;
    let mut ws = connect(&server).await;
    // Each frame is under the limit; together they exceed it.
    let part = bytes::Bytes::from(vec![b'y'; LIMIT / 2 + 1]);
    let first = Frame::message(part.clone(), OpCode::Data(Data::Binary), false);
    let last = Frame::message(part, OpCode::Data(Data::Continue), true);
    ws.send(Message::Frame(first)).await.expect("first frame");
    ws.send(Message::Frame(last)).await.expect("last frame");
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);
    wait_clients(&server, 0).await;
}

/// A message far larger than the socket buffers: the client is still writing when the server
/// closes, so its send fails, yet the Close frame is there to read.
#[tokio::test]
async fn a_client_still_sending_a_huge_message_reads_1009() {
    let server = start().await;
    let mut ws = connect(&server).await;
    // The send may fail (the server stops reading and closes mid-message); that is expected.
    let _ = ws.send(Message::text("x".repeat(8 << 20))).await;
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);
}
