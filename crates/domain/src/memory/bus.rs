//! [`MemoryEventBus`]: an in-process bus over a tokio broadcast channel with a per-project
//! replay log (spec §4).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::DomainResult;
use crate::events::{BusStats, Event, EventBus, EventId, EventSubscription, NewEvent, Replay};
use crate::ids::Clock;

/// Retention of the replay log: an event is dropped only when the project's log holds more
/// than `min_events` **and** the event is older than `min_age_ms`; `max_events` bounds memory
/// regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Keep at least this many events per project (default 1,000).
    pub min_events: usize,
    /// Keep every event younger than this, in ms (default 120,000).
    pub min_age_ms: i64,
    /// Hard cap per project (default 5,000): bounds memory under sustained load, when two
    /// minutes of events would otherwise be kept.
    pub max_events: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            min_events: 1_000,
            min_age_ms: 120_000,
            max_events: 5_000,
        }
    }
}

#[derive(Default)]
struct ProjectLog {
    events: VecDeque<Arc<Event>>,
    /// Id of the newest evicted event: a client behind it must resync.
    evicted_up_to: Option<EventId>,
}

struct State {
    last: EventId,
    logs: HashMap<String, ProjectLog>,
}

/// The in-memory [`EventBus`].
pub struct MemoryEventBus {
    tx: broadcast::Sender<Arc<Event>>,
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    replay: ReplayConfig,
    stats: Arc<BusStats>,
}

impl MemoryEventBus {
    /// A bus whose subscribers each buffer up to `capacity` events.
    pub fn new(clock: Arc<dyn Clock>, capacity: usize, replay: ReplayConfig) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self {
            tx,
            state: Mutex::new(State {
                last: EventId { ms: 0, seq: 0 },
                logs: HashMap::new(),
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
        let _ = self.tx.send(event);
    }

    fn record(&self, st: &mut State, event: &Arc<Event>) {
        let now = event.timestamp;
        let log = st.logs.entry(event.project_id.clone()).or_default();
        log.events.push_back(event.clone());
        while let Some(front) = log.events.front() {
            let over_min = log.events.len() > self.replay.min_events
                && now - front.timestamp > self.replay.min_age_ms;
            if !(over_min || log.events.len() > self.replay.max_events) {
                break;
            }
            log.evicted_up_to = EventId::parse(&front.event_id);
            log.events.pop_front();
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
        let _ = self.tx.send(event.clone());
        Ok(event)
    }

    fn subscribe(&self) -> EventSubscription {
        EventSubscription::new(self.tx.subscribe(), self.stats.clone())
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
                .filter(|e| EventId::parse(&e.event_id).is_some_and(|id| id > last))
                .cloned()
                .collect(),
        ))
    }

    fn stats(&self) -> Arc<BusStats> {
        self.stats.clone()
    }

    fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}
