//! SIGKILL safety: a child process (this test binary, re-executed in "writer mode") hammers a
//! store with concurrent creates and updates and prints an `ACK` line after each write
//! returns. The parent kills it with SIGKILL mid-flight, then checks that every JSON file
//! parses and that every acknowledged write is in the re-opened store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use maestro_domain::entities::{TaskPatch, TaskSessionStatus};
use maestro_domain::ports::TaskRepository;
use maestro_domain::testing::fixtures::{T0, task};
use maestro_fs_store::FsStore;

/// Set in the child: the data directory to write to.
const CHILD_DIR_ENV: &str = "MAESTRO_FS_STORE_SIGKILL_CHILD_DIR";
const TEST_NAME: &str = "acknowledged_writes_survive_sigkill";
/// ACK lines to see before killing the child.
const ACKS_BEFORE_KILL: usize = 1500;
const WORKERS: u64 = 12;
const SHARED_TASKS: u64 = 5;

/// Kills the child if the parent panics before doing it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR_ENV) {
        writer_mode(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();

    // Owned tasks: highest acknowledged version. Shared tasks: acknowledged session keys.
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut statuses: Vec<(String, String)> = Vec::new();
    let mut acks = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["ACK", id, version] => {
                let v: u64 = version.parse().unwrap();
                let e = versions.entry((*id).to_owned()).or_default();
                *e = (*e).max(v);
            }
            ["ACKS", id, key] => statuses.push(((*id).to_owned(), (*key).to_owned())),
            _ => continue,
        }
        acks += 1;
        if acks >= ACKS_BEFORE_KILL {
            break;
        }
    }
    assert!(
        acks >= ACKS_BEFORE_KILL,
        "the writer exited after {acks} acknowledgements"
    );
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    // No torn file: every JSON file left behind parses (temp files are not `.json`).
    let mut checked = 0;
    check_json_files(dir.path(), &mut checked);
    assert!(checked > 0);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = FsStore::open(dir.path()).await.unwrap();
        assert_eq!(
            leftover_temp_files(dir.path()),
            0,
            "open removes temp files"
        );
        for (id, acked) in &versions {
            let t = store
                .tasks
                .get(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged task {id} is missing"));
            let v: u64 = t.description.parse().unwrap();
            assert!(v >= *acked, "{id}: version {v} < acknowledged {acked}");
        }
        for (id, key) in &statuses {
            let t = store.tasks.get(id).await.unwrap().expect("shared task");
            assert_eq!(
                t.session_status(key),
                Some(&TaskSessionStatus::Working.into()),
                "{id}: acknowledged status of {key} lost"
            );
        }
    });
    assert!(!versions.is_empty() && !statuses.is_empty());
}

fn leftover_temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                leftover_temp_files(&e.path())
            } else {
                usize::from(name.starts_with('.') && name.ends_with(".tmp"))
            }
        })
        .sum()
}

fn check_json_files(dir: &Path, checked: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            check_json_files(&path, checked);
        } else if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("torn file {}: {e}", path.display()));
            *checked += 1;
        }
    }
}

/// The child: writes until killed. Each worker owns its own tasks (created, then updated
/// with increasing versions in `description`) and also merges per-session statuses into a few
/// shared tasks, so concurrent writes of one file are coalesced.
fn writer_mode(dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = FsStore::open(dir).await.unwrap();
        for s in 0..SHARED_TASKS {
            store
                .tasks
                .insert(task(&format!("task_shared_{s}"), "p1", T0))
                .await
                .unwrap();
        }
        let mut handles = Vec::new();
        for w in 0..WORKERS {
            let tasks = store.tasks.clone();
            handles.push(tokio::spawn(async move {
                let mut n: u64 = 0;
                loop {
                    n += 1;
                    // Owned task: create every 4th round, otherwise bump a version.
                    let own = format!("task_w{w}_{}", n / 4);
                    if n.is_multiple_of(4) {
                        let mut t = task(&own, &format!("p{}", w % 3), T0 + n as i64);
                        t.description = "0".into();
                        tasks.insert(t).await.unwrap();
                        println!("ACK {own} 0");
                    } else {
                        let id = format!("task_w{w}_{}", n / 4);
                        if tasks.get(&id).await.unwrap().is_some() {
                            let patch = TaskPatch {
                                description: Some(n.to_string()),
                                ..Default::default()
                            };
                            tasks.update(&id, &patch, T0 + n as i64).await.unwrap();
                            println!("ACK {id} {n}");
                        }
                    }
                    let shared = format!("task_shared_{}", (n + w) % SHARED_TASKS);
                    let key = format!("sess_w{w}_{n}");
                    tasks
                        .set_session_status(&shared, &key, TaskSessionStatus::Working, T0)
                        .await
                        .unwrap();
                    println!("ACKS {shared} {key}");
                }
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    });
}
