//! Start-up migrations of stored JSON (ref §3.9, spec §6.2), applied to the raw
//! `serde_json::Value` before it is deserialized into an entity, because the entities' serde
//! derives would reject (or silently keep in `extra`) the legacy shapes. Entities are then
//! read with [`Stored::from_stored`], which keeps fields of an unexpected type as odd values
//! instead of failing.

use serde_json::{Map, Value, json};

use maestro_domain::entities::{MailMessage, Session, Stored, Task};

/// The outcome of loading one task file.
#[derive(Debug)]
pub(crate) enum TaskLoad {
    /// A task to keep (migrated in memory only; ref §3.9 saves nothing until the next write).
    Keep(Box<Task>),
    /// A legacy `taskType: "team-member"` task: its file must be removed.
    TeamMemberTask,
}

fn object(v: &mut Value) -> Result<&mut Map<String, Value>, String> {
    v.as_object_mut()
        .ok_or_else(|| "top-level JSON value is not an object".to_owned())
}

/// True if `key` is absent or `null`.
fn missing(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).is_none_or(Value::is_null)
}

fn fill(obj: &mut Map<String, Value>, key: &str, default: Value) -> bool {
    if missing(obj, key) {
        obj.insert(key.to_owned(), default);
        true
    } else {
        false
    }
}

/// JavaScript truthiness of a JSON value (what `if (!x)` tests in the reference).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

/// Task migrations (ref §3.9): default arrays, legacy `sessionStatus`, `taskSessionStatuses`
/// defaulting to `{}`, and removal of `taskType: "team-member"` tasks.
pub(crate) fn task(mut v: Value) -> Result<TaskLoad, String> {
    let obj = object(&mut v)?;
    if obj.get("taskType").and_then(Value::as_str) == Some("team-member") {
        return Ok(TaskLoad::TeamMemberTask);
    }
    for key in ["sessionIds", "skillIds", "agentIds", "referenceTaskIds"] {
        fill(obj, key, json!([]));
    }
    if let Some(legacy) = obj.remove("sessionStatus") {
        let first = obj
            .get("sessionIds")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_owned);
        // Any string is carried over, as the reference does; an unknown one loads as
        // `Lenient::Other` like any stored enum value.
        match (first, legacy.as_str()) {
            (Some(session_id), Some(status)) => {
                fill(obj, "taskSessionStatuses", json!({}));
                if let Some(map) = obj
                    .get_mut("taskSessionStatuses")
                    .and_then(Value::as_object_mut)
                    && !map.contains_key(&session_id)
                {
                    map.insert(session_id, Value::String(status.to_owned()));
                }
            }
            (Some(_), None) => {
                tracing::warn!(value = %legacy, "dropping a legacy task sessionStatus that is not a string");
            }
            (None, _) => {}
        }
    }
    fill(obj, "taskSessionStatuses", json!({}));
    let task = Task::from_stored(v).map_err(|e| e.to_string())?;
    Ok(TaskLoad::Keep(Box::new(task)))
}

/// Session migrations (ref §3.9). Returns the session and whether anything was filled in or
/// removed (then the file is re-saved).
pub(crate) fn session(mut v: Value) -> Result<(Session, bool), String> {
    let obj = object(&mut v)?;
    let mut changed = false;
    if obj.contains_key("taskId") && missing(obj, "taskIds") {
        let legacy = obj.remove("taskId");
        let ids = match legacy {
            Some(Value::String(s)) if !s.is_empty() => json!([s]),
            _ => json!([]),
        };
        obj.insert("taskIds".to_owned(), ids);
        changed = true;
    }
    changed |= fill(obj, "taskIds", json!([]));
    changed |= fill(obj, "env", json!({}));
    changed |= fill(obj, "events", json!([]));
    changed |= fill(obj, "timeline", json!([]));
    changed |= fill(obj, "docs", json!([]));
    if !truthy(obj.get("name")) {
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
        let name = format!("Session {id}");
        obj.insert("name".to_owned(), Value::String(name));
        changed = true;
    }
    if obj.remove("strategy").is_some() {
        changed = true;
    }
    let session = Session::from_stored(v).map_err(|e| e.to_string())?;
    Ok((session, changed))
}

/// A flat `mail/<id>.json` typed mail. A missing `threadId` becomes the mail's own id (the
/// root of its thread, ref Appendix A), in memory only.
pub(crate) fn mail(mut v: Value) -> Result<MailMessage, String> {
    let obj = object(&mut v)?;
    if !truthy(obj.get("threadId"))
        && let Some(id) = obj.get("id").cloned()
    {
        obj.insert("threadId".to_owned(), id);
    }
    MailMessage::from_stored(v).map_err(|e| e.to_string())
}

/// The keys of a legacy ref §1.8 mail that the conversion consumes.
const LEGACY_MAIL_KEYS: &[&str] = &[
    "id",
    "parentSessionId",
    "fromSessionId",
    "fromName",
    "toSessionId",
    "message",
    "detail",
    "createdAt",
    "readAt",
];

/// Converts a legacy `mail/<parentSessionId>/<mailId>.json` (ref §1.8) into a typed
/// `notification` mail (spec §3). `project_of` resolves the target session's project (`""`
/// when unknown). Unknown keys are kept.
pub(crate) fn legacy_mail(
    mut v: Value,
    project_of: impl Fn(&str) -> Option<String>,
) -> Result<MailMessage, String> {
    let obj = object(&mut v)?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let id = text("id").ok_or("legacy mail without id")?;
    let to = text("toSessionId").ok_or("legacy mail without toSessionId")?;
    let from = text("fromSessionId").unwrap_or_default();
    let message = text("message").unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "fromName".to_owned(),
        Value::String(text("fromName").unwrap_or_else(|| from.clone())),
    );
    body.insert("message".to_owned(), Value::String(message.clone()));
    if let Some(detail) = obj.get("detail").filter(|d| !d.is_null()) {
        body.insert("detail".to_owned(), detail.clone());
    }
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::String(id.clone()));
    out.insert(
        "projectId".to_owned(),
        Value::String(project_of(&to).unwrap_or_default()),
    );
    out.insert("fromSessionId".to_owned(), Value::String(from));
    out.insert("toSessionId".to_owned(), Value::String(to));
    out.insert("replyToMailId".to_owned(), Value::Null);
    out.insert("threadId".to_owned(), Value::String(id));
    out.insert("type".to_owned(), Value::String("notification".to_owned()));
    out.insert("subject".to_owned(), Value::String(message));
    out.insert("body".to_owned(), Value::Object(body));
    out.insert(
        "createdAt".to_owned(),
        obj.get("createdAt").cloned().unwrap_or(Value::Null),
    );
    if let Some(read) = obj.get("readAt").filter(|r| !r.is_null()) {
        out.insert("readAt".to_owned(), read.clone());
    }
    for (k, val) in obj.iter() {
        if !LEGACY_MAIL_KEYS.contains(&k.as_str()) && !out.contains_key(k) {
            out.insert(k.clone(), val.clone());
        }
    }
    MailMessage::from_stored(Value::Object(out)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use maestro_domain::entities::{Lenient, TaskSessionStatus};

    fn base_task() -> Value {
        json!({"id": "task_1", "projectId": "p", "parentId": null, "title": "t",
               "description": "", "status": "todo", "priority": "medium",
               "createdAt": 1, "updatedAt": 2, "startedAt": null, "completedAt": null,
               "initialPrompt": "", "dependencies": []})
    }

    #[test]
    fn task_defaults_and_legacy_status() {
        let mut v = base_task();
        v["sessionIds"] = json!(["s1", "s2"]);
        v["sessionStatus"] = json!("blocked");
        let TaskLoad::Keep(t) = task(v).unwrap() else {
            panic!("kept")
        };
        assert_eq!(
            t.session_status("s1"),
            Some(&TaskSessionStatus::Blocked.into())
        );
        assert_eq!(t.reference_task_ids, Some(vec![]));
        assert!(!t.extra.contains_key("sessionStatus"));

        let mut v = base_task();
        v["sessionStatus"] = json!("working");
        let TaskLoad::Keep(t) = task(v).unwrap() else {
            panic!("kept")
        };
        assert_eq!(t.task_session_statuses, Some(Default::default()));
        assert!(t.session_ids.is_empty());

        // An unknown legacy value is carried over verbatim, like the reference does.
        let mut v = base_task();
        v["sessionIds"] = json!(["s1"]);
        v["sessionStatus"] = json!("paused");
        let TaskLoad::Keep(t) = task(v).unwrap() else {
            panic!("kept")
        };
        assert_eq!(
            t.session_status("s1"),
            Some(&Lenient::Other("paused".to_owned()))
        );

        let mut v = base_task();
        v["taskType"] = json!("team-member");
        assert!(matches!(task(v).unwrap(), TaskLoad::TeamMemberTask));
    }

    #[test]
    fn session_migrations() {
        let v = json!({"id": "s", "projectId": "p", "taskId": "t", "strategy": "simple",
                       "status": "idle", "startedAt": 1, "lastActivity": 1});
        let (s, changed) = session(v).unwrap();
        assert!(changed);
        assert_eq!(s.task_ids, vec!["t".to_owned()]);
        assert_eq!(s.name, "Session s");
        assert!(s.extra.is_empty(), "{:?}", s.extra);

        let v = json!({"id": "s", "projectId": "p", "taskIds": [], "name": "n", "env": {},
                       "events": [], "timeline": [], "docs": [],
                       "status": "idle", "startedAt": 1, "lastActivity": 1});
        assert!(!session(v).unwrap().1);
    }

    #[test]
    fn legacy_mail_conversion() {
        let v = json!({"id": "mail_1", "parentSessionId": "par", "fromSessionId": "a",
                       "fromName": "A", "toSessionId": "b", "message": "hi",
                       "detail": "d", "createdAt": 5, "readAt": 6, "x": 1});
        let m = legacy_mail(v, |s| (s == "b").then(|| "proj".to_owned())).unwrap();
        assert_eq!(m.project_id, "proj");
        assert_eq!(m.thread_id, "mail_1");
        assert_eq!(m.subject, "hi");
        assert_eq!(m.read_at, Some(6));
        assert_eq!(
            m.body,
            json!({"fromName": "A", "message": "hi", "detail": "d"})
        );
        assert_eq!(m.extra.get("x"), Some(&json!(1)));
    }
}
