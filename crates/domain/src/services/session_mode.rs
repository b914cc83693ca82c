//! SessionService, continued: a session's role, as the newer reference serves it
//! (`GET|POST /api/sessions/:id/mode`).
//!
//! A session's mode is the `mode` key of its `metadata` (`worker`, `coordinator`,
//! `coordinated-worker`, `coordinated-coordinator`; legacy `execute` / `coordinate` and
//! anything else count as a standalone worker). A mode is a *relation* (standalone, or
//! coordinated by a parent session) and a *role* (worker or coordinator). A session may flip
//! its own role; its relation never changes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::SessionService;
use crate::entities::{Session, SessionPatch};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, names};

/// The role part of a session's mode: what `POST /api/sessions/:id/mode` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionRole {
    /// Does the work itself.
    Worker,
    /// May spawn and direct other sessions.
    Coordinator,
}

impl SessionRole {
    /// Wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Coordinator => "coordinator",
        }
    }
}

/// Whether a session works on its own or under a coordinating parent session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionRelation {
    /// No coordinating parent.
    Standalone,
    /// Spawned by (and reporting to) a coordinator session.
    Coordinated,
}

/// Splits a stored mode into relation and role; an unknown or legacy mode is a standalone
/// worker (as the newer reference reads it).
fn split(mode: &str) -> (SessionRelation, SessionRole) {
    match mode {
        "coordinator" => (SessionRelation::Standalone, SessionRole::Coordinator),
        "coordinated-worker" => (SessionRelation::Coordinated, SessionRole::Worker),
        "coordinated-coordinator" => (SessionRelation::Coordinated, SessionRole::Coordinator),
        _ => (SessionRelation::Standalone, SessionRole::Worker),
    }
}

/// The mode of a relation and a role.
fn combine(relation: SessionRelation, role: SessionRole) -> &'static str {
    match (relation, role) {
        (SessionRelation::Standalone, SessionRole::Worker) => "worker",
        (SessionRelation::Standalone, SessionRole::Coordinator) => "coordinator",
        (SessionRelation::Coordinated, SessionRole::Worker) => "coordinated-worker",
        (SessionRelation::Coordinated, SessionRole::Coordinator) => "coordinated-coordinator",
    }
}

/// The stored mode of a session: `metadata.mode` when it is a non-empty string, else
/// `worker`.
pub(crate) fn mode_of(session: &Session) -> String {
    session
        .metadata
        .as_ref()
        .and_then(|m| m.get("mode"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or("worker")
        .to_owned()
}

/// The answer of `GET /api/sessions/:id/mode`: `{id, mode, relation, role}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionModeView {
    /// The session.
    pub id: String,
    /// Its stored mode (legacy values as stored).
    pub mode: String,
    /// Relation read from the mode.
    pub relation: SessionRelation,
    /// Role read from the mode.
    pub role: SessionRole,
}

/// The answer of `POST /api/sessions/:id/mode`:
/// `{id, mode, previousMode, changed[, manifestRegenerated]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionModeChange {
    /// The session.
    pub id: String,
    /// The mode now.
    pub mode: String,
    /// The mode before (equal to `mode` when nothing changed).
    pub previous_mode: String,
    /// True if the mode changed.
    pub changed: bool,
    /// Present when the mode changed: whether the session's manifest was generated again
    /// for the new mode. Always `false` here: this server does not regenerate manifests on
    /// a mode change yet (the server-side spawn gate reads the live mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_regenerated: Option<bool>,
}

impl SessionService {
    /// The session's mode, relation and role.
    ///
    /// # Errors
    /// `NotFound` session.
    pub async fn mode(&self, id: &str) -> DomainResult<SessionModeView> {
        let session = self.get_raw(id).await?;
        let mode = mode_of(&session);
        let (relation, role) = split(&mode);
        Ok(SessionModeView {
            id: session.id,
            mode,
            relation,
            role,
        })
    }

    /// Switches the session's role, keeping its relation: stores the new mode in
    /// `metadata.mode` and emits `session:mode_changed`
    /// `{sessionId, mode, previousMode, changed: true, timestamp}` (no `session:updated`, as
    /// the newer reference). Only the session itself may do it: `caller` is the session the
    /// request comes from (the `X-Session-Id` header).
    ///
    /// # Errors
    /// `Forbidden` "You can only flip your own role" when `caller` is not `id` (checked
    /// first); `NotFound` session.
    pub async fn set_role(
        &self,
        id: &str,
        caller: Option<&str>,
        role: SessionRole,
    ) -> DomainResult<SessionModeChange> {
        if caller != Some(id) {
            return Err(DomainError::Forbidden(
                "You can only flip your own role".into(),
            ));
        }
        let session = self.get_raw(id).await?;
        let previous = mode_of(&session);
        let (relation, _) = split(&previous);
        let mode = combine(relation, role);
        if mode == previous {
            return Ok(SessionModeChange {
                id: session.id,
                mode: previous.clone(),
                previous_mode: previous,
                changed: false,
                manifest_regenerated: None,
            });
        }
        let patch = SessionPatch {
            metadata: json!({ "mode": mode }).as_object().cloned(),
            ..SessionPatch::default()
        };
        let now = self.ctx.now();
        let updated = self
            .ctx
            .ports
            .sessions
            .update_shared(id, &patch, now)
            .await?;
        let data = json!({
            "sessionId": id,
            "mode": mode,
            "previousMode": previous,
            "changed": true,
            "timestamp": now,
        });
        self.ctx
            .emit(
                NewEvent::new(names::SESSION_MODE_CHANGED, &updated.project_id, data)
                    .for_session(id),
            )
            .await;
        Ok(SessionModeChange {
            id: id.to_owned(),
            mode: mode.to_owned(),
            previous_mode: previous,
            changed: true,
            manifest_regenerated: Some(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_is_kept_and_legacy_modes_are_standalone_workers() {
        use SessionRelation::*;
        use SessionRole::*;
        for (mode, relation, role) in [
            ("worker", Standalone, Worker),
            ("coordinator", Standalone, Coordinator),
            ("coordinated-worker", Coordinated, Worker),
            ("coordinated-coordinator", Coordinated, Coordinator),
            ("execute", Standalone, Worker),
            ("coordinate", Standalone, Worker),
            ("something", Standalone, Worker),
        ] {
            assert_eq!(split(mode), (relation, role), "{mode}");
        }
        for mode in [
            "worker",
            "coordinator",
            "coordinated-worker",
            "coordinated-coordinator",
        ] {
            let (relation, role) = split(mode);
            assert_eq!(combine(relation, role), mode);
        }
    }
}
