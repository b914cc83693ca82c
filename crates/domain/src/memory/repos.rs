//! In-memory repositories: used by service tests and as the reference behaviour of the
//! repository contract suites.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::entities::{
    DocEntry, GLOBAL_MEMBERS, MailFilter, MailMessage, Ordering, OrderingEntityType, Project,
    ProjectPatch, Session, SessionEvent, SessionFilter, SessionPatch, Task, TaskFilter, TaskPatch,
    TaskSessionStatus, TeamMember, TimelineEvent,
};
use crate::error::{DomainError, DomainResult};
use crate::ports::{
    MailRepository, ModalStore, OrderingRepository, ProjectRepository, SessionRepository,
    TaskRepository, TeamMemberRepository,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sorted<T: Clone>(items: impl Iterator<Item = T>, key: impl Fn(&T) -> (i64, String)) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_by_cached_key(|t| key(t));
    v
}

/// In-memory [`ProjectRepository`].
#[derive(Default)]
pub struct MemoryProjectRepository(Mutex<HashMap<String, Project>>);

#[async_trait]
impl ProjectRepository for MemoryProjectRepository {
    async fn insert(&self, project: Project) -> DomainResult<Project> {
        let mut m = lock(&self.0);
        if m.contains_key(&project.id) {
            return Err(DomainError::Conflict(format!(
                "Project {} exists",
                project.id
            )));
        }
        m.insert(project.id.clone(), project.clone());
        Ok(project)
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Project>> {
        Ok(lock(&self.0).get(id).cloned())
    }
    async fn list(&self) -> DomainResult<Vec<Project>> {
        Ok(sorted(lock(&self.0).values().cloned(), |p| {
            (p.created_at, p.id.clone())
        }))
    }
    async fn update(&self, id: &str, patch: &ProjectPatch, now: i64) -> DomainResult<Project> {
        let mut m = lock(&self.0);
        let p = m
            .get_mut(id)
            .ok_or_else(|| DomainError::not_found("Project", id))?;
        p.apply(patch, now);
        Ok(p.clone())
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        lock(&self.0)
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| DomainError::not_found("Project", id))
    }
}

/// In-memory [`TaskRepository`].
#[derive(Default)]
pub struct MemoryTaskRepository(Mutex<HashMap<String, Task>>);

impl MemoryTaskRepository {
    fn with<R>(&self, id: &str, f: impl FnOnce(&mut Task) -> R) -> DomainResult<R> {
        let mut m = lock(&self.0);
        let t = m
            .get_mut(id)
            .ok_or_else(|| DomainError::not_found("Task", id))?;
        Ok(f(t))
    }
}

#[async_trait]
impl TaskRepository for MemoryTaskRepository {
    async fn insert(&self, task: Task) -> DomainResult<Task> {
        let mut m = lock(&self.0);
        if m.contains_key(&task.id) {
            return Err(DomainError::Conflict(format!("Task {} exists", task.id)));
        }
        m.insert(task.id.clone(), task.clone());
        Ok(task)
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Task>> {
        Ok(lock(&self.0).get(id).cloned())
    }
    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        Ok(sorted(
            lock(&self.0)
                .values()
                .filter(|t| filter.matches(t))
                .cloned(),
            |t| (t.created_at, t.id.clone()),
        ))
    }
    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
        self.with(id, |t| {
            t.apply(patch, now);
            t.clone()
        })
    }
    async fn set_session_status(
        &self,
        id: &str,
        session_id: &str,
        status: TaskSessionStatus,
        now: i64,
    ) -> DomainResult<Task> {
        self.with(id, |t| {
            t.set_session_status(session_id, status, now);
            t.clone()
        })
    }
    async fn add_session(
        &self,
        id: &str,
        session_id: &str,
        now: i64,
    ) -> DomainResult<(Task, bool)> {
        self.with(id, |t| {
            let added = t.add_session(session_id, now);
            (t.clone(), added)
        })
    }
    async fn remove_session(
        &self,
        id: &str,
        session_id: &str,
        drop_status: bool,
        now: i64,
    ) -> DomainResult<Task> {
        self.with(id, |t| {
            t.remove_session(session_id, drop_status, now);
            t.clone()
        })
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        lock(&self.0)
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| DomainError::not_found("Task", id))
    }
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(lock(&self.0).values().any(|t| t.project_id == project_id))
    }
}

/// In-memory [`SessionRepository`].
#[derive(Default)]
pub struct MemorySessionRepository(Mutex<HashMap<String, Session>>);

impl MemorySessionRepository {
    fn with<R>(&self, id: &str, f: impl FnOnce(&mut Session) -> R) -> DomainResult<R> {
        let mut m = lock(&self.0);
        let s = m
            .get_mut(id)
            .ok_or_else(|| DomainError::not_found("Session", id))?;
        Ok(f(s))
    }
}

#[async_trait]
impl SessionRepository for MemorySessionRepository {
    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        lock(&self.0).insert(session.id.clone(), session.clone());
        Ok(session)
    }
    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        Ok(lock(&self.0).get(id).cloned())
    }
    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        Ok(sorted(
            lock(&self.0)
                .values()
                .filter(|s| filter.matches(s))
                .cloned(),
            |s| (s.started_at, s.id.clone()),
        ))
    }
    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        self.with(id, |s| {
            s.apply(patch, now);
            s.clone()
        })
    }
    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        self.with(id, |s| {
            let added = s.add_task(task_id, now);
            (s.clone(), added)
        })
    }
    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        self.with(id, |s| {
            s.remove_task(task_id, now);
            s.clone()
        })
    }
    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        self.with(id, |s| {
            s.push_event(event, now);
            s.clone()
        })
    }
    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        self.with(id, |s| {
            s.push_timeline(event, now);
            s.clone()
        })
    }
    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        self.with(id, |s| {
            s.push_doc(doc, now);
            s.clone()
        })
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        lock(&self.0)
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| DomainError::not_found("Session", id))
    }
    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        Ok(lock(&self.0).values().any(|s| s.project_id == project_id))
    }
}

/// In-memory [`MailRepository`].
#[derive(Default)]
pub struct MemoryMailRepository(Mutex<HashMap<String, MailMessage>>);

#[async_trait]
impl MailRepository for MemoryMailRepository {
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        lock(&self.0).insert(mail.id.clone(), mail.clone());
        Ok(mail)
    }
    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>> {
        Ok(lock(&self.0).get(id).cloned())
    }
    async fn delete(&self, id: &str) -> DomainResult<()> {
        lock(&self.0)
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| DomainError::not_found("Mail", id))
    }
    async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>> {
        Ok(lock(&self.0)
            .values()
            .filter(|m| m.is_for(session_id, project_id) && filter.matches(m))
            .cloned()
            .collect())
    }
    async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>> {
        Ok(sorted(
            lock(&self.0)
                .values()
                .filter(|m| m.thread_id == thread_id)
                .cloned(),
            |m| (m.created_at, m.id.clone()),
        ))
    }
    async fn unread_direct(&self, session_id: &str) -> DomainResult<Vec<MailMessage>> {
        Ok(sorted(
            lock(&self.0)
                .values()
                .filter(|m| m.to_session_id.as_deref() == Some(session_id) && m.read_at.is_none())
                .cloned(),
            |m| (m.created_at, m.id.clone()),
        ))
    }
    async fn mark_read(&self, ids: &[String], at: i64) -> DomainResult<Vec<MailMessage>> {
        let mut m = lock(&self.0);
        let mut out = Vec::new();
        for id in ids {
            if let Some(mail) = m.get_mut(id)
                && mail.read_at.is_none()
            {
                mail.read_at = Some(at);
                out.push(mail.clone());
            }
        }
        Ok(out)
    }
}

type Overrides = HashMap<(String, String), Map<String, Value>>;

/// In-memory [`TeamMemberRepository`].
#[derive(Default)]
pub struct MemoryTeamMemberRepository {
    custom: Mutex<HashMap<(String, String), TeamMember>>,
    overrides: Mutex<Overrides>,
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl TeamMemberRepository for MemoryTeamMemberRepository {
    async fn list_custom(&self, home: &str) -> DomainResult<Vec<TeamMember>> {
        let mut v: Vec<TeamMember> = lock(&self.custom)
            .iter()
            .filter(|((h, _), _)| h == home)
            .map(|(_, m)| m.clone())
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(v)
    }
    async fn get_custom(&self, home: &str, id: &str) -> DomainResult<Option<TeamMember>> {
        Ok(lock(&self.custom).get(&key(home, id)).cloned())
    }
    async fn find_custom(&self, id: &str) -> DomainResult<Option<TeamMember>> {
        let custom = lock(&self.custom);
        if let Some(m) = custom.get(&key(GLOBAL_MEMBERS, id)) {
            return Ok(Some(m.clone()));
        }
        let mut found: Vec<&(String, String)> = custom.keys().filter(|(_, i)| i == id).collect();
        found.sort();
        Ok(found.first().and_then(|k| custom.get(*k)).cloned())
    }
    async fn put_custom(&self, member: TeamMember) -> DomainResult<TeamMember> {
        let mut custom = lock(&self.custom);
        let home = member.home().to_owned();
        // A scope change moves the member between its project and the global home.
        for other in [member.project_id.as_str(), GLOBAL_MEMBERS] {
            if other != home {
                custom.remove(&key(other, &member.id));
            }
        }
        custom.insert(key(&home, &member.id), member.clone());
        Ok(member)
    }
    async fn delete_custom(&self, home: &str, id: &str) -> DomainResult<()> {
        lock(&self.custom)
            .remove(&key(home, id))
            .map(|_| ())
            .ok_or_else(|| DomainError::not_found("TeamMember", id))
    }
    async fn get_override(
        &self,
        project_id: &str,
        default_id: &str,
    ) -> DomainResult<Option<Map<String, Value>>> {
        Ok(lock(&self.overrides)
            .get(&key(project_id, default_id))
            .cloned())
    }
    async fn put_override(
        &self,
        project_id: &str,
        default_id: &str,
        value: Map<String, Value>,
    ) -> DomainResult<()> {
        lock(&self.overrides).insert(key(project_id, default_id), value);
        Ok(())
    }
    async fn delete_override(&self, project_id: &str, default_id: &str) -> DomainResult<()> {
        lock(&self.overrides).remove(&key(project_id, default_id));
        Ok(())
    }
}

/// In-memory [`OrderingRepository`].
#[derive(Default)]
pub struct MemoryOrderingRepository(Mutex<HashMap<(String, OrderingEntityType), Ordering>>);

#[async_trait]
impl OrderingRepository for MemoryOrderingRepository {
    async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Option<Ordering>> {
        Ok(lock(&self.0)
            .get(&(project_id.to_owned(), entity_type))
            .cloned())
    }
    async fn save(&self, ordering: Ordering) -> DomainResult<Ordering> {
        lock(&self.0).insert(
            (ordering.project_id.clone(), ordering.entity_type),
            ordering.clone(),
        );
        Ok(ordering)
    }
    async fn delete_by_project(&self, project_id: &str) -> DomainResult<()> {
        lock(&self.0).retain(|(p, _), _| p != project_id);
        Ok(())
    }
}

/// In-memory [`ModalStore`]: keeps the HTML and returns `memory://modals/<id>.html`.
#[derive(Default)]
pub struct MemoryModalStore(Mutex<HashMap<String, String>>);

impl MemoryModalStore {
    /// The stored HTML of a modal.
    pub fn html(&self, modal_id: &str) -> Option<String> {
        lock(&self.0).get(modal_id).cloned()
    }
}

#[async_trait]
impl ModalStore for MemoryModalStore {
    async fn save(&self, modal_id: &str, html: &str) -> DomainResult<String> {
        lock(&self.0).insert(modal_id.to_owned(), html.to_owned());
        Ok(format!("memory://modals/{modal_id}.html"))
    }
}
