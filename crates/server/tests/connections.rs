//! Hostile and slow clients against the real binary (issue 12 items 5 and 11): header-read,
//! idle keep-alive and request-body timeouts, the connection cap (configured and derived from
//! `RLIMIT_NOFILE`), 414 / 431 in the error shape, and a prompt shutdown that answers pending
//! mail long-polls with `[]`.
//!
//! Raw sockets, so that the test controls every byte; every wait is bounded and waits on the
//! socket itself (a read that returns the answer or end-of-stream).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A server with its stderr in a file.
struct Srv {
    child: Child,
    addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Srv {
    /// Starts the binary with `env` (and `ulimit -n nofile` when given); waits (bounded) for
    /// its ready line.
    fn start(env: &[(&str, &str)], nofile: Option<u32>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let bin = env!("CARGO_BIN_EXE_maestro-server");
        let mut cmd = match nofile {
            None => Command::new(bin),
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\""), bin]);
                c
            }
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("PORT", "0")
            .env("DATA_DIR", dir.path().join("data"))
            .env("SESSION_DIR", dir.path().join("sessions"))
            .env("LOG_LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawn maestro-server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not print its ready line within 30 s");
        let addr = line
            .strip_prefix("maestro-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed response.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (`Content-Length` framed), waiting at most `within`.
fn read_answer(s: &mut TcpStream, within: Duration) -> Answer {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) => panic!(
                "connection closed before an answer: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("no answer within {within:?}: {e}"),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let mut answer = Answer {
        status,
        head,
        body: buf[head_end..].to_vec(),
    };
    let len: usize = answer
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    while answer.body.len() < len {
        let n = s.read(&mut chunk).expect("body");
        assert!(n > 0, "connection closed in the body");
        answer.body.extend_from_slice(&chunk[..n]);
    }
    answer
}

fn get(s: &mut TcpStream, path: &str) -> Answer {
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    read_answer(s, Duration::from_secs(10))
}

/// Waits (at most `within`) for the server to close `s`; returns how long that took, or
/// `None` if it is still open.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut chunk = [0u8; 1024];
    match s.read(&mut chunk) {
        Ok(0) => Some(started.elapsed()),
        Ok(n) => panic!(
            "unexpected bytes while waiting for the close: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        // Reset by the peer: closed as well.
        Err(_) => Some(started.elapsed()),
    }
}

#[test]
fn a_client_that_dribbles_its_headers_is_closed_after_the_header_timeout() {
    let srv = Srv::start(
        &[
            ("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "500"),
            ("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "300"),
        ],
        None,
    );
    let mut s = srv.connect();
    let started = Instant::now();
    // One byte every 100 ms (the read timeout paces it): never quiet for the 300 ms idle
    // timeout, so only the header timeout can end it.
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: {}",
        "a".repeat(200)
    );
    let mut chunk = [0u8; 1024];
    let mut closed = false;
    for byte in head.bytes() {
        if s.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => panic!(
                "unexpected answer: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    assert!(
        closed,
        "a client dribbling header bytes was still connected after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}; the header timeout is 500 ms"
    );
}

#[test]
fn idle_keep_alive_and_silent_connections_are_closed_after_the_idle_timeout() {
    let srv = Srv::start(
        &[
            ("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "10000"),
            ("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "300"),
        ],
        None,
    );
    let mut s = srv.connect();
    assert_eq!(get(&mut s, "/health").status, 200);
    // Keep-alive: the same connection serves the next request.
    assert_eq!(get(&mut s, "/health").status, 200);
    let after = closed_within(&mut s, Duration::from_secs(5))
        .expect("an idle keep-alive connection was still open 5 s after its last answer");
    assert!(
        after >= Duration::from_millis(200),
        "closed {after:?} after the answer; the idle timeout is 300 ms"
    );

    // A connection that never sends anything goes the same way.
    let mut silent = srv.connect();
    closed_within(&mut silent, Duration::from_secs(5))
        .expect("a silent connection was still open after 5 s");
}

#[test]
fn a_request_body_that_never_completes_gets_408_and_the_connection_closes() {
    let srv = Srv::start(&[("MAESTRO_HTTP__BODY_TIMEOUT_MS", "400")], None);
    let mut s = srv.connect();
    s.write_all(
        b"POST /api/projects HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"name\":",
    )
    .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut s, Duration::from_secs(5));
    assert_eq!(answer.status, 408, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["error"], true);
    assert_eq!(body["statusCode"], 408);
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    assert!(
        body["message"].as_str().unwrap().contains("400 ms"),
        "{body}"
    );
    assert!(answer.header("x-request-id").is_some(), "{answer:?}");
    assert!(started.elapsed() >= Duration::from_millis(350));
    closed_within(&mut s, Duration::from_secs(5))
        .expect("the connection stayed open after the 408");
}

#[test]
fn at_the_connection_cap_new_clients_wait_while_open_ones_keep_answering() {
    let srv = Srv::start(
        &[
            ("MAESTRO_HTTP__MAX_CONNECTIONS", "3"),
            ("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "30000"),
            ("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "30000"),
        ],
        None,
    );
    let mut held: Vec<TcpStream> = (0..3).map(|_| srv.connect()).collect();
    for s in &mut held {
        assert_eq!(get(s, "/health").status, 200);
    }
    // Two more: the kernel completes their handshakes (listen backlog), the server does not
    // accept them.
    let mut waiting: Vec<TcpStream> = (0..2).map(|_| srv.connect()).collect();
    for s in &mut waiting {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
    }
    assert_eq!(get(&mut held[0], "/health").status, 200);
    let mut chunk = [0u8; 64];
    waiting[0]
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    match waiting[0].read(&mut chunk) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection beyond the cap was served: {other:?}"),
    }
    let metrics = get(&mut held[1], "/metrics");
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("maestro_http_connection_limit 3"), "{text}");
    assert!(text.contains("maestro_http_connections 3"), "{text}");
    let reached = text
        .lines()
        .find_map(|l| l.strip_prefix("maestro_http_connection_limit_reached "))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no limit counter: {text}"));
    assert!(reached >= 1, "{text}");

    // Closing one lets the first waiting client in.
    drop(held.pop());
    assert_eq!(
        read_answer(&mut waiting[0], Duration::from_secs(10)).status,
        200
    );
    let log = srv.log();
    assert_eq!(
        log.matches("connection limit reached").count(),
        1,
        "the cap is logged once, not per connection: {log}"
    );
    assert!(log.contains("http.max_connections = 3"), "{log}");
}

#[test]
fn the_automatic_cap_stays_below_a_low_descriptor_limit() {
    // RLIMIT_NOFILE 100 → cap 100 − (64 + 12) = 24.
    let srv = Srv::start(
        &[
            ("MAESTRO_HTTP__HEADER_READ_TIMEOUT_MS", "500"),
            ("MAESTRO_HTTP__IDLE_TIMEOUT_MS", "500"),
        ],
        Some(100),
    );
    // More silent connections than the server has descriptors (and fewer than the listen
    // backlog holds): without the cap, accepting them runs the server out of descriptors.
    let silent: Vec<TcpStream> = (0..110).map(|_| srv.connect()).collect();
    // A real client gets its answer once the timeouts have closed the silent ones.
    let mut s = srv.connect();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let answer = read_answer(&mut s, Duration::from_secs(20));
    assert_eq!(answer.status, 200);
    drop(silent);
    let log = srv.log();
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of descriptors: {log}"
    );
    assert!(log.contains("connection limit reached"), "{log}");
    assert!(log.contains("RLIMIT_NOFILE 100"), "{log}");
}

#[test]
fn oversized_request_heads_get_the_error_shape() {
    let srv = Srv::start(&[], None);
    let mut s = srv.connect();
    let answer = get(
        &mut s,
        &format!("/api/tasks?projectId={}", "a".repeat(10_000)),
    );
    assert_eq!(answer.status, 414, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["code"], "URI_TOO_LONG");
    assert_eq!(body["statusCode"], 414);
    assert!(answer.header("x-request-id").is_some());

    let mut s = srv.connect();
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    )
    .unwrap();
    let answer = read_answer(&mut s, Duration::from_secs(10));
    assert_eq!(answer.status, 431, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["code"], "REQUEST_HEADER_FIELDS_TOO_LARGE");
    assert_eq!(body["statusCode"], 431);

    // Beyond what hyper buffers (64 KiB) hyper answers by itself: still 431, but without a
    // body (hyper 1.x has no hook for it).
    let mut s = srv.connect();
    let _ = write!(
        s,
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let answer = read_answer(&mut s, Duration::from_secs(10));
    assert_eq!(answer.status, 431, "{answer:?}");
}

/// `maestro_bus_subscribers` from `/metrics`.
fn bus_subscribers(srv: &Srv) -> i64 {
    let mut s = srv.connect();
    let answer = get(&mut s, "/metrics");
    String::from_utf8_lossy(&answer.body)
        .lines()
        .find_map(|l| l.strip_prefix("maestro_bus_subscribers "))
        .and_then(|v| v.trim().parse().ok())
        .expect("maestro_bus_subscribers")
}

#[test]
fn shutdown_answers_pending_long_polls_at_once_and_exits_0() {
    let mut srv = Srv::start(&[("MAESTRO_HTTP__SHUTDOWN_GRACE_MS", "10000")], None);
    let before = bus_subscribers(&srv);
    let mut polls: Vec<TcpStream> = (0..3)
        .map(|i| {
            let mut s = srv.connect();
            write!(
                s,
                "GET /api/mail/wait/sess_{i}?timeout=120000 HTTP/1.1\r\nHost: localhost\r\n\r\n"
            )
            .unwrap();
            s
        })
        .collect();
    // An idle keep-alive client must not hold the exit either.
    let mut idle = srv.connect();
    assert_eq!(get(&mut idle, "/health").status, 200);
    // Every wait is parked once it holds its bus subscription.
    let deadline = Instant::now() + Duration::from_secs(10);
    while bus_subscribers(&srv) < before + 3 {
        assert!(
            Instant::now() < deadline,
            "the long-polls did not start waiting within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let started = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    for s in &mut polls {
        let answer = read_answer(s, Duration::from_secs(3));
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json(), serde_json::json!([]));
    }
    let status = loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the server had not exited 4 s after SIGTERM (grace period 10 s)"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{}", srv.log());
    closed_within(&mut idle, Duration::from_secs(1)).expect("the idle connection was closed");
}
