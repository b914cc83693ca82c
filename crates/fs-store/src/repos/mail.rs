//! Typed mail: `mail/<mailId>.json` (spec §3, §6.2).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::entities::{MailFilter, MailMessage};
use maestro_domain::ports::MailRepository;
use maestro_domain::{DomainError, DomainResult};

use super::table::{Change, Table};
use super::{Ctx, by_creation, found};
use crate::layout::check_id;
use crate::op::Op;

/// [`MailRepository`] on `mail/<mailId>.json`.
pub struct FsMailRepository {
    ctx: Arc<Ctx>,
    table: Arc<Table<String, MailMessage>>,
}

impl FsMailRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<String, MailMessage>) -> Self {
        Self {
            ctx,
            table: Table::new(map),
        }
    }

    /// Every stored mail, by `createdAt` then id (for exports such as `import-fs`, and tests).
    pub fn all(&self) -> Vec<MailMessage> {
        self.sorted(|_| true)
    }

    fn sorted(&self, keep: impl Fn(&MailMessage) -> bool) -> Vec<MailMessage> {
        self.table.with_rows(|rows| {
            let mut v: Vec<&MailMessage> = rows.filter(|m| keep(m)).collect();
            v.sort_unstable_by(|a, b| by_creation((a.created_at, &a.id), (b.created_at, &b.id)));
            v.into_iter().cloned().collect()
        })
    }

    async fn mutate<R>(
        &self,
        id: &str,
        decide: impl FnOnce(Option<&Arc<MailMessage>>) -> DomainResult<Change<MailMessage, R>>,
    ) -> DomainResult<(Option<Arc<MailMessage>>, R)> {
        let path = self.ctx.layout.mail(id);
        self.table
            .mutate(&self.ctx, id.to_owned(), decide, |_, new| match new {
                Some(m) => (path, Op::json(m.clone(), None)),
                None => (path, Op::Delete { also: None }),
            })
            .await
    }
}

#[async_trait]
impl MailRepository for FsMailRepository {
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        check_id("id", &mail.id)?;
        let id = mail.id.clone();
        let (new, ()) = self.mutate(&id, |_| Ok(Change::Put(mail, ()))).await?;
        found(new, "Mail", &id)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>> {
        Ok(self
            .table
            .get(&id.to_owned())
            .map(|m| MailMessage::clone(&m)))
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        self.mutate(id, |old| match old {
            Some(_) => Ok(Change::Delete(())),
            None => Err(DomainError::not_found("Mail", id)),
        })
        .await?;
        Ok(())
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
        // One mutation per mail, run concurrently so that they share a journal sync.
        let marks = ids.iter().map(|id| {
            self.mutate(id, |old| {
                Ok(match old {
                    Some(m) if m.read_at.is_none() => {
                        let mut m = MailMessage::clone(m);
                        m.read_at = Some(at);
                        Change::Put(m, true)
                    }
                    _ => Change::Keep(false),
                })
            })
        });
        let mut out = Vec::new();
        let mut first_err = None;
        for result in futures::future::join_all(marks).await {
            match result {
                Ok((Some(m), true)) => out.push(MailMessage::clone(&m)),
                Ok(_) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
