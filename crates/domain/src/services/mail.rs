//! MailService (spec §3): typed mail with `waitForMail`, and the session-scoped view the CLI
//! uses (ref §1.8, §3.6).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Ctx;
use crate::entities::{
    Extra, MailFilter, MailMessage, MailPriority, MailScope, MailType, Session, SessionFilter,
    SessionMail, SessionStatus, js_trim, sort_inbox,
};
use crate::error::{DomainError, DomainResult};
use crate::events::{NewEvent, Payload, names};
use crate::ids::{check_id, check_opt_id};

/// Default `waitForMail` timeout, ms (spec §3).
pub const DEFAULT_WAIT_MS: u64 = 30_000;
/// Maximum `waitForMail` timeout, ms (spec §3).
pub const MAX_WAIT_MS: u64 = 120_000;

/// Input of `POST /api/mail` (ref Appendix A `SendMailPayload`).
#[derive(Debug, Clone)]
pub struct SendMail {
    /// Project (`''` if missing).
    pub project_id: String,
    /// Sender.
    pub from_session_id: String,
    /// `None` = not given; `Some(None)` = explicit broadcast.
    pub to_session_id: Option<Option<String>>,
    /// Deliver to the active sessions of this team member.
    pub to_team_member_id: Option<String>,
    /// Reply target.
    pub reply_to_mail_id: Option<String>,
    /// Kind.
    pub kind: MailType,
    /// Subject, 1–500 characters.
    pub subject: String,
    /// Body object (default `{}`).
    pub body: Option<Value>,
    /// Priority.
    pub priority: Option<MailPriority>,
    /// Broadcast scope when `toSessionId` is not given.
    pub scope: Option<MailScope>,
}

/// Input of `POST /api/sessions/:id/mail` (ref §4.4).
#[derive(Debug, Clone)]
pub struct SessionMailInput {
    /// Sender session (not validated).
    pub from_session_id: String,
    /// Sender name.
    pub from_name: String,
    /// Message.
    pub message: String,
    /// Detail.
    pub detail: Option<String>,
}

/// Mail.
#[derive(Clone)]
pub struct MailService {
    pub(crate) ctx: Arc<Ctx>,
}

fn is_active(s: &Session) -> bool {
    matches!(
        s.status.known(),
        Some(SessionStatus::Working | SessionStatus::Idle | SessionStatus::Spawning)
    )
}

impl MailService {
    async fn store(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        let mail = self.ctx.ports.mail.insert(mail).await?;
        let mut ev = NewEvent::new(names::MAIL_RECEIVED, &mail.project_id, Payload::of(&mail));
        if let Some(to) = &mail.to_session_id {
            ev = ev.for_session(to);
        }
        self.ctx.emit(ev).await;
        Ok(mail)
    }

    /// Sends typed mail (ref Appendix A send rules); emits `mail:received` per stored mail.
    /// Returns every stored copy (one for a direct mail or a broadcast).
    ///
    /// # Errors
    /// `Validation` (a missing `projectId`, an id breaking the id rule — `projectId`,
    /// `fromSessionId`, `toSessionId`, `toTeamMemberId`, `replyToMailId` — or the subject
    /// length); `NotFound` "Active session for team member …" or the replied-to mail.
    pub async fn send(&self, input: SendMail) -> DomainResult<Vec<MailMessage>> {
        if input.project_id.is_empty() {
            return Err(DomainError::invalid_field("projectId", "is required"));
        }
        check_id("projectId", &input.project_id)?;
        check_id("fromSessionId", &input.from_session_id)?;
        check_opt_id(
            "toSessionId",
            input.to_session_id.clone().flatten().as_deref(),
        )?;
        check_opt_id("toTeamMemberId", input.to_team_member_id.as_deref())?;
        check_opt_id("replyToMailId", input.reply_to_mail_id.as_deref())?;
        let len = input.subject.chars().count();
        if !(1..=500).contains(&len) {
            return Err(DomainError::invalid_field(
                "subject",
                "must be 1 to 500 characters",
            ));
        }
        let thread_from_reply = match &input.reply_to_mail_id {
            Some(reply) => Some(
                self.ctx
                    .ports
                    .mail
                    .get(reply)
                    .await?
                    .map(|m| {
                        if m.thread_id.is_empty() {
                            m.id
                        } else {
                            m.thread_id
                        }
                    })
                    .ok_or_else(|| DomainError::not_found("Mail", reply))?,
            ),
            None => None,
        };
        let targets: Vec<Option<String>> = match (&input.to_session_id, &input.to_team_member_id) {
            // `toTeamMemberId && !toSessionId` (ref Appendix A): an explicit null target
            // still fans out to the member's sessions.
            (None | Some(None), Some(tm)) => {
                let ids: Vec<_> = self
                    .project_sessions(&input.project_id)
                    .await?
                    .into_iter()
                    .filter(|s| is_active(s) && s.team_member_id.as_deref() == Some(tm))
                    .map(|s| Some(s.id))
                    .collect();
                if ids.is_empty() {
                    return Err(DomainError::not_found("Active session for team member", tm));
                }
                ids
            }
            (Some(to), _) => vec![to.clone()],
            (None, None) => {
                let sender_parent = match input.scope {
                    Some(MailScope::Team) => self
                        .ctx
                        .ports
                        .sessions
                        .get(&input.from_session_id)
                        .await?
                        .and_then(|s| s.parent_session_id),
                    _ => None,
                };
                let ids: Vec<_> = match input.scope {
                    Some(MailScope::MyWorkers) => self
                        .project_sessions(&input.project_id)
                        .await?
                        .into_iter()
                        .filter(|s| {
                            is_active(s)
                                && s.parent_session_id.as_deref()
                                    == Some(input.from_session_id.as_str())
                        })
                        .map(|s| Some(s.id))
                        .collect(),
                    // A sender without a parent has no team (ref Appendix A): broadcast.
                    Some(MailScope::Team) if sender_parent.is_some() => self
                        .project_sessions(&input.project_id)
                        .await?
                        .into_iter()
                        .filter(|s| {
                            is_active(s)
                                && s.id != input.from_session_id
                                && s.parent_session_id == sender_parent
                        })
                        .map(|s| Some(s.id))
                        .collect(),
                    _ => Vec::new(),
                };
                if ids.is_empty() { vec![None] } else { ids }
            }
        };
        let mut out = Vec::with_capacity(targets.len());
        for to in targets {
            let id = self.ctx.id("mail");
            let mail = MailMessage {
                thread_id: thread_from_reply.clone().unwrap_or_else(|| id.clone()),
                id,
                project_id: input.project_id.clone(),
                from_session_id: input.from_session_id.clone(),
                to_session_id: to,
                reply_to_mail_id: input.reply_to_mail_id.clone(),
                kind: input.kind,
                subject: input.subject.clone(),
                body: input.body.clone().unwrap_or_else(|| json!({})),
                priority: input.priority,
                created_at: self.ctx.now(),
                read_at: None,
                extra: Extra::new(),
                odd: Default::default(),
            };
            out.push(self.store(mail).await?);
        }
        Ok(out)
    }

    async fn project_sessions(&self, project_id: &str) -> DomainResult<Vec<Session>> {
        self.ctx
            .ports
            .sessions
            .list(&SessionFilter {
                project_id: Some(project_id.to_owned()),
                ..SessionFilter::default()
            })
            .await
    }

    /// The inbox of a session: direct and broadcast mail of the project passing `filter`,
    /// by priority then `createdAt`. `project_id` may be `""` (ref Appendix A: a missing
    /// `projectId` defaults to `''`).
    ///
    /// # Errors
    /// `Validation` if `session_id` or a non-empty `project_id` breaks the id rule.
    pub async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>> {
        check_id("sessionId", session_id)?;
        if !project_id.is_empty() {
            check_id("projectId", project_id)?;
        }
        let mut v = self
            .ctx
            .ports
            .mail
            .inbox(session_id, project_id, filter)
            .await?;
        sort_inbox(&mut v);
        Ok(v)
    }

    /// Long-poll (spec §3): returns the inbox mail newer than `since` at once if there is
    /// any, else waits up to `timeout_ms` (default 30,000, max 120,000) for the first new
    /// mail for the session and returns `[mail]`, or `[]` on timeout. The subscription is
    /// taken **before** the inbox is read, so a mail stored in between is not missed.
    /// Dropping the future (client disconnect) cancels the wait. Once [`App::shutdown`]
    /// was called, a pending wait returns `[]` at once and a new one does not wait.
    ///
    /// [`App::shutdown`]: crate::App::shutdown
    pub async fn wait(
        &self,
        session_id: &str,
        project_id: &str,
        timeout_ms: Option<u64>,
        since: Option<i64>,
    ) -> DomainResult<Vec<MailMessage>> {
        let timeout = Duration::from_millis(
            timeout_ms
                .filter(|t| *t > 0)
                .unwrap_or(DEFAULT_WAIT_MS)
                .min(MAX_WAIT_MS),
        );
        let filter = MailFilter {
            kind: None,
            since: Some(since.unwrap_or(0)),
        };
        let mut shutdown = self.ctx.shutdown.subscribe();
        let mut sub = self.ctx.ports.bus.subscribe();
        let found = self.inbox(session_id, project_id, &filter).await?;
        if !found.is_empty() || *shutdown.borrow() {
            return Ok(found);
        }
        let mut lagged_seen = sub.lagged();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let ev = {
                let next = std::pin::pin!(tokio::time::timeout_at(deadline, sub.recv()));
                let stopped = std::pin::pin!(async {
                    // An error means the services are gone: stop waiting as well.
                    let _ = shutdown.wait_for(|stop| *stop).await;
                });
                match first_of(next, stopped).await {
                    Either::Right(()) | Either::Left(Err(_) | Ok(None)) => return Ok(Vec::new()),
                    Either::Left(Ok(Some(ev))) => ev,
                }
            };
            if sub.lagged() != lagged_seen {
                // Events were dropped while we were behind: the inbox is the truth. Re-read it
                // once per lag, not on every later event.
                lagged_seen = sub.lagged();
                let found = self.inbox(session_id, project_id, &filter).await?;
                if !found.is_empty() {
                    return Ok(found);
                }
            }
            if ev.name != names::MAIL_RECEIVED {
                continue;
            }
            // `since` only selects what the inbox check returns: a mail that arrives now is
            // new whatever its `createdAt` (same millisecond, another instance's clock).
            if let Ok(mail) = ev.data.parse::<MailMessage>()
                && mail.is_for(session_id, project_id)
            {
                return Ok(vec![mail]);
            }
        }
    }

    /// Every mail of a thread, oldest first.
    pub async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>> {
        self.ctx.ports.mail.thread(thread_id).await
    }

    /// One mail. `NotFound`.
    pub async fn get(&self, id: &str) -> DomainResult<MailMessage> {
        self.ctx
            .ports
            .mail
            .get(id)
            .await?
            .ok_or_else(|| DomainError::not_found("Mail", id))
    }

    /// Deletes a mail; emits `mail:deleted` `{id}`. `NotFound`.
    pub async fn delete(&self, id: &str) -> DomainResult<()> {
        let mail = self.get(id).await?;
        self.ctx.ports.mail.delete(id).await?;
        let mut ev = NewEvent::new(names::MAIL_DELETED, &mail.project_id, json!({ "id": id }));
        if let Some(to) = &mail.to_session_id {
            ev = ev.for_session(to);
        }
        self.ctx.emit(ev).await;
        Ok(())
    }

    /// `POST /api/sessions/:id/mail` (spec §3): stores a `notification` mail, emits
    /// `mail:received` and the `session:prompt_send` push of ref §3.6. Returns the mail.
    ///
    /// # Errors
    /// `Validation` for a `fromSessionId` breaking the id rule; `NotFound` target session.
    pub async fn notify(
        &self,
        to_session_id: &str,
        input: SessionMailInput,
    ) -> DomainResult<MailMessage> {
        check_id("fromSessionId", &input.from_session_id)?;
        let target = self
            .ctx
            .ports
            .sessions
            .get(to_session_id)
            .await?
            .ok_or_else(|| DomainError::not_found("Session", to_session_id))?;
        let mut body = json!({ "fromName": input.from_name, "message": input.message });
        if let Some(d) = &input.detail {
            body["detail"] = Value::String(d.clone());
        }
        let id = self.ctx.id("mail");
        let mail = MailMessage {
            thread_id: id.clone(),
            id,
            project_id: target.project_id.clone(),
            from_session_id: input.from_session_id.clone(),
            to_session_id: Some(target.id.clone()),
            reply_to_mail_id: None,
            kind: MailType::Notification,
            subject: input.message.clone(),
            body,
            priority: None,
            created_at: self.ctx.now(),
            read_at: None,
            extra: Extra::new(),
            odd: Default::default(),
        };
        let mail = self.store(mail).await?;
        let content = format!(
            "[From: {}] {} — mail stored, run: maestro session mail read",
            input.from_name,
            js_trim(&input.message)
        );
        self.ctx
            .emit(
                NewEvent::new(
                    names::SESSION_PROMPT_SEND,
                    &target.project_id,
                    json!({
                        "sessionId": target.id,
                        "content": content,
                        "mode": "send",
                        "senderSessionId": input.from_session_id,
                    }),
                )
                .for_session(&target.id),
            )
            .await;
        Ok(mail)
    }

    /// `GET /api/sessions/:id/mail`: the unread direct mail of the session in the ref §1.8
    /// shape, now marked read (`readAt` set). Reading is destructive.
    ///
    /// # Errors
    /// `NotFound` session.
    pub async fn read_session_mail(&self, session_id: &str) -> DomainResult<Vec<SessionMail>> {
        let session = self
            .ctx
            .ports
            .sessions
            .get(session_id)
            .await?
            .ok_or_else(|| DomainError::not_found("Session", session_id))?;
        let parent = session
            .parent_session_id
            .clone()
            .unwrap_or_else(|| session.id.clone());
        let unread = self.ctx.ports.mail.unread_direct(session_id).await?;
        let ids: Vec<String> = unread.iter().map(|m| m.id.clone()).collect();
        let mut read = self.ctx.ports.mail.mark_read(&ids, self.ctx.now()).await?;
        read.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(read
            .iter()
            .map(|m| SessionMail::from_message(m, session_id, &parent))
            .collect())
    }
}

/// The output of whichever of two futures finished first ([`first_of`]).
enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Runs two futures and resolves with the first that is ready (`a` wins a tie): a `select`
/// without tokio's `macros` feature, which the domain does not use.
async fn first_of<A, B>(mut a: A, mut b: B) -> Either<A::Output, B::Output>
where
    A: Future + Unpin,
    B: Future + Unpin,
{
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = std::pin::Pin::new(&mut a).poll(cx) {
            return std::task::Poll::Ready(Either::Left(v));
        }
        std::pin::Pin::new(&mut b).poll(cx).map(Either::Right)
    })
    .await
}
