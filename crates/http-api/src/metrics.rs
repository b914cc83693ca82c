//! `GET /metrics` (spec §10): Prometheus text exposition of request counts by route and
//! status, request latency histograms, connected real-time clients and event bus counters.
//! Uses a registry owned by the router (no global state). Other adapters add their own
//! gauges (the PostgreSQL pool, …) with [`Metrics::add_gauge_source`]; they are read at
//! each scrape.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::ApiState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabels {
    namespace: String,
}

/// One gauge value reported by a [`GaugeSource`].
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeSample {
    /// Metric name without the `maestro_` prefix (e.g. `pg_pool_connections`).
    pub name: &'static str,
    /// Help text (the same for every sample of one name).
    pub help: &'static str,
    /// Label pairs, e.g. `[("state", "idle")]`; empty for a plain gauge (one sample per name).
    pub labels: Vec<(&'static str, String)>,
    /// Current value.
    pub value: i64,
}

/// Gauges owned by another adapter, read at every `/metrics` scrape.
pub trait GaugeSource: Send + Sync {
    /// The current samples. Samples of one name must be adjacent.
    fn gauges(&self) -> Vec<GaugeSample>;
}

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    clients: Family<NamespaceLabels, Gauge>,
    events_emitted: Gauge,
    events_dropped: Gauge,
    bus_subscribers: Gauge,
    sources: std::sync::RwLock<Vec<Arc<dyn GaugeSource>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("maestro");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms … ~8 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.000_25, 2.0, 16,
            ))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency in seconds",
            latency.clone(),
        );
        let clients = Family::<NamespaceLabels, Gauge>::default();
        registry.register(
            "realtime_clients",
            "Connected real-time clients per namespace",
            clients.clone(),
        );
        let events_emitted = Gauge::default();
        registry.register(
            "events_emitted",
            "Domain events emitted since start",
            events_emitted.clone(),
        );
        let events_dropped = Gauge::default();
        registry.register(
            "events_dropped",
            "Events skipped by slow in-process subscribers since start",
            events_dropped.clone(),
        );
        let bus_subscribers = Gauge::default();
        registry.register(
            "bus_subscribers",
            "Open in-process event bus subscriptions",
            bus_subscribers.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            clients,
            events_emitted,
            events_dropped,
            bus_subscribers,
            sources: std::sync::RwLock::default(),
        }
    }
}

impl Metrics {
    /// Adds gauges owned by another adapter to every later scrape.
    pub fn add_gauge_source(&self, source: Arc<dyn GaugeSource>) {
        self.sources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(source);
    }

    /// The sources' current samples as a registry of gauge families (built per scrape).
    fn source_registry(&self) -> Registry {
        type Labels = Vec<(&'static str, String)>;
        let mut registry = Registry::with_prefix("maestro");
        let sources = self
            .sources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut current: Option<(&'static str, Family<Labels, Gauge>)> = None;
        for sample in sources.iter().flat_map(|s| s.gauges()) {
            if sample.labels.is_empty() {
                // A plain gauge: `name value`, no `{}`.
                let gauge: Gauge = Gauge::default();
                gauge.set(sample.value);
                registry.register(sample.name, sample.help, gauge);
                current = None;
                continue;
            }
            if current
                .as_ref()
                .is_none_or(|(name, _)| *name != sample.name)
            {
                let family = Family::<Labels, Gauge>::default();
                registry.register(sample.name, sample.help, family.clone());
                current = Some((sample.name, family));
            }
            if let Some((_, family)) = &current {
                family.get_or_create(&sample.labels).set(sample.value);
            }
        }
        registry
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Middleware: counts and times every request by its route template (`/api/tasks/{id}`), so
/// ids do not explode the label space. Unmatched requests count under `unmatched`.
pub(crate) async fn track(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
pub(crate) async fn render(State(state): State<ApiState>) -> Response {
    let m: &Arc<Metrics> = &state.metrics;
    let stats = state.app.bus.stats();
    let load = |a: &std::sync::atomic::AtomicU64| {
        i64::try_from(a.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i64::MAX)
    };
    m.events_emitted.set(load(&stats.emitted));
    m.events_dropped.set(load(&stats.dropped));
    m.bus_subscribers
        .set(i64::try_from(state.app.bus.subscriber_count()).unwrap_or(i64::MAX));
    for (namespace, n) in state.realtime.client_counts() {
        m.clients
            .get_or_create(&NamespaceLabels {
                namespace: namespace.to_owned(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    let mut body = String::new();
    let encoded = encode_registry(&mut body, &m.registry)
        .and_then(|()| encode_registry(&mut body, &m.source_registry()))
        .and_then(|()| encode_eof(&mut body));
    if let Err(e) = encoded {
        tracing::error!(error = %e, "metrics encoding failed");
        return crate::ApiError::internal().into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
