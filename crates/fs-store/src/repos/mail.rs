//! Typed mail: `mail/<mailId>.json` (spec §3, §6.2).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use maestro_domain::entities::{MailFilter, MailMessage};
use maestro_domain::ports::MailRepository;
use maestro_domain::{DomainError, DomainResult};

use super::{Ctx, by_creation, read, settle, unwrap_arc, write};
use crate::layout::check_id;
use crate::op::Op;

/// [`MailRepository`] on `mail/<mailId>.json`.
pub struct FsMailRepository {
    ctx: Arc<Ctx>,
    map: RwLock<HashMap<String, MailMessage>>,
}

impl FsMailRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, MailMessage>) -> Self {
        Self {
            ctx,
            map: RwLock::new(map),
        }
    }

    /// Every stored mail, by `createdAt` then id (for exports such as `import-fs`, and tests).
    pub fn all(&self) -> Vec<MailMessage> {
        self.sorted(|_| true)
    }

    fn sorted(&self, keep: impl Fn(&MailMessage) -> bool) -> Vec<MailMessage> {
        let map = read(&self.map);
        let mut v: Vec<&MailMessage> = map.values().filter(|m| keep(m)).collect();
        v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
        v.into_iter().cloned().collect()
    }
}

#[async_trait]
impl MailRepository for FsMailRepository {
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        check_id("id", &mail.id)?;
        let (snap, ticket) = {
            let mut map = write(&self.map);
            map.insert(mail.id.clone(), mail.clone());
            let snap = Arc::new(mail);
            let path = self.ctx.layout.mail(&snap.id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>> {
        Ok(read(&self.map).get(id).cloned())
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let ticket = {
            let mut map = write(&self.map);
            map.remove(id)
                .ok_or_else(|| DomainError::not_found("Mail", id))?;
            let path = self.ctx.layout.mail(id);
            self.ctx.writer.submit(path, Op::Delete { also: None })
        };
        settle(ticket).await
    }

    async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>> {
        Ok(self.sorted(|m| m.is_for(session_id, project_id) && filter.matches(m)))
    }

    async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>> {
        Ok(self.sorted(|m| m.thread_id == thread_id))
    }

    async fn unread_direct(&self, session_id: &str) -> DomainResult<Vec<MailMessage>> {
        Ok(self.sorted(|m| m.to_session_id.as_deref() == Some(session_id) && m.read_at.is_none()))
    }

    async fn mark_read(&self, ids: &[String], at: i64) -> DomainResult<Vec<MailMessage>> {
        let (out, tickets) = {
            let mut map = write(&self.map);
            let mut out = Vec::new();
            let mut tickets = Vec::new();
            for id in ids {
                if let Some(mail) = map.get_mut(id)
                    && mail.read_at.is_none()
                {
                    mail.read_at = Some(at);
                    let snap = Arc::new(mail.clone());
                    let path = self.ctx.layout.mail(id);
                    tickets.push(self.ctx.writer.submit(path, Op::json(snap.clone(), None)));
                    out.push(snap);
                }
            }
            (out, tickets)
        };
        // The writes run in parallel; report the first failure after all have settled.
        let mut first_err = None;
        for t in tickets {
            if let Err(e) = settle(t).await {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out.into_iter().map(unwrap_arc).collect()),
        }
    }
}
