//! SpawnService, continued: reading a spawn body and checking the values that name entities
//! or reach the `maestro` CLI's argv (spec §2, issue 12 item 6).

use serde_json::{Value, json};

use super::SpawnRequest;
use crate::entities::{AgentTool, LaunchConfig, PermissionMode, ReasoningEffort, js_trim};
use crate::error::{DomainError, DomainResult, FieldError, SpawnErrorKind};
use crate::ids::{invalid_id_message, is_valid_id, shown};

impl SpawnRequest {
    /// Reads a spawn body (ref §3.3.6 step 1), as leniently as the reference where its error
    /// order depends on it: a `projectId` that is not a string counts as missing, a `taskIds`
    /// that is not an array of strings as invalid, a `spawnSource` / `mode` / `agentTool` of
    /// another type as that (invalid) value, a `sessionName` that is not a string as absent.
    /// A mistyped id or CLI value is refused here, since reading it as absent would change
    /// what is spawned.
    ///
    /// The keys the 653bc6a CLI and UI add (NEWER-CLI-REQUESTS §4.1, §4.2; issue 13 item 2)
    /// are read here too, each checked for its type: `launchConfig`
    /// ([`LaunchConfig::from_request`]), `memberOverrides` (`{<teamMemberId>: {launchConfig?,
    /// agentTool?, model?, reasoningEffort?, permissionMode?, skillIds?,
    /// commandPermissions?}}`), `permissionMode` / `delegatePermissionMode` (the permission
    /// modes), `useWorktree` (boolean), `teamId` (id or `null`), `cols` / `rows` (integers
    /// 1..=1000) and `initialDirective` (`{subject?, message?, fromSessionId?}` of strings).
    /// `null` is the same as absent, except for `teamId`, where it clears the inherited team.
    ///
    /// # Errors
    /// `Spawn` 400: `INVALID_SESSION_ID` (`sessionId` not a string), `INVALID_TEAM_MEMBER_IDS`
    /// (`teamMemberId` not a string, `teamMemberIds` / `delegateTeamMemberIds` not an array
    /// of strings), `INVALID_SKILLS`, `INVALID_MODEL`; then `VALIDATION_ERROR` listing every
    /// offending new key; details `[{path, message}]`.
    pub fn from_json(body: &Value) -> DomainResult<Self> {
        let present = |k: &str| body.get(k).filter(|v| !v.is_null());
        let text = |k: &str| present(k).and_then(Value::as_str).map(str::to_owned);
        // Enum fields: a non-string keeps its JSON text, which the closed set then refuses.
        let enum_text =
            |k: &str| present(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        let typed_text = |k: &str, code: &'static str| -> DomainResult<Option<String>> {
            match present(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(code, k, "must be a string")),
            }
        };
        let typed_list = |k: &str, code: &'static str| -> DomainResult<Option<Vec<String>>> {
            let Some(v) = present(k) else {
                return Ok(None);
            };
            let items = v
                .as_array()
                .ok_or_else(|| invalid(code, k, "must be an array of strings"))?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| invalid(code, &format!("{k}[{i}]"), "must be a string"))
                })
                .collect::<DomainResult<Vec<_>>>()
                .map(Some)
        };
        let task_ids = present("taskIds").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        });
        let skills = typed_list("skills", "INVALID_SKILLS")?;
        let session_id = typed_text("sessionId", "INVALID_SESSION_ID")?;
        let team_member_ids = typed_list("teamMemberIds", "INVALID_TEAM_MEMBER_IDS")?;
        let delegate_team_member_ids =
            typed_list("delegateTeamMemberIds", "INVALID_TEAM_MEMBER_IDS")?;
        let team_member_id = typed_text("teamMemberId", "INVALID_TEAM_MEMBER_IDS")?;
        let model = typed_text("model", "INVALID_MODEL")?;
        let newer = NewerKeys::read(body);
        if !newer.bad.is_empty() {
            return Err(invalid_fields("VALIDATION_ERROR", newer.bad));
        }
        Ok(Self {
            project_id: text("projectId"),
            task_ids,
            session_name: text("sessionName"),
            skills,
            session_id,
            spawn_source: enum_text("spawnSource"),
            mode: enum_text("mode"),
            context: present("context").cloned(),
            team_member_ids,
            delegate_team_member_ids,
            team_member_id,
            agent_tool: enum_text("agentTool"),
            model,
            initial_directive: newer.initial_directive,
            launch_config: newer.launch_config,
            member_overrides: newer.member_overrides,
            permission_mode: newer.permission_mode,
            delegate_permission_mode: newer.delegate_permission_mode,
            use_worktree: newer.use_worktree,
            team_id: newer.team_id,
            cols: newer.cols,
            rows: newer.rows,
            sender_session_id: None,
        })
    }
}

/// The spawn keys the 653bc6a clients send beside the 7950ff3 ones, read and type-checked
/// together so one answer lists every offending key.
struct NewerKeys {
    launch_config: Option<LaunchConfig>,
    member_overrides: Option<Value>,
    permission_mode: Option<PermissionMode>,
    delegate_permission_mode: Option<PermissionMode>,
    use_worktree: Option<bool>,
    team_id: Option<Option<String>>,
    cols: Option<u16>,
    rows: Option<u16>,
    initial_directive: Option<Value>,
    bad: Vec<FieldError>,
}

/// Largest terminal dimension accepted in `cols` / `rows` (the 653bc6a server's bound).
const MAX_TERMINAL_DIMENSION: u64 = 1000;

impl NewerKeys {
    fn read(body: &Value) -> Self {
        let present = |k: &str| body.get(k).filter(|v| !v.is_null());
        let mut bad = Vec::new();
        let launch_config = present("launchConfig").and_then(|v| {
            LaunchConfig::from_request(v, "launchConfig")
                .map_err(|e| bad.extend(e))
                .ok()
        });
        let member_overrides = present("memberOverrides").and_then(|v| {
            let problems = member_overrides_problems(v);
            let ok = problems.is_empty();
            bad.extend(problems);
            ok.then(|| v.clone())
        });
        let mut permission = |k: &str| {
            present(k).and_then(|v| {
                let mode = v.as_str().and_then(PermissionMode::parse);
                if mode.is_none() {
                    bad.push(FieldError::new(
                        k,
                        format!("must be one of {}", PermissionMode::expected()),
                    ));
                }
                mode
            })
        };
        let permission_mode = permission("permissionMode");
        let delegate_permission_mode = permission("delegatePermissionMode");
        let use_worktree = present("useWorktree").and_then(|v| {
            if v.as_bool().is_none() {
                bad.push(FieldError::new("useWorktree", "must be a boolean"));
            }
            v.as_bool()
        });
        let team_id = match body.get("teamId") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(id)) => match argv_id_problem(id) {
                None => Some(Some(id.clone())),
                Some(p) => {
                    bad.push(FieldError::new("teamId", p));
                    None
                }
            },
            Some(_) => {
                bad.push(FieldError::new("teamId", "must be a string or null"));
                None
            }
        };
        let mut dimension = |k: &str| {
            present(k).and_then(|v| {
                let n = v
                    .as_u64()
                    .filter(|n| (1..=MAX_TERMINAL_DIMENSION).contains(n))
                    .and_then(|n| u16::try_from(n).ok());
                if n.is_none() {
                    bad.push(FieldError::new(k, "must be an integer from 1 to 1000"));
                }
                n
            })
        };
        let cols = dimension("cols");
        let rows = dimension("rows");
        let initial_directive = present("initialDirective").and_then(|v| {
            let problems = directive_problems(v);
            let ok = problems.is_empty();
            bad.extend(problems);
            ok.then(|| v.clone())
        });
        Self {
            launch_config,
            member_overrides,
            permission_mode,
            delegate_permission_mode,
            use_worktree,
            team_id,
            cols,
            rows,
            initial_directive,
            bad,
        }
    }
}

/// What is wrong with an `initialDirective`: it must be an object whose `subject`,
/// `message` and `fromSessionId` are strings when present.
fn directive_problems(v: &Value) -> Vec<FieldError> {
    let Some(obj) = v.as_object() else {
        return vec![FieldError::new(
            "initialDirective",
            "must be an object {subject, message, fromSessionId?}",
        )];
    };
    ["subject", "message", "fromSessionId"]
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null() && !v.is_string()))
        .map(|k| FieldError::new(format!("initialDirective.{k}"), "must be a string"))
        .collect()
}

/// What is wrong with a `memberOverrides` object (the 653bc6a server's
/// `MemberLaunchOverride` per team member id). Keys it does not know are kept.
fn member_overrides_problems(v: &Value) -> Vec<FieldError> {
    const PATH: &str = "memberOverrides";
    let Some(obj) = v.as_object() else {
        return vec![FieldError::new(
            PATH,
            "must be an object {<teamMemberId>: {launchConfig?, agentTool?, model?, reasoningEffort?, permissionMode?, skillIds?, commandPermissions?}}",
        )];
    };
    let mut bad = Vec::new();
    for (id, o) in obj {
        if !is_valid_id(id) {
            bad.push(FieldError::new(
                PATH,
                format!("key {:?}: {}", shown(id), invalid_id_message(id)),
            ));
            continue;
        }
        let path = format!("{PATH}.{id}");
        let Some(o) = o.as_object() else {
            bad.push(FieldError::new(path, "must be an object"));
            continue;
        };
        let field = |k: &str| o.get(k).filter(|v| !v.is_null());
        if let Some(lc) = field("launchConfig")
            && let Err(e) = LaunchConfig::from_request(lc, &format!("{path}.launchConfig"))
        {
            bad.extend(e);
        }
        for k in ["agentTool", "model"] {
            if field(k).is_some_and(|v| v.as_str().is_none_or(str::is_empty)) {
                bad.push(FieldError::new(
                    format!("{path}.{k}"),
                    "must be a non-empty string",
                ));
            }
        }
        if field("reasoningEffort")
            .is_some_and(|v| v.as_str().and_then(ReasoningEffort::parse).is_none())
        {
            bad.push(FieldError::new(
                format!("{path}.reasoningEffort"),
                format!("must be one of {}", ReasoningEffort::expected()),
            ));
        }
        if field("permissionMode")
            .is_some_and(|v| v.as_str().and_then(PermissionMode::parse).is_none())
        {
            bad.push(FieldError::new(
                format!("{path}.permissionMode"),
                format!("must be one of {}", PermissionMode::expected()),
            ));
        }
        if field("skillIds")
            .is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
        {
            bad.push(FieldError::new(
                format!("{path}.skillIds"),
                "must be an array of strings",
            ));
        }
        if field("commandPermissions").is_some_and(|v| !v.is_object()) {
            bad.push(FieldError::new(
                format!("{path}.commandPermissions"),
                "must be an object {groups?, commands?}",
            ));
        }
    }
    bad
}

/// A 400 spawn error with its own code and `details: [{path, message}]` (spec §2 shape).
pub(super) fn invalid(code: &'static str, path: &str, message: &str) -> DomainError {
    DomainError::Spawn {
        kind: SpawnErrorKind::BadRequest,
        code,
        message: format!("Invalid value for '{path}': {message}"),
        details: Some(json!([FieldError::new(path, message)])),
    }
}

/// [`invalid`] listing several fields.
pub(super) fn invalid_fields(code: &'static str, bad: Vec<FieldError>) -> DomainError {
    let message = bad.first().map_or_else(String::new, |f| {
        format!("Invalid value for '{}': {}", f.path, f.message)
    });
    DomainError::Spawn {
        kind: SpawnErrorKind::BadRequest,
        code,
        message,
        details: Some(json!(bad)),
    }
}

/// Why a request id that reaches the CLI's argv is refused, if it is: it breaks the id
/// rule, or it starts with `-` (the rule allows that, but the CLI would read it as an
/// option).
pub(super) fn argv_id_problem(id: &str) -> Option<String> {
    if !is_valid_id(id) {
        Some(invalid_id_message(id))
    } else if id.starts_with('-') {
        Some("must not start with '-' (it would be read as a CLI option)".to_owned())
    } else {
        None
    }
}

/// Ids named by `path` (`taskIds`, `teamMemberIds`, …) refused by [`argv_id_problem`], as
/// details.
pub(super) fn bad_ids(path: &str, ids: &[String]) -> Vec<FieldError> {
    ids.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            argv_id_problem(id).map(|p| FieldError::new(format!("{path}[{i}]"), p))
        })
        .collect()
}

/// Longest model or skill name passed to the CLI, in characters.
const MAX_CLI_VALUE_CHARS: usize = 128;

/// Why `value` cannot be passed to the `maestro` CLI as an option value, if it cannot: a
/// leading `-` would be read as another option, control characters and overlong values
/// are no model or skill name.
fn cli_value_problem(value: &str) -> Option<&'static str> {
    if value.starts_with('-') {
        Some("must not start with '-' (it would be read as a CLI option)")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.chars().count() > MAX_CLI_VALUE_CHARS {
        Some("must be at most 128 characters")
    } else {
        None
    }
}

/// Why a skill name cannot be passed in the CLI's comma-separated `--skills`, if it cannot.
/// A comma would split it into two skills (the CLI has no escape), so it is refused.
fn skill_problem(skill: &str) -> Option<&'static str> {
    if js_trim(skill).is_empty() {
        Some("must not be blank")
    } else if skill.contains(',') {
        Some("must not contain ',' (the CLI splits --skills on commas)")
    } else {
        cli_value_problem(skill)
    }
}

/// Stored ids (tasks' team members and references) that break the id rule are not passed
/// on: they would reach the CLI's argv and its file and URL paths. Logged, like the
/// reference skips unknown members silently (ref §3.3.6 step 5).
pub(super) fn keep_valid_stored(what: &str, ids: &mut Vec<String>) {
    ids.retain(|id| {
        let ok = is_valid_id(id);
        if !ok {
            tracing::warn!(id = %shown(id), "spawn: skipping a stored {what} id that breaks the id rule");
        }
        ok
    });
}

impl SpawnRequest {
    /// The request's values that reach the CLI's argv or name entities, checked before
    /// anything is looked up: team-member ids (id rule), `agentTool` (closed set), `model`
    /// and `skills` (no option-like value, no comma in a skill).
    pub(super) fn check_values(&self) -> DomainResult<()> {
        let req = self;
        let mut bad = Vec::new();
        if let Some(problem) = req
            .team_member_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .and_then(argv_id_problem)
        {
            bad.push(FieldError::new("teamMemberId", problem));
        }
        bad.extend(bad_ids(
            "teamMemberIds",
            req.team_member_ids.as_deref().unwrap_or_default(),
        ));
        bad.extend(bad_ids(
            "delegateTeamMemberIds",
            req.delegate_team_member_ids.as_deref().unwrap_or_default(),
        ));
        if !bad.is_empty() {
            return Err(invalid_fields("INVALID_TEAM_MEMBER_IDS", bad));
        }
        if let Some(tool) = req.agent_tool.as_deref().filter(|t| !t.is_empty())
            && AgentTool::parse(tool).is_none()
        {
            return Err(invalid(
                "INVALID_AGENT_TOOL",
                "agentTool",
                &format!("{:?} is not one of {}", shown(tool), AgentTool::expected()),
            ));
        }
        if let Some(problem) = req.model.as_deref().and_then(cli_value_problem) {
            return Err(invalid("INVALID_MODEL", "model", problem));
        }
        let bad: Vec<FieldError> = req
            .skills
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, skill)| {
                skill_problem(skill).map(|p| FieldError::new(format!("skills[{i}]"), p))
            })
            .collect();
        if !bad.is_empty() {
            return Err(invalid_fields("INVALID_SKILLS", bad));
        }
        Ok(())
    }
}
