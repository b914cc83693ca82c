//! Start-up load time. The ignored test generates a data directory (20,000 tasks over 20
//! projects and 200 sessions by default; `MAESTRO_LOAD_TASKS` / `MAESTRO_LOAD_SESSIONS`
//! override) and times `FsStore::open`:
//!
//! ```text
//! cargo test -p maestro-fs-store --release --test load_perf -- --ignored --nocapture
//! ```
//! The small non-ignored test keeps the code path exercised with a generous bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use maestro_domain::entities::{
    SessionFilter, TaskFilter, TaskPatch, TaskSessionStatus, TaskStatus,
};
use maestro_domain::ports::{SessionRepository, TaskRepository};
use maestro_domain::testing::fixtures::{T0, session, task, timeline};
use maestro_fs_store::{FsStore, FsStoreOptions};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `tasks` task files and `sessions` session files in the reference layout (plain
/// writes, no fsync: this only prepares input).
fn generate(dir: &Path, tasks: usize, sessions: usize) {
    let projects = 20;
    for p in 0..projects {
        std::fs::create_dir_all(dir.join(format!("tasks/proj_{p}"))).unwrap();
    }
    std::fs::create_dir_all(dir.join("sessions")).unwrap();
    std::thread::scope(|s| {
        for part in 0..4 {
            s.spawn(move || {
                for i in (part..tasks).step_by(4) {
                    let p = i % projects;
                    let mut t = task(&format!("task_{i:06}"), &format!("proj_{p}"), T0 + i as i64);
                    t.description = "Implement the thing described in the design doc; keep \
                                     the public API stable and add tests for every edge case."
                        .into();
                    t.session_ids = vec![
                        format!("sess_{}", i % 200),
                        format!("sess_{}", (i + 1) % 200),
                    ];
                    let statuses = t.task_session_statuses.get_or_insert_with(Default::default);
                    statuses.insert(
                        format!("sess_{}", i % 200),
                        TaskSessionStatus::Working.into(),
                    );
                    t.skill_ids = vec!["rust".into()];
                    let bytes = serde_json::to_vec_pretty(&t).unwrap();
                    std::fs::write(dir.join(format!("tasks/proj_{p}/task_{i:06}.json")), bytes)
                        .unwrap();
                }
            });
        }
    });
    for i in 0..sessions {
        let mut s = session(
            &format!("sess_{i}"),
            &format!("proj_{}", i % projects),
            T0 + i as i64,
        );
        s.timeline
            .extend((0..50).map(|k| timeline(&format!("evt_{i}_{k}"), T0 + k)));
        let bytes = serde_json::to_vec_pretty(&s).unwrap();
        std::fs::write(dir.join(format!("sessions/sess_{i}.json")), bytes).unwrap();
    }
}

async fn timed_open(tasks: usize, sessions: usize, sync_first: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), tasks, sessions);
    // Flush the generated files first, so the load's directory fsync does not pay for
    // writing them back (on a real data dir they are long on disk).
    if sync_first {
        let _ = std::process::Command::new("sync").status();
    }
    let start = Instant::now();
    let store = FsStore::open(dir.path()).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(
        store
            .tasks
            .list(&TaskFilter::default())
            .await
            .unwrap()
            .len(),
        tasks
    );
    assert_eq!(
        store
            .sessions
            .list(&SessionFilter::default())
            .await
            .unwrap()
            .len(),
        sessions
    );
    let start = Instant::now();
    let listed = store
        .tasks
        .list(&TaskFilter {
            project_id: Some("proj_3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    println!(
        "list of one project ({} tasks) took {:?}",
        listed.len(),
        start.elapsed()
    );
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture (ideally --release)"]
async fn load_time_of_a_large_data_dir() {
    let tasks = env_count("MAESTRO_LOAD_TASKS", 20_000);
    let sessions = env_count("MAESTRO_LOAD_SESSIONS", 200);
    let elapsed = timed_open(tasks, sessions, true).await;
    println!("FsStore::open: {tasks} tasks + {sessions} sessions loaded in {elapsed:?}");
}

/// Write throughput: concurrent creates of distinct files, then concurrent updates of a few
/// hot files (coalesced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture (ideally --release)"]
async fn write_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let n = env_count("MAESTRO_WRITE_TASKS", 2_000);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            tasks
                .insert(task(
                    &format!("task_{i:06}"),
                    &format!("proj_{}", i % 10),
                    T0,
                ))
                .await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let creates = start.elapsed();
    let start = Instant::now();
    for i in 0..n {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            tasks
                .set_session_status(
                    &format!("task_{:06}", i % 20),
                    &format!("sess_{i}"),
                    TaskSessionStatus::Working,
                    T0,
                )
                .await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let updates = start.elapsed();
    println!(
        "{n} concurrent creates in {creates:?} ({:.0}/s); {n} concurrent status updates on 20 \
         tasks in {updates:?} ({:.0}/s)",
        n as f64 / creates.as_secs_f64(),
        n as f64 / updates.as_secs_f64()
    );
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, in clock ticks (100 per second on Linux).
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// The store's share of the server bench's PATCH workload: 16 writers updating random tasks
/// out of 2,000 for 3 s (`MAESTRO_WRITE_SECS` overrides; `MAESTRO_WRITE_BEHIND_MS` and
/// `MAESTRO_CHECKPOINT_MIB` set the options); prints updates/s and CPU per update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture (ideally --release)"]
async fn random_updates_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = FsStoreOptions::default();
    if let Ok(ms) = std::env::var("MAESTRO_WRITE_BEHIND_MS") {
        options.write_behind_delay = Duration::from_millis(ms.parse().unwrap());
    }
    if let Ok(mib) = std::env::var("MAESTRO_CHECKPOINT_MIB") {
        options.checkpoint_bytes = mib.parse::<u64>().unwrap() << 20;
    }
    let store = FsStore::open_with(dir.path(), options).await.unwrap();
    let n = 2_000;
    for i in 0..n {
        store
            .tasks
            .insert(task(&format!("task_{i:06}"), "proj_1", T0))
            .await
            .unwrap();
    }
    store.flush().await.unwrap();
    let secs = env_count("MAESTRO_WRITE_SECS", 3) as u64;
    let stats0 = store.journal_stats();
    let (u0, s0) = cpu_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16u64 {
        let tasks = store.tasks.clone();
        set.spawn(async move {
            let mut x = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut done = 0u64;
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let status = if done.is_multiple_of(2) {
                    TaskStatus::InProgress
                } else {
                    TaskStatus::Todo
                };
                let patch = TaskPatch {
                    status: Some(status),
                    ..Default::default()
                };
                let id = format!("task_{:06}", x % n as u64);
                tasks.update(&id, &patch, T0 + done as i64).await.unwrap();
                done += 1;
            }
            done
        });
    }
    let mut ops = 0;
    while let Some(r) = set.join_next().await {
        ops += r.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let stats = store.journal_stats();
    println!(
        "{ops} updates in {elapsed:.2} s ({:.0}/s); CPU per update: user {:.1} µs, system {:.1} µs; \
         journal syncs {}, file writes {}, checkpoints {}",
        ops as f64 / elapsed,
        (u1 - u0) / ops as f64 * 1e6,
        (s1 - s0) / ops as f64 * 1e6,
        stats.syncs - stats0.syncs,
        stats.file_writes - stats0.file_writes,
        stats.checkpoints - stats0.checkpoints,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_time_smoke() {
    let elapsed = timed_open(2_000, 20, false).await;
    assert!(
        elapsed < Duration::from_secs(10),
        "loading 2,000 tasks took {elapsed:?}"
    );
}
