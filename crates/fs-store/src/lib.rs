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
//! team-members/<projectId>/<defaultId>.override.json   partial override of a default member
//! mail/<mailId>.json                      typed MailMessage (legacy mail/<parent>/<id>.json converted)
//! modals/<modalId>.html                   modal HTML
//! ```
//! Files are pretty-printed JSON with 2-space indentation and no trailing newline, like
//! `JSON.stringify(x, null, 2)`. Unknown keys survive a load/save round trip (each entity's
//! `extra`).
//!
//! # Design
//! - **Memory first.** [`FsStore::open`] reads every file in parallel (module `load`), applies the
//!   start-up migrations of ref §3.9 (module `migrate`) and keeps everything in memory; reads never
//!   touch the disk.
//! - **Durable, atomic writes.** Each file is replaced through temp file + `fsync` + rename +
//!   directory `fsync`; a crash leaves it old or new, never torn. A port method returns only
//!   once its change is durable.
//! - **Coalescing writer.** At most one write per file is in flight; updates arriving
//!   meanwhile collapse into one follow-up write of the newest state, and every caller whose
//!   change it contains is acknowledged. Different files are written in parallel on the
//!   blocking pool (module `writer`).
//! - **Single instance.** Nothing coordinates two processes on one data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::runtime::Handle;

mod durable;
mod error;
mod layout;
mod load;
mod migrate;
mod repos;
mod writer;

pub use error::FsStoreError;
pub use repos::{
    FsMailRepository, FsModalStore, FsOrderingRepository, FsProjectRepository, FsSessionRepository,
    FsTaskRepository, FsTeamMemberRepository,
};

use durable::DirSyncs;
use repos::Ctx;
use writer::Writer;

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
    /// Opens (creating if needed) the data directory and loads it: creates the
    /// subdirectories, reads every file in parallel, skips unparseable files with a warning
    /// (they stay on disk), removes leftover temp files, and applies the migrations of ref
    /// §3.9 (sessions are re-saved when a field was filled in; legacy team-member tasks are
    /// deleted; legacy `mail/<parent>/<id>.json` files are converted to flat typed mail).
    ///
    /// Must be called within a Tokio runtime: the store writes on its blocking pool.
    ///
    /// # Errors
    /// [`FsStoreError::Io`] when the directory cannot be created or listed, or a migration
    /// write fails hard; [`FsStoreError::Task`] when a loader thread panics.
    pub async fn open(data_dir: impl Into<PathBuf>) -> Result<FsStore, FsStoreError> {
        let root = data_dir.into();
        let handle = Handle::current();
        let dirs = Arc::new(DirSyncs::default());
        let load_dirs = dirs.clone();
        let (layout, loaded) = tokio::task::spawn_blocking(move || load::load(root, &load_dirs))
            .await
            .map_err(|e| FsStoreError::Task(e.to_string()))??;
        let ctx = Arc::new(Ctx {
            layout,
            writer: Writer::new(handle, dirs),
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

    /// Waits until every queued write has finished (durably or with an error, which the
    /// caller of the write already received). Used at shutdown.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for stores that can fail to drain.
    pub async fn flush(&self) -> Result<(), FsStoreError> {
        self.ctx.writer.idle().await;
        Ok(())
    }
}
