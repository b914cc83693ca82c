//! The repositories: in-memory maps behind `RwLock`s, written through the [`Writer`].
//!
//! Every mutation follows the same steps: take the map's write lock, change the entity,
//! submit the new file state to the writer (still under the lock, which orders the
//! submissions of one file), release the lock, then await the write's [`Ticket`] (the change
//! is then in the journal, and normally in its file too; see module `writer`). Reads only
//! take the read lock and never touch the disk. Lists sort references under the read lock and
//! clone each returned entity once.
//!
//! If a write fails, the method returns `DomainError::Internal` while the in-memory state
//! keeps the change; the next successful write of the same file persists it.

use std::cmp::Ordering as CmpOrdering;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use maestro_domain::DomainResult;

use crate::error::FsStoreError;
use crate::layout::Layout;
use crate::writer::{Ticket, Writer};

mod mail;
mod modals;
mod orderings;
mod projects;
mod sessions;
mod tasks;
mod team_members;

pub use mail::FsMailRepository;
pub use modals::FsModalStore;
pub use orderings::FsOrderingRepository;
pub use projects::FsProjectRepository;
pub use sessions::FsSessionRepository;
pub use tasks::FsTaskRepository;
pub use team_members::FsTeamMemberRepository;

/// What every repository of one store shares.
pub(crate) struct Ctx {
    pub(crate) layout: Layout,
    pub(crate) writer: Arc<Writer>,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Awaits a write; maps its failure to `DomainError::Internal`.
pub(crate) async fn settle(ticket: Ticket) -> DomainResult<()> {
    ticket.wait().await.map_err(FsStoreError::into_domain)
}

/// Awaits an optional write (see [`Writer::barrier`]).
pub(crate) async fn settle_opt(ticket: Option<Ticket>) -> DomainResult<()> {
    match ticket {
        Some(t) => settle(t).await,
        None => Ok(()),
    }
}

/// Creation time ascending, then id (spec §2).
pub(crate) fn by_creation(a: (i64, &str), b: (i64, &str)) -> CmpOrdering {
    a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1))
}

/// Returns the value behind `arc`, cloning only if the writer still holds a reference.
pub(crate) fn unwrap_arc<T: Clone>(arc: Arc<T>) -> T {
    Arc::unwrap_or_clone(arc)
}
