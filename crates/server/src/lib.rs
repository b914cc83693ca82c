//! `maestro-server` as a library: configuration ([`config`]), adapter selection and the
//! serve loop ([`Server`]), the PostgreSQL commands ([`postgres`], [`import`]). The binary in
//! `main.rs` is a thin CLI over this.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maestro_domain::broadcast::RingLimits;
use maestro_domain::events::EventBus;
use maestro_domain::ids::{RandomIdGenerator, SystemClock};
use maestro_domain::memory::{MemoryEventBus, ReplayConfig};
use maestro_domain::ports::{
    MailRepository, ModalStore, OrderingRepository, ProjectRepository, SessionRepository,
    TaskRepository, TeamMemberRepository,
};
use maestro_domain::{App, AppConfig, Ports};
use maestro_fs_store::FsStore;
use maestro_http_api::{ApiConfig, ApiState, ReadinessCheck, RealtimeStatus};
use maestro_pg_store::PgStore;
use maestro_socketio_gateway::legacy_ws::{LegacyWsConfig, LegacyWsHub};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod config;
pub mod connections;
pub mod import;
pub mod manifest_cli;
pub mod modals;
pub mod pool_metrics;
pub mod postgres;
pub mod spawn_data;

use config::{Config, StoreBackend};
use manifest_cli::ManifestDataSource;

/// Longest the shutdown waits for the filesystem store to write its files.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables passed through to spawned agents (ref §3.3.6 step 12).
const PASSTHROUGH: &[&str] = &[
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_GCA",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
];

/// `os.platform()` names: `linux`, `darwin`, `win32`.
fn platform() -> String {
    match std::env::consts::OS {
        "macos" => "darwin".into(),
        "windows" => "win32".into(),
        other => other.into(),
    }
}

/// `/ready` for the filesystem store: the data directory exists, its journal takes writes,
/// and every acknowledged change reached its file (issue 12 items 2 and 3).
struct FsReady(Arc<FsStore>);

#[async_trait::async_trait]
impl ReadinessCheck for FsReady {
    fn name(&self) -> &str {
        "store"
    }
    async fn check(&self) -> Result<(), String> {
        let dir = self.0.data_dir();
        tokio::fs::metadata(dir)
            .await
            .map_err(|e| format!("data directory {}: {e}", dir.display()))?;
        self.0.health().check()
    }
}

struct HubStatus(Option<LegacyWsHub>);

impl RealtimeStatus for HubStatus {
    fn ws_status(&self) -> serde_json::Value {
        match &self.0 {
            Some(hub) => hub.status(),
            None => {
                serde_json::json!({ "connectedClients": 0, "clients": [], "legacyWs": "disabled" })
            }
        }
    }

    fn client_counts(&self) -> Vec<(&'static str, usize)> {
        self.0
            .as_ref()
            .map(|hub| vec![("legacy_ws", hub.client_count())])
            .unwrap_or_default()
    }
}

/// The store behind the repository ports.
enum Store {
    Fs(Arc<FsStore>),
    Postgres(PgStore),
}

/// What the chosen backend provides to the composition.
struct StorePorts {
    projects: Arc<dyn ProjectRepository>,
    tasks: Arc<dyn TaskRepository>,
    sessions: Arc<dyn SessionRepository>,
    mail: Arc<dyn MailRepository>,
    team_members: Arc<dyn TeamMemberRepository>,
    orderings: Arc<dyn OrderingRepository>,
    modals: Arc<dyn ModalStore>,
    manifest_data: ManifestDataSource,
    ready: Arc<dyn ReadinessCheck>,
}

impl Store {
    /// Opens the configured backend.
    async fn open(cfg: &Config) -> anyhow::Result<Self> {
        match cfg.store.backend {
            StoreBackend::Fs => {
                let started = std::time::Instant::now();
                let options = maestro_fs_store::FsStoreOptions {
                    checkpoint_bytes: cfg.store.journal_checkpoint_bytes,
                    write_behind_delay: Duration::from_millis(cfg.store.write_behind_delay_ms),
                    write_behind_rate: cfg.store.write_behind_rate,
                    write_timeout: Duration::from_millis(cfg.store.write_timeout_ms.max(1)),
                    max_pending_file_bytes: cfg.store.max_pending_file_bytes,
                };
                let store = FsStore::open_with(&cfg.data_dir, options)
                    .await
                    .with_context(|| {
                        format!("opening data directory {}", cfg.data_dir.display())
                    })?;
                tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, dir = %cfg.data_dir.display(), "data directory loaded");
                Ok(Self::Fs(Arc::new(store)))
            }
            StoreBackend::Postgres => {
                // The data directory still holds modal HTML and server-url.
                tokio::fs::create_dir_all(&cfg.data_dir)
                    .await
                    .with_context(|| {
                        format!("creating data directory {}", cfg.data_dir.display())
                    })?;
                Ok(Self::Postgres(postgres::open_for_serving(cfg).await?))
            }
        }
    }

    fn ports(&self, cfg: &Config) -> StorePorts {
        match self {
            Self::Fs(store) => StorePorts {
                projects: store.projects.clone(),
                tasks: store.tasks.clone(),
                sessions: store.sessions.clone(),
                mail: store.mail.clone(),
                team_members: store.team_members.clone(),
                orderings: store.orderings.clone(),
                modals: store.modals.clone(),
                manifest_data: ManifestDataSource::DataDir {
                    dir: cfg.data_dir.clone(),
                    store: Some(store.clone()),
                },
                ready: Arc::new(FsReady(store.clone())),
            },
            Self::Postgres(store) => StorePorts {
                projects: store.projects.clone(),
                tasks: store.tasks.clone(),
                sessions: store.sessions.clone(),
                mail: store.mail.clone(),
                team_members: store.team_members.clone(),
                orderings: store.orderings.clone(),
                modals: Arc::new(modals::DirModalStore::new(cfg.data_dir.clone())),
                manifest_data: ManifestDataSource::Materialised {
                    ports: spawn_data::SpawnDataPorts {
                        projects: store.projects.clone(),
                        tasks: store.tasks.clone(),
                        team_members: store.team_members.clone(),
                    },
                    scratch_root: std::env::temp_dir(),
                },
                ready: Arc::new(postgres::PgReady(store.clone())),
            },
        }
    }

    /// Makes every acknowledged write durable in its final place (the fs store's files), at
    /// most [`FLUSH_TIMEOUT`]. A file that cannot be written is not an error here: its change
    /// is in the journal, which is kept and replayed at the next start; the log says so.
    async fn flush(&self) -> anyhow::Result<()> {
        let Self::Fs(store) = self else {
            return Ok(());
        };
        match tokio::time::timeout(FLUSH_TIMEOUT, store.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(
                error = %e,
                dir = %store.data_dir().display(),
                "not every acknowledged change reached its file; they are kept in the \
                 journal (.maestro-journal) and written at the next start"
            ),
            Err(_) => tracing::error!(
                timeout_ms = FLUSH_TIMEOUT.as_millis() as u64,
                "flushing the data directory did not finish in time; acknowledged changes \
                 are kept in the journal and written at the next start"
            ),
        }
        Ok(())
    }
}

/// A bound, composed server, ready to [`Server::serve`].
pub struct Server {
    listener: TcpListener,
    router: Router,
    store: Store,
    hub: Option<LegacyWsHub>,
    shutdown_tx: watch::Sender<bool>,
    grace: Duration,
    /// The services, told to stop long-polls when the drain starts.
    app: App,
    /// `/metrics` registry, for the connection gauges.
    metrics: Arc<maestro_http_api::metrics::Metrics>,
    timeouts: connections::ConnTimeouts,
    /// `http.max_connections` (0 = from the descriptor limit).
    max_connections: usize,
    /// The advertised URL (written to `<data_dir>/server-url`).
    pub server_url: String,
}

/// Routes every request carrying `Upgrade: websocket` to the legacy bridge (any path, ref
/// §5.3); everything else to the REST router. It runs inside
/// [`maestro_http_api::guarded`], so upgrades arrive here with an allowed `Host` and, when
/// they carry one, an allowed `Origin`.
async fn websocket_or_rest(State(hub): State<LegacyWsHub>, req: Request, next: Next) -> Response {
    let is_upgrade = req
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return next.run(req).await;
    }
    let (mut parts, _body) = req.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => hub.upgrade(ws),
        Err(rejection) => rejection.into_response(),
    }
}

impl Server {
    /// Opens the configured store (`store.backend`), builds every service and binds the
    /// listener.
    ///
    /// # Errors
    /// Unsupported backends, an unreadable data directory, PostgreSQL unreachable while
    /// `postgres.migrate_on_start` is on or a failed migration, a port in use.
    pub async fn build(cfg: &Config, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        if cfg.redis.enabled {
            anyhow::bail!("redis.enabled = true is not available in this build yet");
        }
        let addr: SocketAddr = tokio::net::lookup_host((cfg.host.as_str(), cfg.port))
            .await
            .with_context(|| format!("resolving host {}", cfg.host))?
            .next()
            .with_context(|| format!("no address for host {}", cfg.host))?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let port = listener.local_addr()?.port();
        let server_url = cfg.server_url(port);

        let store = Store::open(cfg).await?;
        let sp = store.ports(cfg);

        let clock = Arc::new(SystemClock);
        let bus: Arc<MemoryEventBus> = Arc::new(MemoryEventBus::with_limits(
            clock.clone(),
            RingLimits {
                max_items: cfg.bus.subscriber_capacity.max(1),
                max_bytes: cfg.bus.subscriber_buffer_bytes.max(1),
            },
            ReplayConfig {
                min_events: cfg.bus.replay_min_events,
                min_age_ms: cfg.bus.replay_min_age_ms,
                max_events: cfg.bus.replay_max_events,
                max_bytes: cfg.bus.replay_max_bytes,
                total_max_bytes: cfg.bus.replay_total_max_bytes,
            },
        ));
        let bus_dyn: Arc<dyn EventBus> = bus;
        let ports = Ports {
            projects: sp.projects,
            tasks: sp.tasks,
            sessions: sp.sessions,
            mail: sp.mail,
            team_members: sp.team_members,
            orderings: sp.orderings,
            modals: sp.modals,
            manifests: Arc::new(manifest_cli::CliManifestGenerator {
                cli_path: cfg.spawn.cli_path.clone(),
                session_dir: cfg.session_dir.clone(),
                data: sp.manifest_data,
                server_url: server_url.clone(),
                timeout: Duration::from_millis(cfg.spawn.timeout_ms),
                modes: cfg.spawn.cli_modes,
                detected: Arc::default(),
            }),
            bus: bus_dyn.clone(),
            ids: Arc::new(RandomIdGenerator),
            clock,
        };
        let app = App::new(
            ports,
            AppConfig {
                hostname: hostname::get()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                platform: platform(),
                server_url: server_url.clone(),
                data_dir: cfg.data_dir.to_string_lossy().into_owned(),
                session_dir: cfg.session_dir.to_string_lossy().into_owned(),
                passthrough_env: PASSTHROUGH
                    .iter()
                    .filter_map(|k| env.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                    .collect(),
            },
        );

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let hub = cfg.realtime.legacy_ws.then(|| {
            LegacyWsHub::start(
                bus_dyn.clone(),
                LegacyWsConfig {
                    client_buffer: cfg.realtime.client_buffer,
                    client_buffer_bytes: cfg.realtime.client_buffer_bytes,
                    ..LegacyWsConfig::default()
                },
                shutdown_rx.clone(),
            )
        });
        let policy = Arc::new(cfg.request_policy()?);
        let home = env
            .get("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let api = ApiState::new(
            app.clone(),
            Arc::new(HubStatus(hub.clone())),
            vec![sp.ready],
            ApiConfig {
                body_limit_bytes: cfg.http.body_limit_bytes,
                policy: policy.clone(),
                claude_projects_dir: home.join(".claude").join("projects"),
                home_dir: home,
            },
        );
        if let Store::Postgres(pg) = &store {
            api.metrics
                .add_gauge_source(Arc::new(pool_metrics::PoolGauges(pg.clone())));
        }
        let api_metrics = api.metrics.clone();
        let mut router = maestro_http_api::router(api);
        if let Some(hub) = &hub {
            router = router.layer(axum::middleware::from_fn_with_state(
                hub.clone(),
                websocket_or_rest,
            ));
        }
        // Outermost: the Host and Origin checks see every request, upgrades included, so a
        // refused upgrade never reaches the bridge (spec §8.1).
        let router = maestro_http_api::guarded(router, policy);
        Ok(Self {
            listener,
            router,
            store,
            hub,
            shutdown_tx,
            grace: Duration::from_millis(cfg.http.shutdown_grace_ms),
            app,
            metrics: api_metrics,
            timeouts: connections::ConnTimeouts {
                header_read: Duration::from_millis(cfg.http.header_read_timeout_ms),
                idle: Duration::from_millis(cfg.http.idle_timeout_ms),
                body: Duration::from_millis(cfg.http.body_timeout_ms),
            },
            max_connections: cfg.http.max_connections,
            server_url,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Writes `<data_dir>/server-url` (ref §4.9; errors are logged, not fatal).
    pub async fn write_server_url(&self, data_dir: &std::path::Path) {
        if let Err(e) = tokio::fs::write(data_dir.join("server-url"), &self.server_url).await {
            tracing::warn!(error = %e, "could not write server-url");
        }
    }

    /// Serves until `shutdown` resolves, then drains: stops accepting, ends pending mail
    /// long-polls with `[]` ([`App::shutdown`]), closes WebSocket clients, lets in-flight
    /// requests finish (bounded by `http.shutdown_grace_ms`) while idle connections close at
    /// once, and flushes the store. Connections are capped and timed out as described in
    /// [`connections`].
    ///
    /// # Errors
    /// Store flush failures.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            store,
            hub,
            shutdown_tx,
            grace,
            app,
            metrics,
            timeouts,
            max_connections,
            ..
        } = self;
        let cap = connections::ConnectionCap::resolve(max_connections, connections::fd_limit());
        if cap.exceeds_fd_limit() {
            tracing::warn!(
                "{}: fewer than {} file descriptors stay free for files, database sockets and \
                 subprocesses at full load (RLIMIT_NOFILE {}); raise the limit or lower the cap",
                cap.describe(),
                cap.reserved,
                cap.fd_limit.unwrap_or_default()
            );
        } else {
            tracing::info!(
                "accepting at most {} connections ({})",
                cap.max,
                cap.describe()
            );
        }
        let conns = connections::Connections::new(cap);
        metrics.add_gauge_source(conns.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let accepting = tokio::spawn(connections::accept_loop(
            listener,
            router,
            timeouts,
            conns.clone(),
            stop_rx,
        ));
        shutdown.await;
        tracing::info!("shutting down");
        // Stop accepting (the listener closes when the loop returns) and tell every
        // connection to close once its request in flight is answered.
        let _ = stop_tx.send(true);
        // Pending long-polls answer `[]` now instead of holding the drain.
        app.shutdown();
        if let Err(e) = accepting.await {
            tracing::error!(error = %e, "accept loop failed");
        }
        let _ = shutdown_tx.send(true);
        if let Some(hub) = &hub {
            hub.close_all().await;
        }
        if tokio::time::timeout(grace, conns.closed()).await.is_err() {
            tracing::warn!(
                open = conns.open(),
                "in-flight requests did not finish in time"
            );
        }
        store.flush().await?;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
