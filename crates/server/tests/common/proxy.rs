//! A TCP proxy for outage tests: listens on 127.0.0.1:0 and forwards to an upstream address.
//! [`Proxy::cut`] closes every forwarded connection and closes new ones at once (the database
//! looks down); [`Proxy::restore`] forwards again. It runs on its own thread and runtime so
//! it keeps working while the test thread blocks (e.g. waiting for a server's ready line).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

struct State {
    upstream: SocketAddr,
    cut: AtomicBool,
    /// Bumped by `cut`: every forwarding task ends when it changes.
    epoch: watch::Sender<u64>,
}

/// The running proxy; stopped on drop.
pub struct Proxy {
    /// Bound address (127.0.0.1:port).
    pub addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("proxy addr");
        let (epoch, _) = watch::channel(0u64);
        let state = Arc::new(State {
            upstream,
            cut: AtomicBool::new(false),
            epoch,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                tokio::select! {
                    () = accept_loop(listener, st) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime aborts every forwarding task (closing their sockets).
        });
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Closes every forwarded connection; new connections are closed on accept.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.epoch.send_modify(|e| *e += 1);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        if state.cut.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let mut epoch = state.epoch.subscribe();
        let upstream = state.upstream;
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = epoch.changed() => {}
            }
        });
    }
}

/// Splits `scheme://[user[:pw]@]host:port/rest` into the upstream `host:port` and a copy of
/// the URL with `host:port` replaced by `addr`.
pub fn redirect_url(url: &str, addr: SocketAddr) -> (SocketAddr, String) {
    let (scheme, rest) = url.split_once("://").expect("URL form");
    let (auth_end, tail) = match rest.find(['/', '?']) {
        Some(i) => (i, &rest[i..]),
        None => (rest.len(), ""),
    };
    let authority = &rest[..auth_end];
    let (creds, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (format!("{c}@"), h),
        None => (String::new(), authority),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .expect("resolve upstream")
        .next()
        .expect("an upstream address");
    (upstream, format!("{scheme}://{creds}{addr}{tail}"))
}
