//! Typed mail (spec §3, ref Appendix A) and the session-scoped legacy view (ref §1.8).

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{Extra, MailPriority, MailType, OddValues};

/// A mail message: `mail/<mailId>.json`. Loads leniently ([`super::Stored`]): a field of an
/// unexpected type is kept in `odd` and served as stored — except `type`, which must be one
/// of [`MailType`] (typed mail is only ever written by this server, or converted from ref
/// §1.8 mail as `notification`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct MailMessage {
    /// `mail_<ms>_<rand>`.
    pub id: String,
    /// Project.
    pub project_id: String,
    /// Sender session.
    pub from_session_id: String,
    /// Target session; `null` = broadcast to the project.
    #[serde(default)]
    pub to_session_id: Option<String>,
    /// Mail this one replies to.
    #[serde(default)]
    pub reply_to_mail_id: Option<String>,
    /// Thread: the root mail's id.
    #[serde(default)]
    pub thread_id: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: MailType,
    /// Subject.
    pub subject: String,
    /// Body object.
    #[serde(default = "empty_object")]
    pub body: serde_json::Value,
    /// Priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<MailPriority>,
    /// Epoch ms.
    pub created_at: i64,
    /// When a direct mail was read, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    /// Unknown keys from stored files.
    #[serde(flatten)]
    pub extra: Extra,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new mail.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of a mail (spec §3). `priority` is an optional strict enum: a value of
/// another JSON type reads as unset (normal), one of an unknown string does not load.
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    pub(super) static MAIL: [Field; 12] = [
        field("id", Str, Key),
        field("projectId", Str, Required),
        field("fromSessionId", Str, Required),
        field("toSessionId", Str, Nullable),
        field("replyToMailId", Str, Nullable),
        field("threadId", Str, Defaulted),
        field("type", Str, Key),
        field("subject", Str, Required),
        field("body", Any, Defaulted),
        field("priority", Str, Optional),
        field("createdAt", Int, Required),
        field("readAt", Int, Optional),
    ];
}

stored_entity!(MailMessage, &shape::MAIL);

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl MailMessage {
    /// True if this mail is addressed to `session_id` directly or is a broadcast in
    /// `project_id` (the inbox rule of ref Appendix A).
    pub fn is_for(&self, session_id: &str, project_id: &str) -> bool {
        self.project_id == project_id
            && self
                .to_session_id
                .as_deref()
                .is_none_or(|to| to == session_id)
    }
}

/// The ref §1.8 shape returned by `GET /api/sessions/:id/mail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionMail {
    /// Mail id.
    pub id: String,
    /// Target's parent session, or the target itself.
    pub parent_session_id: String,
    /// Sender.
    pub from_session_id: String,
    /// Sender name.
    pub from_name: String,
    /// Target.
    pub to_session_id: String,
    /// Message.
    pub message: String,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
}

impl SessionMail {
    /// The legacy view of a typed mail addressed to a session. `body.fromName`,
    /// `body.message` and `body.detail` fill the legacy fields; a mail of another kind uses its
    /// subject as the message.
    pub fn from_message(mail: &MailMessage, to_session_id: &str, parent_session_id: &str) -> Self {
        let body = mail.body.as_object();
        let get = |k: &str| body.and_then(|b| b.get(k)).and_then(|v| v.as_str());
        Self {
            id: mail.id.clone(),
            parent_session_id: parent_session_id.to_owned(),
            from_session_id: mail.from_session_id.clone(),
            from_name: get("fromName").unwrap_or(&mail.from_session_id).to_owned(),
            to_session_id: to_session_id.to_owned(),
            message: get("message").unwrap_or(&mail.subject).to_owned(),
            detail: get("detail").map(str::to_owned),
            created_at: mail.created_at,
            read_at: mail.read_at,
        }
    }
}

/// Filter of an inbox read (ref Appendix A `MailFilter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailFilter {
    /// Only this kind.
    pub kind: Option<MailType>,
    /// Only mail created strictly after this time (epoch ms).
    pub since: Option<i64>,
}

impl MailFilter {
    /// True if `mail` passes the filter.
    pub fn matches(&self, mail: &MailMessage) -> bool {
        self.kind.is_none_or(|k| mail.kind == k) && self.since.is_none_or(|s| mail.created_at > s)
    }
}

/// Sorts an inbox: priority (critical, high, normal/unset, low), then `createdAt`, then id.
pub fn sort_inbox(mails: &mut [MailMessage]) {
    mails.sort_by(|a, b| {
        MailPriority::rank(a.priority)
            .cmp(&MailPriority::rank(b.priority))
            .then(a.created_at.cmp(&b.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
}
