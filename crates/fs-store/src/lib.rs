//! `maestro-fs-store`: the Maestro repositories on the reference data directory (ref §6.2,
//! spec §6.2), so a user can point the server at an existing `~/.maestro/data`.
//!
//! # Layout
//! ```text
//! projects/<id>.json                      Project
//! tasks/<projectId>/<taskId>.json         Task (legacy tasks/<taskId>.json is read and moved)
//! sessions/<id>.json                      Session (events, timeline, docs embedded)
//! ordering/{task,session}/<projectId>.json Ordering
//! team-members/<projectId>/<id>.json      custom TeamMember
//! team-members/__global__/<id>.json       global TeamMember (scope "global", newer reference)
//! team-members/<projectId>/<defaultId>.override.json   partial override of a default member
//! session-docs/<sessionId>/<docId>.{md,excalidraw}  doc content of the newer reference (read only)
//! mail/<mailId>.json                      typed MailMessage (legacy mail/<parent>/<id>.json converted)
//! modals/<modalId>.html                   modal HTML
//! ```
//! Files are pretty-printed JSON with 2-space indentation and no trailing newline, like
//! `JSON.stringify(x, null, 2)`. Unknown keys survive a load/save round trip (each entity's
//! `extra`).
//!
//! # Design
//! - **Memory first.** [`FsStore::open`] replays the journal (module `journal`), reads every
//!   file in parallel (module `load`), applies the start-up migrations of ref §3.9 (module
//!   `migrate`), restores the missing side of session↔task links a crash left one-sided
//!   (module `links`) and keeps everything in memory; reads never touch the disk, except the
//!   doc content the newer reference server (653bc6a) keeps in `session-docs/` files, which
//!   this store never writes (it stores content inline, which both reference versions read)
//!   and reads only when docs are listed.
//! - **Durable by journal.** A port method returns once its change is in the write-ahead
//!   journal `.maestro-journal/` and `fdatasync`ed; concurrent writers share one sync (group
//!   commit, module `writer`). Every acknowledged change survives a crash or `SIGKILL`: the
//!   next [`FsStore::open`] replays the journal into the files. A damaged journal segment is
//!   replayed around the damage and kept aside; a change whose file cannot be written stops
//!   the start-up instead of being dropped (module `journal`).
//! - **Atomic files, synced in bulk.** Entity files are replaced by temp file + rename (a
//!   reader never sees a torn file) without a per-file `fsync`; a checkpoint `fsync`s them all
//!   before the journal is deleted (when it exceeds [`FsStoreOptions::checkpoint_bytes`], and
//!   at [`FsStore::flush`]).
//! - **Files follow acknowledgements.** A file is written right after its change is
//!   acknowledged (modal HTML, whose path is returned, before). Under many concurrent writers
//!   the store switches to write-behind: files follow within
//!   [`FsStoreOptions::write_behind_delay`], collapsing the updates of busy files (module
//!   `apply`). [`FsStore::flush`] makes every file current at once; call it before another
//!   process reads the directory.
//! - **Single instance.** Nothing coordinates two processes on one data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

mod apply;
mod crc;
mod delta;
mod durable;
mod error;
#[cfg(test)]
mod failure_tests;
mod journal;
mod layout;
mod links;
mod load;
mod migrate;
mod op;
mod repos;
mod writer;

pub use error::FsStoreError;
pub use repos::{
    FsMailRepository, FsModalStore, FsOrderingRepository, FsProjectRepository, FsSessionRepository,
    FsTaskRepository, FsTeamMemberRepository,
};
pub use writer::JournalStats;

use durable::DirSyncs;
use repos::Ctx;
use writer::Writer;

/// Tuning of the write path; [`FsStoreOptions::default`] suits the server.
#[derive(Debug, Clone)]
pub struct FsStoreOptions {
    /// Journal size, in bytes, beyond which a checkpoint makes the files durable and starts a
    /// new journal segment (default 64 MiB). Larger means fewer checkpoints (each `fsync`s
    /// every file written since the last one) and a longer replay after a crash.
    pub checkpoint_bytes: u64,
    /// Under write-behind, how long a file may lag behind its acknowledged state (default
    /// 5 s, plus up to 100 ms). Changes to one file within it cost one file write, so under a
    /// steady load the files cost at most one write per busy file per delay.
    pub write_behind_delay: Duration,
    /// Journaled changes per second from which the store switches to write-behind for the
    /// next second (default 1,000; measured over 100 ms windows): file writes wait
    /// `write_behind_delay` instead of starting right after the journal sync. `0` always
    /// defers them; `u64::MAX` never does.
    pub write_behind_rate: u64,
    /// Longest a write may take before its caller is answered `StoreUnavailable` (default
    /// 10 s): bounds every request when the device hangs. The change itself may still become
    /// durable afterwards; readers see it only if it does.
    pub write_timeout: Duration,
    /// Bytes of acknowledged changes that may wait for their entity files (default 64 MiB):
    /// beyond it the journal waits (up to a second per batch) for file writes to catch up,
    /// so the backlog cannot grow with the load.
    pub max_pending_file_bytes: usize,
}

impl Default for FsStoreOptions {
    fn default() -> Self {
        Self {
            checkpoint_bytes: 64 << 20,
            write_behind_delay: Duration::from_secs(5),
            write_behind_rate: 1_000,
            write_timeout: Duration::from_secs(10),
            max_pending_file_bytes: 64 << 20,
        }
    }
}

/// The store's health (see [`FsStore::health`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// The last journal append error, while appends fail: writes are refused.
    pub journal_error: Option<String>,
    /// Files that hold an older state than their acknowledged change, with the last error of
    /// their write; the changes are in the journal and the writes are retried.
    pub unwritten_files: Vec<(PathBuf, String)>,
    /// Bytes of acknowledged changes waiting for their file writes.
    pub pending_file_bytes: usize,
}

impl StoreHealth {
    /// `Err` with a one-line reason when writes are refused or files lag their journal.
    ///
    /// # Errors
    /// The reason, naming the first failing file.
    pub fn check(&self) -> Result<(), String> {
        if let Some(e) = &self.journal_error {
            return Err(format!(
                "the journal cannot be written, writes are refused: {e}"
            ));
        }
        if let Some((path, e)) = self.unwritten_files.first() {
            return Err(format!(
                "{} file(s) could not be written (the changes are safe in the journal and \
                 the writes are retried): {}: {e}",
                self.unwritten_files.len(),
                path.display()
            ));
        }
        Ok(())
    }
}

/// Every repository of one data directory. Cheap to share: each repository is an `Arc` that
/// can be handed to the services as `Arc<dyn …Repository>`.
pub struct FsStore {
    /// Projects.
    pub projects: Arc<FsProjectRepository>,
    /// Tasks.
    pub tasks: Arc<FsTaskRepository>,
    /// Sessions.
    pub sessions: Arc<FsSessionRepository>,
    /// Typed mail.
    pub mail: Arc<FsMailRepository>,
    /// Custom team members and default-member overrides.
    pub team_members: Arc<FsTeamMemberRepository>,
    /// UI orderings.
    pub orderings: Arc<FsOrderingRepository>,
    /// Modal HTML files.
    pub modals: Arc<FsModalStore>,
    ctx: Arc<Ctx>,
}

impl FsStore {
    /// Opens (creating if needed) the data directory with the default options and loads it:
    /// creates the subdirectories, replays the journal left by a crash, reads every file in
    /// parallel, skips unparseable files with a warning
    /// (they stay on disk), removes leftover temp files, and applies the migrations of ref
    /// §3.9 (sessions are re-saved when a field was filled in; legacy team-member tasks are
    /// deleted; legacy `mail/<parent>/<id>.json` files are converted to flat typed mail).
    /// A session↔task link recorded on one side only (a crash between the two writes of a
    /// link change) is restored on the other side, and the repaired files are re-saved.
    ///
    /// Must be called within a Tokio runtime: the store writes on its blocking pool.
    ///
    /// Entries that are not regular files or directories (FIFOs, sockets, devices, dangling
    /// links) are skipped with a warning and never opened; a symbolic link counts as what it
    /// points to.
    ///
    /// # Errors
    /// - [`FsStoreError::JournalReplay`] when acknowledged changes in the journal cannot be
    ///   written to their files (permissions, a full disk, a file name too long, a file where
    ///   a directory must be, …). Nothing is dropped: the journal is kept and the message
    ///   names each file, its OS error and how to recover; print it as it is.
    /// - [`FsStoreError::Io`] when the directory cannot be created or listed, a journal
    ///   segment cannot be read or retired, or the replayed files cannot be synced.
    /// - [`FsStoreError::Task`] when a loader thread panics.
    pub async fn open(data_dir: impl Into<PathBuf>) -> Result<FsStore, FsStoreError> {
        Self::open_with(data_dir, FsStoreOptions::default()).await
    }

    /// [`FsStore::open`] with explicit options.
    ///
    /// # Errors
    /// As [`FsStore::open`].
    pub async fn open_with(
        data_dir: impl Into<PathBuf>,
        options: FsStoreOptions,
    ) -> Result<FsStore, FsStoreError> {
        let root = data_dir.into();
        let handle = Handle::current();
        let (layout, loaded) =
            tokio::task::spawn_blocking(move || load::load(root, &DirSyncs::default()))
                .await
                .map_err(|e| FsStoreError::Task(e.to_string()))??;
        let ctx = Arc::new(Ctx {
            write_timeout: options.write_timeout,
            writer: Writer::new(handle, layout.root().to_path_buf(), options),
            layout,
        });
        Ok(FsStore {
            projects: Arc::new(FsProjectRepository::new(ctx.clone(), loaded.projects)),
            tasks: Arc::new(FsTaskRepository::new(ctx.clone(), loaded.tasks)),
            sessions: Arc::new(FsSessionRepository::new(ctx.clone(), loaded.sessions)),
            mail: Arc::new(FsMailRepository::new(ctx.clone(), loaded.mail)),
            team_members: Arc::new(FsTeamMemberRepository::new(
                ctx.clone(),
                loaded.members,
                loaded.overrides,
            )),
            orderings: Arc::new(FsOrderingRepository::new(ctx.clone(), loaded.orderings)),
            modals: Arc::new(FsModalStore::new(ctx.clone())),
            ctx,
        })
    }

    /// The data directory, absolute and canonical.
    pub fn data_dir(&self) -> &Path {
        self.ctx.layout.root()
    }

    /// Returns once every file in the data directory reflects every write acknowledged before
    /// the call, durably: waits for the journal to take every queued change, writes the files
    /// still behind (write-behind), `fsync`s every file and directory written since the last
    /// checkpoint and deletes the journal segments that are no longer needed.
    ///
    /// Call it before another process reads the data directory (the CLI's `manifest generate`
    /// during spawn, an export) and at shutdown. Without it the data is still safe: the
    /// journal is replayed at the next [`FsStore::open`].
    ///
    /// # Errors
    /// [`FsStoreError`] when an acknowledged change could not be written to its file, files
    /// could not be synced or the journal could not be deleted; the journal is kept then, so
    /// the next start-up replays it.
    pub async fn flush(&self) -> Result<(), FsStoreError> {
        self.ctx.writer.flush().await
    }

    /// What stands between the store and full health, for `/ready` and the log: journal
    /// appends that fail (writes are refused with `StoreUnavailable` meanwhile) and
    /// acknowledged changes whose files could not be written yet (they are safe in the
    /// journal, retried, and block checkpoints).
    pub fn health(&self) -> StoreHealth {
        let applier = self.ctx.writer.applier();
        StoreHealth {
            journal_error: self.ctx.writer.journal_failure(),
            unwritten_files: applier
                .lost_files()
                .into_iter()
                .map(|(path, e)| (path, e.to_string()))
                .collect(),
            pending_file_bytes: applier.pending_bytes(),
        }
    }

    /// Journal and file-write counters since the store was opened (for metrics and tests).
    pub fn journal_stats(&self) -> JournalStats {
        self.ctx.writer.stats()
    }
}
