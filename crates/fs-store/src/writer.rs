//! The background writer: per-file write coalescing on the blocking pool.
//!
//! Repositories update their in-memory state under their lock and, still under that lock,
//! [`Writer::submit`] the new state of the affected file. Submitting under the lock means the
//! submissions for one file arrive in the order of the in-memory mutations, so the newest
//! submission always carries the newest state.
//!
//! For every file there is at most one write in flight. While it runs, later submissions for
//! the same file only replace the file's *pending* operation (the newest state wins). When the
//! in-flight write finishes, the pending one — if any — is written next by the same blocking
//! thread. Each submission gets a per-file version number; a [`Ticket`] resolves once a
//! durable write of that version or a newer one has finished, or with the error of the write
//! that carried it. Writes of different files run in parallel on the blocking pool, and their
//! directory `fsync`s are group-committed ([`DirSyncs`]).
//!
//! A file's slot exists exactly while a write of it is in flight, so the slot table stays
//! small; version numbers restart when a slot is recreated, which is safe because a slot is
//! only dropped once every version it handed out has been attempted.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::durable::{DirSyncs, lock, remove_durable, write_atomic};
use crate::error::FsStoreError;

/// Produces the bytes of a file; run on the blocking pool, off every lock.
pub(crate) type Render = Box<dyn FnOnce() -> serde_json::Result<Vec<u8>> + Send>;

/// Pretty JSON with 2-space indentation and no trailing newline (`JSON.stringify(x, null, 2)`).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value)
}

/// An older copy of an entity's file at a non-canonical path (a legacy root-level task file,
/// or a file whose directory disagrees with its content). It is removed after the first
/// durable write of the canonical file.
#[derive(Debug)]
pub(crate) struct Stray {
    path: PathBuf,
    removed: AtomicBool,
}

impl Stray {
    pub(crate) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            removed: AtomicBool::new(false),
        })
    }

    /// True once the stray file is gone.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    fn remove(&self, dirs: &DirSyncs) -> std::io::Result<()> {
        if self.is_removed() {
            return Ok(());
        }
        remove_durable(&self.path, dirs)?;
        self.removed.store(true, Ordering::Release);
        Ok(())
    }
}

/// The stray of an entity, if it still has to be removed.
pub(crate) fn live_stray(stray: &Option<Arc<Stray>>) -> Option<Arc<Stray>> {
    stray.as_ref().filter(|s| !s.is_removed()).cloned()
}

/// What to do with a file.
pub(crate) enum Op {
    /// Replace the file's content, then remove the stray (if any).
    Write {
        /// The new content.
        render: Render,
        /// Superseded copy to remove once the new content is durable.
        then_remove: Option<Arc<Stray>>,
    },
    /// Remove the file (and the stray, if any).
    Delete {
        /// Superseded copy to remove as well.
        also: Option<Arc<Stray>>,
    },
}

impl Op {
    /// Writes `value` as pretty JSON.
    pub(crate) fn json<T: Serialize + Send + Sync + 'static>(
        value: Arc<T>,
        then_remove: Option<Arc<Stray>>,
    ) -> Self {
        Op::Write {
            render: Box::new(move || to_json(&*value)),
            then_remove,
        }
    }

    /// Writes raw bytes.
    pub(crate) fn bytes(bytes: Vec<u8>) -> Self {
        Op::Write {
            render: Box::new(move || Ok(bytes)),
            then_remove: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Highest version whose write has finished (successfully or not).
    attempted: u64,
    /// Highest version that is durable.
    durable: u64,
    /// Error of the latest failed write.
    error: Option<Arc<FsStoreError>>,
}

struct Slot {
    /// Last version handed out.
    next: u64,
    /// Newest operation not yet started.
    pending: Option<(u64, Op)>,
    progress: watch::Sender<Progress>,
}

/// Waits for the durability of one submitted change.
#[must_use = "a write is only durable once its ticket resolves"]
pub(crate) struct Ticket {
    version: u64,
    rx: watch::Receiver<Progress>,
}

impl Ticket {
    /// Resolves once the submitted version (or a newer one) is durable.
    ///
    /// # Errors
    /// The error of the write that carried this version.
    pub(crate) async fn wait(mut self) -> Result<(), FsStoreError> {
        let v = self.version;
        let progress = match self.rx.wait_for(|p| p.attempted >= v).await {
            Ok(p) => p.clone(),
            Err(_) => return Err(FsStoreError::Task("writer stopped".into())),
        };
        if progress.durable >= v {
            Ok(())
        } else {
            Err(match progress.error {
                Some(e) => FsStoreError::Shared(e),
                None => FsStoreError::Task("write failed".into()),
            })
        }
    }
}

/// The writer shared by every repository of one store.
pub(crate) struct Writer {
    handle: Handle,
    slots: Mutex<HashMap<PathBuf, Slot>>,
    dirs: Arc<DirSyncs>,
    /// Number of files with a write in flight.
    active: watch::Sender<usize>,
}

impl Writer {
    pub(crate) fn new(handle: Handle, dirs: Arc<DirSyncs>) -> Arc<Self> {
        Arc::new(Self {
            handle,
            slots: Mutex::new(HashMap::new()),
            dirs,
            active: watch::Sender::new(0),
        })
    }

    /// Queues `op` for `path` and returns the ticket of this change. Call it while holding
    /// the lock under which the change was made in memory (see the module docs).
    pub(crate) fn submit(self: &Arc<Self>, path: PathBuf, op: Op) -> Ticket {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get_mut(&path) {
            slot.next += 1;
            let version = slot.next;
            // Replaces (drops) an older pending operation: the newest state wins.
            slot.pending = Some((version, op));
            return Ticket {
                version,
                rx: slot.progress.subscribe(),
            };
        }
        let slot = Slot {
            next: 1,
            pending: None,
            progress: watch::Sender::new(Progress::default()),
        };
        let rx = slot.progress.subscribe();
        slots.insert(path.clone(), slot);
        drop(slots);
        self.active.send_modify(|n| *n += 1);
        let me = Arc::clone(self);
        self.handle.spawn_blocking(move || me.run(path, 1, op));
        Ticket { version: 1, rx }
    }

    /// A ticket for the newest change already submitted for `path`, if a write of it is still
    /// in flight. A no-op mutation waits on it so it never reports state that is not durable.
    pub(crate) fn barrier(&self, path: &Path) -> Option<Ticket> {
        let slots = lock(&self.slots);
        slots.get(path).map(|slot| Ticket {
            version: slot.next,
            rx: slot.progress.subscribe(),
        })
    }

    /// Resolves once no write is in flight.
    pub(crate) async fn idle(&self) {
        let mut rx = self.active.subscribe();
        // The sender lives in `self`, so the channel cannot close while we borrow it.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// The write loop of one file: writes `op`, then whatever became pending meanwhile.
    fn run(&self, path: PathBuf, mut version: u64, mut op: Op) {
        loop {
            let result =
                catch_unwind(AssertUnwindSafe(|| self.execute(&path, op))).unwrap_or_else(|_| {
                    Err(FsStoreError::Task(format!(
                        "panic while writing {}",
                        path.display()
                    )))
                });
            let mut slots = lock(&self.slots);
            let Some(slot) = slots.get_mut(&path) else {
                tracing::error!(path = %path.display(), "writer slot vanished");
                drop(slots);
                self.active.send_modify(|n| *n = n.saturating_sub(1));
                return;
            };
            slot.progress.send_modify(|p| {
                p.attempted = version;
                match result {
                    Ok(()) => p.durable = version,
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "write failed");
                        p.error = Some(Arc::new(e));
                    }
                }
            });
            match slot.pending.take() {
                Some((v, next)) => {
                    version = v;
                    op = next;
                }
                None => {
                    slots.remove(&path);
                    drop(slots);
                    self.active.send_modify(|n| *n = n.saturating_sub(1));
                    return;
                }
            }
        }
    }

    fn execute(&self, path: &Path, op: Op) -> Result<(), FsStoreError> {
        match op {
            Op::Write {
                render,
                then_remove,
            } => {
                let bytes = render().map_err(|source| FsStoreError::Serialize {
                    path: path.to_path_buf(),
                    source,
                })?;
                write_atomic(path, &bytes, &self.dirs)
                    .map_err(|e| FsStoreError::io("write", path, e))?;
                if let Some(stray) = then_remove
                    && let Err(e) = stray.remove(&self.dirs)
                {
                    // The new content is durable; the load prefers the canonical file, and the
                    // next write retries the removal.
                    tracing::warn!(path = %stray.path.display(), error = %e,
                        "could not remove superseded file");
                }
                Ok(())
            }
            Op::Delete { also } => {
                remove_durable(path, &self.dirs)
                    .map_err(|e| FsStoreError::io("remove", path, e))?;
                if let Some(stray) = also {
                    // A stray left behind would bring the entity back at the next load.
                    stray
                        .remove(&self.dirs)
                        .map_err(|e| FsStoreError::io("remove", &stray.path, e))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn counted(renders: &Arc<AtomicUsize>, bytes: Vec<u8>) -> Op {
        let renders = renders.clone();
        Op::Write {
            render: Box::new(move || {
                renders.fetch_add(1, Ordering::SeqCst);
                Ok(bytes)
            }),
            then_remove: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn coalesces_writes_of_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(Handle::current(), Arc::new(DirSyncs::default()));
        let path = dir.path().join("f.json");
        let renders = Arc::new(AtomicUsize::new(0));
        // The first write blocks until every other update has been submitted.
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let first = {
            let renders = renders.clone();
            Op::Write {
                render: Box::new(move || {
                    renders.fetch_add(1, Ordering::SeqCst);
                    blocked.recv().ok();
                    Ok(b"0".to_vec())
                }),
                then_remove: None,
            }
        };
        let mut tickets = vec![writer.submit(path.clone(), first)];
        for i in 1..=100 {
            tickets.push(writer.submit(path.clone(), counted(&renders, i.to_string().into())));
        }
        release.send(()).unwrap();
        for t in tickets {
            t.wait().await.unwrap();
        }
        assert_eq!(renders.load(Ordering::SeqCst), 2, "first + newest only");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "100");
        writer.idle().await;
        assert!(lock(&writer.slots).is_empty());
        // A later write starts a fresh slot.
        writer
            .submit(path.clone(), counted(&renders, b"again".to_vec()))
            .wait()
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_write_reports_error_and_writer_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(Handle::current(), Arc::new(DirSyncs::default()));
        std::fs::write(dir.path().join("not-a-dir"), "x").unwrap();
        let bad = dir.path().join("not-a-dir/f.json");
        let err = writer
            .submit(bad.clone(), Op::bytes(b"1".to_vec()))
            .wait()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
        let good = dir.path().join("g.json");
        writer
            .submit(good.clone(), Op::bytes(b"2".to_vec()))
            .wait()
            .await
            .unwrap();
        writer
            .submit(good.clone(), Op::Delete { also: None })
            .wait()
            .await
            .unwrap();
        assert!(!good.exists());
        writer.idle().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stray_is_removed_after_the_new_file_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(Handle::current(), Arc::new(DirSyncs::default()));
        let old = dir.path().join("old.json");
        std::fs::write(&old, "{}").unwrap();
        let stray = Stray::new(old.clone());
        let new = dir.path().join("sub/new.json");
        writer
            .submit(
                new.clone(),
                Op::json(Arc::new(1), live_stray(&Some(stray.clone()))),
            )
            .wait()
            .await
            .unwrap();
        assert!(new.is_file() && !old.exists());
        assert!(stray.is_removed());
        assert!(live_stray(&Some(stray)).is_none());
    }
}
