//! SessionService, continued: what the UI and other sessions push to a session — modals
//! and prompts (ref §4.4).

use serde_json::{Value, json};

use super::SessionService;
use crate::entities::TimelineEventType;
use crate::entities::{PromptMode, Session};
use crate::error::DomainResult;
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
    /// `{sessionId, content, mode, senderSessionId, timestamp}`, then appends the
    /// `prompt_received` timeline entry (which emits `session:updated`).
    ///
    /// # Errors
    /// `NotFound` session.
    pub async fn prompt(&self, id: &str, input: PromptInput) -> DomainResult<Session> {
        let session = self.get_raw(id).await?;
        let data = json!({
            "sessionId": id,
            "content": input.content,
            "mode": input.mode.as_str(),
            "senderSessionId": input.sender_session_id,
            "timestamp": self.ctx.now(),
        });
        self.ctx
            .emit(
                NewEvent::new(names::SESSION_PROMPT_SEND, &session.project_id, data)
                    .for_session(id),
            )
            .await;
        let preview: String = input.content.chars().take(100).collect();
        let ellipsis = if input.content.chars().count() > 100 {
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
