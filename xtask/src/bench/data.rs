//! Generated data directories in the reference layout (`projects/<id>.json`,
//! `tasks/<projectId>/<taskId>.json`, `sessions/<id>.json`, pretty JSON), written directly as
//! files so that a 20,000-task directory takes about a second to build.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

/// Base of the generated millisecond timestamps (early 2024, like the reference fixtures).
const BASE_MS: i64 = 1_706_789_123_456;

/// How many tasks each generated session is linked to.
const TASKS_PER_SESSION: usize = 2;

/// What was generated: the ids the workloads address.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Every project id, in generation order.
    pub project_ids: Vec<String>,
    /// The task ids of the first project (the one the workloads use).
    pub task_ids: Vec<String>,
    /// Every session id.
    pub session_ids: Vec<String>,
    /// Total bytes written.
    pub bytes: u64,
    /// Total files written.
    pub files: usize,
}

/// The shape of a data directory to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Number of projects.
    pub projects: usize,
    /// Tasks in each project.
    pub tasks_per_project: usize,
    /// Sessions, all in the first project, each linked to [`TASKS_PER_SESSION`] tasks.
    pub sessions: usize,
}

/// A reference-style id: `<prefix>_<13-digit ms>_<9 base-36 chars>`.
fn id(prefix: &str, n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut suffix = [b'0'; 9];
    // A cheap bijective scramble so suffixes do not look sequential.
    let mut v = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    for slot in suffix.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    let ms = BASE_MS + n as i64 * 37;
    format!("{prefix}_{ms}_{}", String::from_utf8_lossy(&suffix))
}

const VERBS: &[&str] = &[
    "Implement",
    "Refactor",
    "Document",
    "Test",
    "Fix",
    "Review",
    "Profile",
    "Migrate",
];
const THINGS: &[&str] = &[
    "timeline writer",
    "task ordering",
    "mail wait",
    "WS filter",
    "team defaults",
    "config loader",
    "manifests",
    "project delete",
];
const STATUSES: &[&str] = &[
    "todo",
    "todo",
    "in_progress",
    "completed",
    "in_review",
    "blocked",
];
const PRIORITIES: &[&str] = &["low", "medium", "medium", "high"];

/// One task file, about 400 bytes on average once the server serializes it compactly
/// (the list of 2,000 is about 800 KB).
fn task(
    project_id: &str,
    task_id: &str,
    i: usize,
    parent: Option<&str>,
    session: Option<&str>,
) -> Value {
    let created = BASE_MS + 1_000_000 + i as i64 * 1_000;
    let status = STATUSES[i % STATUSES.len()];
    let started = (status != "todo").then_some(created + 60_000);
    let completed = (status == "completed").then_some(created + 3_600_000);
    let mut t = json!({
        "id": task_id,
        "projectId": project_id,
        "parentId": parent,
        "title": format!("{} {} #{i}", VERBS[i % VERBS.len()], THINGS[(i / 8) % THINGS.len()]),
        "description": if i.is_multiple_of(6) {
            "Keep the reference behaviour; add tests."
        } else {
            ""
        },
        "status": status,
        "priority": PRIORITIES[i % PRIORITIES.len()],
        "createdAt": created,
        "updatedAt": created + 120_000,
        "startedAt": started,
        "completedAt": completed,
        "initialPrompt": "",
        "sessionIds": [],
        "skillIds": [],
        "agentIds": [],
        "dependencies": [],
    });
    if let Some(s) = session {
        t["sessionIds"] = json!([s]);
        t["taskSessionStatuses"] = json!({ s: "working" });
    }
    t
}

/// One session file with a few timeline entries.
fn session(project_id: &str, session_id: &str, n: usize, task_ids: &[&str]) -> Value {
    let started = BASE_MS + 2_000_000 + n as i64 * 10_000;
    let timeline: Vec<Value> = (0..4)
        .map(|k| {
            let mut e = json!({
                "id": id("evt", n * 10 + k),
                "type": if k == 0 { "session_started" } else { "progress" },
                "timestamp": started + k as i64 * 1_000,
                "message": if k == 0 { "Session created".to_owned() } else { format!("Step {k} done") },
            });
            if k > 0 {
                e["taskId"] = json!(task_ids[0]);
            }
            e
        })
        .collect();
    json!({
        "id": session_id,
        "projectId": project_id,
        "taskIds": task_ids,
        "name": format!("Execute for {}", task_ids[0]),
        "env": {
            "MAESTRO_PROJECT_ID": project_id,
            "MAESTRO_SESSION_ID": session_id,
        },
        "status": "working",
        "startedAt": started,
        "lastActivity": started + 3_000,
        "completedAt": null,
        "hostname": "benchbox",
        "platform": "linux",
        "events": [],
        "timeline": timeline,
        "docs": [],
        "metadata": {
            "skills": [],
            "spawnedBy": null,
            "spawnSource": "ui",
            "mode": "execute",
            "agentTool": "claude-code",
            "model": "sonnet"
        },
    })
}

fn write(path: &Path, v: &Value, ds: &mut Dataset) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    ds.bytes += text.len() as u64;
    ds.files += 1;
    Ok(())
}

/// Writes a data directory of the given shape into `dir` (which must exist and be empty).
pub fn generate(dir: &Path, shape: Shape) -> anyhow::Result<Dataset> {
    let mut ds = Dataset {
        project_ids: Vec::with_capacity(shape.projects),
        task_ids: Vec::with_capacity(shape.tasks_per_project),
        session_ids: Vec::with_capacity(shape.sessions),
        bytes: 0,
        files: 0,
    };
    let projects_dir = dir.join("projects");
    let sessions_dir = dir.join("sessions");
    std::fs::create_dir_all(&projects_dir)?;
    std::fs::create_dir_all(&sessions_dir)?;
    let linked = shape.sessions * TASKS_PER_SESSION;
    anyhow::ensure!(
        linked <= shape.tasks_per_project,
        "{} sessions need {linked} tasks in the first project",
        shape.sessions
    );
    let session_ids: Vec<String> = (0..shape.sessions).map(|n| id("sess", n)).collect();
    for p in 0..shape.projects {
        let project_id = id("proj", p);
        let project = json!({
            "id": project_id,
            "name": format!("Benchmark project {p}"),
            "workingDir": format!("/home/dev/bench-{p}"),
            "description": "Generated by cargo xtask bench",
            "createdAt": BASE_MS + p as i64,
            "updatedAt": BASE_MS + p as i64,
        });
        write(
            &projects_dir.join(format!("{project_id}.json")),
            &project,
            &mut ds,
        )?;
        let tasks_dir = dir.join("tasks").join(&project_id);
        std::fs::create_dir_all(&tasks_dir)?;
        let ids: Vec<String> = (0..shape.tasks_per_project)
            .map(|i| id("task", p * 1_000_000 + i))
            .collect();
        for (i, task_id) in ids.iter().enumerate() {
            // One task in eight is a child of the root just before it.
            let parent = (i % 8 == 7).then(|| ids[i - 7].as_str());
            let session =
                (p == 0 && i < linked).then(|| session_ids[i / TASKS_PER_SESSION].as_str());
            let t = task(&project_id, task_id, i, parent, session);
            write(&tasks_dir.join(format!("{task_id}.json")), &t, &mut ds)?;
        }
        if p == 0 {
            for (n, sid) in session_ids.iter().enumerate() {
                let linked: Vec<&str> = ids[n * TASKS_PER_SESSION..(n + 1) * TASKS_PER_SESSION]
                    .iter()
                    .map(String::as_str)
                    .collect();
                let s = session(&project_id, sid, n, &linked);
                write(&sessions_dir.join(format!("{sid}.json")), &s, &mut ds)?;
            }
            ds.task_ids = ids;
        }
        ds.project_ids.push(project_id);
    }
    ds.session_ids = session_ids;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reference_shaped_and_distinct() {
        let a = id("task", 1);
        let b = id("task", 2);
        assert_ne!(a, b);
        assert!(a.starts_with("task_17067"));
        assert_eq!(a.len(), "task_1706789123456_abc123def".len());
    }

    #[test]
    fn generates_linked_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = generate(
            dir.path(),
            Shape {
                projects: 2,
                tasks_per_project: 10,
                sessions: 3,
            },
        )
        .expect("generate");
        assert_eq!(ds.task_ids.len(), 10);
        assert_eq!(ds.files, 2 + 20 + 3);
        let t: Value = serde_json::from_str(
            &std::fs::read_to_string(
                dir.path()
                    .join("tasks")
                    .join(&ds.project_ids[0])
                    .join(format!("{}.json", ds.task_ids[0])),
            )
            .expect("read"),
        )
        .expect("json");
        assert_eq!(t["sessionIds"][0], json!(ds.session_ids[0]));
    }
}
