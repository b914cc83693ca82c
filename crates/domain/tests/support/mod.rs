//! Shared harness of the service behaviour tests: an [`App`] over the in-memory adapters with
//! a manual clock, sequential ids, a recording manifest generator and helpers to drain the
//! event bus.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use maestro_domain::entities::{MailFilter, MailMessage, Project, Session, Task, TeamMember};
use maestro_domain::events::{Event, EventBus, EventSubscription};
use maestro_domain::ids::{ManualClock, SequentialIdGenerator};
use maestro_domain::memory::{
    MemoryEventBus, MemoryMailRepository, MemoryModalStore, MemoryOrderingRepository,
    MemoryProjectRepository, MemorySessionRepository, MemoryTaskRepository,
    MemoryTeamMemberRepository, ReplayConfig,
};
use maestro_domain::ports::{
    GeneratedManifest, MailRepository, ManifestGenerator, ManifestRequest, TeamMemberRepository,
};
use maestro_domain::services::{CreateProject, CreateSession, CreateTask};
use maestro_domain::{App, AppConfig, DomainError, DomainResult, Ports};
use serde_json::{Value, json};

/// Start time of every test clock: 2026-02-19T09:37:59.123Z.
pub const T0: i64 = 1_771_493_879_123;
/// `T0` as JavaScript's `toISOString()` writes it.
pub const T0_ISO: &str = "2026-02-19T09:37:59.123Z";

/// A [`ManifestGenerator`] that records every request and answers with a fixed manifest, or
/// fails with a reason when told to.
#[derive(Default)]
pub struct FakeManifests {
    requests: Mutex<Vec<ManifestRequest>>,
    fail_with: Mutex<Option<String>>,
}

impl FakeManifests {
    /// Makes every following call fail with `reason`.
    pub fn fail_with(&self, reason: &str) {
        *self.fail_with.lock().unwrap() = Some(reason.to_owned());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ManifestRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The only request received so far.
    pub fn single(&self) -> ManifestRequest {
        let r = self.requests();
        assert_eq!(
            r.len(),
            1,
            "expected exactly one manifest request, got {r:?}"
        );
        r.into_iter().next().unwrap()
    }
}

#[async_trait]
impl ManifestGenerator for FakeManifests {
    async fn generate(&self, request: &ManifestRequest) -> Result<GeneratedManifest, String> {
        self.requests.lock().unwrap().push(request.clone());
        if let Some(reason) = self.fail_with.lock().unwrap().clone() {
            return Err(reason);
        }
        Ok(GeneratedManifest {
            path: format!("/sessions/{}/manifest.json", request.session_id),
            manifest: json!({ "manifestVersion": "1.0", "mode": request.mode }),
        })
    }
}

/// A [`MailRepository`] over [`MemoryMailRepository`] whose `inbox` yields to the scheduler
/// a configurable number of times **after** taking its snapshot, so a concurrent send can
/// land between a waiter's inbox read and whatever it does next (the lost-wake-up window).
pub struct YieldingMail {
    inner: MemoryMailRepository,
    inbox_yields: AtomicU64,
}

impl YieldingMail {
    /// Sets how many times `inbox` yields after reading.
    pub fn set_inbox_yields(&self, n: u64) {
        self.inbox_yields.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl MailRepository for YieldingMail {
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        self.inner.insert(mail).await
    }
    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>> {
        self.inner.get(id).await
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.inner.delete(id).await
    }
    async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>> {
        let found = self.inner.inbox(session_id, project_id, filter).await;
        for _ in 0..self.inbox_yields.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        found
    }
    async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>> {
        self.inner.thread(thread_id).await
    }
    async fn unread_direct(&self, session_id: &str) -> DomainResult<Vec<MailMessage>> {
        self.inner.unread_direct(session_id).await
    }
    async fn mark_read(&self, ids: &[String], at: i64) -> DomainResult<Vec<MailMessage>> {
        self.inner.mark_read(ids, at).await
    }
}

/// A [`TeamMemberRepository`] over [`MemoryTeamMemberRepository`] that counts reads, so
/// tests can check how often a request looks members up.
#[derive(Default)]
pub struct CountingTeamMembers {
    inner: MemoryTeamMemberRepository,
    reads: AtomicU64,
}

impl CountingTeamMembers {
    /// Reads (`list_custom`, `get_custom`, `find_custom`, `get_override`) so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

type Overrides = serde_json::Map<String, Value>;

#[async_trait]
impl TeamMemberRepository for CountingTeamMembers {
    async fn list_custom(&self, project_id: &str) -> DomainResult<Vec<TeamMember>> {
        self.count();
        self.inner.list_custom(project_id).await
    }
    async fn get_custom(&self, project_id: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        self.count();
        self.inner.get_custom(project_id, id).await
    }
    async fn find_custom(&self, id: &str) -> DomainResult<Option<TeamMember>> {
        self.count();
        self.inner.find_custom(id).await
    }
    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        self.inner.put_custom(member).await
    }
    async fn delete_custom(&self, project_id: &str, id: &str) -> DomainResult<()> {
        self.inner.delete_custom(project_id, id).await
    }
    async fn get_override(&self, project_id: &str, id: &str) -> DomainResult<Option<Overrides>> {
        self.count();
        self.inner.get_override(project_id, id).await
    }
    async fn put_override(&self, project_id: &str, id: &str, value: Overrides) -> DomainResult<()> {
        self.inner.put_override(project_id, id, value).await
    }
    async fn delete_override(&self, project_id: &str, id: &str) -> DomainResult<()> {
        self.inner.delete_override(project_id, id).await
    }
}

/// An [`App`] over in-memory adapters, with handles on the pieces tests poke at.
pub struct Harness {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub bus: Arc<MemoryEventBus>,
    pub manifests: Arc<FakeManifests>,
    pub projects: Arc<MemoryProjectRepository>,
    pub tasks: Arc<MemoryTaskRepository>,
    pub sessions: Arc<MemorySessionRepository>,
    pub mail: Arc<YieldingMail>,
    pub team_members: Arc<CountingTeamMembers>,
    pub orderings: Arc<MemoryOrderingRepository>,
    pub modals: Arc<MemoryModalStore>,
}

/// The configuration every harness uses unless told otherwise.
pub fn test_config() -> AppConfig {
    AppConfig {
        hostname: "test-host".into(),
        platform: "linux".into(),
        server_url: "http://127.0.0.1:3000".into(),
        data_dir: "/data".into(),
        session_dir: "/sessions".into(),
        passthrough_env: BTreeMap::new(),
    }
}

/// A harness with the default configuration and replay retention.
pub fn harness() -> Harness {
    harness_with(test_config(), ReplayConfig::default())
}

/// A harness with the given configuration and replay retention.
pub fn harness_with(config: AppConfig, replay: ReplayConfig) -> Harness {
    let clock = Arc::new(ManualClock::new(T0));
    let bus = Arc::new(MemoryEventBus::new(clock.clone(), 4096, replay));
    let manifests = Arc::new(FakeManifests::default());
    let projects = Arc::new(MemoryProjectRepository::default());
    let tasks = Arc::new(MemoryTaskRepository::default());
    let sessions = Arc::new(MemorySessionRepository::default());
    let mail = Arc::new(YieldingMail {
        inner: MemoryMailRepository::default(),
        inbox_yields: AtomicU64::new(0),
    });
    let team_members = Arc::new(CountingTeamMembers::default());
    let orderings = Arc::new(MemoryOrderingRepository::default());
    let modals = Arc::new(MemoryModalStore::default());
    let ports = Ports {
        projects: projects.clone(),
        tasks: tasks.clone(),
        sessions: sessions.clone(),
        mail: mail.clone(),
        team_members: team_members.clone(),
        orderings: orderings.clone(),
        modals: modals.clone(),
        manifests: manifests.clone(),
        bus: bus.clone(),
        ids: Arc::new(SequentialIdGenerator::new(T0)),
        clock: clock.clone(),
    };
    Harness {
        app: App::new(ports, config),
        clock,
        bus,
        manifests,
        projects,
        tasks,
        sessions,
        mail,
        team_members,
        orderings,
        modals,
    }
}

impl Harness {
    /// Subscribes to the bus (do it before the action under test).
    pub fn subscribe(&self) -> EventSubscription {
        self.app.bus.subscribe()
    }

    /// Moves the clock forward.
    pub fn tick(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Creates a project.
    pub async fn project(&self, name: &str) -> Project {
        self.app
            .projects
            .create(CreateProject {
                name: Some(name.into()),
                working_dir: Some(format!("/work/{name}")),
                description: None,
                is_master: None,
            })
            .await
            .unwrap()
    }

    /// Creates a root task.
    pub async fn task(&self, project: &Project, title: &str) -> Task {
        self.task_with(CreateTask {
            project_id: Some(project.id.clone()),
            title: Some(title.into()),
            ..CreateTask::default()
        })
        .await
    }

    /// Creates a child task.
    pub async fn child(&self, parent: &Task, title: &str) -> Task {
        self.task_with(CreateTask {
            project_id: Some(parent.project_id.clone()),
            parent_id: Some(parent.id.clone()),
            title: Some(title.into()),
            ..CreateTask::default()
        })
        .await
    }

    /// Creates a task from a full input.
    pub async fn task_with(&self, input: CreateTask) -> Task {
        self.app.tasks.create(input).await.unwrap()
    }

    /// Creates a session linked to `tasks`.
    pub async fn session(&self, project: &Project, tasks: &[&Task]) -> Session {
        self.session_with(CreateSession {
            project_id: Some(project.id.clone()),
            task_ids: tasks.iter().map(|t| t.id.clone()).collect(),
            ..CreateSession::default()
        })
        .await
    }

    /// Creates a session from a full input.
    pub async fn session_with(&self, input: CreateSession) -> Session {
        self.app.sessions.create(input).await.unwrap()
    }

    /// The stored task.
    pub async fn stored_task(&self, id: &str) -> Task {
        self.app.tasks.get(id).await.unwrap()
    }

    /// The stored session (not enriched).
    pub async fn stored_session(&self, id: &str) -> Session {
        self.app.sessions.get_raw(id).await.unwrap()
    }

    /// The bus, as the port.
    pub fn event_bus(&self) -> &dyn EventBus {
        self.bus.as_ref()
    }
}

/// Every event already delivered to `sub`.
pub fn drain(sub: &mut EventSubscription) -> Vec<Arc<Event>> {
    let mut v = Vec::new();
    while let Some(e) = sub.try_recv() {
        v.push(e);
    }
    v
}

/// The names of `events`.
pub fn names(events: &[Arc<Event>]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

/// Drains `sub` and asserts the names, in order; returns the events.
#[track_caller]
pub fn expect_events(sub: &mut EventSubscription, expected: &[&str]) -> Vec<Arc<Event>> {
    let events = drain(sub);
    assert_eq!(names(&events), expected, "event sequence");
    events
}

/// Asserts that `sub` has nothing pending.
#[track_caller]
pub fn expect_no_events(sub: &mut EventSubscription) {
    let events = drain(sub);
    assert!(
        events.is_empty(),
        "expected no events, got {:?}",
        names(&events)
    );
}

/// Asserts the envelope of `e`.
#[track_caller]
pub fn envelope(e: &Event, name: &str, project_id: &str, session_id: Option<&str>) {
    assert_eq!(e.name, name);
    assert_eq!(e.project_id, project_id, "projectId of {name}");
    assert_eq!(e.session_id.as_deref(), session_id, "sessionId of {name}");
}

/// Serializes to JSON.
pub fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Asserts `err` has the wire code `code` and the message `message`.
#[track_caller]
pub fn expect_err(err: DomainError, code: &str, message: &str) {
    assert_eq!(err.code(), code, "code of {err:?}");
    assert_eq!(err.to_string(), message, "message of {err:?}");
}
