//! PostgreSQL pool usage on `GET /metrics` (spec §10 "pool usage"): a
//! [`GaugeSource`] read at every scrape.
//!
//! - `maestro_pg_pool_connections{state="max|open|idle"}`: configured maximum, open and idle
//!   connections;
//! - `maestro_pg_pool_waiting`: requests waiting for a connection.

use maestro_http_api::metrics::{GaugeSample, GaugeSource};
use maestro_pg_store::{PgStore, PoolStatus};

/// The pool gauges of a [`PgStore`].
pub struct PoolGauges(pub PgStore);

/// `status` as samples.
pub fn samples(status: PoolStatus) -> Vec<GaugeSample> {
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    let connections = |state: &str, value: usize| GaugeSample {
        name: "pg_pool_connections",
        help: "PostgreSQL pool connections by state",
        labels: vec![("state", state.to_owned())],
        value: n(value),
    };
    vec![
        connections("max", status.max_size),
        connections("open", status.size),
        connections("idle", status.available),
        GaugeSample {
            name: "pg_pool_waiting",
            help: "Requests waiting for a pooled PostgreSQL connection",
            labels: Vec::new(),
            value: n(status.waiting),
        },
    ]
}

impl GaugeSource for PoolGauges {
    fn gauges(&self) -> Vec<GaugeSample> {
        samples(self.0.pool_status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_name_every_state() {
        let s = samples(PoolStatus {
            max_size: 16,
            size: 3,
            available: 2,
            waiting: 1,
        });
        let shown: Vec<(String, i64)> = s
            .iter()
            .map(|g| {
                let labels: Vec<String> =
                    g.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (format!("{}{{{}}}", g.name, labels.join(",")), g.value)
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("pg_pool_connections{state=max}".to_owned(), 16),
                ("pg_pool_connections{state=open}".to_owned(), 3),
                ("pg_pool_connections{state=idle}".to_owned(), 2),
                ("pg_pool_waiting{}".to_owned(), 1),
            ]
        );
    }
}
