#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicUsize;

use super::*;
use crate::journal::JOURNAL_DIR;
use crate::op::live_stray;

fn writer(root: &Path, options: FsStoreOptions) -> Arc<Writer> {
    Writer::new(Handle::current(), root.to_path_buf(), options)
}

/// Never defer file writes (they start right after the journal sync).
fn sync_files() -> FsStoreOptions {
    FsStoreOptions {
        write_behind_rate: u64::MAX,
        ..FsStoreOptions::default()
    }
}

/// Defer every file write for an hour (until a checkpoint).
fn deferred() -> FsStoreOptions {
    FsStoreOptions {
        write_behind_rate: 0,
        write_behind_delay: Duration::from_secs(3600),
        ..FsStoreOptions::default()
    }
}

fn counted(renders: &Arc<AtomicUsize>, bytes: Vec<u8>) -> Op {
    let renders = renders.clone();
    Op::Write {
        render: Box::new(move || {
            renders.fetch_add(1, Ordering::SeqCst);
            Ok(bytes)
        }),
        then_remove: None,
        visible: false,
    }
}

/// Submits `value` for `path`, waits for its acknowledgement, then for its file write, which
/// nothing (no flush, no checkpoint) asks for; fails after 10 s.
async fn write_then_file(w: &Arc<Writer>, path: &Path, value: i32) {
    w.submit(path.to_path_buf(), Op::json(Arc::new(value), None))
        .wait()
        .await
        .unwrap();
    let gsn = lock(&w.queue).last_gsn;
    tokio::time::timeout(Duration::from_secs(10), w.applier.wait_applied(gsn))
        .await
        .expect("the file write follows the acknowledgement without a flush");
}

fn segments(root: &Path) -> usize {
    std::fs::read_dir(root.join(JOURNAL_DIR)).map_or(0, |rd| rd.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_keeps_only_the_newest_state_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), sync_files());
    let path = dir.path().join("f.json");
    let renders = Arc::new(AtomicUsize::new(0));
    // The first render blocks the committer until every other update has been queued.
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let renders = renders.clone();
        Op::Write {
            render: Box::new(move || {
                renders.fetch_add(1, Ordering::SeqCst);
                let _ = started_tx.send(());
                blocked.recv().ok();
                Ok(b"0".to_vec())
            }),
            then_remove: None,
            visible: false,
        }
    };
    let mut tickets = vec![w.submit(path.clone(), first)];
    started.await.unwrap();
    for i in 1..=100 {
        tickets.push(w.submit(path.clone(), counted(&renders, i.to_string().into())));
    }
    release.send(()).unwrap();
    for t in tickets {
        t.wait().await.unwrap();
    }
    assert_eq!(renders.load(Ordering::SeqCst), 2, "first + newest only");
    assert_eq!(w.stats().records, 2);
    w.flush().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_write_reports_error_and_writer_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), sync_files());
    std::fs::write(dir.path().join("not-a-dir"), "x").unwrap();
    let bad = dir.path().join("not-a-dir/f.json");
    let err = w
        .submit(bad.clone(), Op::bytes(b"1".to_vec()))
        .wait()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let outside = w
        .submit(PathBuf::from("/elsewhere/f.json"), Op::bytes(b"1".to_vec()))
        .wait()
        .await
        .unwrap_err();
    assert!(outside.to_string().contains("data directory"), "{outside}");
    let good = dir.path().join("g.json");
    w.submit(good.clone(), Op::bytes(b"2".to_vec()))
        .wait()
        .await
        .unwrap();
    assert_eq!(std::fs::read(&good).unwrap(), b"2");
    w.submit(good.clone(), Op::Delete { also: None })
        .wait()
        .await
        .unwrap();
    // The failure was reported to its writer, so it does not block the checkpoint.
    w.flush().await.unwrap();
    assert!(!good.exists());
    assert_eq!(segments(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_is_removed_after_the_new_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), sync_files());
    let old = dir.path().join("old.json");
    std::fs::write(&old, "{}").unwrap();
    let stray = Stray::new(old.clone());
    let new = dir.path().join("sub/new.json");
    w.submit(
        new.clone(),
        Op::json(Arc::new(1), live_stray(&Some(stray.clone()))),
    )
    .wait()
    .await
    .unwrap();
    w.flush().await.unwrap();
    assert!(new.is_file() && !old.exists());
    assert!(stray.is_removed());
    assert!(live_stray(&Some(stray)).is_none());
}

/// The ticket resolves at the journal sync; without write-behind the file follows at once, with
/// no flush or checkpoint asking for it. A `visible` change is in its file at the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_follow_the_acknowledgement_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), sync_files());
    let path = dir.path().join("f.json");
    write_then_file(&w, &path, 7).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "7");
    assert_eq!(w.stats().checkpoints, 0);

    let modal = dir.path().join("m.html");
    let visible = Op::Write {
        render: Box::new(|| Ok(b"<p>hi</p>".to_vec())),
        then_remove: None,
        visible: true,
    };
    w.submit(modal.clone(), visible).wait().await.unwrap();
    assert_eq!(std::fs::read_to_string(&modal).unwrap(), "<p>hi</p>");
}

/// (c) Concurrent writers share journal syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), FsStoreOptions::default());
    let tickets: Vec<_> = (0..64)
        .map(|i| {
            let path = dir.path().join(format!("f{i}.json"));
            w.submit(path, Op::json(Arc::new(i), None))
        })
        .collect();
    for t in tickets {
        t.wait().await.unwrap();
    }
    let s = w.stats();
    assert_eq!(s.records, 64);
    assert!(s.syncs < 64, "{s:?}");
    w.flush().await.unwrap();
    for i in 0..64 {
        let got = std::fs::read_to_string(dir.path().join(format!("f{i}.json"))).unwrap();
        assert_eq!(got, i.to_string());
    }
}

/// (d) Under write-behind files lag behind acknowledgements; a flush makes them current and
/// deletes the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_brings_deferred_files_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), deferred());
    let a = dir.path().join("a.json");
    let b = dir.path().join("sub/b.json");
    std::fs::write(&a, "old").unwrap();
    for v in 1..=3 {
        w.submit(a.clone(), Op::json(Arc::new(v), None))
            .wait()
            .await
            .unwrap();
    }
    w.submit(b.clone(), Op::json(Arc::new("b"), None))
        .wait()
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "old", "deferred");
    assert!(!b.exists());
    assert_eq!(w.stats().file_writes, 0);
    assert_eq!(segments(dir.path()), 1);
    w.flush().await.unwrap();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "3");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "\"b\"");
    let s = w.stats();
    assert_eq!((s.file_writes, s.checkpoints), (2, 1), "{s:?}");
    assert_eq!(segments(dir.path()), 0);
    // Nothing new: a flush is a no-op.
    w.flush().await.unwrap();
    assert_eq!(w.stats().checkpoints, 1);
    // Visible writes (modal HTML) are never deferred.
    let m = dir.path().join("m.html");
    w.submit(m.clone(), Op::bytes(b"<p/>".to_vec()))
        .wait()
        .await
        .unwrap();
    assert_eq!(std::fs::read(&m).unwrap(), b"<p/>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_segment_triggers_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(
        dir.path(),
        FsStoreOptions {
            checkpoint_bytes: 4096,
            ..deferred()
        },
    );
    let big = "x".repeat(3000);
    for i in 0..10 {
        let path = dir.path().join(format!("f{}.json", i % 3));
        w.submit(path, Op::json(Arc::new(format!("{big}{i}")), None))
            .wait()
            .await
            .unwrap();
    }
    // Each checkpoint wrote the deferred files and deleted the sealed segments.
    tokio::time::timeout(Duration::from_secs(10), w.checkpointed(1))
        .await
        .expect("a size-triggered checkpoint within 10 s");
    w.flush().await.unwrap();
    for i in 7..10 {
        let got = std::fs::read_to_string(dir.path().join(format!("f{}.json", i % 3))).unwrap();
        assert_eq!(got, format!("\"{big}{i}\""));
    }
    assert_eq!(segments(dir.path()), 0);
}

/// An acknowledged change that cannot reach its file keeps the journal: the checkpoint fails
/// until a later write of the file succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_deferred_write_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), deferred());
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, "a file where a directory should be").unwrap();
    let path = blocker.join("f.json");
    w.submit(path.clone(), Op::json(Arc::new(1), None))
        .wait()
        .await
        .unwrap();
    let err = w.flush().await.unwrap_err();
    assert!(err.to_string().contains("blocked"), "{err}");
    assert_eq!(segments(dir.path()), 1, "journal kept");
    std::fs::remove_file(&blocker).unwrap();
    w.submit(path.clone(), Op::json(Arc::new(2), None))
        .wait()
        .await
        .unwrap();
    w.flush().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "2");
    assert_eq!(segments(dir.path()), 0);
}

#[test]
fn newest_per_file_moves_waiters_and_strays() {
    let entry = |gsn, name: &str, stray: Option<Arc<Stray>>, visible| {
        let (tx, _rx) = watch::channel(None);
        Entry {
            gsn,
            path: PathBuf::from(name),
            op: Op::Write {
                render: Box::new(|| Ok(Vec::new())),
                then_remove: stray,
                visible,
            },
            dones: vec![Done(tx)],
            settles: Vec::new(),
        }
    };
    let stray = Stray::new(PathBuf::from("legacy.json"));
    let out = newest_per_file(vec![
        entry(1, "a", Some(stray.clone()), true),
        entry(2, "b", None, false),
        entry(3, "a", None, false),
    ]);
    assert_eq!(out.iter().map(|e| e.gsn).collect::<Vec<_>>(), [2, 3]);
    let a = &out[1];
    assert_eq!(a.dones.len(), 2);
    match &a.op {
        Op::Write {
            then_remove,
            visible,
            ..
        } => {
            assert!(then_remove.as_ref().is_some_and(|s| Arc::ptr_eq(s, &stray)));
            assert!(*visible);
        }
        Op::Delete { .. } | Op::Patch { .. } => panic!("a write"),
    }
}

/// The file writer runs on its own thread at nice [`crate::apply::WORKER_NICE`], so file
/// writes yield the CPU to request handling (Linux reports the nice value per thread).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_written_by_a_background_priority_thread() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), sync_files());
    write_then_file(&w, &dir.path().join("f.json"), 1).await;
    // The thread idles for a while before it ends, so it is still there.
    let mut nices = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() == "maestro-files" {
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            // Fields after the parenthesised command: state is field 3, nice field 19.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            nices.push(rest.split(' ').nth(16).unwrap().parse::<i32>().unwrap());
        }
    }
    // Other tests of this binary may run writer threads too (one may be just starting, not
    // yet lowered), so at least one, ours, has the background nice value.
    assert!(
        nices.contains(&crate::apply::WORKER_NICE),
        "maestro-files threads and their nice values: {nices:?}"
    );
}
