//! `GET /metrics` (spec §10): Prometheus text exposition of request counts by route and
//! status, request latency histograms, connected real-time clients and event bus counters.
//! Uses a registry owned by the router (no global state).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
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

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    clients: Family<NamespaceLabels, Gauge>,
    events_emitted: Gauge,
    events_dropped: Gauge,
    bus_subscribers: Gauge,
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
        }
    }
}

impl Metrics {
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
    if let Err(e) = encode(&mut body, &m.registry) {
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
