//! [`MemoryEventBus`]: an in-process bus over a bounded [`Ring`] with a per-project replay
//! log (spec §4).
//!
//! Every consumer shares the same `Arc<Event>` (whose payload is shared JSON text): the replay
//! log, the subscriber ring and what subscribers keep. Both are bounded by count **and** bytes
//! (issue 12: with `session:updated` events carrying a multi-megabyte session, 1,000 retained
//! events were gigabytes), and the ring frees an event once every subscriber has read it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::broadcast::{Ring, RingLimits};
use crate::error::DomainResult;
use crate::events::{BusStats, Event, EventBus, EventId, EventSubscription, NewEvent, Replay};
use crate::ids::Clock;

/// Default subscriber bounds: 65,536 events or 32 MiB, whichever is reached first (a burst of
/// thousands of ordinary events fits; a few multi-megabyte sessions are the limit).
pub const DEFAULT_SUBSCRIBER_LIMITS: RingLimits = RingLimits {
    max_items: 65_536,
    max_bytes: 32 << 20,
};

/// Retention of the replay log: an event is dropped when the project's log holds more than
/// `min_events` **and** the event is older than `min_age_ms`; `max_events` and the byte bounds
/// cap memory regardless (a client behind a dropped event resyncs, spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Keep at least this many events per project (default 1,000), within the byte bounds.
    pub min_events: usize,
    /// Keep every event younger than this, in ms (default 120,000), within the byte bounds.
    pub min_age_ms: i64,
    /// Hard cap per project (default 5,000): bounds memory under sustained load, when two
    /// minutes of events would otherwise be kept.
    pub max_events: usize,
    /// Most bytes of events kept per project (default 16 MiB; [`Event::weight`]). The newest
    /// event is kept even if it alone is larger.
    pub max_bytes: usize,
    /// Most bytes kept over all projects (default 64 MiB): beyond it the largest project log
    /// loses its oldest events.
    pub total_max_bytes: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            min_events: 1_000,
            min_age_ms: 120_000,
            max_events: 5_000,
            max_bytes: 16 << 20,
            total_max_bytes: 64 << 20,
        }
    }
}

/// One retained event.
struct Logged {
    id: EventId,
    event: Arc<Event>,
    weight: usize,
}

#[derive(Default)]
struct ProjectLog {
    events: VecDeque<Logged>,
    bytes: usize,
    /// Id of the newest evicted event: a client behind it must resync.
    evicted_up_to: Option<EventId>,
}

impl ProjectLog {
    fn evict_front(&mut self) -> usize {
        match self.events.pop_front() {
            Some(front) => {
                self.evicted_up_to = Some(front.id);
                self.bytes -= front.weight;
                front.weight
            }
            None => 0,
        }
    }
}

struct State {
    last: EventId,
    logs: HashMap<String, ProjectLog>,
    /// Sum of every log's `bytes`.
    total_bytes: usize,
}

/// The in-memory [`EventBus`].
pub struct MemoryEventBus {
    ring: Ring<Arc<Event>>,
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    replay: ReplayConfig,
    stats: Arc<BusStats>,
}

impl MemoryEventBus {
    /// A bus whose subscribers each lag at most `capacity` events (and 32 MiB) before losing
    /// the oldest.
    pub fn new(clock: Arc<dyn Clock>, capacity: usize, replay: ReplayConfig) -> Self {
        Self::with_limits(
            clock,
            RingLimits {
                max_items: capacity.max(1),
                ..DEFAULT_SUBSCRIBER_LIMITS
            },
            replay,
        )
    }

    /// A bus with explicit subscriber bounds (see [`crate::broadcast`]).
    pub fn with_limits(
        clock: Arc<dyn Clock>,
        subscribers: RingLimits,
        replay: ReplayConfig,
    ) -> Self {
        Self {
            ring: Ring::new(subscribers),
            state: Mutex::new(State {
                last: EventId { ms: 0, seq: 0 },
                logs: HashMap::new(),
                total_bytes: 0,
            }),
            clock,
            replay,
            stats: Arc::default(),
        }
    }

    /// Records an event that already has its envelope (e.g. one received from another
    /// process) in the replay log and delivers it locally.
    pub fn deliver(&self, event: Arc<Event>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = EventId::parse(&event.event_id)
            && id > st.last
        {
            st.last = id;
        }
        self.record(&mut st, &event);
        self.stats
            .emitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Sent under the lock so subscribers see events in id order.
        let weight = event.weight();
        self.ring.send(event, weight);
    }

    /// Events and bytes held by the replay logs (for tests and metrics).
    pub fn replay_held(&self) -> (usize, usize) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let events = st.logs.values().map(|l| l.events.len()).sum();
        (events, st.total_bytes)
    }

    /// Events and bytes held for subscribers that have not read them yet.
    pub fn subscriber_held(&self) -> (usize, usize) {
        self.ring.held()
    }

    fn record(&self, st: &mut State, event: &Arc<Event>) {
        let now = event.timestamp;
        // Events without a parsable id (never emitted by this bus) cannot be replayed.
        let Some(id) = EventId::parse(&event.event_id) else {
            return;
        };
        let cfg = self.replay;
        let weight = event.weight();
        let log = st.logs.entry(event.project_id.clone()).or_default();
        log.events.push_back(Logged {
            id,
            event: event.clone(),
            weight,
        });
        log.bytes += weight;
        let mut freed = 0;
        while let Some(front) = log.events.front() {
            let len = log.events.len();
            let aged_out = len > cfg.min_events && now - front.event.timestamp > cfg.min_age_ms;
            let over = len > cfg.max_events || (log.bytes > cfg.max_bytes && len > 1);
            if !(aged_out || over) {
                break;
            }
            freed += log.evict_front();
        }
        st.total_bytes = st.total_bytes + weight - freed;
        while st.total_bytes > cfg.total_max_bytes {
            // The largest log pays; its newest event stays.
            let Some(largest) = st
                .logs
                .values_mut()
                .filter(|l| l.events.len() > 1)
                .max_by_key(|l| l.bytes)
            else {
                break;
            };
            let freed = largest.evict_front();
            st.total_bytes -= freed;
        }
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn emit(&self, event: NewEvent) -> DomainResult<Arc<Event>> {
        let now = self.clock.now_ms();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ms = (now.max(0) as u64).max(st.last.ms);
        let id = if ms == st.last.ms {
            EventId {
                ms,
                seq: st.last.seq + 1,
            }
        } else {
            EventId { ms, seq: 0 }
        };
        st.last = id;
        let event = Arc::new(Event {
            event_id: id.to_string(),
            name: event.name.to_owned(),
            project_id: event.project_id,
            session_id: event.session_id,
            data: event.data,
            timestamp: now,
        });
        self.record(&mut st, &event);
        self.stats
            .emitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Sent under the lock so subscribers see events in id order.
        self.ring.send(event.clone(), event.weight());
        Ok(event)
    }

    fn subscribe(&self) -> EventSubscription {
        EventSubscription::new(self.ring.subscribe(), self.stats.clone())
    }

    async fn replay_since(&self, project_id: &str, last_event_id: &str) -> DomainResult<Replay> {
        let Some(last) = EventId::parse(last_event_id) else {
            return Ok(Replay::ResyncRequired);
        };
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(log) = st.logs.get(project_id) else {
            return Ok(Replay::Events(Vec::new()));
        };
        if log.evicted_up_to.is_some_and(|ev| last < ev) {
            return Ok(Replay::ResyncRequired);
        }
        Ok(Replay::Events(
            log.events
                .iter()
                .filter(|e| e.id > last)
                .map(|e| e.event.clone())
                .collect(),
        ))
    }

    fn stats(&self) -> Arc<BusStats> {
        self.stats.clone()
    }

    fn subscriber_count(&self) -> usize {
        self.ring.receiver_count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::events::Payload;
    use crate::ids::ManualClock;

    fn big(n: usize) -> Payload {
        Payload::of(&"x".repeat(n))
    }

    #[tokio::test]
    async fn the_replay_log_is_bounded_by_bytes_per_project_and_overall() {
        let clock = Arc::new(ManualClock::new(1_000));
        let bus = MemoryEventBus::new(
            clock,
            16,
            ReplayConfig {
                max_bytes: 1 << 20,
                total_max_bytes: 3 << 20,
                ..ReplayConfig::default()
            },
        );
        let mut first = None;
        for _ in 0..20 {
            let ev = bus
                .emit(NewEvent::new("session:updated", "p", big(300 << 10)))
                .await
                .unwrap();
            first.get_or_insert(ev.event_id.clone());
        }
        let (events, bytes) = bus.replay_held();
        assert!(
            events <= 3 && bytes <= 1 << 20,
            "{events} events, {bytes} B"
        );
        // A client that saw the first event can no longer replay: resync.
        assert_eq!(
            bus.replay_since("p", &first.unwrap()).await.unwrap(),
            Replay::ResyncRequired
        );
        for p in ["a", "b", "c", "d", "e"] {
            for _ in 0..3 {
                bus.emit(NewEvent::new("x", p, big(300 << 10)))
                    .await
                    .unwrap();
            }
        }
        let (_, bytes) = bus.replay_held();
        assert!(bytes <= 3 << 20, "overall bound: {bytes} B");
    }

    #[tokio::test]
    async fn subscribers_hold_nothing_once_they_read_and_a_big_event_is_shared() {
        let bus = MemoryEventBus::new(Arc::new(ManualClock::new(1)), 1024, ReplayConfig::default());
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        let ev = bus
            .emit(NewEvent::new("x", "p", big(1 << 20)))
            .await
            .unwrap();
        assert_eq!(bus.subscriber_held().0, 1);
        let got_a = a.recv().await.unwrap();
        let got_b = b.recv().await.unwrap();
        assert_eq!(bus.subscriber_held(), (0, 0));
        // One copy of the payload, however many hold it.
        assert!(std::ptr::eq(got_a.data.json(), ev.data.json()));
        assert!(std::ptr::eq(got_b.data.json(), ev.data.json()));
    }
}
