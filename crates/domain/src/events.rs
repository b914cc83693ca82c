//! Domain events, the [`EventBus`] port and the replay log (spec §4, ref §5.2).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::broadcast::{Receiver, RecvError, TryRecvError};
use crate::error::DomainResult;

/// Event names (ref §5.2 plus spec §4).
pub mod names {
    #![allow(missing_docs)]
    pub const PROJECT_CREATED: &str = "project:created";
    pub const PROJECT_UPDATED: &str = "project:updated";
    pub const PROJECT_DELETED: &str = "project:deleted";
    pub const TASK_CREATED: &str = "task:created";
    pub const TASK_UPDATED: &str = "task:updated";
    pub const TASK_DELETED: &str = "task:deleted";
    pub const TASK_SESSION_ADDED: &str = "task:session_added";
    pub const TASK_SESSION_REMOVED: &str = "task:session_removed";
    pub const SESSION_CREATED: &str = "session:created";
    pub const SESSION_SPAWN: &str = "session:spawn";
    pub const SESSION_UPDATED: &str = "session:updated";
    pub const SESSION_DELETED: &str = "session:deleted";
    pub const SESSION_TASK_ADDED: &str = "session:task_added";
    pub const SESSION_TASK_REMOVED: &str = "session:task_removed";
    pub const NOTIFY_TASK_COMPLETED: &str = "notify:task_completed";
    pub const NOTIFY_TASK_FAILED: &str = "notify:task_failed";
    pub const NOTIFY_TASK_IN_REVIEW: &str = "notify:task_in_review";
    pub const NOTIFY_TASK_BLOCKED: &str = "notify:task_blocked";
    pub const NOTIFY_TASK_SESSION_COMPLETED: &str = "notify:task_session_completed";
    pub const NOTIFY_TASK_SESSION_FAILED: &str = "notify:task_session_failed";
    pub const NOTIFY_SESSION_COMPLETED: &str = "notify:session_completed";
    pub const NOTIFY_SESSION_FAILED: &str = "notify:session_failed";
    pub const NOTIFY_NEEDS_INPUT: &str = "notify:needs_input";
    pub const NOTIFY_PROGRESS: &str = "notify:progress";
    pub const SESSION_MODAL: &str = "session:modal";
    pub const SESSION_MODAL_ACTION: &str = "session:modal_action";
    pub const SESSION_MODAL_CLOSED: &str = "session:modal_closed";
    pub const SESSION_PROMPT_SEND: &str = "session:prompt_send";
    pub const TEAM_MEMBER_CREATED: &str = "team_member:created";
    pub const TEAM_MEMBER_UPDATED: &str = "team_member:updated";
    pub const TEAM_MEMBER_DELETED: &str = "team_member:deleted";
    pub const TEAM_MEMBER_ARCHIVED: &str = "team_member:archived";
    pub const MAIL_RECEIVED: &str = "mail:received";
    pub const MAIL_DELETED: &str = "mail:deleted";
    pub const SESSION_PRESENCE: &str = "session:presence";
    /// Newer reference: `POST /api/sessions/:id/mode` changed the session's mode.
    pub const SESSION_MODE_CHANGED: &str = "session:mode_changed";
}

/// An event payload: the compact JSON text of the ref §5.2 `data`, serialized **once** by the
/// emitting service and shared (reference-counted) by every consumer — the replay log, every
/// subscriber, the legacy WebSocket frame, the HTTP response of the change that caused it.
///
/// A `session:updated` payload is a whole session (megabytes for a long-running agent): a
/// parsed `serde_json::Value` tree of it takes about five times the text and costs a deep copy
/// per consumer, so payloads stay text. Consumers that need fields parse what they need
/// ([`Payload::parse`]); tests compare with [`Payload::to_value`] or `==` against a `Value`.
///
/// The text is allocated once, by the serializer, and the `Arc` points at that allocation
/// (`Arc<Box<RawValue>>`): moving a multi-megabyte text into an `Arc<RawValue>` would copy it.
#[derive(Clone)]
pub struct Payload(Arc<Box<RawValue>>);

impl Payload {
    /// Serializes `value` (compact JSON). A value that cannot be serialized (a map with
    /// non-string keys: never produced by our entities) becomes `null`, logged.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => Self(Arc::new(raw)),
            Err(e) => {
                tracing::error!(error = %e, "event payload cannot be serialized; sending null");
                Self::null()
            }
        }
    }

    /// `null`.
    pub fn null() -> Self {
        Self(Arc::new(RawValue::NULL.to_owned()))
    }

    /// The compact JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// Size of the JSON text, in bytes.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Always false (`null` is four bytes); present for the `len`/`is_empty` pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses the payload into `T`.
    ///
    /// # Errors
    /// The `serde_json` error when the text does not fit `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// The payload as a `Value` (a parse: for tests and rare consumers).
    pub fn to_value(&self) -> Value {
        self.parse().unwrap_or(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Self::of(&v)
    }
}

impl From<&Value> for Payload {
    fn from(v: &Value) -> Self {
        Self::of(v)
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.0.get().as_bytes()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 256;
        let text = self.0.get();
        match text.char_indices().nth(SHOWN) {
            Some((cut, _)) => write!(f, "{}… ({} bytes)", &text[..cut], text.len()),
            None => f.write_str(text),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(|raw| Self(Arc::new(raw)))
    }
}

/// An event about to be emitted: the envelope minus `eventId` and `timestamp`, which the bus
/// assigns.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Event name, e.g. `task:updated`.
    pub name: &'static str,
    /// Project the event belongs to (set by the emitting service).
    pub project_id: String,
    /// Session, for session-scoped events.
    pub session_id: Option<String>,
    /// The ref §5.2 payload.
    pub data: Payload,
}

impl NewEvent {
    /// A project-scoped event; `data` is a [`Payload`] or a `Value` (serialized here).
    pub fn new(
        name: &'static str,
        project_id: impl Into<String>,
        data: impl Into<Payload>,
    ) -> Self {
        Self {
            name,
            project_id: project_id.into(),
            session_id: None,
            data: data.into(),
        }
    }

    /// Marks the event as scoped to `session_id`.
    pub fn for_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }
}

/// The event envelope (spec §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique, totally ordered within a project: `<ms>-<seq>` (see [`EventId`]).
    pub event_id: String,
    /// Event name.
    pub name: String,
    /// Project.
    pub project_id: String,
    /// Session, for session-scoped events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Payload (shared JSON text).
    pub data: Payload,
    /// Emission time, epoch ms.
    pub timestamp: i64,
}

impl Event {
    /// Approximate memory held by the event, in bytes (payload text, strings, envelope): what
    /// the bus's byte bounds count.
    pub fn weight(&self) -> usize {
        const ENVELOPE: usize = 96;
        ENVELOPE
            + self.data.len()
            + self.event_id.len()
            + self.name.len()
            + self.project_id.len()
            + self.session_id.as_ref().map_or(0, String::len)
    }
}

/// A parsed event id `<ms>-<seq>`, the format of Redis stream ids; ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence within the millisecond.
    pub seq: u64,
}

impl EventId {
    /// Parses `<ms>-<seq>` (or a bare `<ms>`, read as `<ms>-0`).
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = match s.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (s.parse().ok()?, 0),
        };
        Some(Self { ms, seq })
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// What a reconnecting client gets for its last seen event id (spec §4).
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// Every retained event after the given id, in order (possibly empty).
    Events(Vec<Arc<Event>>),
    /// The id is older than the log: the client must call `state:sync`.
    ResyncRequired,
}

/// Counters of a bus, for `/metrics`.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Events emitted.
    pub emitted: AtomicU64,
    /// Events skipped by slow subscribers (drop oldest).
    pub dropped: AtomicU64,
}

/// A subscription to every event of the bus.
///
/// Bounded by the bus's subscriber limits (count and bytes, see [`crate::broadcast`]): a
/// subscriber that falls further behind loses the oldest events (they are counted in
/// [`BusStats::dropped`] and logged), so a slow subscriber never blocks emitters or grows
/// memory. Events every subscriber has read are freed at once.
#[derive(Debug)]
pub struct EventSubscription {
    rx: Receiver<Arc<Event>>,
    stats: Arc<BusStats>,
    lagged: u64,
}

impl EventSubscription {
    /// Wraps a ring receiver.
    pub fn new(rx: Receiver<Arc<Event>>, stats: Arc<BusStats>) -> Self {
        Self {
            rx,
            stats,
            lagged: 0,
        }
    }

    /// The next event; `None` once the bus is closed. Skips over (and counts) dropped events.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.recv().await {
                Ok(ev) => return Some(ev),
                Err(RecvError::Lagged(n)) => self.note_lag(n),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.try_recv() {
                Ok(ev) => return Some(ev),
                Err(TryRecvError::Lagged(n)) => self.note_lag(n),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// Events this subscriber lost because it was too slow.
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    fn note_lag(&mut self, n: u64) {
        self.lagged += n;
        self.stats.dropped.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(dropped = n, "slow event subscriber: oldest events dropped");
    }
}

/// The event bus port (spec §4).
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Assigns `eventId` and `timestamp`, appends the event to the project's replay log and
    /// delivers it to every in-process subscriber **before returning**; then to other
    /// processes (adapter-specific).
    ///
    /// # Errors
    /// `BusUnavailable` if the event could not be published beyond this process (local
    /// delivery has happened anyway).
    async fn emit(&self, event: NewEvent) -> DomainResult<Arc<Event>>;

    /// Subscribes to every event emitted from now on.
    fn subscribe(&self) -> EventSubscription;

    /// Retained events of `project_id` after `last_event_id` (spec §4 replay).
    async fn replay_since(&self, project_id: &str, last_event_id: &str) -> DomainResult<Replay>;

    /// Counters.
    fn stats(&self) -> Arc<BusStats>;

    /// In-process subscriptions currently open (each long-poll and each real-time hub holds
    /// one), for `/metrics` and leak checks.
    fn subscriber_count(&self) -> usize;
}
