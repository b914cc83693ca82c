//! The real binary refuses WebSocket upgrades and requests from foreign origins and hosts
//! (spec §8.1, §8.5) before they reach the bridge or a handler, keeps serving the clients
//! that must work (the CLI and `maestro session watch` without `Origin`, the desktop app with
//! `tauri://localhost`, a dev UI on a loopback origin), closes an oversized WebSocket message
//! with 1009, and refuses a `*` origin at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::ServerProc;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

fn start(env: &[(&str, String)]) -> (ServerProc, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let server = ServerProc::start(&data, home.path(), env);
    (server, home)
}

/// Opens `ws://<addr>/` with the given extra headers (`host` replaces the default one).
async fn upgrade(server: &ServerProc, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    let mut req = format!("ws://{}/", server.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("upgrade timed out")
        .map(|(ws, _)| ws)
}

async fn assert_pong(ws: &mut Ws) {
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no pong within the wait bound")
            .expect("closed")
            .expect("read error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["type"], "pong", "{v}");
            return;
        }
    }
}

/// The upgrade was answered with a plain 403 in the spec's error shape, never a 101.
fn assert_refused(result: Result<Ws, WsError>, mentions: &str) {
    let response = match result {
        Err(WsError::Http(response)) => response,
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };
    assert_eq!(response.status().as_u16(), 403);
    let body: Value =
        serde_json::from_slice(response.body().as_deref().expect("a body")).expect("JSON body");
    assert_eq!(body["code"], "FORBIDDEN", "{body}");
    assert_eq!(body["statusCode"], 403, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(mentions), "{message}");
}

#[tokio::test]
async fn upgrades_follow_the_origin_and_host_rules() {
    let (server, _home) = start(&[]);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    // `maestro session watch` (Node `ws`): no Origin.
    let mut open = vec![upgrade(&server, &[]).await.expect("no Origin")];
    for origin in [
        "tauri://localhost",
        "http://tauri.localhost",
        "http://localhost:5173",
    ] {
        let ws = upgrade(&server, &[("origin", origin)])
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        open.push(ws);
    }
    let localhost = format!("localhost:{port}");
    open.push(
        upgrade(&server, &[("host", &localhost)])
            .await
            .expect("Host localhost"),
    );
    for ws in &mut open {
        assert_pong(ws).await;
    }

    assert_refused(
        upgrade(&server, &[("origin", "https://evil.example")]).await,
        "http.cors_origins",
    );
    let rebound = format!("evil.example:{port}");
    assert_refused(
        upgrade(&server, &[("host", &rebound)]).await,
        "http.allowed_hosts",
    );
    let own = format!("http://{rebound}");
    assert_refused(
        upgrade(&server, &[("host", &rebound), ("origin", &own)]).await,
        "http.allowed_hosts",
    );
    // Refused upgrades never became clients (clients register before their 101).
    let status: Value = common::client()
        .get(server.url("/ws-status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["connectedClients"], 5, "{status}");
}

#[tokio::test]
async fn rest_requests_follow_the_host_and_origin_rules() {
    let (server, _home) = start(&[]);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let c = common::client();
    let project = json!({"name": "p", "workingDir": "/w"}).to_string();
    // The CLI: Host localhost:<port> or 127.0.0.1:<port>, no Origin.
    for host in [format!("localhost:{port}"), server.addr.clone()] {
        let res = c
            .post(server.url("/api/projects"))
            .header("host", &host)
            .header("content-type", "application/json")
            .body(project.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{host}");
    }
    let res = c
        .get(server.url("/api/projects"))
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "FORBIDDEN", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("http.allowed_hosts"),
        "{body}"
    );
    let res = c
        .post(server.url("/api/projects"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(project.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let list: Value = c
        .get(server.url("/api/projects"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[tokio::test]
async fn configured_hosts_and_origins_are_served() {
    let (server, _home) = start(&[
        ("MAESTRO_HTTP__ALLOWED_HOSTS", "maestro.test".into()),
        ("CORS_ORIGINS", "https://app.example.com".into()),
    ]);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let host = format!("maestro.test:{port}");
    let mut ws = upgrade(
        &server,
        &[("host", &host), ("origin", "https://app.example.com")],
    )
    .await
    .expect("configured host and origin");
    assert_pong(&mut ws).await;
    // The phone web client opened at http://maestro.test:<port> connects from its own origin.
    let own = format!("http://{host}");
    let mut ws = upgrade(&server, &[("host", &host), ("origin", &own)])
        .await
        .expect("same origin");
    assert_pong(&mut ws).await;
    assert_refused(
        upgrade(&server, &[("origin", "https://other.example.com")]).await,
        "http.cors_origins",
    );
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_with_1009() {
    let (server, _home) = start(&[]);
    let mut ws = upgrade(&server, &[]).await.expect("connect");
    // The default limit is 1 MiB; the send itself may fail once the server has closed.
    let _ = ws.send(Message::text("x".repeat((1 << 20) + 1))).await;
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no Close frame within the wait bound")
            .expect("ended without a Close frame (1006)")
            .expect("read error before a Close frame (1006)");
        if let Message::Close(frame) = msg {
            assert_eq!(frame.expect("a code").code, CloseCode::Size);
            return;
        }
    }
}

#[test]
fn a_wildcard_origin_stops_the_start() {
    let home = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_maestro-server"))
        .env_clear()
        .env("HOME", home.path())
        .env("PORT", "0")
        .env("DATA_DIR", home.path().join("data"))
        .env("CORS_ORIGINS", "*")
        .current_dir(home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = std::process::Command::new("kill").arg(&pid).status();
        panic!("the server started (or hung) instead of refusing CORS_ORIGINS=*");
    };
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http.cors_origins"), "{err}");
}
