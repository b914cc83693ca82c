//! The applier: brings entity files up to date after their changes are journaled.
//!
//! It receives changes from the journal committer once they are durable (see `journal`), and
//! replaces files atomically (temp file + rename) **without `fsync`**. Per file there is at
//! most one write in flight; changes arriving meanwhile collapse into one *pending* change
//! holding the newest state, and every waiter of a collapsed change is answered by the write
//! that carries the newest one. Files are written by one thread (parallel writers in one
//! directory mostly contend for its lock), changes someone waits for first, then in the order
//! they became due. The thread runs at a lower CPU priority ([`WORKER_NICE`]): its work follows
//! changes that are already durable, so it yields to request handling and event delivery. It
//! ends after a while without work and starts again with the next.
//!
//! Each change has a due time. Changes are acknowledged at their journal sync (see `writer`)
//! and due at once; one someone waits for (modal HTML) goes first. Under write-behind a change
//! is due only after a delay, so the many updates of a busy file collapse into one write; a timer wake-up writes everything
//! due within the next 100 ms. A checkpoint expedites everything
//! up to its boundary ([`Applier::expedite`]) and waits for it ([`Applier::wait_applied`]).
//!
//! The applier remembers which files and directories it touched since the last checkpoint,
//! which then `fsync`s them ([`Applier::take_unsynced`]), and which acknowledged changes failed
//! to reach their file, which blocks checkpoints until a later write of that file succeeds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::durable::{lock, remove_file, replace_file, replace_file_with};
use crate::error::FsStoreError;
use crate::op::{FileRender, Stray};
use crate::writer::Done;

/// A timer wake-up writes every delayed change due within this much after the first one, so
/// deferred writes cost a few wake-ups per second rather than one per file.
const TIMER_SLACK: Duration = Duration::from_millis(100);

/// The file writer thread ends after this long without work (the next write starts it again).
const WORKER_IDLE_EXIT: Duration = Duration::from_secs(2);

/// Nice value of the file writer thread. File writes follow changes that are already durable
/// and acknowledged, so they yield the CPU to request handling and event delivery: on two
/// cores, file writes at normal priority (a temp file's create and rename cost more CPU than
/// the journal's `fdatasync`) added ≈ 0.7 ms to the median event latency under load.
pub(crate) const WORKER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`WORKER_NICE`] (Linux nice values are per
/// thread). Failure only costs latency elsewhere, so it is logged and ignored.
fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), WORKER_NICE) {
            tracing::debug!(error = %e, "cannot lower the file writer thread's priority");
        }
    }
}

/// New content of a file.
pub(crate) enum Action {
    /// Replace the file with these bytes (then remove the stray, if any).
    Write(Vec<u8>),
    /// Replace the file with what this renders when it is written (a session journaled as a
    /// patch: its state is shared with the store's, so only the newest one is ever rendered).
    Render(FileRender),
    /// Remove the file (and the stray, if any).
    Remove,
}

impl Action {
    /// Bytes of memory the change holds until it is written (a state to render is shared
    /// with the store's rows: nothing of its own).
    fn weight(&self) -> usize {
        match self {
            Self::Write(bytes) => bytes.len(),
            Self::Render(_) | Self::Remove => 0,
        }
    }

    /// The same change again (for a retry).
    fn again(&self) -> Self {
        match self {
            Self::Write(bytes) => Self::Write(bytes.clone()),
            Self::Render(render) => Self::Render(render.clone()),
            Self::Remove => Self::Remove,
        }
    }
}

/// Bytes per second at which a file rendered from shared state (a session journaled as
/// patches) is rewritten at most: a session that grew to megabytes and keeps growing is
/// written every `size / RENDER_RATE` (11 MB: ≈ 0.7 s), not after every one of its changes,
/// which the journal holds meanwhile (issue 12 item 1: an append must not cost the session's
/// size in file writes). A checkpoint or `flush` still writes it at once.
const RENDER_RATE: u64 = 16 << 20;

/// Least time between two writes of a rendered file of `len` bytes.
fn render_spacing(len: u64) -> Duration {
    Duration::from_millis(len.saturating_mul(1_000) / RENDER_RATE)
}

/// First wait before writing a file again after its write failed; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two attempts at a file whose writes keep failing.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// An acknowledged change whose file write failed: it stays in the journal (checkpoints
/// refuse to drop the journal while any exists) and is written again after a back-off.
struct Lost {
    error: Arc<FsStoreError>,
    /// The change to write again; `None` once a newer change of the file took over.
    retry: Option<Pending>,
    attempts: u32,
    next: Instant,
}

/// One durable change handed over by the committer.
pub(crate) struct Item {
    pub(crate) gsn: u64,
    pub(crate) path: PathBuf,
    pub(crate) action: Action,
    pub(crate) stray: Option<Arc<Stray>>,
    /// Answered once the file holds this change (or a newer one).
    pub(crate) dones: Vec<Done>,
    /// Already acknowledged: a failure to write it must block checkpoints.
    pub(crate) acked: bool,
    /// Earliest time to write it.
    pub(crate) due: Instant,
}

struct Pending {
    /// Submission number of the oldest change collapsed into this one.
    first_gsn: u64,
    action: Action,
    stray: Option<Arc<Stray>>,
    dones: Vec<Done>,
    acked: bool,
    due: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queued {
    No,
    /// In `ready`.
    Ready,
    /// In `urgent` (someone waits for it; it may also still be in `ready`).
    Urgent,
    /// In `delayed`.
    Delayed,
}

/// A file with unwritten changes (pending, in flight, or both).
struct Slot {
    pending: Option<Pending>,
    in_flight: bool,
    /// Submission number of the oldest unwritten change: this slot's key in `unapplied`.
    oldest: u64,
    queued: Queued,
}

#[derive(Default)]
struct State {
    files: HashMap<PathBuf, Slot>,
    /// Oldest unwritten submission number of every slot → its path.
    unapplied: BTreeMap<u64, PathBuf>,
    /// Due changes someone waits for; written before `ready`.
    urgent: VecDeque<PathBuf>,
    /// Due changes nobody waits for (write-behind).
    ready: VecDeque<PathBuf>,
    /// Not yet due, in due order (entries of slots no longer `Delayed` are skipped).
    delayed: VecDeque<(Instant, PathBuf)>,
    /// The worker has work (or is about to look for it).
    working: bool,
    /// The worker thread exists (it ends after [`WORKER_IDLE_EXIT`] without work).
    thread_alive: bool,
    timer: Option<Instant>,
    /// Changes up to this submission number are due at once (a checkpoint waits for them).
    force_through: u64,
    unsynced_files: HashSet<PathBuf>,
    unsynced_dirs: HashSet<PathBuf>,
    /// Acknowledged changes whose file write failed, by file.
    lost: HashMap<PathBuf, Lost>,
    /// A retry timer is armed for this instant.
    retry_timer: Option<Instant>,
    /// Bytes held by changes not yet written (pending and in flight; failed ones waiting for
    /// their retry are not counted).
    pending_bytes: usize,
    /// When each rendered file (a session journaled as patches) was last written, and its
    /// size: see [`RENDER_RATE`].
    rendered: HashMap<PathBuf, (Instant, u64)>,
}

/// See the module docs.
pub(crate) struct Applier {
    handle: Handle,
    state: Mutex<State>,
    /// Wakes the idle worker thread.
    wake: Condvar,
    /// Lowest unwritten submission number (`u64::MAX` when every file is up to date).
    floor: watch::Sender<u64>,
    /// Files written or removed so far.
    pub(crate) writes: AtomicU64,
    /// Notified whenever a write completes (for [`Applier::throttle`]).
    drained: Condvar,
}

impl Applier {
    pub(crate) fn new(handle: Handle) -> Arc<Self> {
        Arc::new(Self {
            handle,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            floor: watch::Sender::new(u64::MAX),
            writes: AtomicU64::new(0),
            drained: Condvar::new(),
        })
    }

    /// Queues durable changes, in submission order.
    pub(crate) fn enqueue(self: &Arc<Self>, items: Vec<Item>) {
        let now = Instant::now();
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        for it in items {
            if !st.files.contains_key(&it.path) {
                st.unapplied.insert(it.gsn, it.path.clone());
                let slot = Slot {
                    pending: None,
                    in_flight: false,
                    oldest: it.gsn,
                    queued: Queued::No,
                };
                st.files.insert(it.path.clone(), slot);
                self.floor.send_if_modified(|f| {
                    let lower = it.gsn < *f;
                    *f = (*f).min(it.gsn);
                    lower
                });
            }
            let Some(slot) = st.files.get_mut(&it.path) else {
                continue;
            };
            st.pending_bytes += it.action.weight();
            let due = match (&it.action, st.rendered.get(&it.path)) {
                (Action::Render(_), Some(&(at, len))) => it.due.max(at + render_spacing(len)),
                _ => it.due,
            };
            let it = Item { due, ..it };
            let pending = match slot.pending.take() {
                Some(mut p) => {
                    st.pending_bytes -= p.action.weight();
                    p.action = it.action;
                    p.stray = it.stray.or(p.stray);
                    p.dones.extend(it.dones);
                    p.acked |= it.acked;
                    p.due = p.due.min(it.due);
                    p
                }
                None => Pending {
                    first_gsn: it.gsn,
                    action: it.action,
                    stray: it.stray,
                    dones: it.dones,
                    acked: it.acked,
                    due: it.due,
                },
            };
            slot.pending = Some(pending);
            if !slot.in_flight {
                schedule(st, &it.path, now);
            }
        }
        self.start_worker(st);
        self.arm_timer(st);
    }

    /// Makes every change up to `boundary` due now.
    pub(crate) fn expedite(self: &Arc<Self>, boundary: u64) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        st.force_through = st.force_through.max(boundary);
        for (due, path) in std::mem::take(&mut st.delayed) {
            let Some(slot) = st.files.get_mut(&path) else {
                continue;
            };
            if slot.queued != Queued::Delayed {
                continue;
            }
            if slot
                .pending
                .as_ref()
                .is_some_and(|p| p.first_gsn <= boundary)
            {
                slot.queued = Queued::Ready;
                st.ready.push_back(path);
            } else {
                st.delayed.push_back((due, path));
            }
        }
        self.start_worker(st);
    }

    /// Resolves once every change up to `boundary` has been written (or failed).
    pub(crate) async fn wait_applied(&self, boundary: u64) {
        let mut rx = self.floor.subscribe();
        // The sender lives in `self`, so the channel cannot close while we borrow it.
        let _ = rx.wait_for(|&floor| floor > boundary).await;
    }

    /// Files and directories touched since the last call; the caller `fsync`s them.
    pub(crate) fn take_unsynced(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut st = lock(&self.state);
        let files = std::mem::take(&mut st.unsynced_files);
        let dirs = std::mem::take(&mut st.unsynced_dirs);
        (files.into_iter().collect(), dirs.into_iter().collect())
    }

    /// Gives back what [`Applier::take_unsynced`] returned when syncing it failed.
    pub(crate) fn restore_unsynced(&self, files: Vec<PathBuf>, dirs: Vec<PathBuf>) {
        let mut st = lock(&self.state);
        st.unsynced_files.extend(files);
        st.unsynced_dirs.extend(dirs);
    }

    /// True while some acknowledged changes still wait for their file write (write-behind).
    pub(crate) fn behind(&self) -> bool {
        let st = lock(&self.state);
        !(st.delayed.is_empty() && st.ready.is_empty())
    }

    /// The error of an acknowledged change that is in no file, if any.
    pub(crate) fn lost(&self) -> Option<Arc<FsStoreError>> {
        lock(&self.state)
            .lost
            .values()
            .next()
            .map(|l| l.error.clone())
    }

    /// Every file holding an older state than its acknowledged change (its write failed and
    /// is retried), with the last error; sorted by path.
    pub(crate) fn lost_files(&self) -> Vec<(PathBuf, Arc<FsStoreError>)> {
        let st = lock(&self.state);
        let mut v: Vec<_> = st
            .lost
            .iter()
            .map(|(p, l)| (p.clone(), l.error.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// How many acknowledged changes wait for room on the device to reach their files.
    pub(crate) fn out_of_space(&self) -> usize {
        lock(&self.state)
            .lost
            .values()
            .filter(|l| l.error.is_out_of_space())
            .count()
    }

    /// Bytes held by changes not written to their files yet.
    pub(crate) fn pending_bytes(&self) -> usize {
        lock(&self.state).pending_bytes
    }

    /// Blocks (the calling thread: the journal committer) while more than `limit` bytes of
    /// changes wait for their files, writing deferred ones at once meanwhile: the file backlog
    /// cannot grow without bound under sustained load. Bounded by `max_wait`.
    pub(crate) fn throttle(self: &Arc<Self>, limit: usize, max_wait: Duration) {
        let deadline = Instant::now() + max_wait;
        let mut guard = lock(&self.state);
        while guard.pending_bytes > limit {
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(
                    pending_bytes = guard.pending_bytes,
                    "file writes are behind; the journal goes on"
                );
                return;
            }
            promote(&mut guard, Instant::now() + Duration::from_secs(3600 * 24));
            self.start_worker(&mut guard);
            guard = self
                .drained
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes (or starts) the worker if there is ready work and it is not at work.
    fn start_worker(self: &Arc<Self>, st: &mut State) {
        let idle = st.urgent.is_empty() && st.ready.is_empty();
        if st.working || idle {
            return;
        }
        st.working = true;
        if st.thread_alive {
            self.wake.notify_one();
            return;
        }
        st.thread_alive = true;
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("maestro-files".into())
            .spawn(move || {
                background_priority();
                me.work();
            });
        if let Err(e) = spawned {
            // Out of threads: the blocking pool does it, at normal priority.
            tracing::warn!(error = %e, "cannot start the file writer thread; using the blocking pool");
            let me = Arc::clone(self);
            self.handle.spawn_blocking(move || me.work());
        }
    }

    /// Wakes up when the first delayed change is due.
    fn arm_timer(self: &Arc<Self>, st: &mut State) {
        let Some(&(due, _)) = st.delayed.front() else {
            return;
        };
        if st.timer.is_some_and(|t| t <= due) {
            return;
        }
        st.timer = Some(due);
        let me = Arc::clone(self);
        self.handle.spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            let mut guard = lock(&me.state);
            let st = &mut *guard;
            if st.timer == Some(due) {
                st.timer = None;
            }
            promote(st, Instant::now() + TIMER_SLACK);
            me.start_worker(st);
            me.arm_timer(st);
        });
    }

    /// The worker: writes ready files; waits for more (see [`Applier::start_worker`]) and
    /// ends after [`WORKER_IDLE_EXIT`] without any.
    fn work(self: Arc<Self>) {
        loop {
            let job = {
                let mut guard = lock(&self.state);
                loop {
                    let st = &mut *guard;
                    promote(st, Instant::now());
                    if let Some(job) = next_ready(st) {
                        break job;
                    }
                    st.working = false;
                    self.arm_timer(st);
                    let (g, wait) = self
                        .wake
                        .wait_timeout_while(guard, WORKER_IDLE_EXIT, |st| !st.working)
                        .unwrap_or_else(PoisonError::into_inner);
                    guard = g;
                    if wait.timed_out() {
                        guard.thread_alive = false;
                        return;
                    }
                }
            };
            let (path, p) = job;
            let mut touched = Vec::new();
            let mut rendered = None;
            let result = catch_unwind(AssertUnwindSafe(|| {
                execute(&path, &p, &mut touched, &mut rendered)
            }))
            .unwrap_or_else(|_| {
                Err(FsStoreError::Task(format!(
                    "panic while writing {}",
                    path.display()
                )))
            });
            self.writes.fetch_add(1, Ordering::Relaxed);
            match (rendered, &p.action) {
                (Some(len), _) => {
                    lock(&self.state)
                        .rendered
                        .insert(path.clone(), (Instant::now(), len));
                }
                (None, Action::Remove) => {
                    lock(&self.state).rendered.remove(&path);
                }
                _ => {}
            }
            self.complete(path, p, touched, result);
        }
    }

    fn complete(
        self: &Arc<Self>,
        path: PathBuf,
        p: Pending,
        touched: Vec<(PathBuf, bool)>,
        result: Result<(), FsStoreError>,
    ) {
        let outcome = result.map_err(Arc::new);
        {
            let mut guard = lock(&self.state);
            let st = &mut *guard;
            for (t, is_file) in touched {
                if is_file {
                    st.unsynced_files.insert(t);
                } else {
                    st.unsynced_dirs.insert(t);
                }
            }
            st.pending_bytes -= p.action.weight();
            match &outcome {
                Ok(()) => {
                    if let Some(lost) = st.lost.remove(&path) {
                        tracing::info!(path = %path.display(), attempts = lost.attempts,
                            "file written after earlier failures");
                    }
                }
                Err(e) => {
                    let newer = st.files.get(&path).is_some_and(|s| s.pending.is_some());
                    let attempts = st.lost.get(&path).map_or(0, |l| l.attempts) + 1;
                    if attempts == 1 {
                        tracing::error!(path = %path.display(), error = %e,
                            "file write failed; the change is safe in the journal and the \
                             write is retried");
                    } else {
                        tracing::debug!(path = %path.display(), error = %e, attempts,
                            "file write failed again");
                    }
                    if p.acked || st.lost.contains_key(&path) {
                        let backoff = RETRY_FIRST
                            .saturating_mul(1 << (attempts - 1).min(5))
                            .min(RETRY_MAX);
                        // A newer change of the file carries the newest state: it is the
                        // retry. Otherwise this change is written again later.
                        let retry = (!newer).then(|| Pending {
                            first_gsn: p.first_gsn,
                            action: p.action.again(),
                            stray: p.stray.clone(),
                            dones: Vec::new(),
                            acked: true,
                            due: Instant::now(),
                        });
                        st.lost.insert(
                            path.clone(),
                            Lost {
                                error: e.clone(),
                                retry,
                                attempts,
                                next: Instant::now() + backoff,
                            },
                        );
                    }
                }
            }
            if let Some(slot) = st.files.get_mut(&path) {
                slot.in_flight = false;
                st.unapplied.remove(&slot.oldest);
                match slot.pending.as_ref().map(|n| n.first_gsn) {
                    Some(first) => {
                        slot.oldest = first;
                        st.unapplied.insert(first, path.clone());
                        schedule(st, &path, Instant::now());
                    }
                    None => {
                        st.files.remove(&path);
                    }
                }
            }
            let floor = st.unapplied.keys().next().copied().unwrap_or(u64::MAX);
            self.floor
                .send_if_modified(|f| std::mem::replace(f, floor) != floor);
            if outcome.is_err() {
                self.arm_retry(st);
            }
        }
        self.drained.notify_all();
        for d in p.dones {
            d.resolve(outcome.clone());
        }
    }

    /// Wakes up when the first failed file is due for another attempt, and queues every
    /// failed file that is due then (unless a newer change of it is already queued).
    fn arm_retry(self: &Arc<Self>, st: &mut State) {
        let Some(next) = st
            .lost
            .values()
            .filter(|l| l.retry.is_some())
            .map(|l| l.next)
            .min()
        else {
            return;
        };
        if st.retry_timer.is_some_and(|t| t <= next) {
            return;
        }
        st.retry_timer = Some(next);
        let me = Arc::clone(self);
        self.handle.spawn(async move {
            tokio::time::sleep_until(next.into()).await;
            let mut guard = lock(&me.state);
            let st = &mut *guard;
            if st.retry_timer == Some(next) {
                st.retry_timer = None;
            }
            me.requeue_lost(st, Instant::now());
            me.start_worker(st);
            me.arm_retry(st);
        });
    }

    /// Queues every failed file at once, whatever its back-off (a checkpoint gives each one
    /// more chance before it refuses to drop the journal).
    pub(crate) fn retry_lost_now(self: &Arc<Self>) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        self.requeue_lost(st, Instant::now() + RETRY_MAX);
        self.start_worker(st);
    }

    /// Queues the failed files due by `by` (unless a newer change of a file is queued).
    fn requeue_lost(&self, st: &mut State, by: Instant) {
        let now = Instant::now();
        let due: Vec<PathBuf> = st
            .lost
            .iter()
            .filter(|(_, l)| l.retry.is_some() && l.next <= by)
            .map(|(p, _)| p.clone())
            .collect();
        for path in due {
            if st.files.contains_key(&path) {
                continue;
            }
            let Some(p) = st.lost.get_mut(&path).and_then(|l| l.retry.take()) else {
                continue;
            };
            st.unapplied.insert(p.first_gsn, path.clone());
            st.pending_bytes += p.action.weight();
            let floor = p.first_gsn;
            st.files.insert(
                path.clone(),
                Slot {
                    oldest: p.first_gsn,
                    pending: Some(p),
                    in_flight: false,
                    queued: Queued::No,
                },
            );
            self.floor.send_if_modified(|f| {
                let lower = floor < *f;
                *f = (*f).min(floor);
                lower
            });
            schedule(st, &path, now);
        }
    }
}

/// Queues the pending change of `path` (not in flight) by its due time.
fn schedule(st: &mut State, path: &Path, now: Instant) {
    let force = st.force_through;
    let Some(slot) = st.files.get_mut(path) else {
        return;
    };
    let Some(p) = &slot.pending else {
        return;
    };
    if !p.dones.is_empty() {
        if slot.queued != Queued::Urgent {
            slot.queued = Queued::Urgent;
            st.urgent.push_back(path.to_path_buf());
        }
    } else if p.due <= now || p.first_gsn <= force {
        if slot.queued != Queued::Ready {
            slot.queued = Queued::Ready;
            st.ready.push_back(path.to_path_buf());
        }
    } else if slot.queued == Queued::No {
        slot.queued = Queued::Delayed;
        st.delayed.push_back((p.due, path.to_path_buf()));
    }
}

/// Moves delayed changes that are due to the ready queue.
fn promote(st: &mut State, now: Instant) {
    while let Some(&(due, _)) = st.delayed.front() {
        if due > now {
            break;
        }
        let Some((_, path)) = st.delayed.pop_front() else {
            break;
        };
        if let Some(slot) = st.files.get_mut(&path)
            && slot.queued == Queued::Delayed
        {
            slot.queued = Queued::Ready;
            st.ready.push_back(path);
        }
    }
}

/// Takes the next due file's pending change (urgent ones first) and marks it in flight.
fn next_ready(st: &mut State) -> Option<(PathBuf, Pending)> {
    while let Some(path) = st.urgent.pop_front().or_else(|| st.ready.pop_front()) {
        let Some(slot) = st.files.get_mut(&path) else {
            continue;
        };
        if !matches!(slot.queued, Queued::Ready | Queued::Urgent) || slot.in_flight {
            continue;
        }
        slot.queued = Queued::No;
        if let Some(p) = slot.pending.take() {
            slot.in_flight = true;
            return Some((path, p));
        }
    }
    None
}

/// Applies one change; records in `touched` what a checkpoint must `fsync` (`true` = a file,
/// `false` = a directory).
fn execute(
    path: &Path,
    p: &Pending,
    touched: &mut Vec<(PathBuf, bool)>,
    rendered: &mut Option<u64>,
) -> Result<(), FsStoreError> {
    let dir_of = |p: &Path| p.parent().map(|d| (d.to_path_buf(), false));
    match &p.action {
        Action::Write(_) | Action::Render(_) => {
            match &p.action {
                Action::Render(render) => {
                    let len = replace_file_with(path, |w| render(w))
                        .map_err(|e| FsStoreError::io("write", path, e))?;
                    *rendered = Some(len);
                }
                Action::Write(bytes) => {
                    replace_file(path, bytes).map_err(|e| FsStoreError::io("write", path, e))?;
                }
                Action::Remove => {}
            }
            touched.push((path.to_path_buf(), true));
            touched.extend(dir_of(path));
            if let Some(stray) = &p.stray {
                touched.extend(dir_of(stray.path()));
                if let Err(e) = stray.remove() {
                    // The load prefers the canonical file, and the next write retries.
                    tracing::warn!(path = %stray.path().display(), error = %e,
                        "could not remove superseded file");
                }
            }
            Ok(())
        }
        Action::Remove => {
            touched.extend(dir_of(path));
            remove_file(path).map_err(|e| FsStoreError::io("remove", path, e))?;
            if let Some(stray) = &p.stray {
                touched.extend(dir_of(stray.path()));
                // A stray left behind would bring the entity back at the next load.
                stray
                    .remove()
                    .map_err(|e| FsStoreError::io("remove", stray.path(), e))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn awaited_writes_overtake_the_write_behind_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let applier = Applier::new(Handle::current());
        let now = Instant::now();
        let item = |gsn: u64, name: &str, dones: Vec<Done>| Item {
            gsn,
            path: dir.path().join(name),
            action: Action::Write(name.as_bytes().to_vec()),
            stray: None,
            acked: dones.is_empty(),
            dones,
            due: now,
        };
        let mut items: Vec<Item> = (1..=300)
            .map(|i| item(i, &format!("f{i}.json"), Vec::new()))
            .collect();
        let (tx, mut rx) = watch::channel(None);
        items.push(item(301, "urgent.json", vec![Done::new(tx)]));
        applier.enqueue(items);
        rx.wait_for(Option::is_some).await.unwrap();
        // In FIFO order the urgent file would be the 301st write. The worker keeps writing
        // the backlog while this task wakes up, so on a loaded machine a few dozen more may
        // be counted by now; half the backlog is a safe bound that still tells the two apart.
        let written = applier.writes.load(Ordering::Relaxed);
        assert!(written < 150, "{written} backlog writes went first");
        assert!(dir.path().join("urgent.json").is_file());
        applier.wait_applied(301).await;
        assert_eq!(applier.writes.load(Ordering::Relaxed), 301);
        let (files, dirs) = applier.take_unsynced();
        assert_eq!((files.len(), dirs.len()), (301, 1));
        assert!(applier.lost().is_none());
    }
}
