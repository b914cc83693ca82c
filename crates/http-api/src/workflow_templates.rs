//! Built-in workflow templates (ref §1.12 `WorkflowTemplate`, ref §4.8).
//!
//! A workflow template is a named list of phases; each phase tells an agent what to do and
//! which `maestro` CLI commands to run while doing it. The set is static: five built-ins, two
//! for `execute` mode and three for `coordinate` mode. Ids, names, modes and phase names match
//! the reference exactly (clients and team members store template ids); the descriptions and
//! instructions are our own prose.
//!
//! This module knows no HTTP: the router serves [`all`], [`by_mode`] and [`get`] as JSON and
//! maps a `None` from [`get`] to its 404.

use std::sync::LazyLock;

use maestro_domain::entities::AgentMode;
use serde::{Deserialize, Serialize};

/// One step of a workflow: a short name and the instruction the agent follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowPhase {
    /// Phase name, e.g. `analyze`, `execute_wave`.
    pub name: String,
    /// What the agent does in this phase, including the `maestro` commands to run.
    pub instruction: String,
}

/// A workflow template as served by `GET /api/workflow-templates` (ref §1.12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTemplate {
    /// Stable id, e.g. `execute-simple`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-paragraph summary of when to use the template.
    pub description: String,
    /// Agent mode the template is written for.
    pub mode: AgentMode,
    /// Phases, in the order the agent goes through them.
    pub phases: Vec<WorkflowPhase>,
    /// Always `true` for the templates of this module (`builtIn` on the wire).
    pub built_in: bool,
}

/// Builds a template from static text.
fn template(
    id: &str,
    name: &str,
    description: &str,
    mode: AgentMode,
    phases: &[(&str, &str)],
) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        mode,
        phases: phases
            .iter()
            .map(|(name, instruction)| WorkflowPhase {
                name: (*name).to_owned(),
                instruction: (*instruction).to_owned(),
            })
            .collect(),
        built_in: true,
    }
}

/// The five built-in templates, in the order they are listed.
static BUILT_INS: LazyLock<Vec<WorkflowTemplate>> = LazyLock::new(|| {
    vec![
        template(
            "execute-simple",
            "Execute Simple",
            "Work straight through the assigned tasks: do the work, keep the task updated with \
             progress reports through the maestro CLI, and close each task with a summary.",
            AgentMode::Execute,
            &[
                (
                    "execute",
                    "Read each assigned task (title, description, acceptance criteria) and do \
                     the work it asks for in the project's working directory. After each \
                     meaningful step, tell the team where you are with \
                     `maestro task report progress <taskId> \"<what you just did>\"`. If you \
                     cannot continue without a decision or a missing resource, say so with \
                     `maestro task report blocked <taskId> \"<what you need>\"` and wait.",
                ),
                (
                    "report",
                    "Check the result against the task's acceptance criteria (build, tests, \
                     manual check as appropriate). Record anything a reviewer should know — \
                     files touched, commands to verify, known limits — with \
                     `maestro task report progress <taskId> \"<findings>\"`.",
                ),
                (
                    "complete",
                    "Close every task you finished with \
                     `maestro task report complete <taskId> \"<one-paragraph summary>\"`. When \
                     all assigned tasks are closed, end the session with \
                     `maestro session report complete \"<overall summary>\"`.",
                ),
            ],
        ),
        template(
            "execute-tree",
            "Execute Tree",
            "Work through a task together with its subtasks: read the whole tree, order the \
             leaves, execute them one by one with progress reports, and close parents after \
             their children.",
            AgentMode::Execute,
            &[
                (
                    "analyze",
                    "Read the assigned root task and every subtask under it. Note which \
                     subtasks depend on others and which are already done. Post a short \
                     overview with `maestro task report progress <rootTaskId> \"<overview>\"`.",
                ),
                (
                    "plan",
                    "Decide an order that respects the dependencies: leaves first, a parent \
                     only after all of its children. If a subtask is missing for work that is \
                     clearly needed, add it with \
                     `maestro task create \"<title>\" --parent <taskId>`. Report the plan on \
                     the root task with `maestro task report progress`.",
                ),
                (
                    "execute",
                    "Take the subtasks in the planned order. For each one: do the work, report \
                     progress with `maestro task report progress <taskId> \"<msg>\"`, and close \
                     it with `maestro task report complete <taskId> \"<summary>\"` before \
                     moving on. Use `maestro task report blocked <taskId> \"<reason>\"` if one \
                     cannot be finished, and continue with the subtasks that do not depend \
                     on it.",
                ),
                (
                    "report",
                    "Verify the tree as a whole (build, tests, acceptance criteria of the root \
                     task). Summarise what was done per subtask and anything left open with \
                     `maestro task report progress <rootTaskId> \"<summary>\"`.",
                ),
                (
                    "complete",
                    "Close the root task with \
                     `maestro task report complete <rootTaskId> \"<summary>\"` once every \
                     child is complete, then end the session with \
                     `maestro session report complete \"<overall summary>\"`.",
                ),
            ],
        ),
        template(
            "coordinate-default",
            "Coordinate Default",
            "Break the assigned work into subtasks, spawn one worker session per subtask, \
             watch the workers until they finish, verify the combined result and close the \
             parent task.",
            AgentMode::Coordinate,
            &[
                (
                    "analyze",
                    "Read the assigned tasks and any existing subtasks. Work out the scope, the \
                     pieces that can be done independently and what \"done\" means. Do not \
                     write code yourself. Post your understanding with \
                     `maestro task report progress <taskId> \"<analysis>\"`.",
                ),
                (
                    "decompose",
                    "Create one subtask per independent piece of work with \
                     `maestro task create \"<title>\" --parent <taskId> --desc \"<details and \
                     acceptance criteria>\"`. Each subtask must be small enough for one \
                     worker and describe how to check it is done.",
                ),
                (
                    "spawn",
                    "Start a worker for each subtask with \
                     `maestro session spawn --task <subtaskId>`. Keep the session ids that \
                     the command prints; you need them to monitor the workers.",
                ),
                (
                    "monitor",
                    "Follow the workers with `maestro session watch <sessionId1>,<sessionId2>` \
                     until each one completes or fails. Answer questions from workers that \
                     need input, and report overall progress on the parent task with \
                     `maestro task report progress <taskId> \"<status>\"`. If a worker fails, \
                     decide whether to respawn it or adjust the subtask.",
                ),
                (
                    "verify",
                    "When all workers are done, confirm with `maestro task children <taskId>` \
                     that every subtask is complete, then check the combined result against \
                     the parent task's acceptance criteria (build, tests, consistency between \
                     the pieces). Create and spawn follow-up subtasks for anything missing.",
                ),
                (
                    "complete",
                    "Close the parent task with \
                     `maestro task report complete <taskId> \"<summary of the delivered \
                     work>\"`, then end your own session with \
                     `maestro session report complete \"<summary>\"`.",
                ),
            ],
        ),
        template(
            "coordinate-batching",
            "Coordinate Intelligent Batching",
            "Break the work into subtasks, group the ones that can run at the same time into \
             batches, and run batch after batch: spawn every worker of a batch, wait for all \
             of them, then start the next batch.",
            AgentMode::Coordinate,
            &[
                (
                    "analyze",
                    "Read the assigned tasks and work out the pieces of work and which pieces \
                     touch the same files or depend on one another. Do not write code \
                     yourself. Post the analysis with \
                     `maestro task report progress <taskId> \"<analysis>\"`.",
                ),
                (
                    "decompose",
                    "Create the subtasks with \
                     `maestro task create \"<title>\" --parent <taskId> --desc \"<details>\"`, \
                     then group them into batches: subtasks in one batch must be \
                     independent of each other; a batch may depend on earlier batches. \
                     Report the batch plan with `maestro task report progress`.",
                ),
                (
                    "execute_batch",
                    "For the next batch, spawn one worker per subtask with \
                     `maestro session spawn --task <subtaskId>` and follow them all with \
                     `maestro session watch <sessionIds>`. Wait until every worker of the \
                     batch has finished before spawning the next batch. Report each finished \
                     batch with `maestro task report progress <taskId> \"<batch result>\"`; \
                     if a subtask failed, fix the plan before going on.",
                ),
                (
                    "verify",
                    "After the last batch, confirm with `maestro task children <taskId>` \
                     that every subtask is complete and check the combined result against the \
                     parent task's acceptance criteria. Create and spawn follow-up subtasks for \
                     any gap.",
                ),
                (
                    "complete",
                    "Close the parent task with \
                     `maestro task report complete <taskId> \"<summary>\"` and end your \
                     session with `maestro session report complete \"<summary>\"`.",
                ),
            ],
        ),
        template(
            "coordinate-dag",
            "Coordinate DAG",
            "Model the subtasks as a dependency graph and execute it in waves: each wave \
             spawns every subtask whose dependencies are complete, so independent work runs \
             in parallel as early as possible.",
            AgentMode::Coordinate,
            &[
                (
                    "analyze",
                    "Read the assigned tasks and identify the units of work and what each \
                     one needs before it can start. Do not write code yourself. Post the \
                     analysis with `maestro task report progress <taskId> \"<analysis>\"`.",
                ),
                (
                    "build_dag",
                    "Create one subtask per unit with \
                     `maestro task create \"<title>\" --parent <taskId> --desc \"<details; \
                     depends on: ...>\"` and write down the dependency edges between them. \
                     Check that the graph has no cycles, then report it with \
                     `maestro task report progress <taskId> \"<graph>\"`.",
                ),
                (
                    "execute_wave",
                    "Repeat until every subtask is complete: spawn a worker with \
                     `maestro session spawn --task <subtaskId>` for every subtask whose \
                     dependencies are all complete, follow the wave with \
                     `maestro session watch <sessionIds>`, and start the next wave as soon \
                     as new subtasks become ready. Report each wave with \
                     `maestro task report progress <taskId> \"<wave result>\"`. A failed \
                     subtask blocks its dependants: respawn it or change the graph.",
                ),
                (
                    "verify",
                    "When the graph is fully executed, confirm with \
                     `maestro task children <taskId>` that no subtask is left open, check the \
                     combined result against the parent task's acceptance criteria, and \
                     create and spawn follow-up subtasks for any gap.",
                ),
                (
                    "complete",
                    "Close the parent task with \
                     `maestro task report complete <taskId> \"<summary>\"` and end your \
                     session with `maestro session report complete \"<summary>\"`.",
                ),
            ],
        ),
    ]
});

/// Every built-in template, in a fixed order (execute templates first).
pub fn all() -> &'static [WorkflowTemplate] {
    &BUILT_INS
}

/// The template with this id, if any.
pub fn get(id: &str) -> Option<&'static WorkflowTemplate> {
    all().iter().find(|t| t.id == id)
}

/// The templates for `GET /api/workflow-templates?mode=…`.
///
/// Filters by role when `mode` is one of [`AgentMode`]: `execute`, `worker` and
/// `coordinated-worker` select the worker templates, `coordinate`, `coordinator` and
/// `coordinated-coordinator` the coordinator ones (the 653bc6a server maps the legacy names
/// the same way, issue 13); any other value (or none) returns every template, as the
/// reference does.
pub fn by_mode(mode: Option<&str>) -> Vec<&'static WorkflowTemplate> {
    match mode.and_then(AgentMode::parse) {
        Some(mode) => all()
            .iter()
            .filter(|t| t.mode.is_coordinator() == mode.is_coordinator())
            .collect(),
        None => all().iter().collect(),
    }
}
