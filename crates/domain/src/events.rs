//! Domain events, the [`EventBus`] port and the replay log (spec §4, ref §5.2).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

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
    pub data: serde_json::Value,
}

impl NewEvent {
    /// A project-scoped event.
    pub fn new(name: &'static str, project_id: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            name,
            project_id: project_id.into(),
            session_id: None,
            data,
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
    /// Payload.
    pub data: serde_json::Value,
    /// Emission time, epoch ms.
    pub timestamp: i64,
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
/// Bounded: a subscriber that falls more than the bus capacity behind loses the oldest
/// events (they are counted in [`BusStats::dropped`] and logged), so a slow subscriber never
/// blocks emitters or grows memory.
#[derive(Debug)]
pub struct EventSubscription {
    rx: broadcast::Receiver<Arc<Event>>,
    stats: Arc<BusStats>,
    lagged: u64,
}

impl EventSubscription {
    /// Wraps a broadcast receiver.
    pub fn new(rx: broadcast::Receiver<Arc<Event>>, stats: Arc<BusStats>) -> Self {
        Self {
            rx,
            stats,
            lagged: 0,
        }
    }

    /// The next event; `None` once the bus is gone. Skips over (and counts) dropped events.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.recv().await {
                Ok(ev) => return Some(ev),
                Err(broadcast::error::RecvError::Lagged(n)) => self.note_lag(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.try_recv() {
                Ok(ev) => return Some(ev),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.note_lag(n),
                Err(_) => return None,
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
