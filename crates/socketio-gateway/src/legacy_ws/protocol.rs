//! Client → server messages of the legacy bridge (ref §5.3) and the replies they get.
//!
//! Parsing is pure so the protocol is unit-tested without sockets; the client task applies
//! the outcome (filter change, reply frame).

use std::collections::HashSet;

use axum::extract::ws::Utf8Bytes;
use serde_json::{Value, json};

/// What a client message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientRequest {
    /// `{type:'ping'}` → `{type:'pong', timestamp}`.
    Ping,
    /// `{type:'subscribe', sessionIds:[…]}` with the string entries, deduplicated, in first-seen
    /// order → the filter becomes this set; reply `{type:'subscribed', sessionIds, timestamp}`.
    Subscribe(Vec<String>),
    /// `{type:'unsubscribe'}` → the filter is removed; reply `{type:'unsubscribed', timestamp}`.
    Unsubscribe,
    /// Valid JSON that is not one of the above (including `subscribe` whose `sessionIds` is
    /// not an array): ignored, no reply. Carries the `type` when it was a string, for logs.
    Ignored(Option<String>),
    /// Not JSON: ignored, no reply (the reference logs a warning).
    Unparseable,
}

impl ClientRequest {
    /// Parses a text (or binary) frame body.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(msg) = serde_json::from_slice::<Value>(body) else {
            return Self::Unparseable;
        };
        let kind = msg.get("type").and_then(Value::as_str);
        match kind {
            Some("ping") => Self::Ping,
            Some("subscribe") => match msg.get("sessionIds") {
                Some(Value::Array(ids)) => {
                    let mut seen = HashSet::with_capacity(ids.len());
                    Self::Subscribe(
                        ids.iter()
                            .filter_map(Value::as_str)
                            .filter(|id| seen.insert(*id))
                            .map(str::to_owned)
                            .collect(),
                    )
                }
                _ => Self::Ignored(Some("subscribe".to_owned())),
            },
            Some("unsubscribe") => Self::Unsubscribe,
            other => Self::Ignored(other.map(str::to_owned)),
        }
    }

    /// Whether an ignored message deserves no log line at all (the reference stays quiet for
    /// the high-frequency `heartbeat` / `keepalive`).
    pub(crate) fn is_quiet(kind: Option<&str>) -> bool {
        matches!(kind, Some("heartbeat" | "keepalive"))
    }
}

/// `{type:'pong', timestamp}`.
pub(crate) fn pong(timestamp: i64) -> Utf8Bytes {
    json!({"type": "pong", "timestamp": timestamp})
        .to_string()
        .into()
}

/// `{type:'subscribed', sessionIds, timestamp}`.
pub(crate) fn subscribed(session_ids: &[String], timestamp: i64) -> Utf8Bytes {
    json!({"type": "subscribed", "sessionIds": session_ids, "timestamp": timestamp})
        .to_string()
        .into()
}

/// `{type:'unsubscribed', timestamp}`.
pub(crate) fn unsubscribed(timestamp: i64) -> Utf8Bytes {
    json!({"type": "unsubscribed", "timestamp": timestamp})
        .to_string()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ClientRequest {
        ClientRequest::parse(s.as_bytes())
    }

    #[test]
    fn requests() {
        assert_eq!(parse(r#"{"type":"ping"}"#), ClientRequest::Ping);
        assert_eq!(
            parse(r#"{"type":"unsubscribe"}"#),
            ClientRequest::Unsubscribe
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","sessionIds":["a",1,"b","a",null,{"x":1},"c"]}"#),
            ClientRequest::Subscribe(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","sessionIds":[]}"#),
            ClientRequest::Subscribe(vec![])
        );
        for bad in [
            r#"{"type":"subscribe","sessionIds":"a"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","sessionIds":{"0":"a"}}"#,
        ] {
            assert_eq!(
                parse(bad),
                ClientRequest::Ignored(Some("subscribe".into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse(r#"{"type":"heartbeat"}"#),
            ClientRequest::Ignored(Some("heartbeat".into()))
        );
        assert_eq!(parse(r#"{"type":5}"#), ClientRequest::Ignored(None));
        assert_eq!(parse("[1,2]"), ClientRequest::Ignored(None));
        assert_eq!(parse("null"), ClientRequest::Ignored(None));
        assert_eq!(parse("{not json"), ClientRequest::Unparseable);
        assert!(ClientRequest::is_quiet(Some("keepalive")));
        assert!(!ClientRequest::is_quiet(Some("other")));
    }

    #[test]
    fn replies() {
        assert_eq!(pong(7).as_str(), r#"{"type":"pong","timestamp":7}"#);
        assert_eq!(
            subscribed(&["a".into()], 7).as_str(),
            r#"{"type":"subscribed","sessionIds":["a"],"timestamp":7}"#
        );
        assert_eq!(
            unsubscribed(7).as_str(),
            r#"{"type":"unsubscribed","timestamp":7}"#
        );
    }
}
