//! Deleting a task subtree is linear in its size (issue 12 item 11: 10,000 tasks took 5.5 s
//! and stalled the server for ~2 s), checked without timing: repositories that count their
//! calls show one listing of tasks and one of sessions whatever the subtree's size, and a
//! ticker task on the same single-threaded runtime keeps running while the cascade does
//! (the in-memory store never makes the cascade wait, so only its own yields let it run).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use maestro_domain::entities::{
    DocEntry, Session, SessionEvent, SessionFilter, SessionPatch, Task, TaskFilter, TaskPatch,
    TaskSessionStatus, TimelineEvent,
};
use maestro_domain::events::EventSubscription;
use maestro_domain::ids::{ManualClock, SequentialIdGenerator};
use maestro_domain::memory::{
    MemoryEventBus, MemoryMailRepository, MemoryModalStore, MemoryOrderingRepository,
    MemoryProjectRepository, MemorySessionRepository, MemoryTaskRepository,
    MemoryTeamMemberRepository, ReplayConfig,
};
use maestro_domain::ports::{
    GeneratedManifest, ManifestGenerator, ManifestRequest, SessionRepository, TaskRepository,
};
use maestro_domain::services::{CreateProject, CreateSession, CreateTask};
use maestro_domain::{App, AppConfig, DomainResult, Ports};

/// Calls of the repository methods a cascade might repeat.
#[derive(Default)]
struct Calls {
    task_lists: AtomicU64,
    task_gets: AtomicU64,
    task_deletes: AtomicU64,
    session_lists: AtomicU64,
    session_gets: AtomicU64,
    session_unlinks: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::SeqCst);
}

fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::SeqCst)
}

struct CountingTasks {
    inner: MemoryTaskRepository,
    calls: Arc<Calls>,
}

#[async_trait]
impl TaskRepository for CountingTasks {
    async fn insert(&self, task: Task) -> DomainResult<Task> {
        self.inner.insert(task).await
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Task>> {
        bump(&self.calls.task_gets);
        self.inner.get(id).await
    }
    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        bump(&self.calls.task_lists);
        self.inner.list(filter).await
    }
    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
        self.inner.update(id, patch, now).await
    }
    async fn set_session_status(
        &self,
        id: &str,
        session_id: &str,
        status: TaskSessionStatus,
        now: i64,
    ) -> DomainResult<Task> {
        self.inner
            .set_session_status(id, session_id, status, now)
            .await
    }
    async fn add_session(
        &self,
        id: &str,
        session_id: &str,
        now: i64,
    ) -> DomainResult<(Task, bool)> {
        self.inner.add_session(id, session_id, now).await
    }
    async fn remove_session(
        &self,
        id: &str,
        session_id: &str,
        drop_status: bool,
        now: i64,
    ) -> DomainResult<Task> {
        self.inner
            .remove_session(id, session_id, drop_status, now)
            .await
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        bump(&self.calls.task_deletes);
        self.inner.delete(id).await
    }
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        self.inner.exists_by_project(project_id).await
    }
}

struct CountingSessions {
    inner: MemorySessionRepository,
    calls: Arc<Calls>,
}

#[async_trait]
impl SessionRepository for CountingSessions {
    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        self.inner.upsert(session).await
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        bump(&self.calls.session_gets);
        self.inner.get(id).await
    }
    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        bump(&self.calls.session_lists);
        self.inner.list(filter).await
    }
    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        self.inner.update(id, patch, now).await
    }
    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        self.inner.add_task(id, task_id, now).await
    }
    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        bump(&self.calls.session_unlinks);
        self.inner.remove_task(id, task_id, now).await
    }
    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        self.inner.add_event(id, event, now).await
    }
    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        self.inner.add_timeline_event(id, event, now).await
    }
    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        self.inner.add_doc(id, doc, now).await
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.inner.delete(id).await
    }
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        self.inner.exists_by_project(project_id).await
    }
}

struct NoManifests;

#[async_trait]
impl ManifestGenerator for NoManifests {
    async fn generate(&self, _: &ManifestRequest) -> Result<GeneratedManifest, String> {
        Err("not used".into())
    }
}

fn app(calls: &Arc<Calls>) -> App {
    let clock = Arc::new(ManualClock::new(1_771_493_879_123));
    App::new(
        Ports {
            projects: Arc::new(MemoryProjectRepository::default()),
            tasks: Arc::new(CountingTasks {
                inner: MemoryTaskRepository::default(),
                calls: calls.clone(),
            }),
            sessions: Arc::new(CountingSessions {
                inner: MemorySessionRepository::default(),
                calls: calls.clone(),
            }),
            mail: Arc::new(MemoryMailRepository::default()),
            team_members: Arc::new(MemoryTeamMemberRepository::default()),
            orderings: Arc::new(MemoryOrderingRepository::default()),
            modals: Arc::new(MemoryModalStore::default()),
            manifests: Arc::new(NoManifests),
            bus: Arc::new(MemoryEventBus::new(
                clock.clone(),
                1 << 16,
                ReplayConfig::default(),
            )),
            ids: Arc::new(SequentialIdGenerator::new(1_771_493_879_123)),
            clock,
        },
        AppConfig::default(),
    )
}

/// A project with a subtree of `size` tasks under one root (a chain of a third of them,
/// the rest fanned out under the chain's nodes), another root task, and sessions linking
/// every tenth task of the subtree. Returns the root, every subtree id and the sessions.
async fn world(app: &App, size: usize) -> (Task, Vec<String>, Vec<Session>) {
    let p = app
        .projects
        .create(CreateProject {
            name: Some("p".into()),
            ..CreateProject::default()
        })
        .await
        .unwrap();
    let create = |parent: Option<String>, title: String| {
        app.tasks.create(CreateTask {
            project_id: Some(p.id.clone()),
            parent_id: parent,
            title: Some(title),
            ..CreateTask::default()
        })
    };
    let root = create(None, "root".into()).await.unwrap();
    create(None, "other root".into()).await.unwrap();
    let mut ids = vec![root.id.clone()];
    let mut chain = vec![root.id.clone()];
    for i in 1..size {
        let parent = if i < size / 3 {
            chain.last().unwrap().clone()
        } else {
            chain[i % chain.len()].clone()
        };
        let t = create(Some(parent), format!("t{i}")).await.unwrap();
        if i < size / 3 {
            chain.push(t.id.clone());
        }
        ids.push(t.id);
    }
    let mut sessions = Vec::new();
    for group in ids.chunks(10) {
        let s = app
            .sessions
            .create(CreateSession {
                project_id: Some(p.id.clone()),
                task_ids: vec![group[0].clone()],
                ..CreateSession::default()
            })
            .await
            .unwrap();
        sessions.push(s);
    }
    (root, ids, sessions)
}

fn snapshot(calls: &Calls) -> [u64; 6] {
    [
        read(&calls.task_lists),
        read(&calls.task_gets),
        read(&calls.task_deletes),
        read(&calls.session_lists),
        read(&calls.session_gets),
        read(&calls.session_unlinks),
    ]
}

/// The store calls one `delete` of a subtree of `size` tasks makes.
async fn calls_of_delete(size: usize) -> [u64; 6] {
    let calls = Arc::new(Calls::default());
    let app = app(&calls);
    let (root, ids, sessions) = world(&app, size).await;
    let before = snapshot(&calls);
    let deleted = app.tasks.delete(&root.id).await.unwrap();
    let after = snapshot(&calls);
    assert_eq!(deleted.len(), size);
    assert_eq!(deleted.last(), Some(&root.id), "the root goes last");
    let mut sorted = deleted.clone();
    sorted.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(sorted, expected, "exactly the subtree");
    for s in sessions {
        let s = app.sessions.get_raw(&s.id).await.unwrap();
        assert!(s.task_ids.is_empty(), "unlinked: {:?}", s.task_ids);
    }
    std::array::from_fn(|i| after[i] - before[i])
}

#[tokio::test]
async fn subtree_delete_makes_a_constant_number_of_scans() {
    let small = calls_of_delete(30).await;
    let large = calls_of_delete(600).await;
    let [
        task_lists,
        task_gets,
        task_deletes,
        session_lists,
        session_gets,
        unlinks,
    ] = large;
    assert_eq!(
        task_lists, 1,
        "one listing of the project's tasks: {large:?}"
    );
    assert_eq!(session_lists, 1, "one listing of its sessions: {large:?}");
    assert_eq!(task_deletes, 600, "one delete per task");
    assert_eq!(unlinks, 60, "one unlink per linked session");
    assert!(
        task_gets <= 1 && session_gets == 0,
        "no lookups per task: {large:?}"
    );
    // The listings do not grow with the subtree.
    assert_eq!((small[0], small[3]), (task_lists, session_lists));
}

#[tokio::test(flavor = "current_thread")]
async fn the_cascade_lets_other_tasks_run() {
    let calls = Arc::new(Calls::default());
    let app = app(&calls);
    let (root, _, _) = world(&app, 300).await;
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    // Let the ticker start, then count only what it does during the delete.
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::SeqCst);
    let mut sub: EventSubscription = app.bus.subscribe();
    app.tasks.delete(&root.id).await.unwrap();
    let during = ticks.load(Ordering::SeqCst) - before;
    ticker.abort();
    // The cascade deletes 64 tasks at a time and yields after each group.
    assert!(
        during >= 300 / 64,
        "another task on this thread ran {during} times during a 300-task cascade"
    );
    let mut deleted = 0;
    while let Some(e) = sub.try_recv() {
        deleted += usize::from(e.name == "task:deleted");
    }
    assert_eq!(deleted, 300);
}
