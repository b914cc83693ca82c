//! The repositories: in-memory [`Table`]s of durable state, written through the [`Writer`].
//!
//! Every mutation follows the same steps (module `table`): queue on the row's gate, compute the
//! new state from the committed one, submit the new file state to the writer, and await the
//! write's [`Ticket`]. The committer publishes the new state to readers once the change is in
//! the journal, before the ticket resolves; a change that cannot be journaled is never seen.
//! Reads only take the table's read lock and never touch the disk. Lists sort references under
//! the read lock and clone each returned entity once.

use std::cmp::Ordering as CmpOrdering;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use maestro_domain::{DomainError, DomainResult};

use crate::error::FsStoreError;
use crate::layout::Layout;
use crate::writer::{Ticket, Writer};

mod mail;
mod modals;
mod orderings;
mod projects;
mod sessions;
mod table;
mod tasks;
mod team_members;

pub use mail::FsMailRepository;
pub use modals::FsModalStore;
pub use orderings::FsOrderingRepository;
pub use projects::FsProjectRepository;
pub use sessions::FsSessionRepository;
pub use tasks::FsTaskRepository;
pub use team_members::FsTeamMemberRepository;
pub(crate) use team_members::StoredMember;

/// What every repository of one store shares.
pub(crate) struct Ctx {
    pub(crate) layout: Layout,
    pub(crate) writer: Arc<Writer>,
    /// Longest a repository method waits for its write before answering `StoreUnavailable`.
    pub(crate) write_timeout: std::time::Duration,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Awaits a write, at most the store's write timeout; maps its failure to a `DomainError`
/// (`StoreUnavailable` for I/O: disk full, permissions, a hung device).
pub(crate) async fn settle(ctx: &Ctx, ticket: Ticket) -> DomainResult<()> {
    match tokio::time::timeout(ctx.write_timeout, ticket.wait()).await {
        Ok(done) => done.map_err(FsStoreError::into_domain),
        Err(_) => Err(DomainError::StoreUnavailable(format!(
            "the data directory did not complete a write within {} ms",
            ctx.write_timeout.as_millis()
        ))),
    }
}

/// Creation time ascending, then id (spec §2).
pub(crate) fn by_creation(a: (i64, &str), b: (i64, &str)) -> CmpOrdering {
    a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1))
}

/// Returns the value behind `arc`, cloning only if someone else still holds a reference.
pub(crate) fn unwrap_arc<T: Clone>(arc: Arc<T>) -> T {
    Arc::unwrap_or_clone(arc)
}

/// The committed state a mutation returns: `NotFound` when the row is gone.
pub(crate) fn found<T: Clone>(new: Option<Arc<T>>, what: &str, id: &str) -> DomainResult<T> {
    new.map(unwrap_arc)
        .ok_or_else(|| DomainError::not_found(what, id))
}
