//! `cargo xtask bench [--quick] [--out FILE] [--no-build]`: builds the release server (and an
//! optimized xtask to run the load generator from), generates two data directories, runs the
//! load generator against the real binary on this machine and prints a markdown table comparing
//! the figures with the TypeScript server and the targets of the performance issue.
//!
//! `--quick`: 2 s windows instead of 10 s, 200 fan-out events instead of 1,000, one start-up.
//! `--backend postgres` (`--postgres-url URL`, default `$MAESTRO_TEST_DATABASE_URL` or
//! `postgres://postgres@127.0.0.1:5432/test`): the same workloads with the PostgreSQL store.
//! Each dataset is imported with `maestro-server import-fs` into its own schema
//! (`maestro_bench_<pid>_a|b`, dropped at the end with `psql`); the import time is reported.
//! `--out FILE`: also write the report there. `--no-build`: use `target/release/maestro-server`
//! as it is (and this xtask binary as it is).
//!
//! Before each measurement it waits (bounded) for the machine to be quiet. Measured, in order:
//! 1. start-up on dataset B (10 projects × 2,000 tasks = 20,000 tasks, 200 sessions): spawn →
//!    first `200` from `GET /health` (tight polling loop) and spawn → ready line, median of
//!    several runs, plus RSS right after start-up;
//! 2. memory per connection: on fresh servers over dataset A, the RSS growth for 1,000 idle
//!    keep-alive connections and for 1,000 pending mail long-polls, and the RSS after they
//!    closed (fewer connections when the descriptor limit is low);
//! 3. on dataset A (1 project, 2,000 tasks of ≈ 400–450 B, 200 sessions), after start-up:
//!    idle RSS;
//! 4. closed-loop REST workloads, each with its own keep-alive connections: GET task by id
//!    (32 connections), list of the 2,000 tasks (8), PATCH status (16);
//! 5. fan-out to 200 raw WebSocket clients: of `task:updated` (a task PATCH, durable write
//!    first), then of `session:modal_action` (nothing stored: the bus → WebSocket path alone);
//! 6. idle RSS after that load (still 2,000 tasks);
//! 7. creates (`POST /api/tasks`, 16 connections), last because they grow the project.
//!
//! Set `MAESTRO_BENCH_DEBUG=1` to print per-event fan-out timings on stderr. Other `MAESTRO_*`
//! variables are passed to the server, for experiments with its settings.
//!
//! The load generator runs on the same two cores as the server, so every throughput figure is a
//! lower bound of what the server alone could do; the report says how much CPU each side used.

mod conns;
mod data;
mod fanout;
mod growth;
mod load;
mod report;
mod server;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use self::data::{Dataset, Shape};
use self::load::{Conn, LoadResult, MakeReq, Workload};
use self::report::{Report, Row};
use self::server::{Dirs, Server};

/// Command-line options.
struct Opts {
    quick: bool,
    out: Option<PathBuf>,
    build: bool,
    /// `Some(url)` for the PostgreSQL store.
    postgres: Option<String>,
    /// `--only startup|rest|fanout`: run just that part (for profiling one workload).
    only: Option<Part>,
}

/// The parts `--only` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Start-up time and RSS on 20,000 tasks.
    Startup,
    /// The REST workloads (GET, list, PATCH, create).
    Rest,
    /// The WebSocket fan-out runs.
    Fanout,
    /// Memory per idle connection and per pending long-poll.
    Conns,
    /// A session growing to 10,000 timeline entries.
    Growth,
}

/// Default PostgreSQL for `--backend postgres`.
fn default_postgres_url() -> String {
    std::env::var("MAESTRO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl Opts {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            quick: false,
            out: None,
            build: true,
            postgres: None,
            only: None,
        };
        let mut backend = "fs".to_owned();
        let mut url = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--no-build" => o.build = false,
                "--out" => o.out = Some(it.next().context("--out needs a file")?.into()),
                "--backend" => backend = it.next().context("--backend needs fs|postgres")?.clone(),
                "--only" => {
                    o.only = Some(match it.next().map(String::as_str) {
                        Some("startup") => Part::Startup,
                        Some("rest") => Part::Rest,
                        Some("fanout") => Part::Fanout,
                        Some("conns") => Part::Conns,
                        Some("growth") => Part::Growth,
                        _ => bail!("--only needs startup, rest, fanout, conns or growth"),
                    })
                }
                "--postgres-url" => {
                    url = Some(it.next().context("--postgres-url needs a URL")?.clone())
                }
                "-h" | "--help" => {
                    println!(
                        "usage: cargo xtask bench [--quick] [--out FILE] [--no-build] \
                         [--backend fs|postgres] [--postgres-url URL] \
                         [--only startup|rest|fanout|conns|growth]"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown bench option `{other}` (try --help)"),
            }
        }
        match backend.as_str() {
            "fs" => anyhow::ensure!(url.is_none(), "--postgres-url needs --backend postgres"),
            "postgres" => o.postgres = Some(url.unwrap_or_else(default_postgres_url)),
            other => bail!("unknown backend `{other}` (fs or postgres)"),
        }
        Ok(o)
    }

    /// Measured window of each REST workload.
    fn duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 2 } else { 10 })
    }

    /// Whether `part` is measured in this run.
    fn runs(&self, part: Part) -> bool {
        self.only.is_none_or(|p| p == part)
    }

    /// Unmeasured warm-up before each window.
    fn warmup(&self) -> Duration {
        Duration::from_millis(if self.quick { 500 } else { 1_000 })
    }
}

/// Longer than the filesystem store's default write-behind delay (5 s) plus its timer slack.
const WRITE_BEHIND_SETTLE: Duration = Duration::from_secs(6);

/// How long to wait for other processes to leave the CPU before each measurement.
const QUIET_WAIT: Duration = Duration::from_secs(60);

/// Set in the environment of the optimized re-run of this command.
const CHILD_ENV: &str = "MAESTRO_BENCH_RELEASE_CHILD";

/// Runs the benchmarks.
///
/// `cargo xtask` builds xtask without optimizations, which would make the load generator (hyper,
/// tungstenite, histograms) much slower than the server it measures on the same two cores. So
/// this builds the server **and** xtask in release mode, then re-runs the benchmark from the
/// optimized xtask binary.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = Opts::parse(args)?;
    let release_child = std::env::var_os(CHILD_ENV).is_some();
    if cfg!(debug_assertions) && !release_child && opts.build {
        let bins = build_release()?;
        let xtask = bins
            .xtask
            .context("cargo did not report the xtask executable")?;
        eprintln!("bench: re-running from the optimized {}", xtask.display());
        let mut child_args = vec!["bench".to_owned(), "--no-build".to_owned()];
        child_args.extend(args.iter().filter(|a| *a != "--no-build").cloned());
        let status = std::process::Command::new(&xtask)
            .args(&child_args)
            .env(CHILD_ENV, bins.server.context("no server executable")?)
            .status()
            .with_context(|| format!("running {}", xtask.display()))?;
        if !status.success() {
            bail!("the benchmark failed ({status})");
        }
        return Ok(());
    }
    let bin = match std::env::var_os(CHILD_ENV) {
        Some(p) => PathBuf::from(p),
        None if opts.build => build_release()?.server.context("no server executable")?,
        None => workspace_root().join("target/release/maestro-server"),
    };
    anyhow::ensure!(bin.exists(), "{} does not exist", bin.display());
    let mut rep = Report::new(opts.quick);
    if cfg!(debug_assertions) {
        rep.note("The load generator ran WITHOUT optimizations (--no-build from a debug xtask); figures are pessimistic.".to_owned());
    }

    let tmp = tempfile::Builder::new()
        .prefix("maestro-bench-")
        .tempdir()?;
    let (a_data, a_home) = (tmp.path().join("a/data"), tmp.path().join("a/home"));
    let (b_data, b_home) = (tmp.path().join("b/data"), tmp.path().join("b/home"));
    for d in [&a_data, &a_home, &b_data, &b_home] {
        std::fs::create_dir_all(d)?;
    }
    let t = Instant::now();
    let a = data::generate(
        &a_data,
        Shape {
            projects: 1,
            tasks_per_project: 2_000,
            sessions: 200,
        },
    )?;
    let b = data::generate(
        &b_data,
        Shape {
            projects: 10,
            tasks_per_project: 2_000,
            sessions: 200,
        },
    )?;
    rep.note(format!(
        "Generated dataset A ({} files, {:.1} MB) and B ({} files, {:.1} MB) in {:.2} s under {}.",
        a.files,
        a.bytes as f64 / 1e6,
        b.files,
        b.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        tmp.path().display()
    ));

    let mut schemas = Schemas::default();
    let (a_env, b_env) = match &opts.postgres {
        None => (Vec::new(), Vec::new()),
        Some(url) => {
            schemas.url = url.clone();
            let pid = std::process::id();
            let mut envs = Vec::new();
            for (name, data, home) in [("a", &a_data, &a_home), ("b", &b_data, &b_home)] {
                let schema = format!("maestro_bench_{pid}_{name}");
                schemas.names.push(schema.clone());
                let env = postgres_env(url, &schema);
                let t = Instant::now();
                let out = import_fs(&bin, data, home, &env)?;
                rep.note(format!(
                    "PostgreSQL: dataset {} imported with `maestro-server import-fs` into schema {schema} in {:.2} s: {}.",
                    name.to_uppercase(),
                    t.elapsed().as_secs_f64(),
                    out.trim().replace('\n', "; ")
                ));
                envs.push(env);
            }
            let b_env = envs.pop().unwrap_or_default();
            let a_env = envs.pop().unwrap_or_default();
            (a_env, b_env)
        }
    };
    rep.note(format!(
        "Store: {}.",
        match &opts.postgres {
            None => "filesystem (default)".to_owned(),
            Some(url) => format!(
                "PostgreSQL at {} (store.backend = \"postgres\")",
                redact(url)
            ),
        }
    ));

    if opts.runs(Part::Startup) {
        if !server::wait_quiet(QUIET_WAIT)? {
            rep.note("Start-up: the machine did not get quiet before it.".to_owned());
        }
        eprintln!("bench: start-up on 20,000 tasks");
        startup(
            &bin,
            &Dirs {
                data: &b_data,
                home: &b_home,
                env: &b_env,
            },
            if opts.quick { 1 } else { 3 },
            &mut rep,
        )?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if opts.runs(Part::Conns) {
        runtime.block_on(connection_memory(
            &bin,
            &Dirs {
                data: &a_data,
                home: &a_home,
                env: &a_env,
            },
            &mut rep,
        ))?;
    }
    runtime.block_on(dataset_a(
        &bin,
        &Dirs {
            data: &a_data,
            home: &a_home,
            env: &a_env,
        },
        &a,
        &opts,
        &mut rep,
    ))?;

    if opts.runs(Part::Growth) {
        let (g_data, g_home) = (tmp.path().join("g/data"), tmp.path().join("g/home"));
        for d in [&g_data, &g_home] {
            std::fs::create_dir_all(d)?;
        }
        runtime.block_on(session_growth(
            &bin,
            &Dirs {
                data: &g_data,
                home: &g_home,
                env: &a_env,
            },
            if opts.quick { 2_000 } else { 10_000 },
            &mut rep,
        ))?;
    }

    let text = rep.render();
    println!("{text}");
    if let Some(out) = &opts.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("bench: report written to {}", out.display());
    }
    Ok(())
}

/// The benchmark's PostgreSQL schemas; dropped (with `psql`) when this goes out of scope.
#[derive(Default)]
struct Schemas {
    url: String,
    names: Vec<String>,
}

impl Drop for Schemas {
    fn drop(&mut self) {
        for name in &self.names {
            let status = std::process::Command::new("psql")
                .args([
                    self.url.as_str(),
                    "-q",
                    "-c",
                    &format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
                ])
                .stdout(Stdio::null())
                .status();
            if !status.is_ok_and(|s| s.success()) {
                eprintln!("bench: could not drop schema {name}; drop it by hand");
            }
        }
    }
}

/// The server variables that select the PostgreSQL store in `schema`.
fn postgres_env(url: &str, schema: &str) -> Vec<(String, String)> {
    vec![
        ("MAESTRO_STORE__BACKEND".to_owned(), "postgres".to_owned()),
        ("MAESTRO_POSTGRES__URL".to_owned(), url.to_owned()),
        ("MAESTRO_POSTGRES__SCHEMA".to_owned(), schema.to_owned()),
    ]
}

/// `maestro-server import-fs --data-dir <data>` with `env`; returns its stdout.
fn import_fs(
    bin: &Path,
    data: &Path,
    home: &Path,
    env: &[(String, String)],
) -> anyhow::Result<String> {
    let out = std::process::Command::new(bin)
        .arg("import-fs")
        .arg("--data-dir")
        .arg(data)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LOG_LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .with_context(|| format!("running {} import-fs", bin.display()))?;
    if !out.status.success() {
        bail!(
            "import-fs failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:<redacted>{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Executables reported by the release build.
struct ReleaseBins {
    server: Option<PathBuf>,
    xtask: Option<PathBuf>,
}

/// `cargo build --release -p maestro-server -p xtask`; the binaries' paths come from cargo's
/// JSON messages (so `CARGO_TARGET_DIR` and friends are honoured).
fn build_release() -> anyhow::Result<ReleaseBins> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("bench: building maestro-server and xtask in release mode");
    let mut child = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "maestro-server",
            "-p",
            "xtask",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo build")?;
    let stdout = child.stdout.take().context("cargo stdout")?;
    let mut bins = ReleaseBins {
        server: None,
        xtask: None,
    };
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        match msg["target"]["name"].as_str() {
            Some("maestro-server") => bins.server = Some(PathBuf::from(exe)),
            Some("xtask") => bins.xtask = Some(PathBuf::from(exe)),
            _ => {}
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build --release failed with {status}");
    }
    Ok(bins)
}

/// Start-up runs on the large directory; records the median.
fn startup(bin: &Path, dirs: &Dirs<'_>, runs: usize, rep: &mut Report) -> anyhow::Result<()> {
    let mut first = Vec::new();
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let port = server::free_port()?;
        let mut srv = Server::spawn(bin, dirs, port)?;
        let answered = server::poll_health(port, srv.spawned() + Duration::from_secs(60))?;
        let (_, to_ready) = srv.wait_ready(Duration::from_secs(60))?;
        first.push(answered.duration_since(srv.spawned()));
        ready.push(to_ready);
        rss.push(srv.rss_mib()?);
    }
    first.sort();
    ready.sort();
    let med = |v: &[Duration]| v[v.len() / 2].as_secs_f64() * 1e3;
    let all: Vec<String> = first
        .iter()
        .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
        .collect();
    rep.row(Row::upper(
        "Start-up, 20,000 tasks: spawn → first answer",
        med(&first),
        "ms",
        "≈ 3,900 ms",
        1_000.0,
        format!("{:.0} ms (runs: {} ms)", med(&first), all.join(", ")),
    ));
    rep.note(format!(
        "Start-up: spawn → ready line median {:.0} ms; RSS right after start-up with 20,000 tasks {:.1} MiB. \
         Page cache warm (files just written).",
        med(&ready),
        rss.iter().copied().fold(0.0, f64::max)
    ));
    Ok(())
}

/// Memory per idle keep-alive connection and per pending long-poll, each on a fresh server.
async fn connection_memory(bin: &Path, dirs: &Dirs<'_>, rep: &mut Report) -> anyhow::Result<()> {
    let n = conns::connections_allowed();
    let shown = conns::count(n);
    let mut notes = Vec::new();
    for (kind, metric, what) in [
        (
            conns::Kind::Idle,
            "Memory per idle keep-alive connection",
            "idle keep-alive connections",
        ),
        (
            conns::Kind::LongPoll,
            "Memory per pending mail long-poll",
            "pending long-polls",
        ),
    ] {
        quiet(metric, rep).await?;
        eprintln!("bench: {metric} ({shown} connections)");
        let mut srv = Server::spawn(bin, dirs, 0)?;
        let (addr, _) = srv.wait_ready(Duration::from_secs(60))?;
        let m = conns::run(&srv, addr, kind, n).await?;
        drop(srv);
        let kib = m.per_connection() / 1024.0;
        rep.row(Row::upper(
            &format!("{metric} ({shown} open)"),
            kib,
            "KiB",
            "–",
            32.0,
            format!("{kib:.1} KiB"),
        ));
        notes.push(format!(
            "{shown} {what}: {:.1} → {:.1} MiB, {:.1} MiB after they closed",
            m.base_mib, m.held_mib, m.closed_mib
        ));
    }
    rep.note(format!(
        "Connections, RSS of a fresh server (dataset A): {}. What stays after the close is \
         memory glibc's malloc keeps for reuse (freed, but not at the top of its heaps; \
         `malloc_trim` would return it), not live data: the next connections reuse it.",
        notes.join("; ")
    ));
    Ok(())
}

/// A session growing to `entries` timeline entries of 1 KB (issue 12 item 1).
async fn session_growth(
    bin: &Path,
    dirs: &Dirs<'_>,
    entries: usize,
    rep: &mut Report,
) -> anyhow::Result<()> {
    let shown = conns::count(entries);
    quiet("session growth", rep).await?;
    eprintln!("bench: a session growing to {shown} timeline entries");
    let g = growth::run(bin, dirs, entries).await?;
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    let mb = |mib: f64| mib * 1.048_576;
    rep.row(Row::upper(
        &format!(
            "Session growing to {shown} × 1 KB timeline entries, {} appenders + 1 raw-ws client: peak RSS",
            growth::APPENDERS
        ),
        mb(g.peak_rss_mib),
        "MB",
        "≈ 12,500 MB at 5,633 (issue 12)",
        300.0,
        format!("{:.0} MB", mb(g.peak_rss_mib)),
    ));
    rep.row(Row::upper(
        &format!(
            "Append p99 while the session holds < {} entries",
            conns::count(growth::EARLY)
        ),
        ms(&g.early, 0.99),
        "ms",
        "79 → 835 ms (issue 12)",
        20.0,
        format!(
            "p50 {:.1} / p99 {:.1} ms",
            ms(&g.early, 0.5),
            ms(&g.early, 0.99)
        ),
    ));
    let per_append = g.late_per_append.as_secs_f64() * 1e3;
    let get = ms(&g.get, 0.5);
    rep.row(Row::custom(
        &format!("Appends over the last 1,000 of {shown} entries: time per append vs one GET of the session"),
        format!(
            "{per_append:.1} ms per append (latency p50 {:.0} / p99 {:.0} ms with {} in flight); GET {get:.1} ms ({:.1} MB)",
            ms(&g.late, 0.5),
            ms(&g.late, 0.99),
            growth::APPENDERS,
            g.session_bytes as f64 / 1e6
        ),
        "–",
        "≤ serialize + send once (report both)",
        format!("{:.2}× a GET", per_append / get.max(f64::EPSILON)),
    ));
    rep.row(Row::upper(
        &format!("Start-up after SIGKILL with the {shown}-entry session (journal replay) → ready"),
        g.restart.as_secs_f64() * 1e3,
        "ms",
        "–",
        1_000.0,
        format!("{:.0} ms", g.restart.as_secs_f64() * 1e3),
    ));
    rep.note(format!(
        "Session growth: {shown} appends in {:.1} s, {} failed; RSS at the end {:.0} MB; the raw          WebSocket client received {} `session:updated` frames, {:.1} GB (each carries the whole          session, as in the reference protocol; a client that cannot keep up loses the oldest          frames).",
        g.elapsed.as_secs_f64(),
        g.errors,
        mb(g.end_rss_mib),
        g.ws_frames,
        g.ws_bytes as f64 / 1e9
    ));
    Ok(())
}

/// Waits (bounded) for the machine to be quiet before a measurement; notes it when it was not.
async fn quiet(name: &str, rep: &mut Report) -> anyhow::Result<()> {
    // Dirty pages left by the previous workload (entity files are written without `fsync`)
    // would otherwise be written back during this one and stretch its `fdatasync`s; seen as
    // 60–90 ms stalls of single PATCHes.
    let synced = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status())
        .await?
        .is_ok_and(|s| s.success());
    if !synced {
        eprintln!("bench: `sync` failed; dirty pages of earlier work may disturb {name}");
    }
    let ok = tokio::task::spawn_blocking(|| server::wait_quiet(QUIET_WAIT)).await??;
    if !ok {
        eprintln!("bench: the machine is busy with other work; measuring {name} anyway");
        rep.note(format!(
            "{name}: the machine did not get quiet within {QUIET_WAIT:?} before it."
        ));
    }
    Ok(())
}

/// CPU seconds of the server and of this process, and wall time, around a piece of work.
struct CpuMeter {
    server: f64,
    me: f64,
    machine: (f64, f64),
    at: Instant,
}

impl CpuMeter {
    fn start(srv: &Server) -> anyhow::Result<Self> {
        Ok(Self {
            server: srv.cpu_secs()?,
            me: server::cpu_secs("/proc/self/stat")?,
            machine: server::machine_cpu_secs()?,
            at: Instant::now(),
        })
    }

    /// `"CPU: server 1.30 cores, load generator 0.70, whole machine …"` since `start`.
    fn describe(&self, srv: &Server) -> anyhow::Result<String> {
        let wall = self.at.elapsed().as_secs_f64();
        let s = (srv.cpu_secs()? - self.server) / wall;
        let m = (server::cpu_secs("/proc/self/stat")? - self.me) / wall;
        let (busy, steal) = server::machine_cpu_secs()?;
        let busy = (busy - self.machine.0) / wall;
        let steal = (steal - self.machine.1) / wall;
        let others = (busy - s - m).max(0.0);
        Ok(format!(
            "CPU: server {s:.2} cores, load generator {m:.2}, rest of the machine {others:.2} \
             (kernel I/O threads, other processes; steal {steal:.2})"
        ))
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

/// `"p50 … / p99 … / max … ms, 100.00 % delivered"`.
fn describe_fanout(f: &fanout::FanoutResult) -> String {
    format!(
        "p50 {:.2} / p99 {:.2} / max {:.1} ms, {:.2} % delivered",
        ms(f.latency.value_at_quantile(0.5)),
        ms(f.latency.value_at_quantile(0.99)),
        ms(f.latency.max()),
        f.delivery_pct()
    )
}

/// One fan-out run to 200 WebSocket clients, reported as a row and a note.
async fn fan_out(
    srv: &Server,
    addr: std::net::SocketAddr,
    what: &str,
    request: fanout::EventRequest,
    cfg: &fanout::Config,
    rep: &mut Report,
) -> anyhow::Result<()> {
    let name = format!("fan-out: {what}");
    quiet(&name, rep).await?;
    eprintln!("bench: {name} ({} WebSocket clients)", cfg.clients);
    let cpu = CpuMeter::start(srv)?;
    let f = fanout::run(addr, request, cfg).await?;
    let cpu = cpu.describe(srv)?;
    let p99 = ms(f.latency.value_at_quantile(0.99));
    let delivered = f.delivery_pct();
    rep.row(Row::custom(
        &format!("Fan-out to {} WS clients: {what}", cfg.clients),
        format!(
            "{}{}",
            describe_fanout(&f),
            if f.errors == 0 {
                String::new()
            } else {
                format!(", **{} request errors**", f.errors)
            }
        ),
        "p99 ≈ 7–9 ms, 100 %",
        "p99 < 3 ms, 100 %",
        if p99 < 3.0 && f.received == f.expected && f.errors == 0 {
            "PASS".to_owned()
        } else {
            format!("MISS (p99 {:.1}× the target, {delivered:.2} %)", p99 / 3.0)
        },
    ));
    rep.note(format!(
        "Fan-out, {what}: {} events every {} ms over {} HTTP connections, {} frames expected, \
         {} received; request round trip p50 {:.2} / p99 {:.2} ms; spread (first client → each \
         client) p50 {:.2} / p99 {:.2} ms; {} of {} events reached their first client more than \
         {} ms after the request; {} WebSockets opened in {:.0} ms; {cpu}.",
        cfg.events,
        cfg.interval.as_millis(),
        cfg.senders,
        f.expected,
        f.received,
        ms(f.request_rtt.value_at_quantile(0.5)),
        ms(f.request_rtt.value_at_quantile(0.99)),
        ms(f.spread.value_at_quantile(0.5)),
        ms(f.spread.value_at_quantile(0.99)),
        f.stalled_events,
        cfg.events,
        fanout::STALL.as_millis(),
        cfg.clients,
        f.connect.as_secs_f64() * 1e3,
    ));
    Ok(())
}

async fn measure(
    srv: &Server,
    addr: std::net::SocketAddr,
    name: &str,
    w: &Workload,
    rep: &mut Report,
) -> anyhow::Result<LoadResult> {
    quiet(name, rep).await?;
    eprintln!("bench: {name} ({} connections)", w.conns);
    let cpu = CpuMeter::start(srv)?;
    let r = load::run(addr, w).await?;
    rep.note(format!(
        "{name}: {} requests in {:.0} s, {}; RSS after it {:.1} MiB; {}.",
        r.ok,
        r.window.as_secs_f64(),
        cpu.describe(srv)?,
        srv.rss_mib()?,
        match &r.first_error {
            None => "no errors".to_owned(),
            Some(e) => format!("{} errors, first: {e}", r.errors),
        }
    ));
    Ok(r)
}

/// Everything measured on dataset A.
async fn dataset_a(
    bin: &Path,
    dirs: &Dirs<'_>,
    ds: &Dataset,
    opts: &Opts,
    rep: &mut Report,
) -> anyhow::Result<()> {
    let mut srv = Server::spawn(bin, dirs, 0)?;
    let (addr, to_ready) = srv.wait_ready(Duration::from_secs(60))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = srv.rss_mib()?;
    rep.row(Row::upper(
        "Idle RSS, 2,000 tasks, after start-up",
        rss_idle,
        "MiB",
        "≈ 75 MB",
        30.0,
        format!("{rss_idle:.1} MiB"),
    ));
    let project = ds.project_ids.first().context("no project")?.clone();
    let ids: Arc<Vec<String>> = Arc::new(ds.task_ids.clone());

    // Sanity: the list holds every generated task; its size is reported.
    let mut c = Conn::connect(addr).await?;
    let (status, body) = c
        .send(
            Method::GET,
            &format!("/api/tasks?projectId={project}"),
            None,
        )
        .await?;
    anyhow::ensure!(status.is_success(), "list answered {status}");
    let n = serde_json::from_slice::<Value>(&body)?
        .as_array()
        .map_or(0, Vec::len);
    anyhow::ensure!(
        n == ids.len(),
        "list returned {n} tasks, expected {}",
        ids.len()
    );
    drop(c);
    rep.note(format!(
        "Dataset A: start-up {:.0} ms to ready line; list of {n} tasks is {:.0} KB ({:.0} B per task).",
        to_ready.as_secs_f64() * 1e3,
        body.len() as f64 / 1e3,
        body.len() as f64 / n.max(1) as f64
    ));

    let (warmup, duration) = (opts.warmup(), opts.duration());
    let w = |conns: usize, make: MakeReq| Workload {
        conns,
        warmup,
        duration,
        make,
    };

    if opts.runs(Part::Rest) {
        let get_ids = ids.clone();
        let get = w(
            32,
            Arc::new(move |rng, _, _| {
                (
                    Method::GET,
                    format!("/api/tasks/{}", get_ids[rng.below(get_ids.len())]),
                    None,
                )
            }),
        );
        let r = measure(&srv, addr, "GET /api/tasks/:id", &get, rep).await?;
        rep.row(Row::lower(
            "GET task by id, 32 conns",
            &r,
            "5.3–6.5K req/s (p99 ≈ 12 ms)",
            (5_300.0, 6_500.0),
            10.0,
        ));

        let list_path = format!("/api/tasks?projectId={project}");
        let list = w(
            8,
            Arc::new(move |_, _, _| (Method::GET, list_path.clone(), None)),
        );
        let r = measure(
            &srv,
            addr,
            "GET /api/tasks?projectId (2,000 tasks)",
            &list,
            rep,
        )
        .await?;
        let label = format!(
            "List 2,000 tasks ({:.0} KB), 8 conns",
            body.len() as f64 / 1e3
        );
        rep.row(Row::lower(
            &label,
            &r,
            "≈ 200 req/s (p99 ≈ 82 ms)",
            (200.0, 200.0),
            5.0,
        ));

        let patch_ids = ids.clone();
        let patch = w(
            16,
            Arc::new(move |rng, _, seq| {
                let status = if seq % 2 == 0 { "in_progress" } else { "todo" };
                (
                    Method::PATCH,
                    format!("/api/tasks/{}", patch_ids[rng.below(patch_ids.len())]),
                    Some(Bytes::from(format!(r#"{{"status":"{status}"}}"#))),
                )
            }),
        );
        let r = measure(&srv, addr, "PATCH /api/tasks/:id status", &patch, rep).await?;
        rep.row(Row::lower(
            "PATCH task status (durable), 16 conns",
            &r,
            "3.0–3.3K req/s (p99 ≈ 11 ms)",
            (3_000.0, 3_300.0),
            5.0,
        ));
    }

    if opts.runs(Part::Fanout) {
        if opts.runs(Part::Rest) {
            // Measured on its own: the PATCH burst above left entity file writes deferred by
            // the filesystem store's write-behind (`store.write_behind_delay_ms`, 5 s); let
            // them finish first, as `quiet` lets the CPU settle.
            eprintln!("bench: waiting {WRITE_BEHIND_SETTLE:?} for deferred file writes");
            tokio::time::sleep(WRITE_BEHIND_SETTLE).await;
            rep.note(format!(
                "The fan-out runs start {} s after the PATCH workload, once the file writes it \
                 deferred are done; right after it they share the CPU with them.",
                WRITE_BEHIND_SETTLE.as_secs()
            ));
        }
        let cfg = fanout::Config {
            clients: 200,
            events: if opts.quick { 200 } else { 1_000 },
            interval: Duration::from_millis(5),
            senders: 4,
        };
        fan_out(
            &srv,
            addr,
            "PATCH sent → frame received",
            fanout::task_patch(ids.clone()),
            &cfg,
            rep,
        )
        .await?;
        let session = ds.session_ids.first().context("no session")?.clone();
        fan_out(
            &srv,
            addr,
            "modal action (nothing stored) sent → frame received",
            fanout::modal_action(session),
            &cfg,
            rep,
        )
        .await?;
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = srv.rss_mib()?;
    rep.note(format!(
        "Idle after the load: RSS {rss_after:.1} MiB, {} server threads (tokio workers plus the blocking pool that runs file writes).",
        server::threads(srv.pid())?
    ));
    rep.row(Row::upper(
        "Idle RSS, 2,000 tasks, after the load above",
        rss_after,
        "MiB",
        "≈ 75 MB",
        30.0,
        format!("{rss_after:.1} MiB"),
    ));

    if opts.runs(Part::Rest) {
        let create = w(16, {
            let project = project.clone();
            Arc::new(move |_, k, seq| {
                (
                    Method::POST,
                    "/api/tasks".to_owned(),
                    Some(Bytes::from(format!(
                        r#"{{"projectId":"{project}","title":"Bench create {k}-{seq}"}}"#
                    ))),
                )
            })
        });
        let r = measure(&srv, addr, "POST /api/tasks", &create, rep).await?;
        rep.row(Row::lower(
            "Create task (durable), 16 conns",
            &r,
            "0.8–1.1K/s",
            (800.0, 1_100.0),
            5.0,
        ));
    }

    drop(srv);
    Ok(())
}
