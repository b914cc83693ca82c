//! Helpers shared by the filesystem store's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use maestro_domain::entities::{
    MailMessage, Ordering, Project, Session, SessionFilter, Task, TaskFilter, TeamMember,
};
use maestro_domain::ports::{ProjectRepository, SessionRepository, TaskRepository};
use maestro_fs_store::FsStore;
use serde_json::{Map, Value};

/// Everything a store holds, in a comparable form.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub projects: Vec<Project>,
    pub tasks: Vec<Task>,
    pub sessions: Vec<Session>,
    pub mail: Vec<MailMessage>,
    pub members: Vec<TeamMember>,
    pub overrides: Vec<(String, String, Map<String, Value>)>,
    pub orderings: Vec<Ordering>,
}

/// The store's state. A task's absent `taskSessionStatuses` is normalised to `{}`, which is
/// what a load yields (ref §1.2).
pub async fn snapshot(store: &FsStore) -> Snapshot {
    let mut tasks = store.tasks.list(&TaskFilter::default()).await.unwrap();
    for t in &mut tasks {
        t.task_session_statuses.get_or_insert_with(Default::default);
    }
    Snapshot {
        projects: store.projects.list().await.unwrap(),
        tasks,
        sessions: store
            .sessions
            .list(&SessionFilter::default())
            .await
            .unwrap(),
        mail: store.mail.all(),
        members: store.team_members.all_custom(),
        overrides: store.team_members.all_overrides(),
        orderings: store.orderings.all(),
    }
}

/// Copies the directory tree `from` into `to` (created), files byte for byte.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
