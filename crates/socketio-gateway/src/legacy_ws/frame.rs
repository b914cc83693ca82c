//! Server → client broadcast frames, built **once per event** and shared by every client.
//!
//! A [`PreparedFrame`] carries the serialized JSON text `{type, event, data, timestamp}`
//! (ref §5.3) and the event's [`Scope`], computed with the reference's `extractSessionId`
//! rule so that client tasks only compare strings.

use std::collections::HashSet;

use axum::extract::ws::Utf8Bytes;
use maestro_domain::events::Event;
use serde::Serialize;
use serde_json::Value;

/// Name prefixes of events that are never session-scoped (they reach every client).
const UNSCOPED_PREFIXES: [&str; 4] = ["task:", "team_member:", "project:", "notify:"];

/// Which clients an event is for, from the point of view of a session filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// No session id: every client gets it, filtered or not.
    Unscoped,
    /// Scoped to this session id: filtered clients get it only if the id is in their set.
    Session(String),
    /// Scoped to a session id that is not a string (e.g. a number). In the reference,
    /// `Set<string>.has(5)` is always false, so filtered clients never get it; unfiltered
    /// clients still do.
    Unmatchable,
}

impl Scope {
    /// The reference's `extractSessionId(event, data)` (ref §5.3), with JavaScript
    /// truthiness: `data.sessionId`, else `data.id` when `data.status` is a string, else
    /// `data.session.id`; events named `task:*`, `team_member:*`, `project:*`, `notify:*`
    /// are unscoped.
    pub(crate) fn of(name: &str, data: &Value) -> Self {
        if UNSCOPED_PREFIXES.iter().any(|p| name.starts_with(p)) || !truthy(data) {
            return Self::Unscoped;
        }
        let candidate = data
            .get("sessionId")
            .filter(|v| truthy(v))
            .or_else(|| {
                data.get("id")
                    .filter(|v| truthy(v) && data.get("status").is_some_and(Value::is_string))
            })
            .or_else(|| {
                data.get("session")
                    .and_then(|s| s.get("id"))
                    .filter(|v| truthy(v))
            });
        match candidate {
            None => Self::Unscoped,
            Some(Value::String(id)) => Self::Session(id.clone()),
            Some(_) => Self::Unmatchable,
        }
    }

    /// Whether a client with this filter (`None`: no filter) receives the event.
    pub(crate) fn admits(&self, filter: Option<&HashSet<String>>) -> bool {
        match (self, filter) {
            (_, None) | (Self::Unscoped, Some(_)) => true,
            (Self::Session(id), Some(set)) => set.contains(id),
            (Self::Unmatchable, Some(_)) => false,
        }
    }
}

/// JavaScript truthiness of a JSON value (`undefined` is represented by the caller as `None`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The wire shape of a broadcast frame; field order follows the reference's
/// `JSON.stringify({type, event, data, timestamp})`.
#[derive(Serialize)]
struct WireFrame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    event: &'a str,
    data: &'a Value,
    timestamp: i64,
}

/// One event, serialized once, ready to be written to any number of clients.
#[derive(Debug, Clone)]
pub(crate) struct PreparedFrame {
    /// Who may receive it.
    pub(crate) scope: Scope,
    /// The JSON text of the frame; cloning is a reference-count increment.
    pub(crate) text: Utf8Bytes,
}

impl PreparedFrame {
    /// Serializes `event` as `{type: name, event: name, data, timestamp}`, `timestamp` being
    /// the broadcast time in epoch ms.
    ///
    /// # Errors
    /// Only if `serde_json` cannot serialize the payload (not expected for a `Value`).
    pub(crate) fn build(event: &Event, timestamp: i64) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_string(&WireFrame {
            kind: &event.name,
            event: &event.name,
            data: &event.data,
            timestamp,
        })?;
        Ok(Self {
            scope: Scope::of(&event.name, &event.data),
            text: Utf8Bytes::from(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn unscoped_prefixes_ignore_session_fields() {
        for name in [
            "task:session_added",
            "team_member:updated",
            "project:created",
            "notify:needs_input",
            "notify:task_in_review",
        ] {
            assert_eq!(
                Scope::of(name, &json!({"sessionId": "s1", "taskId": "t1"})),
                Scope::Unscoped,
                "{name}"
            );
        }
    }

    #[test]
    fn session_id_priority() {
        assert_eq!(
            Scope::of(
                "session:prompt_send",
                &json!({"sessionId": "a", "id": "b", "status": "x"})
            ),
            Scope::Session("a".into())
        );
        assert_eq!(
            Scope::of("session:updated", &json!({"id": "b", "status": "working"})),
            Scope::Session("b".into())
        );
        assert_eq!(
            Scope::of("session:spawn", &json!({"session": {"id": "c"}})),
            Scope::Session("c".into())
        );
        // `{id}` without a string status is not a session object.
        assert_eq!(
            Scope::of("session:deleted", &json!({"id": "d"})),
            Scope::Unscoped
        );
        assert_eq!(
            Scope::of("session:deleted", &json!({"id": "d", "status": 3})),
            Scope::Unscoped
        );
        // Falsy sessionId falls through to the next rule.
        assert_eq!(
            Scope::of(
                "session:x",
                &json!({"sessionId": "", "id": "e", "status": "idle"})
            ),
            Scope::Session("e".into())
        );
        // Mail payloads carry toSessionId, which the rule does not look at.
        assert_eq!(
            Scope::of("mail:received", &json!({"toSessionId": "f", "id": "m1"})),
            Scope::Unscoped
        );
        assert_eq!(Scope::of("session:x", &json!(null)), Scope::Unscoped);
        assert_eq!(Scope::of("session:x", &json!("text")), Scope::Unscoped);
        assert_eq!(
            Scope::of("session:x", &json!({"sessionId": 7})),
            Scope::Unmatchable
        );
    }

    #[test]
    fn filter_admission() {
        let f = set(&["a"]);
        let empty = set(&[]);
        assert!(Scope::Unscoped.admits(Some(&empty)));
        assert!(Scope::Session("a".into()).admits(Some(&f)));
        assert!(!Scope::Session("b".into()).admits(Some(&f)));
        assert!(Scope::Session("b".into()).admits(None));
        assert!(!Scope::Unmatchable.admits(Some(&f)));
        assert!(Scope::Unmatchable.admits(None));
    }

    #[test]
    fn frame_shape() -> Result<(), serde_json::Error> {
        let event = Event {
            event_id: "1-0".into(),
            name: "session:updated".into(),
            project_id: "p".into(),
            session_id: Some("s".into()),
            data: json!({"id": "s", "status": "idle"}),
            timestamp: 5,
        };
        let frame = PreparedFrame::build(&event, 42)?;
        assert_eq!(
            frame.text.as_str(),
            r#"{"type":"session:updated","event":"session:updated","data":{"id":"s","status":"idle"},"timestamp":42}"#
        );
        assert_eq!(frame.scope, Scope::Session("s".into()));
        Ok(())
    }
}
