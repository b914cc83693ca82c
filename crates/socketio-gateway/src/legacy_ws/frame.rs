//! Server → client broadcast frames, built **once per event** and shared by every client.
//!
//! A [`PreparedFrame`] carries the serialized JSON text `{type, event, data, timestamp}`
//! (ref §5.3) — the event's payload text copied in once, never re-serialized — and the event's
//! [`Scope`], computed with the reference's `extractSessionId` rule the first time a client
//! with a session filter needs it (only the few top-level fields the rule reads are parsed),
//! so that client tasks only compare strings.

use std::collections::HashSet;
use std::sync::OnceLock;

use axum::extract::ws::Utf8Bytes;
use maestro_domain::events::Event;
#[cfg(test)]
use maestro_domain::events::Payload;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// The top-level fields `extractSessionId` reads; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    session: Option<&'a RawValue>,
}

/// Reads the probed fields of a JSON object; `None` for any other JSON value.
fn probe_object(json: &str) -> Option<Probe<'_>> {
    if !json.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(json).ok()
}

impl Scope {
    /// The reference's `extractSessionId(event, data)` (ref §5.3), with JavaScript
    /// truthiness: `data.sessionId`, else `data.id` when `data.status` is a string, else
    /// `data.session.id`; events named `task:*`, `team_member:*`, `project:*`, `notify:*`
    /// are unscoped.
    #[cfg(test)]
    pub(crate) fn of(name: &str, data: &Value) -> Self {
        Self::of_fields(name, truthy(data), |key| data.get(key).cloned())
    }

    /// [`Scope::of`] on a payload's JSON text, parsing only the top-level fields the rule
    /// reads (a `session:updated` payload is a whole session, possibly megabytes).
    #[cfg(test)]
    pub(crate) fn of_payload(name: &str, data: &Payload) -> Self {
        Self::of_raw(name, data.json())
    }

    /// [`Scope::of`] on the JSON text of an event's data.
    pub(crate) fn of_raw(name: &str, data: &str) -> Self {
        if UNSCOPED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return Self::Unscoped;
        }
        // Not an object: none of the fields exist (`data.x` of a string or an array is
        // undefined). Checked first because serde also reads a struct from an array.
        let Some(probe) = probe_object(data) else {
            return Self::Unscoped;
        };
        let field = |raw: Option<&RawValue>| -> Option<Value> {
            raw.and_then(|r| serde_json::from_str(r.get()).ok())
        };
        let session_id_of_session = probe.session.map(|r| {
            let inner = probe_object(r.get());
            let id = inner.and_then(|p| field(p.id));
            // A truthy non-object `session` has no `id`.
            serde_json::json!({ "id": id })
        });
        Self::of_fields(name, true, |key| match key {
            "sessionId" => field(probe.session_id),
            "id" => field(probe.id),
            "status" => field(probe.status),
            "session" => session_id_of_session.clone(),
            _ => None,
        })
    }

    /// The rule over a field lookup (`None`: the field is absent).
    fn of_fields(name: &str, data_truthy: bool, get: impl Fn(&str) -> Option<Value>) -> Self {
        if UNSCOPED_PREFIXES.iter().any(|p| name.starts_with(p)) || !data_truthy {
            return Self::Unscoped;
        }
        let candidate = get("sessionId")
            .filter(truthy)
            .or_else(|| {
                get("id").filter(|v| truthy(v) && get("status").is_some_and(|s| s.is_string()))
            })
            .or_else(|| {
                get("session")
                    .and_then(|s| s.get("id").cloned())
                    .filter(truthy)
            });
        match candidate {
            None => Self::Unscoped,
            Some(Value::String(id)) => Self::Session(id),
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

/// The fixed characters of a frame (everything but the name twice, the data and the
/// timestamp).
const FRAME_SKELETON: &str = r#"{"type":,"event":,"data":,"timestamp":}"#;

/// One event, serialized once, ready to be written to any number of clients. It holds only its
/// text (not the event: a frame waiting in the ring for a slow client must not also keep the
/// event's payload, which is as large, alive).
#[derive(Debug)]
pub(crate) struct PreparedFrame {
    scope: OnceLock<Scope>,
    /// The JSON text of the frame; cloning is a reference-count increment.
    pub(crate) text: Utf8Bytes,
}

/// The fields of a frame's text the scope rule needs.
#[derive(Deserialize)]
struct FrameProbe<'a> {
    event: &'a str,
    #[serde(borrow)]
    data: &'a RawValue,
}

impl PreparedFrame {
    /// Serializes `event` as `{type: name, event: name, data, timestamp}`, `timestamp` being
    /// the broadcast time in epoch ms (the payload text is copied in as it is).
    ///
    /// # Errors
    /// Only if `serde_json` cannot write the frame (not expected: the payload is JSON text).
    pub(crate) fn build(event: &Event, timestamp: i64) -> Result<Self, serde_json::Error> {
        // The reference's `JSON.stringify({type, event, data, timestamp})`, written into a
        // buffer of the exact size: a frame of a large session is megabytes, and a buffer grown
        // by doubling would hold up to twice that while it waits in the ring.
        let name = serde_json::to_string(&event.name)?;
        let timestamp = timestamp.to_string();
        let data = event.data.json();
        let mut text = String::with_capacity(
            FRAME_SKELETON.len() + 2 * name.len() + data.len() + timestamp.len(),
        );
        text.push_str(r#"{"type":"#);
        text.push_str(&name);
        text.push_str(r#","event":"#);
        text.push_str(&name);
        text.push_str(r#","data":"#);
        text.push_str(data);
        text.push_str(r#","timestamp":"#);
        text.push_str(&timestamp);
        text.push('}');
        debug_assert_eq!(text.len(), text.capacity());
        Ok(Self {
            scope: OnceLock::new(),
            text: Utf8Bytes::from(text),
        })
    }

    /// Who may receive it; computed (from the frame's own text) by the first client with a
    /// session filter that asks.
    pub(crate) fn scope(&self) -> &Scope {
        self.scope.get_or_init(|| {
            match serde_json::from_str::<FrameProbe<'_>>(self.text.as_str()) {
                Ok(f) => Scope::of_raw(f.event, f.data.get()),
                Err(_) => Scope::Unscoped,
            }
        })
    }

    /// Bytes the frame holds (its text), for the ring's byte bound.
    pub(crate) fn weight(&self) -> usize {
        self.text.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The rule on a `Value`, on the same payload's text and on the frame built from it must
    /// agree.
    fn scope(name: &str, data: &Value) -> Scope {
        let from_value = Scope::of(name, data);
        let from_text = Scope::of_payload(name, &Payload::of(data));
        assert_eq!(from_value, from_text, "{name} {data}");
        let event = Event {
            event_id: "1-0".into(),
            name: name.into(),
            project_id: "p".into(),
            session_id: None,
            data: Payload::of(data),
            timestamp: 1,
        };
        let frame = PreparedFrame::build(&event, 2).unwrap();
        assert_eq!(frame.scope(), &from_value, "frame of {name} {data}");
        from_value
    }

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
                scope(name, &json!({"sessionId": "s1", "taskId": "t1"})),
                Scope::Unscoped,
                "{name}"
            );
        }
    }

    #[test]
    fn session_id_priority() {
        assert_eq!(
            scope(
                "session:prompt_send",
                &json!({"sessionId": "a", "id": "b", "status": "x"})
            ),
            Scope::Session("a".into())
        );
        assert_eq!(
            scope("session:updated", &json!({"id": "b", "status": "working"})),
            Scope::Session("b".into())
        );
        assert_eq!(
            scope("session:spawn", &json!({"session": {"id": "c"}})),
            Scope::Session("c".into())
        );
        // `{id}` without a string status is not a session object.
        assert_eq!(
            scope("session:deleted", &json!({"id": "d"})),
            Scope::Unscoped
        );
        assert_eq!(
            scope("session:deleted", &json!({"id": "d", "status": 3})),
            Scope::Unscoped
        );
        // Falsy sessionId falls through to the next rule.
        assert_eq!(
            scope(
                "session:x",
                &json!({"sessionId": "", "id": "e", "status": "idle"})
            ),
            Scope::Session("e".into())
        );
        // Mail payloads carry toSessionId, which the rule does not look at.
        assert_eq!(
            scope("mail:received", &json!({"toSessionId": "f", "id": "m1"})),
            Scope::Unscoped
        );
        assert_eq!(scope("session:x", &json!(null)), Scope::Unscoped);
        assert_eq!(scope("session:x", &json!("text")), Scope::Unscoped);
        assert_eq!(
            scope("session:x", &json!({"sessionId": 7})),
            Scope::Unmatchable
        );
    }

    #[test]
    fn text_rule_covers_nested_and_odd_shapes() {
        assert_eq!(
            scope("session:x", &json!({"session": {"id": 5}})),
            Scope::Unmatchable
        );
        assert_eq!(
            scope("session:x", &json!({"session": "s"})),
            Scope::Unscoped
        );
        assert_eq!(scope("session:x", &json!({"session": {}})), Scope::Unscoped);
        assert_eq!(
            scope(
                "session:x",
                &json!({"sessionId": null, "id": "a", "status": "x"})
            ),
            Scope::Session("a".into())
        );
        assert_eq!(scope("session:x", &json!([1, 2])), Scope::Unscoped);
        assert_eq!(scope("session:x", &json!(0)), Scope::Unscoped);
        // A whole session: the big arrays are skipped, not parsed into values.
        let timeline: Vec<Value> = (0..1_000)
            .map(|i| json!({"id": format!("evt_{i}"), "type": "progress", "message": "x".repeat(100)}))
            .collect();
        assert_eq!(
            scope(
                "session:updated",
                &json!({"id": "sess_1", "timeline": timeline, "status": "working", "x": {"sessionId": "no"}})
            ),
            Scope::Session("sess_1".into())
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
            data: json!({"id": "s", "status": "idle"}).into(),
            timestamp: 5,
        };
        let frame = PreparedFrame::build(&event, 42)?;
        assert_eq!(
            frame.text.as_str(),
            r#"{"type":"session:updated","event":"session:updated","data":{"id":"s","status":"idle"},"timestamp":42}"#
        );
        assert_eq!(frame.scope(), &Scope::Session("s".into()));
        Ok(())
    }
}
