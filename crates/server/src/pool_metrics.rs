//! PostgreSQL pool usage on `GET /metrics` (spec §10 "pool usage").
//!
//! The HTTP API's metrics registry has no hook for gauges owned by other crates yet, so this
//! middleware appends the pool's gauges to the `/metrics` exposition just before its
//! OpenMetrics `# EOF` line. When the API gains such a hook, register the gauges there and
//! drop this layer.

use std::fmt::Write;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use maestro_pg_store::{PgStore, PoolStatus};

/// A generous bound on the exposition body the layer buffers.
const MAX_BODY: usize = 64 << 20;

/// The pool gauges as OpenMetrics text.
pub fn render(status: PoolStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP maestro_pg_pool_connections PostgreSQL pool connections by state."
    );
    let _ = writeln!(out, "# TYPE maestro_pg_pool_connections gauge");
    for (state, n) in [
        ("max", status.max_size),
        ("open", status.size),
        ("idle", status.available),
    ] {
        let _ = writeln!(out, "maestro_pg_pool_connections{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP maestro_pg_pool_waiting Requests waiting for a pooled PostgreSQL connection."
    );
    let _ = writeln!(out, "# TYPE maestro_pg_pool_waiting gauge");
    let _ = writeln!(out, "maestro_pg_pool_waiting {}", status.waiting);
    out
}

/// Inserts `extra` before the final `# EOF` line (or appends it when there is none).
fn insert_before_eof(body: &str, extra: &str) -> String {
    match body.rfind("# EOF") {
        Some(i) => format!("{}{extra}{}", &body[..i], &body[i..]),
        None => format!("{body}{extra}"),
    }
}

/// Middleware: adds the pool gauges to successful `GET /metrics` answers.
pub async fn layer(State(store): State<PgStore>, req: Request, next: Next) -> Response {
    let is_metrics = req.method() == Method::GET && req.uri().path() == "/metrics";
    let res = next.run(req).await;
    if !is_metrics || res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the metrics body");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let body = insert_before_eof(&text, &render(store.pool_status()));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_go_before_eof() {
        let extra = render(PoolStatus {
            max_size: 16,
            size: 3,
            available: 2,
            waiting: 0,
        });
        assert!(extra.contains("maestro_pg_pool_connections{state=\"max\"} 16\n"));
        assert!(extra.contains("maestro_pg_pool_connections{state=\"open\"} 3\n"));
        assert!(extra.contains("maestro_pg_pool_waiting 0\n"));
        let body = insert_before_eof("# TYPE a gauge\na 1\n# EOF\n", &extra);
        assert!(body.starts_with("# TYPE a gauge\na 1\n# HELP maestro_pg_pool"));
        assert!(
            body.ends_with("maestro_pg_pool_waiting 0\n# EOF\n"),
            "{body}"
        );
    }
}
