//! The write path: submissions, group commit to the journal, hand-off to the applier,
//! checkpoints.
//!
//! Repositories update their in-memory state under their lock and, still under that lock,
//! [`Writer::submit`] the new state of the affected file. Submitting under the lock means the
//! submissions for one file are numbered (`gsn`) in the order of the in-memory mutations, so
//! the newest submission always carries the newest state.
//!
//! One committer at a time (a blocking task, started on demand) takes everything queued,
//! keeps only the newest submission per file, renders it once, and appends the batch to the
//! journal with one `fdatasync` (module `journal`). The rendered bytes then go to the applier
//! (module `apply`), which writes the entity files without `fsync`.
//!
//! A [`Ticket`] resolves once its change is durable, which is at the journal sync: a crash
//! after it loses nothing, since the next open replays the journal. The entity file follows:
//! - normally at once (a fraction of a millisecond later; waiting for it would double the
//!   latency of a write: on ext4 the temp file's create and the rename cost more than the
//!   journal's `fdatasync`);
//! - under **write-behind** — entered when the journal takes at least `write_behind_rate`
//!   changes per second (measured over 100 ms windows), left one second after the last such
//!   window once no file write is pending — within `write_behind_delay`, collapsing the
//!   updates of busy files.
//!
//! A process that reads the data directory itself (the `maestro` CLI during spawn) calls
//! [`Writer::flush`] first, which brings every file up to date. A change that must be visible
//! as a file at once (modal HTML, whose path is returned) waits for its file.
//!
//! A checkpoint ([`Writer::checkpoint`]) runs when the current journal segment exceeds
//! `checkpoint_bytes`, and at every [`Writer::flush`].

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::FsStoreOptions;
use crate::apply::{Action, Applier, Item};
use crate::durable::{lock, sync_paths};
use crate::error::FsStoreError;
use crate::journal::{self, Journal, Record};
use crate::op::{Op, Render, Stray};

/// How long write-behind lasts after the last window that triggered it.
const WRITE_BEHIND_HOLD: Duration = Duration::from_secs(1);
/// The window over which the rate of changes is measured.
const RATE_WINDOW: Duration = Duration::from_millis(100);
/// How often the committer reads the device's free space (see `Writer::short_of_space`).
const SPACE_CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Below this journal size, free space never triggers a checkpoint.
const MIN_SPACE_CHECKPOINT: u64 = 256 << 10;
/// After a failed checkpoint, size-triggered ones wait this long before trying again.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(5);
/// Longest the committer waits for file writes to catch up before the next batch.
const THROTTLE_MAX_WAIT: Duration = Duration::from_secs(1);

/// A change's result, once settled.
pub(crate) type Outcome = Option<Result<(), Arc<FsStoreError>>>;

/// Called once a change is journaled (`true`: durable) or has failed (`false`: it will never
/// be), on the committer thread, before the change's tickets resolve: the repositories publish
/// the new state to readers here and release the row's writer gate. It runs whatever happens to
/// the request that made the change (a client that went away cancels its ticket, not this).
pub(crate) type Settle = Box<dyn FnOnce(bool) + Send>;

/// The sending side of a [`Ticket`].
pub(crate) struct Done(watch::Sender<Outcome>);

impl Done {
    #[cfg(test)]
    pub(crate) fn new(tx: watch::Sender<Outcome>) -> Self {
        Self(tx)
    }

    pub(crate) fn resolve(self, outcome: Result<(), Arc<FsStoreError>>) {
        self.0.send_replace(Some(outcome));
    }
}

/// Waits for the durability of one submitted change.
#[must_use = "a write is only durable once its ticket resolves"]
pub(crate) struct Ticket(watch::Receiver<Outcome>);

impl Ticket {
    /// Resolves once the change is durable (see the module docs).
    ///
    /// # Errors
    /// The error of the journal append or file write that carried it.
    pub(crate) async fn wait(mut self) -> Result<(), FsStoreError> {
        match self.0.wait_for(Option::is_some).await {
            Ok(o) => match &*o {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(FsStoreError::Shared(e.clone())),
                None => Err(FsStoreError::Task("write not settled".into())),
            },
            Err(_) => Err(FsStoreError::Task("writer stopped".into())),
        }
    }
}

struct Entry {
    gsn: u64,
    path: PathBuf,
    op: Op,
    dones: Vec<Done>,
    settles: Vec<Settle>,
}

#[derive(Default)]
struct Queue {
    /// Last submission number handed out.
    last_gsn: u64,
    entries: Vec<Entry>,
    /// A committer is running.
    running: bool,
}

struct Committer {
    journal: Journal,
    write_behind_until: Option<Instant>,
    /// Start of the current rate window and the changes journaled in it.
    window: (Instant, u64),
}

impl Committer {
    /// Counts `changes` just journaled; true when files should be written behind.
    fn write_behind(&mut self, changes: usize, rate: u64, now: Instant) -> bool {
        if now.duration_since(self.window.0) >= RATE_WINDOW {
            self.window = (now, 0);
        }
        self.window.1 += changes as u64;
        let per_second = Duration::from_secs(1).as_nanos() / RATE_WINDOW.as_nanos();
        if u128::from(self.window.1) * per_second >= u128::from(rate) {
            self.write_behind_until = Some(now + WRITE_BEHIND_HOLD);
        }
        self.write_behind_until.is_some_and(|t| now < t)
    }
}

/// Counters of the journal and the applier (see [`crate::FsStore::journal_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records appended to the journal.
    pub records: u64,
    /// Bytes of records appended to the journal.
    pub bytes: u64,
    /// Journal `fdatasync`s (one per committed batch).
    pub syncs: u64,
    /// Completed checkpoints.
    pub checkpoints: u64,
    /// Entity files written or removed.
    pub file_writes: u64,
}

/// The writer shared by every repository of one store.
pub(crate) struct Writer {
    handle: Handle,
    root: PathBuf,
    options: FsStoreOptions,
    queue: Mutex<Queue>,
    committer: Mutex<Committer>,
    applier: Arc<Applier>,
    /// Highest submission number the committer has processed (journaled or failed).
    journaled: watch::Sender<u64>,
    checkpoint_lock: tokio::sync::Mutex<()>,
    checkpoint_scheduled: AtomicBool,
    records: AtomicU64,
    bytes: AtomicU64,
    syncs: AtomicU64,
    /// Completed checkpoints; a `watch` so waiters (tests, shutdown) need not poll.
    checkpoints: watch::Sender<u64>,
    /// The error of the last journal append, while appends fail (for health reports).
    journal_failure: Mutex<Option<String>>,
    /// When a checkpoint last failed: size-triggered checkpoints wait a while after one.
    checkpoint_failed_at: Mutex<Option<Instant>>,
    /// The device's free bytes and when they were read (see [`Writer::short_of_space`]).
    free_space: Mutex<Option<(Instant, u64)>>,
    /// Tests: called before every journal append; an error it returns replaces the append.
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub(crate) journal_fault: Mutex<Option<Box<dyn FnMut() -> Option<std::io::ErrorKind> + Send>>>,
}

struct Staged {
    gsn: u64,
    path: PathBuf,
    action: Action,
    stray: Option<Arc<Stray>>,
    visible: bool,
    dones: Vec<Done>,
    settles: Vec<Settle>,
}

/// Runs `settles` in submission order.
fn run_settles(settles: Vec<Settle>, durable: bool) {
    for settle in settles {
        if catch_unwind(AssertUnwindSafe(|| settle(durable))).is_err() {
            tracing::error!("a settle hook panicked");
        }
    }
}

impl Writer {
    pub(crate) fn new(handle: Handle, root: PathBuf, options: FsStoreOptions) -> Arc<Self> {
        Arc::new(Self {
            committer: Mutex::new(Committer {
                journal: Journal::new(&root),
                write_behind_until: None,
                window: (Instant::now(), 0),
            }),
            applier: Applier::new(handle.clone()),
            handle,
            root,
            options,
            queue: Mutex::new(Queue::default()),
            journaled: watch::Sender::new(0),
            checkpoint_lock: tokio::sync::Mutex::new(()),
            checkpoint_scheduled: AtomicBool::new(false),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            checkpoints: watch::Sender::new(0),
            journal_failure: Mutex::new(None),
            checkpoint_failed_at: Mutex::new(None),
            free_space: Mutex::new(None),
            #[cfg(test)]
            journal_fault: Mutex::new(None),
        })
    }

    /// Queues `op` for `path` and returns the ticket of this change. Call it while holding
    /// the lock under which the change was made in memory (see the module docs).
    pub(crate) fn submit(self: &Arc<Self>, path: PathBuf, op: Op) -> Ticket {
        self.submit_with(path, op, None)
    }

    /// [`Writer::submit`] with a [`Settle`] hook, run once the change is journaled or failed.
    pub(crate) fn submit_with(
        self: &Arc<Self>,
        path: PathBuf,
        op: Op,
        settle: Option<Settle>,
    ) -> Ticket {
        let (tx, rx) = watch::channel(None);
        let start = {
            let mut q = lock(&self.queue);
            q.last_gsn += 1;
            let gsn = q.last_gsn;
            q.entries.push(Entry {
                gsn,
                path,
                op,
                dones: vec![Done(tx)],
                settles: settle.into_iter().collect(),
            });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let me = Arc::clone(self);
            self.handle.spawn_blocking(move || me.commit_loop());
        }
        Ticket(rx)
    }

    /// True when the journal (`len` bytes) takes a quarter or more of the device's free
    /// space: every change is on disk twice (journal and file) until a checkpoint, so on a
    /// filling disk the journal must give way early or the files it waits for find no room.
    /// Free space is read at most every [`SPACE_CHECK_INTERVAL`].
    fn short_of_space(&self, len: u64) -> bool {
        if len < MIN_SPACE_CHECKPOINT {
            return false;
        }
        let mut last = lock(&self.free_space);
        let stale = last.is_none_or(|(at, _)| at.elapsed() >= SPACE_CHECK_INTERVAL);
        if stale {
            let free = rustix::fs::statvfs(&self.root)
                .map(|v| v.f_bavail.saturating_mul(v.f_frsize))
                .unwrap_or(u64::MAX);
            *last = Some((Instant::now(), free));
        }
        last.is_some_and(|(_, free)| len >= free / 4)
    }

    /// The injected journal failure of a test, if any.
    #[cfg(test)]
    fn injected_fault(&self, dir: &Path) -> Option<FsStoreError> {
        let kind = lock(&self.journal_fault).as_mut().and_then(|hook| hook())?;
        Some(FsStoreError::io(
            "append to journal",
            dir,
            std::io::Error::from(kind),
        ))
    }

    #[cfg(not(test))]
    fn injected_fault(&self, _dir: &Path) -> Option<FsStoreError> {
        None
    }

    /// The error of the last journal append while appends fail.
    pub(crate) fn journal_failure(&self) -> Option<String> {
        lock(&self.journal_failure).clone()
    }

    /// The applier (health reports).
    pub(crate) fn applier(&self) -> &Applier {
        &self.applier
    }

    /// Counters since the store was opened.
    /// Resolves once at least `n` checkpoints have completed.
    #[cfg(test)]
    pub(crate) async fn checkpointed(&self, n: u64) {
        let mut rx = self.checkpoints.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    pub(crate) fn stats(&self) -> JournalStats {
        JournalStats {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            checkpoints: *self.checkpoints.borrow(),
            file_writes: self.applier.writes.load(Ordering::Relaxed),
        }
    }

    /// Returns once every change submitted before the call is in its file and durable there
    /// (journal checkpoint).
    ///
    /// # Errors
    /// The checkpoint's error: an acknowledged change could not be written to its file, or
    /// files could not be synced, or the journal could not be deleted. The journal is kept
    /// then, so the next start-up replays it.
    pub(crate) async fn flush(self: &Arc<Self>) -> Result<(), FsStoreError> {
        let target = lock(&self.queue).last_gsn;
        let mut rx = self.journaled.subscribe();
        // The sender lives in `self`, so the channel cannot close while we borrow it.
        let _ = rx.wait_for(|&done| done >= target).await;
        self.checkpoint().await
    }

    /// Seals the journal, waits until the files hold everything it contains, syncs them and
    /// deletes the sealed segments (see module `journal`).
    ///
    /// # Errors
    /// As [`Writer::flush`]; the sealed segments are kept for the next checkpoint.
    pub(crate) async fn checkpoint(self: &Arc<Self>) -> Result<(), FsStoreError> {
        let _one_at_a_time = self.checkpoint_lock.lock().await;
        let me = Arc::clone(self);
        let (sealed, dir) = self
            .blocking(move || {
                let mut c = lock(&me.committer);
                let dir = c.journal.dir().to_path_buf();
                Ok((c.journal.rotate(), dir))
            })
            .await?;
        if sealed.paths.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.sync_through(sealed.boundary).await {
            lock(&self.committer).journal.restore(sealed.paths);
            return Err(e);
        }
        let deleted = self
            .blocking(move || Ok(journal::delete_segments(&dir, sealed.paths)))
            .await?;
        if let Err((left, e)) = deleted {
            let path = left.first().cloned().unwrap_or_default();
            lock(&self.committer).journal.restore(left);
            return Err(FsStoreError::io("delete journal segment", path, e));
        }
        self.checkpoints.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Makes every file change up to `boundary` durable in its file.
    async fn sync_through(&self, boundary: u64) -> Result<(), FsStoreError> {
        self.applier.retry_lost_now();
        self.applier.expedite(boundary);
        self.applier.wait_applied(boundary).await;
        if let Some(e) = self.applier.lost() {
            return Err(FsStoreError::Shared(e));
        }
        let (files, dirs) = self.applier.take_unsynced();
        let (f2, d2) = (files.clone(), dirs.clone());
        let failed = self.blocking(move || Ok(sync_paths(&f2, &d2))).await?;
        if let Some((path, e)) = failed.into_iter().next() {
            self.applier.restore_unsynced(files, dirs);
            return Err(FsStoreError::io("sync", path, e));
        }
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, FsStoreError> + Send + 'static,
    ) -> Result<T, FsStoreError> {
        self.handle
            .spawn_blocking(f)
            .await
            .map_err(|e| FsStoreError::Task(e.to_string()))?
    }

    /// The committer: commits batches until the queue is empty.
    fn commit_loop(self: Arc<Self>) {
        loop {
            let batch = {
                let mut q = lock(&self.queue);
                if q.entries.is_empty() {
                    q.running = false;
                    return;
                }
                std::mem::take(&mut q.entries)
            };
            let last = batch.last().map_or(0, |e| e.gsn);
            if catch_unwind(AssertUnwindSafe(|| self.commit(batch))).is_err() {
                tracing::error!("journal commit panicked");
            }
            self.journaled.send_replace(last);
        }
    }

    /// Renders, journals and hands over one batch, then answers its tickets.
    fn commit(self: &Arc<Self>, batch: Vec<Entry>) {
        // Entity files wait for room on the device: every journaled change would take more of
        // it and push the files further out of reach (the journal can only be dropped once
        // they are written). Refuse until they are, giving them a new chance first.
        let waiting = self.applier.out_of_space();
        if waiting > 0 {
            lock(&self.committer).journal.give_back_reserve();
            self.applier.retry_lost_now();
            let e = Arc::new(FsStoreError::io(
                "write entity files",
                &self.root,
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!(
                        "no space left for {waiting} acknowledged change(s) to reach their files"
                    ),
                ),
            ));
            *lock(&self.journal_failure) = Some(e.to_string());
            for entry in batch {
                run_settles(entry.settles, false);
                for d in entry.dones {
                    d.resolve(Err(e.clone()));
                }
            }
            return;
        }
        // File writes far behind: let them catch up before taking more (bounded wait).
        self.applier
            .throttle(self.options.max_pending_file_bytes, THROTTLE_MAX_WAIT);
        let mut staged = Vec::with_capacity(batch.len());
        let mut buf = Vec::new();
        for e in newest_per_file(batch) {
            match self.stage(e, &mut buf) {
                Ok(s) => staged.push(s),
                Err((dones, settles, err)) => {
                    run_settles(settles, false);
                    let err = Arc::new(err);
                    for d in dones {
                        d.resolve(Err(err.clone()));
                    }
                }
            }
        }
        let Some(last) = staged.last().map(|s| s.gsn) else {
            return;
        };
        let mut c = lock(&self.committer);
        let appended = match self.injected_fault(c.journal.dir()) {
            Some(e) => Err(e),
            None => c.journal.append(&buf, last),
        };
        if let Err(e) = appended {
            drop(c);
            let first = lock(&self.journal_failure).replace(e.to_string()).is_none();
            if first {
                tracing::error!(error = %e,
                    "journal append failed: writes are refused (503) until it works again");
            } else {
                tracing::debug!(error = %e, "journal append failed again");
            }
            let e = Arc::new(e);
            for s in staged {
                run_settles(s.settles, false);
                for d in s.dones {
                    d.resolve(Err(e.clone()));
                }
            }
            return;
        }
        if lock(&self.journal_failure).take().is_some() {
            tracing::info!("journal appends work again; writes are accepted");
        }
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.records
            .fetch_add(staged.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        // While files are behind anyway, new changes do not wait for theirs either.
        let behind = c.write_behind(staged.len(), self.options.write_behind_rate, now)
            || self.applier.behind();
        let mut acked = Vec::new();
        let items = staged
            .into_iter()
            .map(|mut s| {
                // Durable: readers may see it now, before anyone is told.
                run_settles(std::mem::take(&mut s.settles), true);
                // Journaled is durable: the change is acknowledged now unless its file must
                // be visible at once (modal HTML); the file follows at once, or after the
                // write-behind delay under load.
                let early = !s.visible;
                let dones = if early {
                    acked.extend(s.dones);
                    Vec::new()
                } else {
                    s.dones
                };
                Item {
                    gsn: s.gsn,
                    path: s.path,
                    action: s.action,
                    stray: s.stray,
                    dones,
                    acked: early,
                    due: if behind && early {
                        now + self.options.write_behind_delay
                    } else {
                        now
                    },
                }
            })
            .collect();
        // Under the committer lock: a checkpoint's rotation sees every journaled change
        // already handed over.
        self.applier.enqueue(items);
        let len = c.journal.len();
        drop(c);
        for d in acked {
            d.resolve(Ok(()));
        }
        let recently_failed =
            lock(&self.checkpoint_failed_at).is_some_and(|at| at.elapsed() < CHECKPOINT_RETRY);
        if (len >= self.options.checkpoint_bytes || self.short_of_space(len))
            && !recently_failed
            && !self.checkpoint_scheduled.swap(true, Ordering::AcqRel)
        {
            let me = Arc::clone(self);
            self.handle.spawn(async move {
                match me.checkpoint().await {
                    Ok(()) => *lock(&me.checkpoint_failed_at) = None,
                    Err(e) => {
                        *lock(&me.checkpoint_failed_at) = Some(Instant::now());
                        tracing::error!(error = %e,
                            "journal checkpoint failed; the journal is kept (nothing is lost) \
                             and the checkpoint is tried again later");
                    }
                }
                me.checkpoint_scheduled.store(false, Ordering::Release);
            });
        }
    }

    /// Renders one change and appends its record to `buf`.
    fn stage(&self, e: Entry, buf: &mut Vec<u8>) -> Result<Staged, StageError> {
        let Entry {
            gsn,
            path,
            op,
            dones,
            settles,
        } = e;
        let rendered = |render: Render| match catch_unwind(AssertUnwindSafe(render)) {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(source)) => Err(FsStoreError::Serialize {
                path: path.clone(),
                source,
            }),
            Err(_) => Err(FsStoreError::Task(format!(
                "panic while rendering {}",
                path.display()
            ))),
        };
        // What the journal record holds: the file's bytes, nothing (removal) or a patch.
        let (action, stray, visible, patch) = match op {
            Op::Write {
                render,
                then_remove,
                visible,
            } => match rendered(render) {
                Ok(bytes) => (Action::Write(bytes), then_remove, visible, None),
                Err(e) => return Err((dones, settles, e)),
            },
            Op::Delete { also } => (Action::Remove, also, false, None),
            Op::Patch { patch, file } => match rendered(patch) {
                Ok(bytes) => (Action::Render(file), None, false, Some(bytes)),
                Err(e) => return Err((dones, settles, e)),
            },
        };
        let rel = |p: &Path| {
            p.strip_prefix(&self.root)
                .ok()
                .and_then(Path::to_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    let e = std::io::Error::other("not a UTF-8 path under the data directory");
                    FsStoreError::io("journal", p, e)
                })
        };
        let encoded = rel(&path).and_then(|rel_path| {
            let rel_stray = stray.as_ref().map(|s| rel(s.path())).transpose()?;
            let rec = Record {
                gsn,
                path: &rel_path,
                stray: rel_stray.as_deref(),
                data: match (&action, &patch) {
                    (_, Some(p)) => Some(p),
                    (Action::Write(b), None) => Some(b),
                    (Action::Remove | Action::Render(_), None) => None,
                },
                patch: patch.is_some(),
            };
            journal::encode(buf, &rec).map_err(|e| FsStoreError::io("journal", &path, e))
        });
        match encoded {
            Ok(()) => Ok(Staged {
                gsn,
                path,
                action,
                stray,
                visible,
                dones,
                settles,
            }),
            Err(e) => Err((dones, settles, e)),
        }
    }
}

/// What a change that cannot be journaled hands back: its waiters, its hooks and why.
type StageError = (Vec<Done>, Vec<Settle>, FsStoreError);

/// Keeps the newest submission per file; an older one's waiters, stray and visibility move
/// to it (its state contains theirs).
fn newest_per_file(batch: Vec<Entry>) -> Vec<Entry> {
    // A patch is applied on top of the state before it: a file with one keeps every
    // submission, in order (the row gate makes that case impossible in practice).
    if batch.iter().any(|e| matches!(e.op, Op::Patch { .. })) {
        let patched: std::collections::HashSet<&Path> = batch
            .iter()
            .filter(|e| matches!(e.op, Op::Patch { .. }))
            .map(|e| e.path.as_path())
            .collect();
        let mut paths = std::collections::HashSet::new();
        let repeated = batch
            .iter()
            .any(|e| patched.contains(e.path.as_path()) && !paths.insert(e.path.as_path()));
        if repeated {
            return batch;
        }
    }
    let newest: HashMap<&Path, usize> = batch
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_path(), i))
        .collect();
    if newest.len() == batch.len() {
        return batch;
    }
    let keep: Vec<bool> = batch
        .iter()
        .enumerate()
        .map(|(i, e)| newest.get(e.path.as_path()) == Some(&i))
        .collect();
    /// What superseded submissions of a file hand to its newest one.
    #[derive(Default)]
    struct Carried {
        dones: Vec<Done>,
        settles: Vec<Settle>,
        stray: Option<Arc<Stray>>,
        visible: bool,
    }
    let mut carried: HashMap<PathBuf, Carried> = HashMap::new();
    let mut out = Vec::with_capacity(keep.iter().filter(|k| **k).count());
    for (mut e, keep) in batch.into_iter().zip(keep) {
        let visible = matches!(e.op, Op::Write { visible: true, .. });
        if !keep {
            let c = carried.entry(e.path).or_default();
            c.dones.append(&mut e.dones);
            c.settles.append(&mut e.settles);
            c.stray = e.op.stray_mut().and_then(Option::take).or(c.stray.take());
            c.visible |= visible;
            continue;
        }
        if let Some(mut c) = carried.remove(&e.path) {
            c.dones.append(&mut e.dones);
            e.dones = c.dones;
            c.settles.append(&mut e.settles);
            e.settles = c.settles;
            if let Some(own) = e.op.stray_mut()
                && own.is_none()
            {
                *own = c.stray;
            }
            if let Op::Write { visible, .. } = &mut e.op {
                *visible |= c.visible;
            }
        }
        out.push(e);
    }
    out
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
