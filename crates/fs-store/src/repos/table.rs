//! [`Table`]: the in-memory rows of one repository, each holding only **durable** state.
//!
//! Readers see a row's *committed* state: the state of its last journaled change. A writer
//! first takes the row's *gate* (a FIFO async mutex: writers of one row queue, writers of
//! different rows do not), computes the new state from the committed one, submits it to the
//! writer and hands the gate to the change's settle hook. When the journal has the change
//! (`fdatasync` done), the committer runs the hook, which publishes the new state and opens
//! the gate; only then is the writer's ticket resolved. If the change cannot be journaled
//! (disk full, I/O error), the hook leaves the committed state as it was: a failed write is
//! never seen by anyone (issue 12 item 3), and the next writer of the row starts from durable
//! state. The hook runs on the committer whatever becomes of the request, so a client that
//! disconnects mid-write cannot leave memory and journal apart.
//!
//! The price: two changes to one row are never in the same journal batch (the second waits
//! for the first's sync), which only matters for a row written by many clients at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use maestro_domain::DomainResult;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Ctx, read, settle, write};
use crate::op::Op;

/// One row: its durable state and the gate its writers queue on.
pub(crate) struct Row<V> {
    committed: Option<Arc<V>>,
    gate: Option<Arc<Mutex<()>>>,
}

impl<V> Row<V> {
    /// The durable state, if the row exists.
    pub(crate) fn get(&self) -> Option<&Arc<V>> {
        self.committed.as_ref()
    }

    fn state(&self) -> Option<&V> {
        self.committed.as_deref()
    }
}

/// The committed states of a table, in no particular order (see [`Table::with_rows`]).
pub(crate) type Committed<'a, K, V> = std::iter::FilterMap<
    std::collections::hash_map::Values<'a, K, Row<V>>,
    fn(&'a Row<V>) -> Option<&'a V>,
>;

/// What a mutation decides, given the committed state.
pub(crate) enum Change<V, R> {
    /// Store this new state.
    Put(V, R),
    /// Remove the row.
    Delete(R),
    /// Nothing changes.
    Keep(R),
}

/// The rows of one repository (see the module docs).
pub(crate) struct Table<K, V> {
    rows: RwLock<HashMap<K, Row<V>>>,
}

/// Holds a row's gate; on drop (a mutation that ends without a write, or is cancelled while
/// waiting) removes the gate, and the row if it holds nothing, once nobody else queues on it.
struct GateRelease<K: Eq + Hash + Clone, V> {
    table: Arc<Table<K, V>>,
    key: K,
    gate: Arc<Mutex<()>>,
}

impl<K: Eq + Hash + Clone, V> Drop for GateRelease<K, V> {
    fn drop(&mut self) {
        let mut rows = write(&self.table.rows);
        if let Some(row) = rows.get_mut(&self.key) {
            // Ours, the row's, and nobody else's: no writer is queued or working.
            if row
                .gate
                .as_ref()
                .is_some_and(|g| Arc::ptr_eq(g, &self.gate))
                && Arc::strong_count(&self.gate) <= 2
            {
                row.gate = None;
                if row.committed.is_none() {
                    rows.remove(&self.key);
                }
            }
        }
    }
}

impl<K, V> Table<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A table holding `rows` (loaded, hence durable).
    pub(crate) fn new(rows: HashMap<K, V>) -> Arc<Self> {
        Arc::new(Self {
            rows: RwLock::new(
                rows.into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            Row {
                                committed: Some(Arc::new(v)),
                                gate: None,
                            },
                        )
                    })
                    .collect(),
            ),
        })
    }

    /// The read lock over every row; use [`Table::rows`] on it.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, HashMap<K, Row<V>>> {
        read(&self.rows)
    }

    /// The committed state of `key`.
    pub(crate) fn get(&self, key: &K) -> Option<Arc<V>> {
        read(&self.rows).get(key).and_then(|r| r.committed.clone())
    }

    /// Calls `f` with every committed state (under the read lock).
    pub(crate) fn with_rows<T>(&self, f: impl FnOnce(Committed<'_, K, V>) -> T) -> T {
        let rows = read(&self.rows);
        f(rows.values().filter_map(Row::state))
    }

    /// Applies `decide` to the committed state of `key` (see the module docs) and returns the
    /// new committed state (`None` once deleted) with `decide`'s result. `file` gives the file
    /// change for a new state (`Some`) or a deletion (`None`), given the previous state.
    ///
    /// # Errors
    /// `decide`'s error (nothing written); the write's error (`StoreUnavailable` when the
    /// journal cannot take it; nothing changed then).
    pub(crate) async fn mutate<R>(
        self: &Arc<Self>,
        ctx: &Ctx,
        key: K,
        decide: impl FnOnce(Option<&Arc<V>>) -> DomainResult<Change<V, R>>,
        file: impl FnOnce(Option<&Arc<V>>, Option<&Arc<V>>) -> (PathBuf, Op),
    ) -> DomainResult<(Option<Arc<V>>, R)> {
        let gate = {
            let mut rows = write(&self.rows);
            let row = rows.entry(key.clone()).or_insert(Row {
                committed: None,
                gate: None,
            });
            row.gate
                .get_or_insert_with(|| Arc::new(Mutex::new(())))
                .clone()
        };
        let release = GateRelease {
            table: self.clone(),
            key: key.clone(),
            gate: gate.clone(),
        };
        let guard: OwnedMutexGuard<()> = gate.lock_owned().await;
        // From here to the submission nothing awaits: a cancelled request either never
        // submitted (the guard and the release drop) or has handed both to the hook.
        let base = self.get(&key);
        let (new, result) = match decide(base.as_ref())? {
            Change::Keep(r) => return Ok((base, r)),
            Change::Put(v, r) => (Some(Arc::new(v)), r),
            Change::Delete(r) => (None, r),
        };
        let (path, op) = file(base.as_ref(), new.as_ref());
        let table = self.clone();
        let published = new.clone();
        let hook = Box::new(move |durable: bool| {
            if durable && let Some(row) = write(&table.rows).get_mut(&key) {
                row.committed = published;
            }
            drop(guard);
            drop(release);
        });
        let ticket = ctx.writer.submit_with(path, op, Some(hook));
        settle(ctx, ticket).await?;
        Ok((new, result))
    }
}
