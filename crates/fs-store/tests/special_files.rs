//! Issue 12 item 11 (part): entries that are not regular files in the data directory. A FIFO
//! used to hang the start-up forever (reading it blocks until a writer appears); they are now
//! skipped with a warning, never opened, and left where they are. Symbolic links count as what
//! they point to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use maestro_domain::entities::TaskFilter;
use maestro_domain::ports::{ProjectRepository, TaskRepository};
use maestro_domain::testing::fixtures::{T0, project, task};
use maestro_fs_store::FsStore;
use rustix::fs::{CWD, Mode, mkfifoat};

/// Every place the loader lists, plus the journal directory.
const FIFOS: &[&str] = &[
    "projects/fifo.json",
    "tasks/fifo.json",
    "tasks/p1/fifo.json",
    "sessions/fifo.json",
    "ordering/task/fifo.json",
    "ordering/session/fifo.json",
    "team-members/fifo",
    "team-members/p1/fifo.json",
    "team-members/p1/tm_p1_worker.override.json",
    "mail/fifo.json",
    "mail/sess_parent/fifo.json",
    "modals/fifo.html",
    ".maestro-journal/journal-000000000001-fifo.log",
];

fn put(root: &Path, rel: &str, value: &impl serde::Serialize) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// Opens the store on its own thread and returns the ids of the tasks and projects it
/// loaded. A start-up that blocks fails the test after `limit` instead of hanging it (the
/// blocked thread is abandoned).
fn loaded_ids(root: &Path, limit: Duration) -> (Vec<String>, Vec<String>) {
    let (tx, rx) = mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ids = rt.block_on(async {
            let store = FsStore::open(&root).await.unwrap();
            let tasks = store.tasks.list(&TaskFilter::default()).await.unwrap();
            let projects = store.projects.list().await.unwrap();
            (
                tasks.into_iter().map(|t| t.id).collect(),
                projects.into_iter().map(|p| p.id).collect(),
            )
        });
        let _ = tx.send(ids);
    });
    rx.recv_timeout(limit)
        .expect("FsStore::open blocked (on a FIFO?) or failed within the limit")
}

#[test]
fn fifos_and_links_in_the_data_directory_do_not_block_the_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "projects/p1.json", &project("p1", T0));
    put(root, "tasks/p1/task_1.json", &task("task_1", "p1", T0));
    for rel in FIFOS {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        mkfifoat(CWD, &path, Mode::from_raw_mode(0o600)).unwrap();
    }
    // Links: to a regular file (read, as the reference did), to a directory (listed), to a
    // FIFO and dangling (skipped).
    let elsewhere = tempfile::tempdir().unwrap();
    put(
        elsewhere.path(),
        "task_2.json",
        &task("task_2", "p1", T0 + 1),
    );
    put(
        elsewhere.path(),
        "p2/task_3.json",
        &task("task_3", "p2", T0 + 2),
    );
    std::os::unix::fs::symlink(
        elsewhere.path().join("task_2.json"),
        root.join("tasks/p1/task_2.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("p2"), root.join("tasks/p2")).unwrap();
    std::os::unix::fs::symlink(
        root.join("tasks/p1/fifo.json"),
        root.join("tasks/p1/to_fifo.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        root.join("nowhere.json"),
        root.join("tasks/p1/dangling.json"),
    )
    .unwrap();

    let (tasks, projects) = loaded_ids(root, Duration::from_secs(20));
    assert_eq!(tasks, ["task_1", "task_2", "task_3"]);
    assert_eq!(projects, ["p1"]);
    for rel in FIFOS {
        assert!(root.join(rel).exists(), "{rel} is left where it is");
    }
}
