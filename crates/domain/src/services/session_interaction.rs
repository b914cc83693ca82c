//! SessionService, continued: what the UI and other sessions push to a session — modals
//! and prompts (ref §4.4).

use serde_json::{Value, json};

use super::SessionService;
use crate::entities::TimelineEventType;
use crate::entities::{PromptMode, Session, is_js_whitespace, js_trim};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::events::{NewEvent, names};

/// Input of `POST /api/sessions/:id/modal`.
#[derive(Debug, Clone)]
pub struct ModalInput {
    /// Modal id.
    pub modal_id: String,
    /// HTML.
    pub html: String,
    /// Title (default `Agent Modal`).
    pub title: Option<String>,
    /// Where the agent wrote it.
    pub file_path: Option<String>,
}

/// Input of `POST /api/sessions/:id/prompt`.
#[derive(Debug, Clone)]
pub struct PromptInput {
    /// Non-empty content.
    pub content: String,
    /// Delivery mode (default send).
    pub mode: PromptMode,
    /// Sending session.
    pub sender_session_id: Option<String>,
}

impl SessionService {
    /// Stores the modal HTML and emits `session:modal`
    /// `{sessionId, modalId, title, html, filePath, timestamp}`.
    ///
    /// # Errors
    /// `NotFound` session.
    pub async fn show_modal(&self, id: &str, input: ModalInput) -> DomainResult<()> {
        let session = self.get_raw(id).await?;
        let written = self
            .ctx
            .ports
            .modals
            .save(&input.modal_id, &input.html)
            .await?;
        let data = json!({
            "sessionId": id,
            "modalId": input.modal_id,
            "title": input.title.unwrap_or_else(|| "Agent Modal".into()),
            "html": input.html,
            "filePath": input.file_path.unwrap_or(written),
            "timestamp": self.ctx.now(),
        });
        self.ctx
            .emit(NewEvent::new(names::SESSION_MODAL, &session.project_id, data).for_session(id))
            .await;
        Ok(())
    }

    /// The project of a session that may not exist (modal actions are not checked, ref
    /// §4.4): `''` when unknown.
    async fn project_of(&self, id: &str) -> DomainResult<String> {
        Ok(self
            .ctx
            .ports
            .sessions
            .get(id)
            .await?
            .map(|s| s.project_id)
            .unwrap_or_default())
    }

    /// Emits `session:modal_action` `{sessionId, modalId, action, data, timestamp}`.
    pub async fn modal_action(
        &self,
        id: &str,
        modal_id: &str,
        action: &str,
        data: Value,
    ) -> DomainResult<()> {
        let project = self.project_of(id).await?;
        let payload = json!({
            "sessionId": id, "modalId": modal_id, "action": action, "data": data,
            "timestamp": self.ctx.now(),
        });
        self.ctx
            .emit(NewEvent::new(names::SESSION_MODAL_ACTION, project, payload).for_session(id))
            .await;
        Ok(())
    }

    /// Emits `session:modal_closed` `{sessionId, modalId, timestamp}`.
    pub async fn modal_close(&self, id: &str, modal_id: &str) -> DomainResult<()> {
        let project = self.project_of(id).await?;
        let payload = json!({ "sessionId": id, "modalId": modal_id, "timestamp": self.ctx.now() });
        self.ctx
            .emit(NewEvent::new(names::SESSION_MODAL_CLOSED, project, payload).for_session(id))
            .await;
        Ok(())
    }

    /// Sends a prompt to a session's terminal: emits `session:prompt_send`
    /// `{sessionId, content, mode, senderSessionId, senderProjectId, targetProjectId,
    /// timestamp}`, then appends the `prompt_received` timeline entry (which emits
    /// `session:updated`).
    ///
    /// With a sender (the newer reference's rules; the CLI always names one): the sender
    /// must exist, may not be the target, and the delivered content starts with
    /// `[From: <sender name> (<sender id>)] ` unless it already does. Without one (older
    /// clients may omit it) the content is delivered as sent.
    ///
    /// # Errors
    /// `NotFound` target or sender session; `Validation` "A session cannot prompt itself."
    pub async fn prompt(&self, id: &str, input: PromptInput) -> DomainResult<Session> {
        let session = self.get_raw(id).await?;
        let mut content = input.content;
        let mut sender_project = None;
        if let Some(sender_id) = input.sender_session_id.as_deref() {
            let sender = self.get_raw(sender_id).await?;
            if sender.id == session.id {
                return Err(DomainError::Validation {
                    message: "A session cannot prompt itself.".into(),
                    details: vec![FieldError::new(
                        "senderSessionId",
                        "must name another session than the target",
                    )],
                });
            }
            content = with_sender_prefix(content, &sender_name(&sender), sender_id);
            sender_project = Some(sender.project_id);
        }
        let data = json!({
            "sessionId": id,
            "content": content,
            "mode": input.mode.as_str(),
            "senderSessionId": input.sender_session_id,
            "senderProjectId": sender_project,
            "targetProjectId": session.project_id,
            "timestamp": self.ctx.now(),
        });
        self.ctx
            .emit(
                NewEvent::new(names::SESSION_PROMPT_SEND, &session.project_id, data)
                    .for_session(id),
            )
            .await;
        let preview: String = content.chars().take(100).collect();
        let ellipsis = if content.chars().count() > 100 {
            "..."
        } else {
            ""
        };
        let message = format!(
            "Received prompt from session {}: \"{preview}{ellipsis}\"",
            input.sender_session_id.as_deref().unwrap_or("unknown")
        );
        self.add_timeline_event(
            id,
            TimelineEventType::PromptReceived,
            Some(message),
            None,
            Some(
                json!({ "senderSessionId": input.sender_session_id, "mode": input.mode.as_str() }),
            ),
        )
        .await
    }
}

/// The name a prompt's sender signs with: the first non-empty of its team member snapshot's
/// name, its first snapshot's name, `metadata.teamMemberSnapshot.name`,
/// `metadata.teamMemberName` and the session name; `Unknown` when all are empty. Trimmed.
fn sender_name(sender: &Session) -> String {
    let meta = sender.metadata.as_ref();
    [
        sender
            .team_member_snapshot
            .as_ref()
            .map(|s| s.name.as_str()),
        sender
            .team_member_snapshots
            .as_ref()
            .and_then(|v| v.first())
            .map(|s| s.name.as_str()),
        meta.and_then(|m| m.pointer("/teamMemberSnapshot/name"))
            .and_then(Value::as_str),
        meta.and_then(|m| m.get("teamMemberName"))
            .and_then(Value::as_str),
        Some(sender.name.as_str()),
    ]
    .into_iter()
    .flatten()
    .find(|n| !n.is_empty())
    .map_or_else(|| "Unknown".to_owned(), |n| js_trim(n).to_owned())
}

/// `content` with the `[From: <name> (<id>)] ` prefix, unless it already starts with it
/// (after leading white space).
fn with_sender_prefix(content: String, name: &str, sender_id: &str) -> String {
    let prefix = format!("[From: {name} ({sender_id})]");
    if content
        .trim_start_matches(is_js_whitespace)
        .starts_with(&prefix)
    {
        content
    } else {
        format!("{prefix} {content}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_added_once() {
        let once = with_sender_prefix("hi".into(), "Ann", "s1");
        assert_eq!(once, "[From: Ann (s1)] hi");
        assert_eq!(with_sender_prefix(once.clone(), "Ann", "s1"), once);
        let indented = format!("  {once}");
        assert_eq!(with_sender_prefix(indented.clone(), "Ann", "s1"), indented);
        assert_eq!(
            with_sender_prefix(once.clone(), "Bob", "s2"),
            format!("[From: Bob (s2)] {once}")
        );
    }
}
