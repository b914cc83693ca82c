//! Coalesced `session:updated` for concurrent appends to one session (issue 12 item 1).
//!
//! An append (timeline entry, doc, raw event) is answered with the whole session and announced
//! with the whole session (ref §4.4, §5.2). When sixteen agents' reports land on one session at
//! once, serializing each of the sixteen versions costs sixteen serializations of a text that
//! reaches megabytes, and sixteen such texts wait in responses and rings at the same time.
//!
//! Appends only add to the session, so the newest committed version contains every entry
//! committed before it. Each append registers before it writes ([`Snapshots::enter`]); after
//! its own write commits, it takes the **newest**
//! version (when the store can give it without I/O, [`SessionRepository::peek_shared`]):
//! if a version read from the store after this write committed was already serialized by a
//! concurrent request, it shares that text and announces nothing (the event that announced the
//! newer version covers its entry); otherwise it serializes the newest version once and emits
//! `session:updated`. Writes that commit while one version is being serialized are all covered
//! by the next one. Versions are serialized and announced one
//! at a time per session, so `session:updated` events of a session follow the store's order.
//!
//! A store without an in-memory copy (PostgreSQL) returns `None` from `peek_shared`: each
//! request then serializes and announces the version its write returned, as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Ctx, Saved};
use crate::entities::Session;
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, names};

/// One session's writes in progress.
#[derive(Default)]
struct SlotState {
    /// Writes on this session that have committed, counted since the slot was created; a
    /// write's number is the count before its own increment.
    committed: AtomicU64,
    /// The last version serialized, with the count of writes it covers: every write numbered
    /// below `covers` had committed when that version was read from the store.
    last: tokio::sync::Mutex<Option<(u64, Saved<Session>)>>,
}

type Slot = Arc<SlotState>;

/// Per-session slots, present only while some write on that session is in progress (from
/// before its commit to its answer; an idle session keeps nothing here).
#[derive(Default)]
pub(crate) struct Snapshots {
    /// Each slot with the number of tickets holding it (changed under this lock only).
    slots: Mutex<HashMap<String, (Slot, usize)>>,
}

impl Snapshots {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Slot, usize)>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions with a write in progress right now.
    pub(crate) fn pending(&self) -> usize {
        self.slots().len()
    }

    /// Registers a write about to happen on session `id`: until the returned ticket is
    /// dropped, the newest serialized version of the session is kept for concurrent writers.
    pub(crate) fn enter(&self, id: &str) -> Ticket<'_> {
        let slot = {
            let mut slots = self.slots();
            let (slot, tickets) = slots.entry(id.to_owned()).or_default();
            *tickets += 1;
            slot.clone()
        };
        Ticket {
            owner: self,
            id: id.to_owned(),
            slot,
        }
    }
}

/// A write to one session in progress (see [`Snapshots::enter`]).
pub(crate) struct Ticket<'a> {
    owner: &'a Snapshots,
    id: String,
    slot: Slot,
}

impl Ticket<'_> {
    /// Serializes the newest version of the session (at least as new as `mine`, the version
    /// the caller's own append committed) unless a concurrent writer already did, and emits
    /// `session:updated` for each version serialized.
    ///
    /// # Errors
    /// `NotFound` if the session was deleted meanwhile and this write's version is gone.
    pub(crate) async fn announce(
        &self,
        ctx: &Ctx,
        mine: Arc<Session>,
    ) -> DomainResult<Saved<Session>> {
        let number = self.slot.committed.fetch_add(1, Ordering::SeqCst);
        // A version is the whole session (megabytes): while it waits for the slot, a request
        // keeps its own version only when the store cannot give the newest, or sixteen waiting
        // requests would keep sixteen versions alive.
        let weak = Arc::downgrade(&mine);
        let mine = match ctx.ports.sessions.peek_shared(&self.id) {
            Some(_) => None,
            None => Some(mine),
        };
        let mut last = self.slot.last.lock().await;
        if let Some((covers, done)) = &*last
            && number < *covers
        {
            // Serialized (by this request or a concurrent one) after this write committed.
            return Ok(done.clone());
        }
        // Count first, then read the store: every write counted had committed before the read,
        // so the version read contains it. Versions are read and announced one at a time, so
        // announcements follow the store's order.
        let covers = self.slot.committed.load(Ordering::SeqCst);
        let (newest, covers) = match ctx.ports.sessions.peek_shared(&self.id) {
            Some(newest) => (newest, covers),
            // No shared copy (or the session is gone): this version covers only this write.
            None => match mine.or_else(|| weak.upgrade()) {
                Some(mine) => (mine, 0),
                None => return Err(DomainError::not_found("Session", &self.id)),
            },
        };
        if let Some((done_covers, done)) = &mut *last
            && Arc::ptr_eq(&done.value, &newest)
        {
            // Nothing committed since the last serialization.
            *done_covers = covers;
            return Ok(done.clone());
        }
        let saved = Saved::new(newest);
        ctx.emit(
            NewEvent::new(
                names::SESSION_UPDATED,
                &saved.value.project_id,
                saved.json.clone(),
            )
            .for_session(&saved.value.id),
        )
        .await;
        *last = Some((covers, saved.clone()));
        Ok(saved)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut slots = self.owner.slots();
        // The last write in progress on this session: the text is not kept.
        if let Some((_, tickets)) = slots.get_mut(&self.id) {
            *tickets -= 1;
            if *tickets == 0 {
                slots.remove(&self.id);
            }
        }
    }
}
