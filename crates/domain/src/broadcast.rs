//! [`Ring`]: a broadcast queue bounded by item count **and** bytes that frees an item as soon
//! as every receiver has read it.
//!
//! The event bus hands every event to every in-process subscriber through one (spec §4:
//! "subscribers never block emitters: a slow subscriber is bounded"), and the legacy WebSocket
//! bridge hands every prepared frame to every client through another. `tokio::sync::broadcast`
//! keeps its last `capacity` values alive until they are overwritten, whether or not anyone
//! still needs them, and bounds only their number: with events that carry a multi-megabyte
//! session, 1,024 retained events were gigabytes. Here:
//! - an item is dropped once every receiver that existed when it was sent has read it (an idle
//!   ring holds nothing);
//! - a receiver that falls behind by more than [`RingLimits::max_items`] items or
//!   [`RingLimits::max_bytes`] bytes (each item's weight is given by the sender) loses the
//!   oldest items: its next receive reports how many ([`RecvError::Lagged`]), like tokio's
//!   broadcast. The newest item is always kept, even when it alone is over the byte limit.
//!
//! Senders never wait. Receivers wait on a [`Notify`]; every send wakes every waiting receiver
//! (they all want the item).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Bounds of a [`Ring`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLimits {
    /// Most items held (at least 1).
    pub max_items: usize,
    /// Most bytes held, as the sum of the weights given to [`Ring::send`]; the newest item is
    /// kept even if it alone is larger.
    pub max_bytes: usize,
}

/// Why [`Receiver::recv`] returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// This many items were dropped before the receiver read them; the next receive returns
    /// the oldest item still held.
    Lagged(u64),
    /// The ring was closed ([`Ring::close`]) and every item held for this receiver was read.
    Closed,
}

/// Why [`Receiver::try_recv`] returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing to read yet.
    Empty,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Closed`].
    Closed,
}

struct Slot<T> {
    value: T,
    weight: usize,
    /// Receivers that existed when the item was sent and have not read it yet.
    unread: usize,
}

struct State<T> {
    items: VecDeque<Slot<T>>,
    /// Sequence number of `items[0]`; the next item sent gets `head + items.len()`.
    head: u64,
    /// Sum of the weights of `items`.
    bytes: usize,
    receivers: usize,
    closed: bool,
}

impl<T> State<T> {
    fn tail(&self) -> u64 {
        self.head + self.items.len() as u64
    }

    /// Drops read items at the front, then the oldest while over `limits` (keeping the newest).
    fn trim(&mut self, limits: RingLimits) {
        while let Some(front) = self.items.front() {
            let over = self.items.len() > limits.max_items.max(1)
                || (self.bytes > limits.max_bytes && self.items.len() > 1);
            if front.unread > 0 && !over {
                break;
            }
            self.bytes -= front.weight;
            self.items.pop_front();
            self.head += 1;
        }
    }
}

struct Shared<T> {
    state: Mutex<State<T>>,
    notify: Notify,
    limits: RingLimits,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side (cheap to clone; see the module docs).
pub struct Ring<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Ring")
            .field("items", &st.items.len())
            .field("bytes", &st.bytes)
            .field("receivers", &st.receivers)
            .field("limits", &self.shared.limits)
            .finish()
    }
}

impl<T: Clone> Ring<T> {
    /// An empty ring with these bounds.
    pub fn new(limits: RingLimits) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    items: VecDeque::new(),
                    head: 0,
                    bytes: 0,
                    receivers: 0,
                    closed: false,
                }),
                notify: Notify::new(),
                limits,
            }),
        }
    }

    /// Hands `value` (weighing `weight` bytes) to every current receiver; returns how many
    /// that is. With no receiver the value is dropped at once. Never waits.
    pub fn send(&self, value: T, weight: usize) -> usize {
        let receivers = {
            let mut st = self.shared.lock();
            if st.receivers == 0 || st.closed {
                return 0;
            }
            let receivers = st.receivers;
            st.items.push_back(Slot {
                value,
                weight,
                unread: receivers,
            });
            st.bytes += weight;
            st.trim(self.shared.limits);
            receivers
        };
        self.shared.notify.notify_waiters();
        receivers
    }

    /// A receiver that gets every item sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut st = self.shared.lock();
        st.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: st.tail(),
        }
    }

    /// Closes the ring: receivers get what is held for them, then [`RecvError::Closed`]; later
    /// sends are dropped.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.notify.notify_waiters();
    }

    /// Number of receivers.
    pub fn receiver_count(&self) -> usize {
        self.shared.lock().receivers
    }

    /// Items and bytes held (items some receiver has not read yet).
    pub fn held(&self) -> (usize, usize) {
        let st = self.shared.lock();
        (st.items.len(), st.bytes)
    }
}

/// The receiving side: reads every item sent after it subscribed, in order, unless it falls
/// behind the ring's bounds (see the module docs). Dropping it releases what it had not read.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Sequence number of the next item to read.
    next: u64,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Takes the next item for a receiver at `next` under the lock, or says why there is none.
fn take<T: Clone>(
    next: &mut u64,
    st: &mut State<T>,
    limits: RingLimits,
) -> Result<T, TryRecvError> {
    if *next < st.head {
        let lost = st.head - *next;
        *next = st.head;
        return Err(TryRecvError::Lagged(lost));
    }
    let index = (*next - st.head) as usize;
    let Some(slot) = st.items.get_mut(index) else {
        return Err(if st.closed {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        });
    };
    slot.unread -= 1;
    let value = slot.value.clone();
    *next += 1;
    if index == 0 && slot.unread == 0 {
        st.trim(limits);
    }
    Ok(value)
}

impl<T: Clone> Receiver<T> {
    /// The next item, waiting for one if needed.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] once after items were dropped for this receiver;
    /// [`RecvError::Closed`] after [`Ring::close`] once everything was read.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        loop {
            let notified = self.shared.notify.notified();
            let mut notified = std::pin::pin!(notified);
            {
                let mut st = self.shared.lock();
                match take(&mut self.next, &mut st, self.shared.limits) {
                    Ok(v) => return Ok(v),
                    Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                    // Registered before the lock is released, so a send after this point
                    // wakes us.
                    Err(TryRecvError::Empty) => notified.as_mut().enable(),
                };
            }
            notified.await;
        }
    }

    /// The next item if one is held, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is waiting; otherwise as [`Receiver::recv`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.shared.lock();
        take(&mut self.next, &mut st, self.shared.limits)
    }

    /// Moves up to `max` held items into `out` under one lock (at least one is needed for a
    /// batch to be worth it); returns how many. Stops early at a lag, which the next call
    /// reports.
    pub fn try_recv_many(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        let mut st = self.shared.lock();
        let mut n = 0;
        while n < max {
            if self.next < st.head {
                break;
            }
            match take(&mut self.next, &mut st, self.shared.limits) {
                Ok(v) => {
                    out.push(v);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        n
    }

    /// Items sent but not read yet by this receiver (including those it already lost).
    pub fn pending(&self) -> u64 {
        self.shared.lock().tail().saturating_sub(self.next)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.receivers -= 1;
        let from = self.next.max(st.head);
        let start = (from - st.head) as usize;
        for slot in st.items.iter_mut().skip(start) {
            slot.unread -= 1;
        }
        // Read items at the front may now be free.
        st.trim(self.shared.limits);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ring(max_items: usize, max_bytes: usize) -> Ring<u32> {
        Ring::new(RingLimits {
            max_items,
            max_bytes,
        })
    }

    #[tokio::test]
    async fn every_receiver_gets_every_item_in_order() {
        let r = ring(16, 1 << 20);
        let mut a = r.subscribe();
        let mut b = r.subscribe();
        for i in 0..10 {
            assert_eq!(r.send(i, 1), 2);
        }
        for i in 0..10 {
            assert_eq!(a.recv().await, Ok(i));
        }
        assert_eq!(r.held(), (10, 10), "b has not read them yet");
        for i in 0..10 {
            assert_eq!(b.recv().await, Ok(i));
        }
        assert_eq!(r.held(), (0, 0), "read by everyone: freed");
    }

    #[tokio::test]
    async fn late_receivers_start_at_the_tail_and_sends_without_receivers_vanish() {
        let r = ring(16, 1 << 20);
        assert_eq!(r.send(1, 1), 0);
        assert_eq!(r.held(), (0, 0));
        let mut a = r.subscribe();
        r.send(2, 1);
        let mut late = r.subscribe();
        r.send(3, 1);
        assert_eq!(a.try_recv(), Ok(2));
        assert_eq!(late.try_recv(), Ok(3));
        assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(a.try_recv(), Ok(3));
        assert_eq!(r.held(), (0, 0));
    }

    #[tokio::test]
    async fn a_slow_receiver_loses_the_oldest_by_count_and_by_bytes() {
        let r = ring(4, 1 << 20);
        let mut slow = r.subscribe();
        for i in 0..10 {
            r.send(i, 1);
        }
        assert_eq!(r.held(), (4, 4));
        assert_eq!(slow.recv().await, Err(RecvError::Lagged(6)));
        assert_eq!(slow.recv().await, Ok(6));

        let r = ring(100, 100);
        let mut slow = r.subscribe();
        for i in 0..10 {
            r.send(i, 30);
        }
        assert_eq!(r.held(), (3, 90), "bounded by bytes");
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(7)));
        assert_eq!(slow.try_recv(), Ok(7));
    }

    #[tokio::test]
    async fn an_item_over_the_byte_limit_alone_is_still_delivered() {
        let r = ring(100, 10);
        let mut a = r.subscribe();
        r.send(1, 50);
        assert_eq!(r.held(), (1, 50));
        r.send(2, 50);
        assert_eq!(r.held(), (1, 50), "the older one is dropped");
        assert_eq!(a.try_recv(), Err(TryRecvError::Lagged(1)));
        assert_eq!(a.try_recv(), Ok(2));
        assert_eq!(r.held(), (0, 0));
    }

    #[tokio::test]
    async fn dropping_a_receiver_frees_what_only_it_needed() {
        let r = ring(16, 1 << 20);
        let mut a = r.subscribe();
        let b = r.subscribe();
        r.send(1, 5);
        r.send(2, 5);
        assert_eq!(a.try_recv(), Ok(1));
        assert_eq!(a.try_recv(), Ok(2));
        assert_eq!(r.held(), (2, 10));
        drop(b);
        assert_eq!(r.held(), (0, 0));
        assert_eq!(r.receiver_count(), 1);
    }

    #[tokio::test]
    async fn recv_waits_for_a_send_and_close_ends_it() {
        let r = ring(16, 1 << 20);
        let mut a = r.subscribe();
        let waiter = tokio::spawn(async move {
            let first = a.recv().await;
            let second = a.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        r.send(7, 1);
        r.close();
        let (first, second) = waiter.await.unwrap();
        assert_eq!(first, Ok(7));
        assert_eq!(second, Err(RecvError::Closed));
        assert_eq!(r.send(8, 1), 0, "closed: dropped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_senders_and_receivers_lose_nothing_within_bounds() {
        let r: Ring<u64> = Ring::new(RingLimits {
            max_items: 1 << 20,
            max_bytes: usize::MAX,
        });
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = r.subscribe();
                tokio::spawn(async move {
                    let mut sum = 0u64;
                    let mut n = 0;
                    while n < 4_000 {
                        sum += rx.recv().await.unwrap();
                        n += 1;
                    }
                    sum
                })
            })
            .collect();
        let senders: Vec<_> = (0..4u64)
            .map(|s| {
                let r = r.clone();
                tokio::spawn(async move {
                    for i in 0..1_000u64 {
                        r.send(s * 1_000 + i, 8);
                        if i % 100 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        let expected: u64 = (0..4_000u64).sum();
        for rx in receivers {
            assert_eq!(rx.await.unwrap(), expected);
        }
        assert_eq!(r.held(), (0, 0));
    }

    #[tokio::test]
    async fn try_recv_many_takes_a_batch_and_stops_at_a_lag() {
        let r = ring(4, 1 << 20);
        let mut a = r.subscribe();
        for i in 0..3 {
            r.send(i, 1);
        }
        let mut out = Vec::new();
        assert_eq!(a.try_recv_many(&mut out, 10), 3);
        assert_eq!(out, vec![0, 1, 2]);
        for i in 3..10 {
            r.send(i, 1);
        }
        out.clear();
        assert_eq!(a.try_recv_many(&mut out, 10), 0, "lag first");
        assert_eq!(a.try_recv(), Err(TryRecvError::Lagged(3)));
        assert_eq!(a.try_recv_many(&mut out, 2), 2);
        assert_eq!(out, vec![6, 7]);
        assert_eq!(a.pending(), 2);
    }
}
