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
//! if that version was already serialized by a concurrent request, it shares that text and
//! announces nothing (the event that announced the newer version covers its entry); otherwise
//! it serializes it once and emits `session:updated`. Versions are serialized and announced one
//! at a time per session, so `session:updated` events of a session follow the store's order.
//!
//! A store without an in-memory copy (PostgreSQL) returns `None` from `peek_shared`: each
//! request then serializes and announces the version its write returned, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Ctx, Saved};
use crate::entities::Session;
use crate::events::{NewEvent, names};

/// The last version serialized for one session, shared by the requests writing to it now.
type Slot = Arc<tokio::sync::Mutex<Option<Saved<Session>>>>;

/// Per-session slots, present only while some write on that session is in progress (from
/// before its commit to its answer; an idle session keeps nothing here).
#[derive(Default)]
pub(crate) struct Snapshots {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Snapshots {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions with a write in progress right now.
    pub(crate) fn pending(&self) -> usize {
        self.slots().len()
    }

    /// Registers a write about to happen on session `id`: until the returned ticket is
    /// dropped, the newest serialized version of the session is kept for concurrent writers.
    pub(crate) fn enter(&self, id: &str) -> Ticket<'_> {
        let slot = self.slots().entry(id.to_owned()).or_default().clone();
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
    pub(crate) async fn announce(&self, ctx: &Ctx, mine: Arc<Session>) -> Saved<Session> {
        let mut last = self.slot.lock().await;
        // Read under the slot's lock: a version read here is announced before any newer one,
        // whichever request committed it.
        let newest = ctx.ports.sessions.peek_shared(&self.id).unwrap_or(mine);
        if let Some(done) = &*last
            && Arc::ptr_eq(&done.value, &newest)
        {
            return done.clone();
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
        *last = Some(saved.clone());
        saved
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut slots = self.owner.slots();
        // The map's reference and ours: no other write on this session is in progress (a new
        // one takes its reference under this same lock), so the text is not kept.
        if Arc::strong_count(&self.slot) == 2 {
            slots.remove(&self.id);
        }
    }
}
