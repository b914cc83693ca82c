//! The release `maestro-server` process under test: spawn, ready line, start-up probe, RSS and
//! CPU time from `/proc`, kill on drop (so an error anywhere still stops it).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Prefix of the ready line the server prints on stdout.
const READY_PREFIX: &str = "maestro-server listening on ";

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on every Linux target).
const TICKS_PER_SEC: f64 = 100.0;

/// A running server. Dropping it kills the process.
pub struct Server {
    child: Child,
    spawned: Instant,
    ready: mpsc::Receiver<(Instant, String)>,
    /// Where the server's stderr goes.
    pub log: PathBuf,
    /// The listening address, once [`Server::wait_ready`] returned.
    pub addr: Option<SocketAddr>,
}

/// Directories a server instance uses.
pub struct Dirs<'a> {
    /// `DATA_DIR`.
    pub data: &'a Path,
    /// `HOME` (and `SESSION_DIR` below it).
    pub home: &'a Path,
    /// Extra server variables (the PostgreSQL store selection), applied last.
    pub env: &'a [(String, String)],
}

/// A free loopback port (bound then released; the tiny race is acceptable for a benchmark).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Server {
    /// Spawns `bin` on `port` (0 = any) with the reference variables, `LOG_LEVEL=warn`, every
    /// `MAESTRO_*` variable of this process except `MAESTRO_BENCH_*`, and stderr appended to
    /// `<home>/server-stderr.log`.
    pub fn spawn(bin: &Path, dirs: &Dirs<'_>, port: u16) -> anyhow::Result<Self> {
        let log = dirs.home.join("server-stderr.log");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dirs.home)
            .env("PORT", port.to_string())
            .env("DATA_DIR", dirs.data)
            .env("SESSION_DIR", dirs.home.join("sessions"))
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        // Server settings for experiments (`MAESTRO_BUS__REPLAY_MAX_EVENTS=…`) and glibc
        // malloc tunables (`MALLOC_ARENA_MAX=…`) pass through.
        for (k, v) in std::env::vars() {
            if (k.starts_with("MAESTRO_") && !k.starts_with("MAESTRO_BENCH_"))
                || k.starts_with("MALLOC_")
            {
                cmd.env(k, v);
            }
        }
        cmd.envs(dirs.env.iter().map(|(k, v)| (k, v)));
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send((Instant::now(), line));
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        Ok(Self {
            child,
            spawned,
            ready,
            log,
            addr: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// When the process was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// Waits (bounded) for the ready line; returns the address and the time from spawn to the
    /// line's arrival.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<(SocketAddr, Duration)> {
        let (at, line) = match self.ready.recv_timeout(timeout) {
            Ok(v) => v,
            Err(_) => {
                let status = self.child.try_wait().ok().flatten();
                bail!(
                    "no ready line within {timeout:?} (exit status {status:?}); see {}",
                    self.log.display()
                );
            }
        };
        let addr: SocketAddr = line
            .strip_prefix(READY_PREFIX)
            .with_context(|| format!("unexpected first line: {line}"))?
            .trim()
            .parse()
            .with_context(|| format!("bad address in {line}"))?;
        self.addr = Some(addr);
        Ok((addr, at.duration_since(self.spawned)))
    }

    /// Resident set size from `/proc/<pid>/status`, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        rss_mib(self.pid())
    }

    /// User + system CPU seconds the server consumed so far.
    pub fn cpu_secs(&self) -> anyhow::Result<f64> {
        cpu_secs(&format!("/proc/{}/stat", self.pid()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A numeric field of `/proc/<pid>/status` (`VmRSS`, `Threads`, …), unit suffix dropped.
fn status_field(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let prefix = format!("{field}:");
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .with_context(|| format!("no {field} line"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

/// `VmRSS` of a process, in MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    Ok(status_field(pid, "VmRSS")? / 1024.0)
}

/// Number of threads of a process.
pub fn threads(pid: u32) -> anyhow::Result<u64> {
    Ok(status_field(pid, "Threads")? as u64)
}

/// User + system CPU seconds from a `/proc/.../stat` file.
pub fn cpu_secs(stat_path: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(stat_path)?;
    // Fields after the `(comm)`, which may itself hold spaces.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / TICKS_PER_SEC)
}

/// Machine-wide CPU counters from `/proc/stat`: (busy, steal) seconds summed over all cores.
pub fn machine_cpu_secs() -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    anyhow::ensure!(v.len() >= 8, "short /proc/stat line");
    let busy = v[0] + v[1] + v[2] + v[5] + v[6];
    Ok((busy / TICKS_PER_SEC, v[7] / TICKS_PER_SEC))
}

/// Waits (up to `max`) until the whole machine stays below a quarter of a core busy for half a
/// second, so other work on a shared machine does not disturb a measurement. Returns whether it
/// got quiet.
pub fn wait_quiet(max: Duration) -> anyhow::Result<bool> {
    const WINDOW: Duration = Duration::from_millis(500);
    let deadline = Instant::now() + max;
    loop {
        let (before, _) = machine_cpu_secs()?;
        std::thread::sleep(WINDOW);
        let (after, _) = machine_cpu_secs()?;
        if (after - before) / WINDOW.as_secs_f64() < 0.25 {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
    }
}

/// Polls `GET /health` on `port` in a tight loop (a refused connection is retried after
/// 200 µs) until it answers 200; returns the instant of that answer.
pub fn poll_health(port: u16, deadline: Instant) -> anyhow::Result<Instant> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if Instant::now() > deadline {
            bail!("/health did not answer before the deadline");
        }
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        };
        s.set_read_timeout(Some(deadline.saturating_duration_since(Instant::now())))?;
        let _ = s.set_nodelay(true);
        if s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            continue;
        }
        let mut head = [0u8; 12];
        if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
            return Ok(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_figures() {
        let rss = rss_mib(std::process::id()).expect("rss");
        assert!(rss > 0.1);
        assert!(threads(std::process::id()).expect("threads") >= 1);
        assert!(cpu_secs("/proc/self/stat").expect("cpu") >= 0.0);
        assert!(machine_cpu_secs().expect("machine").0 > 0.0);
    }
}
