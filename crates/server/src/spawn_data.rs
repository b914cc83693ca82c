//! Spawn with a store other than the filesystem (spec §2 "Spawn failure", ref §3.3.6 step
//! 11): the CLI's `manifest generate` reads the project, task and team-member JSON files from
//! `DATA_DIR`, so before each run the server writes the records the request needs into a
//! per-spawn directory in the reference layout (ref §6.2):
//!
//! ```text
//! projects/<projectId>.json
//! tasks/<projectId>/<taskId>.json                      requested + referenced tasks, their parents
//! team-members/<projectId>/<id>.json                   involved custom members (global ones too)
//! team-members/<projectId>/<defaultId>.override.json   overrides of involved default members
//! ```
//!
//! Files are written like the filesystem store writes them (`JSON.stringify(x, null, 2)`).
//! Records that do not exist are skipped: the CLI then reports them missing, as it would
//! against the filesystem store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use maestro_domain::DomainError;
use maestro_domain::entities::{GLOBAL_MEMBERS, Task};
use maestro_domain::ports::{
    ManifestRequest, ProjectRepository, TaskRepository, TeamMemberRepository,
};
use serde::Serialize;

/// Parent links followed from each task at most (guards against corrupt cycles).
const MAX_PARENT_DEPTH: usize = 64;

/// The repositories the CLI's files are read from.
#[derive(Clone)]
pub struct SpawnDataPorts {
    /// Projects.
    pub projects: Arc<dyn ProjectRepository>,
    /// Tasks.
    pub tasks: Arc<dyn TaskRepository>,
    /// Team members (custom members and default-member overrides).
    pub team_members: Arc<dyn TeamMemberRepository>,
}

/// Why the spawn directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MaterialiseError {
    /// The store could not be read.
    #[error("reading {what} {id} from the store: {source}")]
    Store {
        /// `project`, `task`, `team member`.
        what: &'static str,
        /// The id.
        id: String,
        /// The repository error.
        #[source]
        source: Box<DomainError>,
    },
    /// An id that cannot be a file name.
    #[error("{what} id {id:?} cannot be used as a file name")]
    UnsafeId {
        /// `project`, `task`, `team member`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A file could not be written.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("encoding {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// What [`materialise`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Materialised {
    /// Whether the project file was written.
    pub project: bool,
    /// Task ids written, in the order they were visited.
    pub tasks: Vec<String>,
    /// Custom team members written.
    pub team_members: Vec<String>,
    /// Default members whose override was written.
    pub overrides: Vec<String>,
}

fn store_err(what: &'static str, id: &str) -> impl FnOnce(DomainError) -> MaterialiseError {
    let id = id.to_owned();
    move |source| MaterialiseError::Store {
        what,
        id,
        source: Box::new(source),
    }
}

/// A path segment: non-empty, no separators, no `..`, no NUL (like the filesystem store).
fn safe_id(what: &'static str, id: &str) -> Result<(), MaterialiseError> {
    if id.is_empty() || id.contains(['/', '\\', '\0']) || id.contains("..") {
        return Err(MaterialiseError::UnsafeId {
            what,
            id: id.to_owned(),
        });
    }
    Ok(())
}

async fn write_json(path: PathBuf, value: &impl Serialize) -> Result<(), MaterialiseError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| MaterialiseError::Json {
        path: path.clone(),
        source,
    })?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|source| MaterialiseError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    tokio::fs::write(&path, bytes)
        .await
        .map_err(|source| MaterialiseError::Io { path, source })
}

/// Writes into `dir` (which should be empty) every record the CLI reads for `req`: the
/// project; the requested and referenced tasks and their ancestors; the custom members and
/// default-member overrides named by the request or assigned to the requested tasks.
///
/// # Errors
/// [`MaterialiseError`] when the store cannot be read or a file cannot be written.
pub async fn materialise(
    ports: &SpawnDataPorts,
    req: &ManifestRequest,
    dir: &Path,
) -> Result<Materialised, MaterialiseError> {
    let mut done = Materialised::default();
    // The CLI lists these directories, so they exist even when empty.
    for sub in ["projects", "tasks", "team-members"] {
        let path = dir.join(sub);
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|source| MaterialiseError::Io { path, source })?;
    }

    safe_id("project", &req.project_id)?;
    let project = ports
        .projects
        .get(&req.project_id)
        .await
        .map_err(store_err("project", &req.project_id))?;
    if let Some(project) = project {
        write_json(
            dir.join("projects").join(format!("{}.json", project.id)),
            &project,
        )
        .await?;
        done.project = true;
    }

    // Requested tasks first (their members matter), then referenced ones; each followed by
    // its ancestors.
    let mut seen: HashSet<String> = HashSet::new();
    let mut member_ids: Vec<String> = req.team_member_ids.clone();
    member_ids.extend(req.team_member_id.iter().cloned());
    let requested: HashSet<&str> = req.task_ids.iter().map(String::as_str).collect();
    for start in req.task_ids.iter().chain(&req.reference_task_ids) {
        let mut next = Some(start.clone());
        let mut depth = 0;
        while let Some(id) = next.take() {
            if depth > MAX_PARENT_DEPTH || !seen.insert(id.clone()) {
                break;
            }
            depth += 1;
            let Some(task) = ports.tasks.get(&id).await.map_err(store_err("task", &id))? else {
                break;
            };
            write_task(dir, &task).await?;
            if requested.contains(task.id.as_str()) {
                member_ids.extend(task.team_member_id.iter().cloned());
                member_ids.extend(task.team_member_ids.iter().flatten().cloned());
            }
            done.tasks.push(task.id);
            next = task.parent_id;
        }
    }

    let mut seen_members: HashSet<String> = HashSet::new();
    for id in member_ids {
        if !seen_members.insert(id.clone()) {
            continue;
        }
        safe_id("team member", &id)?;
        let members = dir.join("team-members").join(&req.project_id);
        let mut custom = ports
            .team_members
            .get_custom(&req.project_id, &id)
            .await
            .map_err(store_err("team member", &id))?;
        if custom.is_none() {
            // A global member (newer reference) is offered in every project: the CLI finds
            // it in the project's directory.
            custom = ports
                .team_members
                .get_custom(GLOBAL_MEMBERS, &id)
                .await
                .map_err(store_err("team member", &id))?;
        }
        if let Some(member) = custom {
            write_json(members.join(format!("{id}.json")), &member).await?;
            done.team_members.push(id.clone());
        }
        let overrides = ports
            .team_members
            .get_override(&req.project_id, &id)
            .await
            .map_err(store_err("team member", &id))?;
        if let Some(value) = overrides {
            write_json(members.join(format!("{id}.override.json")), &value).await?;
            done.overrides.push(id);
        }
    }
    Ok(done)
}

async fn write_task(dir: &Path, task: &Task) -> Result<(), MaterialiseError> {
    safe_id("project", &task.project_id)?;
    safe_id("task", &task.id)?;
    write_json(
        dir.join("tasks")
            .join(&task.project_id)
            .join(format!("{}.json", task.id)),
        task,
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use maestro_domain::entities::{Project, TeamMember};
    use maestro_domain::memory::{
        MemoryProjectRepository, MemoryTaskRepository, MemoryTeamMemberRepository,
    };
    use serde_json::{Value, json};

    fn project(id: &str) -> Project {
        serde_json::from_value(json!({
            "id": id, "name": "demo", "workingDir": "/w", "description": "",
            "createdAt": 1, "updatedAt": 2, "custom": {"kept": true}
        }))
        .unwrap()
    }

    fn task(id: &str, parent: Option<&str>, extra: Value) -> Task {
        let mut v = json!({
            "id": id, "projectId": "proj_1", "parentId": parent, "title": id,
            "description": "", "status": "todo", "priority": "medium",
            "createdAt": 10, "updatedAt": 10, "sessionIds": [], "skillIds": [], "agentIds": [],
            "dependencies": [], "initialPrompt": ""
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    fn member(id: &str) -> TeamMember {
        serde_json::from_value(json!({
            "id": id, "projectId": "proj_1", "name": "Ada", "role": "dev", "identity": "",
            "avatar": "A", "isDefault": false, "status": "active",
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"
        }))
        .unwrap()
    }

    fn request(tasks: &[&str], refs: &[&str]) -> ManifestRequest {
        ManifestRequest {
            session_id: "sess_1".into(),
            mode: maestro_domain::entities::AgentMode::Execute,
            project_id: "proj_1".into(),
            task_ids: tasks.iter().map(|s| (*s).to_owned()).collect(),
            skills: vec![],
            model: None,
            agent_tool: None,
            launch_config: None,
            reference_task_ids: refs.iter().map(|s| (*s).to_owned()).collect(),
            team_member_ids: vec![],
            team_member_id: None,
            team_id: None,
            initial_directive: None,
            coordinator_session_id: None,
            permission_mode: None,
            delegate_permission_mode: None,
            member_overrides: None,
        }
    }

    async fn ports() -> SpawnDataPorts {
        let projects = Arc::new(MemoryProjectRepository::default());
        projects.insert(project("proj_1")).await.unwrap();
        let tasks = Arc::new(MemoryTaskRepository::default());
        tasks
            .insert(task("task_root", None, json!({})))
            .await
            .unwrap();
        tasks
            .insert(task(
                "task_mid",
                Some("task_root"),
                json!({"teamMemberIds": ["tm_custom", "tm_proj_1_coordinator"]}),
            ))
            .await
            .unwrap();
        tasks
            .insert(task(
                "task_leaf",
                Some("task_mid"),
                json!({"estimate": {"points": 3}}),
            ))
            .await
            .unwrap();
        tasks
            .insert(task("task_ref", None, json!({})))
            .await
            .unwrap();
        tasks
            .insert(task("task_other", None, json!({})))
            .await
            .unwrap();
        let members = Arc::new(MemoryTeamMemberRepository::default());
        members.put_custom(member("tm_custom")).await.unwrap();
        members.put_custom(member("tm_unrelated")).await.unwrap();
        let mut o = serde_json::Map::new();
        o.insert("name".into(), json!("Chief"));
        members
            .put_override("proj_1", "tm_proj_1_coordinator", o)
            .await
            .unwrap();
        SpawnDataPorts {
            projects,
            tasks,
            team_members: members,
        }
    }

    fn read(p: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(dir).unwrap().to_owned();
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn writes_project_tasks_ancestors_references_and_members_in_the_reference_layout() {
        let ports = ports().await;
        let dir = tempfile::tempdir().unwrap();
        let done = materialise(&ports, &request(&["task_leaf"], &["task_ref"]), dir.path())
            .await
            .unwrap();
        assert!(done.project);
        assert_eq!(
            done.tasks,
            ["task_leaf", "task_mid", "task_root", "task_ref"]
        );
        assert_eq!(
            files(dir.path()),
            [
                "projects/proj_1.json",
                "tasks/proj_1/task_leaf.json",
                "tasks/proj_1/task_mid.json",
                "tasks/proj_1/task_ref.json",
                "tasks/proj_1/task_root.json",
            ]
        );
        // Same JSON as the entity (unknown keys included), pretty-printed like the TS server.
        let text = std::fs::read_to_string(dir.path().join("tasks/proj_1/task_leaf.json")).unwrap();
        assert!(text.starts_with("{\n  \"id\": \"task_leaf\""), "{text}");
        let leaf = read(&dir.path().join("tasks/proj_1/task_leaf.json"));
        assert_eq!(
            leaf,
            serde_json::to_value(ports.tasks.get("task_leaf").await.unwrap().unwrap()).unwrap()
        );
        assert_eq!(leaf["estimate"], json!({"points": 3}));
        let p = read(&dir.path().join("projects/proj_1.json"));
        assert_eq!(p["custom"], json!({"kept": true}));
    }

    #[tokio::test]
    async fn members_of_the_request_and_of_the_requested_tasks() {
        let ports = ports().await;
        let dir = tempfile::tempdir().unwrap();
        // task_mid's members come from the task; tm_unrelated is not involved.
        let done = materialise(&ports, &request(&["task_mid"], &[]), dir.path())
            .await
            .unwrap();
        assert_eq!(done.team_members, ["tm_custom"]);
        assert_eq!(done.overrides, ["tm_proj_1_coordinator"]);
        let custom = read(&dir.path().join("team-members/proj_1/tm_custom.json"));
        assert_eq!(custom, serde_json::to_value(member("tm_custom")).unwrap());
        let o = read(
            &dir.path()
                .join("team-members/proj_1/tm_proj_1_coordinator.override.json"),
        );
        assert_eq!(o, json!({"name": "Chief"}));

        // Explicit ids in the request, a default without override, an unknown id.
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(&["task_other"], &[]);
        req.team_member_ids = vec!["tm_unrelated".into(), "tm_proj_1_simple_worker".into()];
        req.team_member_id = Some("tm_missing".into());
        let done = materialise(&ports, &req, dir.path()).await.unwrap();
        assert_eq!(done.team_members, ["tm_unrelated"]);
        assert!(done.overrides.is_empty());

        // A global member created in another project is written to the spawn's project.
        let mut global = member("tm_global");
        global.project_id = "proj_other".into();
        global.extra.insert("scope".into(), json!("global"));
        ports.team_members.put_custom(global.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(&["task_other"], &[]);
        req.team_member_id = Some("tm_global".into());
        let done = materialise(&ports, &req, dir.path()).await.unwrap();
        assert_eq!(done.team_members, ["tm_global"]);
        let written = read(&dir.path().join("team-members/proj_1/tm_global.json"));
        assert_eq!(written, serde_json::to_value(&global).unwrap());
    }

    #[tokio::test]
    async fn missing_records_are_skipped_and_unsafe_ids_refused() {
        let ports = ports().await;
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(&["task_gone"], &["task_ref"]);
        req.project_id = "proj_gone".into();
        let done = materialise(&ports, &req, dir.path()).await.unwrap();
        assert!(!done.project);
        assert_eq!(done.tasks, ["task_ref"]);
        assert!(dir.path().join("tasks").is_dir());
        assert!(dir.path().join("projects").is_dir());

        let mut req = request(&["task_ref"], &[]);
        req.team_member_id = Some("../../etc".into());
        let err = materialise(&ports, &req, tempfile::tempdir().unwrap().path())
            .await
            .expect_err("unsafe");
        assert!(matches!(err, MaterialiseError::UnsafeId { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_parent_cycle_ends() {
        let tasks = Arc::new(MemoryTaskRepository::default());
        tasks.insert(task("a", Some("b"), json!({}))).await.unwrap();
        tasks.insert(task("b", Some("a"), json!({}))).await.unwrap();
        let mut ports = ports().await;
        ports.tasks = tasks;
        let dir = tempfile::tempdir().unwrap();
        let done = materialise(&ports, &request(&["a"], &[]), dir.path())
            .await
            .unwrap();
        assert_eq!(done.tasks, ["a", "b"]);
    }
}
