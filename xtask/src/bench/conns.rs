//! Memory per connection (issue 12 item 5): the RSS growth of a freshly started server for N
//! idle keep-alive connections (each has answered one `GET /health`) and for N pending mail
//! long-polls (`GET /api/mail/wait/:sessionId?timeout=120000`), and its RSS once they closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::Method;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::load::Conn;
use super::server::Server;

/// Connections per measurement, when the descriptor limit allows it.
pub const CONNECTIONS: usize = 1_000;

/// Time for the server's RSS to settle after connections open or close.
const SETTLE: Duration = Duration::from_secs(1);

/// The kind of connection [`run`] holds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Keep-alive connections that have answered one `GET /health`.
    Idle,
    /// Pending `GET /api/mail/wait/:sessionId?timeout=120000`.
    LongPoll,
}

/// What [`run`] measured.
pub struct ConnMemory {
    /// Connections held.
    pub n: usize,
    /// RSS before any connection, MiB.
    pub base_mib: f64,
    /// RSS with the connections open, MiB.
    pub held_mib: f64,
    /// RSS after they closed, MiB.
    pub closed_mib: f64,
}

impl ConnMemory {
    /// RSS growth per connection, bytes.
    pub fn per_connection(&self) -> f64 {
        (self.held_mib - self.base_mib).max(0.0) * 1024.0 * 1024.0 / self.n.max(1) as f64
    }
}

/// How many connections this process can hold while the server, which inherits the same
/// descriptor limit and caps its connections below it (64 + limit/8 kept in reserve), still
/// accepts them all.
pub fn connections_allowed() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(1024);
    let server_cap = soft.saturating_sub(64 + soft / 8);
    CONNECTIONS.min(usize::try_from(server_cap.saturating_sub(50)).unwrap_or(CONNECTIONS))
}

/// `1,000` style count.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `maestro_bus_subscribers` from `/metrics`.
async fn bus_subscribers(addr: SocketAddr) -> anyhow::Result<u64> {
    let mut c = Conn::connect(addr).await?;
    let (status, body) = c.send(Method::GET, "/metrics", None).await?;
    anyhow::ensure!(status.is_success(), "/metrics answered {status}");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("maestro_bus_subscribers "))
        .and_then(|v| v.trim().parse().ok())
        .context("no maestro_bus_subscribers in /metrics")
}

/// Opens `n` connections of `kind` to a server that has just started (nothing else
/// connected), measures its RSS, closes them and measures again.
pub async fn run(
    srv: &Server,
    addr: SocketAddr,
    kind: Kind,
    n: usize,
) -> anyhow::Result<ConnMemory> {
    tokio::time::sleep(SETTLE).await;
    let base_mib = srv.rss_mib()?;
    let subscribers = bus_subscribers(addr).await?;
    let mut idle = Vec::new();
    let mut polls = Vec::new();
    for i in 0..n {
        match kind {
            Kind::Idle => {
                let mut c = Conn::connect(addr).await?;
                let (status, _) = c.send(Method::GET, "/health", None).await?;
                anyhow::ensure!(status.is_success(), "/health answered {status}");
                idle.push(c);
            }
            Kind::LongPoll => {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(
                    format!(
                        "GET /api/mail/wait/bench_poll_{i}?timeout=120000 HTTP/1.1\r\n\
                         Host: {addr}\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await?;
                polls.push(s);
            }
        }
    }
    if kind == Kind::LongPoll {
        // Parked once each holds its bus subscription.
        let deadline = Instant::now() + Duration::from_secs(30);
        while bus_subscribers(addr).await? < subscribers + n as u64 {
            if Instant::now() > deadline {
                bail!("{n} long-polls were not all waiting after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let held_mib = srv.rss_mib()?;
    drop(idle);
    drop(polls);
    tokio::time::sleep(SETTLE * 2).await;
    Ok(ConnMemory {
        n,
        base_mib,
        held_mib,
        closed_mib: srv.rss_mib()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(950), "950");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
