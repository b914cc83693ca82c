//! `cargo xtask bench`: load generator and server on this machine (filled in later).

/// Runs the benchmarks.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the benchmark harness is not written yet")
}
