//! Closed-loop HTTP load: N workers, each with its own keep-alive HTTP/1.1 connection
//! (hyper's connection-level client, no pool, no per-request allocation beyond the request),
//! sending the next request as soon as the previous answer is fully read.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Highest latency the histograms track, in microseconds (60 s).
const MAX_MICROS: u64 = 60_000_000;

/// A new latency histogram in microseconds, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_MICROS, 3)?)
}

/// Records a duration, in microseconds, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(MAX_MICROS)
        .clamp(1, MAX_MICROS);
    h.saturating_record(us);
}

/// Drives a connection's I/O; resolves when the connection ends.
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One keep-alive HTTP/1.1 connection. The connection's I/O is driven inside [`Conn::send`]
/// by the calling task itself (no separate task per connection, so no cross-task wake-up per
/// request).
pub struct Conn {
    addr: SocketAddr,
    host: String,
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
}

impl Conn {
    /// Connects (TCP_NODELAY) and performs the HTTP/1.1 handshake.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        Ok(Self {
            addr,
            host: addr.to_string(),
            sender,
            driver: Box::pin(async move {
                let _ = conn.await;
            }),
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.as_str());
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let sender = &mut self.sender;
        let exchange = async move {
            sender.ready().await?;
            let res = sender.send_request(req).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::select! {
            biased;
            r = exchange => r,
            () = &mut self.driver => anyhow::bail!("connection closed"),
        }
    }

    /// Replaces a broken connection with a new one.
    pub async fn reconnect(&mut self) -> anyhow::Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }
}

/// A request to send: method, path and optional JSON body.
pub type Req = (Method, String, Option<Bytes>);

/// Builds the next request of a worker: `(rng, worker index, request sequence number)`.
pub type MakeReq = Arc<dyn Fn(&mut Rng, usize, u64) -> Req + Send + Sync>;

/// A small xorshift generator (no dependency, plenty for picking ids).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

/// A closed-loop workload.
pub struct Workload {
    /// Concurrent connections.
    pub conns: usize,
    /// Not measured, run first.
    pub warmup: Duration,
    /// Measured.
    pub duration: Duration,
    /// The request generator.
    pub make: MakeReq,
}

/// What a workload measured (requests that started inside the measured window).
pub struct LoadResult {
    /// Successful (2xx) requests.
    pub ok: u64,
    /// Non-2xx answers and transport failures (warm-up included).
    pub errors: u64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Latency of every request (successful or not), microseconds.
    pub hist: Histogram<u64>,
    /// Length of the measured window.
    pub window: Duration,
    /// Response body bytes of successful requests.
    pub body_bytes: u64,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }
}

struct WorkerOut {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    hist: Histogram<u64>,
    body_bytes: u64,
}

/// Runs `w` against `addr`: connects every worker first, then warm-up, then the measured window.
pub async fn run(addr: SocketAddr, w: &Workload) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(w.conns);
    for _ in 0..w.conns {
        conns.push(Conn::connect(addr).await?);
    }
    let t0 = Instant::now();
    let measure_from = t0 + w.warmup;
    let end = measure_from + w.duration;
    let mut tasks = Vec::with_capacity(w.conns);
    for (k, mut conn) in conns.into_iter().enumerate() {
        let make = w.make.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = WorkerOut {
                ok: 0,
                errors: 0,
                first_error: None,
                hist: histogram()?,
                body_bytes: 0,
            };
            let mut rng = Rng::new(k as u64 + 1);
            let mut seq = 0u64;
            loop {
                let start = Instant::now();
                if start >= end {
                    break;
                }
                let (method, path, body) = make(&mut rng, k, seq);
                seq += 1;
                let res = conn.send(method, &path, body).await;
                let took = start.elapsed();
                let measured = start >= measure_from;
                let failure = match res {
                    Ok((status, body)) if status.is_success() => {
                        if measured {
                            out.ok += 1;
                            out.body_bytes += body.len() as u64;
                        }
                        None
                    }
                    Ok((status, body)) => Some(format!(
                        "{status} on {path}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    )),
                    Err(e) => {
                        let msg = format!("{path}: {e:#}");
                        conn.reconnect().await?;
                        Some(msg)
                    }
                };
                if measured {
                    record(&mut out.hist, took);
                }
                // Errors count in the warm-up too: there must be none at all.
                if let Some(f) = failure {
                    out.errors += 1;
                    out.first_error.get_or_insert(f);
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut total = LoadResult {
        ok: 0,
        errors: 0,
        first_error: None,
        hist: histogram()?,
        window: w.duration,
        body_bytes: 0,
    };
    for t in tasks {
        let out = t.await??;
        total.ok += out.ok;
        total.errors += out.errors;
        total.body_bytes += out.body_bytes;
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
        total.hist.add(&out.hist)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_stays_in_range_and_varies() {
        let mut r = Rng::new(7);
        let picks: Vec<usize> = (0..1000).map(|_| r.below(10)).collect();
        assert!(picks.iter().all(|&p| p < 10));
        assert!((0..10).all(|v| picks.contains(&v)));
    }

    #[test]
    fn records_clamp() {
        let mut h = histogram().expect("hist");
        record(&mut h, Duration::from_nanos(10));
        record(&mut h, Duration::from_secs(600));
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
    }
}
