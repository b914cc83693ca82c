//! [`MemoryEventBus`]: an in-process bus over a tokio broadcast channel with a per-project
//! replay log (spec §4).
//!
//! The replay log keeps each event as its compact JSON text (about a fifth of the memory of
//! the parsed payload: a `task:updated` carries a whole task) and parses it back only for a
//! replay, which happens on reconnects.

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

/// One retained event.
struct Logged {
    id: EventId,
    timestamp: i64,
    body: LoggedBody,
}

enum LoggedBody {
    /// The serialized [`Event`].
    Text(Box<str>),
    /// Kept as is when it could not be serialized (a payload with non-string map keys
    /// cannot occur in practice).
    Event(Arc<Event>),
}

impl Logged {
    fn new(event: &Arc<Event>) -> Option<Self> {
        let id = EventId::parse(&event.event_id)?;
        let body = match serde_json::to_string(&**event) {
            Ok(text) => LoggedBody::Text(text.into_boxed_str()),
            Err(_) => LoggedBody::Event(event.clone()),
        };
        Some(Self {
            id,
            timestamp: event.timestamp,
            body,
        })
    }

    fn event(&self) -> Option<Arc<Event>> {
        match &self.body {
            LoggedBody::Text(text) => serde_json::from_str(text).ok().map(Arc::new),
            LoggedBody::Event(event) => Some(event.clone()),
        }
    }
}

#[derive(Default)]
struct ProjectLog {
    events: VecDeque<Logged>,
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
        // Events without a parsable id (never emitted by this bus) cannot be replayed.
        let Some(logged) = Logged::new(event) else {
            return;
        };
        let log = st.logs.entry(event.project_id.clone()).or_default();
        log.events.push_back(logged);
        while let Some(front) = log.events.front() {
            let over_min = log.events.len() > self.replay.min_events
                && now - front.timestamp > self.replay.min_age_ms;
            if !(over_min || log.events.len() > self.replay.max_events) {
                break;
            }
            log.evicted_up_to = Some(front.id);
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
                .filter(|e| e.id > last)
                .filter_map(Logged::event)
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
