//! The markdown report: one table row per metric (our figure, the TypeScript figure, the
//! target, PASS/MISS) and notes with the details behind them.

use super::load::LoadResult;

/// `61.2K` / `950` style rate.
pub fn si(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}K", v / 1e3)
    } else if v >= 1_000.0 {
        format!("{:.2}K", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `"61.2K req/s (p50 0.45 / p99 1.90 / max 12.0 ms)"`, plus the error count if any.
fn describe_load(r: &LoadResult) -> String {
    let ms = |us: u64| us as f64 / 1e3;
    format!(
        "{} req/s (p50 {:.2} / p99 {:.2} / max {:.1} ms){}",
        si(r.rate()),
        ms(r.hist.value_at_quantile(0.5)),
        ms(r.hist.value_at_quantile(0.99)),
        ms(r.hist.max()),
        if r.errors == 0 {
            String::new()
        } else {
            format!(", **{} errors**", r.errors)
        }
    )
}

/// One table row.
pub struct Row {
    metric: String,
    ours: String,
    ts: String,
    target: String,
    verdict: String,
}

impl Row {
    /// A metric that must stay below `max` (`value` in `unit`).
    pub fn upper(metric: &str, value: f64, unit: &str, ts: &str, max: f64, ours: String) -> Self {
        let verdict = if value < max {
            "PASS".to_owned()
        } else {
            format!("MISS ({:.2}× the target)", value / max)
        };
        Self {
            metric: metric.to_owned(),
            ours,
            ts: ts.to_owned(),
            target: format!("< {max} {unit}"),
            verdict,
        }
    }

    /// A throughput that must be at least `factor` × the TypeScript range `(low, high)`;
    /// PASS against the high end, "PASS vs low end" when only the low end is beaten, and any
    /// error is a MISS.
    pub fn lower(
        metric: &str,
        r: &LoadResult,
        ts: &str,
        (low, high): (f64, f64),
        factor: f64,
    ) -> Self {
        let rate = r.rate();
        let (need_lo, need_hi) = (low * factor, high * factor);
        let target = if low == high {
            format!("≥ {factor}× → ≥ {} req/s", si(need_hi))
        } else {
            format!("≥ {factor}× → ≥ {}–{} req/s", si(need_lo), si(need_hi))
        };
        let verdict = if r.errors > 0 {
            format!("MISS ({} errors)", r.errors)
        } else if rate >= need_hi {
            format!("PASS ({:.1}×)", rate / high)
        } else if rate >= need_lo {
            format!("PASS vs low end ({:.1}–{:.1}×)", rate / high, rate / low)
        } else if low == high {
            format!(
                "MISS ({:.1}×, {:.0} % of target)",
                rate / high,
                rate * 100.0 / need_hi
            )
        } else {
            format!(
                "MISS ({:.1}–{:.1}×, {:.0} % of target)",
                rate / high,
                rate / low,
                rate * 100.0 / need_lo
            )
        };
        Self {
            metric: metric.to_owned(),
            ours: describe_load(r),
            ts: ts.to_owned(),
            target,
            verdict,
        }
    }

    /// A row whose verdict the caller computed.
    pub fn custom(metric: &str, ours: String, ts: &str, target: &str, verdict: String) -> Self {
        Self {
            metric: metric.to_owned(),
            ours,
            ts: ts.to_owned(),
            target: target.to_owned(),
            verdict,
        }
    }
}

/// The whole report.
pub struct Report {
    quick: bool,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new(quick: bool) -> Self {
        Self {
            quick,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a table row.
    pub fn row(&mut self, r: Row) {
        self.rows.push(r);
    }

    /// Adds a detail line under the table.
    pub fn note(&mut self, n: String) {
        self.notes.push(n);
    }

    /// The markdown text.
    pub fn render(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        // The server is built from the work tree, which may differ from the commit.
        let dirty = std::process::Command::new("git")
            .args([
                "status",
                "--porcelain",
                "--",
                "crates",
                "Cargo.toml",
                "Cargo.lock",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success() && !o.stdout.is_empty())
            .map_or("", |_| " + uncommitted changes");
        let mut s = format!(
            "## maestro-server benchmark ({} run, commit {commit}{dirty}, {cores} cores)\n\n\
             Load generator and server share the same {cores} cores: throughput figures are \
             what the server achieves while the generator takes its share of the CPU \
             (see the CPU split below). {}\n\n\
             | Metric | Rust (this run) | TypeScript | Target | Result |\n\
             |---|---|---|---|---|\n",
            if self.quick { "quick" } else { "full" },
            if self.quick {
                "Quick run: 2 s windows, 200 fan-out events, 1 start-up run."
            } else {
                "Full run: 10 s windows after 1 s warm-up, 1,000 fan-out events, median of 3 start-ups."
            }
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.metric, r.ours, r.ts, r.target, r.verdict
            ));
        }
        s.push('\n');
        for n in &self.notes {
            s.push_str(&format!("- {n}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rates() {
        assert_eq!(si(61_234.0), "61.2K");
        assert_eq!(si(3_210.0), "3.21K");
        assert_eq!(si(950.4), "950");
    }

    #[test]
    fn upper_verdicts() {
        let r = Row::upper("x", 10.0, "ms", "-", 30.0, String::new());
        assert_eq!(r.verdict, "PASS");
        let r = Row::upper("x", 45.0, "ms", "-", 30.0, String::new());
        assert!(r.verdict.starts_with("MISS (1.50×"), "{}", r.verdict);
    }
}
