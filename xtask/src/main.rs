//! `cargo xtask <task>`: the one entry point for project chores.
//!
//! - `check-deps`: the domain crate must not depend on any I/O crate (ARCHITECTURE.md).
//! - `ci`: what `.ci/run` runs: fmt check, clippy, check-deps, the full test suite.
//! - `bench`: the benchmark harness (see `bench` module).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

mod bench;

/// Crates the domain may never reach through its normal dependencies. (tokio is allowed, but
/// only with the features in `TOKIO_ALLOWED`; the resolved graph unifies features across the
/// workspace, so those are checked on the declaration.)
const FORBIDDEN: &[&str] = &[
    "axum",
    "hyper",
    "tower",
    "tower-http",
    "socketioxide",
    "figment",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "deadpool-redis",
    "redis",
    "sqlx",
    "reqwest",
    "tungstenite",
    "tokio-tungstenite",
];
/// The only tokio features the domain may enable.
const TOKIO_ALLOWED: &[&str] = &["sync", "time"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-deps") => check_deps(),
        Some("ci") => ci(),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <check-deps | ci | bench [--quick]>");
            std::process::exit(2);
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_deps()?;
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    Ok(())
}

/// Walks the resolved graph of `maestro-domain` (normal dependencies only).
fn check_deps() -> anyhow::Result<()> {
    let out = cargo()
        .args(["metadata", "--format-version", "1"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let packages: BTreeMap<String, &Value> = meta["packages"]
        .as_array()
        .context("packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p)))
        .collect();
    let nodes: BTreeMap<String, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .context("resolve.nodes")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?.to_owned(), n)))
        .collect();
    let domain = packages
        .values()
        .find(|p| p["name"] == "maestro-domain")
        .context("maestro-domain not found")?;
    // Declared tokio features.
    for dep in domain["dependencies"].as_array().into_iter().flatten() {
        if dep["name"] == "tokio" && dep["kind"].is_null() {
            for f in dep["features"].as_array().into_iter().flatten() {
                let f = f.as_str().unwrap_or_default();
                if !TOKIO_ALLOWED.contains(&f) {
                    bail!(
                        "maestro-domain enables tokio feature `{f}`; only {TOKIO_ALLOWED:?} are allowed"
                    );
                }
            }
            if dep["uses_default_features"] == Value::Bool(true) {
                bail!("maestro-domain must use tokio with default-features = false");
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut stack = vec![(
        domain["id"].as_str().unwrap_or_default().to_owned(),
        vec!["maestro-domain".to_owned()],
    )];
    while let Some((id, path)) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(node) = nodes.get(&id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if !normal {
                continue;
            }
            let dep_id = dep["pkg"].as_str().unwrap_or_default().to_owned();
            let name = packages
                .get(&dep_id)
                .and_then(|p| p["name"].as_str())
                .unwrap_or_default()
                .to_owned();
            let mut p = path.clone();
            p.push(name.clone());
            if FORBIDDEN.contains(&name.as_str()) {
                bail!(
                    "maestro-domain reaches I/O crate `{name}`: {}",
                    p.join(" -> ")
                );
            }
            stack.push((dep_id, p));
        }
    }
    eprintln!(
        "check-deps: maestro-domain reaches {} crates, none of them I/O",
        seen.len() - 1
    );
    Ok(())
}
