//! [`MailRepository`] on the `mail` table (spec §3).
//!
//! The inbox is the union of the direct part (`to_session_id = $1`, index `idx_mail_inbox`)
//! and the broadcast part (`project_id = $2 AND to_session_id IS NULL`, partial index
//! `idx_mail_broadcast`); the sender's own broadcasts are included, as in the reference
//! (`MailMessage::is_for`). `mark_read` is one `UPDATE … WHERE id = ANY($1) AND read_at IS
//! NULL RETURNING`, so concurrent readers mark each mail once.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{MailFilter, MailMessage, MailPriority, MailType};
use maestro_domain::error::{DomainError, DomainResult};
use maestro_domain::ports::MailRepository;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{
    col, col_list, extra_from_json, extra_to_json, parse_enum, parse_opt_enum, storable, upsert_sql,
};

const T: &str = "mail";

/// Columns written and read, in parameter order (`id` first).
pub(crate) const COLS: &[&str] = &[
    "id",
    "project_id",
    "from_session_id",
    "to_session_id",
    "reply_to_mail_id",
    "thread_id",
    "type",
    "subject",
    "body",
    "priority",
    "created_at",
    "read_at",
    "extra",
];

static SELECT: LazyLock<String> = LazyLock::new(|| format!("SELECT {} FROM {T}", col_list(COLS)));
pub(crate) static UPSERT: LazyLock<String> = LazyLock::new(|| upsert_sql(T, COLS, &["id"]));

/// Owned values of the columns that need a conversion.
pub(crate) struct Params {
    kind: &'static str,
    priority: Option<&'static str>,
    extra: Value,
}

impl Params {
    /// `Validation` if the mail holds a value of an unexpected type (see [`storable`]).
    pub(crate) fn new(m: &MailMessage) -> DomainResult<Self> {
        storable(T, &m.odd)?;
        Ok(Self {
            kind: m.kind.as_str(),
            priority: m.priority.map(MailPriority::as_str),
            extra: extra_to_json(&m.extra),
        })
    }

    /// Parameters in [`COLS`] order.
    pub(crate) fn refs<'a>(&'a self, m: &'a MailMessage) -> [&'a (dyn ToSql + Sync); 13] {
        [
            &m.id,
            &m.project_id,
            &m.from_session_id,
            &m.to_session_id,
            &m.reply_to_mail_id,
            &m.thread_id,
            &self.kind,
            &m.subject,
            &m.body,
            &self.priority,
            &m.created_at,
            &m.read_at,
            &self.extra,
        ]
    }
}

fn decode(row: &Row) -> DomainResult<MailMessage> {
    let kind: String = col(row, T, "type")?;
    Ok(MailMessage {
        id: col(row, T, "id")?,
        project_id: col(row, T, "project_id")?,
        from_session_id: col(row, T, "from_session_id")?,
        to_session_id: col(row, T, "to_session_id")?,
        reply_to_mail_id: col(row, T, "reply_to_mail_id")?,
        thread_id: col(row, T, "thread_id")?,
        kind: parse_enum(T, "type", &kind, MailType::parse)?,
        subject: col(row, T, "subject")?,
        body: col(row, T, "body")?,
        priority: parse_opt_enum(T, "priority", col(row, T, "priority")?, MailPriority::parse)?,
        created_at: col(row, T, "created_at")?,
        read_at: col(row, T, "read_at")?,
        extra: extra_from_json(col(row, T, "extra")?),
        odd: Default::default(),
    })
}

/// Mail on PostgreSQL.
#[derive(Clone)]
pub struct PgMailRepository {
    pool: Pool,
}

impl PgMailRepository {
    /// A repository on `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> DomainResult<Vec<MailMessage>> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
        let rows = client.query(&stmt, params).await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }
}

#[async_trait]
impl MailRepository for PgMailRepository {
    /// Stores the mail; an existing id is overwritten, like the in-memory reference.
    async fn insert(&self, mail: MailMessage) -> DomainResult<MailMessage> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&UPSERT).await.map_err(db_err)?;
        let p = Params::new(&mail)?;
        client
            .execute(&stmt, &p.refs(&mail))
            .await
            .map_err(db_err)?;
        Ok(mail)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<MailMessage>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("{} WHERE id = $1", *SELECT))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("DELETE FROM mail WHERE id = $1")
            .await
            .map_err(db_err)?;
        match client.execute(&stmt, &[&id]).await.map_err(db_err)? {
            0 => Err(DomainError::not_found("Mail", id)),
            _ => Ok(()),
        }
    }

    async fn inbox(
        &self,
        session_id: &str,
        project_id: &str,
        filter: &MailFilter,
    ) -> DomainResult<Vec<MailMessage>> {
        let kind = filter.kind.map(MailType::as_str);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&session_id, &project_id];
        let mut extra_conds = String::new();
        if let Some(k) = &kind {
            params.push(k);
            extra_conds.push_str(&format!(" AND type = ${}", params.len()));
        }
        if let Some(since) = &filter.since {
            params.push(since);
            extra_conds.push_str(&format!(" AND created_at > ${}", params.len()));
        }
        let sql = format!(
            "SELECT * FROM ({sel} WHERE to_session_id = $1 AND project_id = $2{extra_conds} \
             UNION ALL \
             {sel} WHERE project_id = $2 AND to_session_id IS NULL{extra_conds}) inbox \
             ORDER BY created_at, id COLLATE \"C\"",
            sel = *SELECT
        );
        self.query(&sql, &params).await
    }

    async fn thread(&self, thread_id: &str) -> DomainResult<Vec<MailMessage>> {
        let sql = format!(
            "{} WHERE thread_id = $1 ORDER BY created_at, id COLLATE \"C\"",
            *SELECT
        );
        self.query(&sql, &[&thread_id]).await
    }

    async fn unread_direct(&self, session_id: &str) -> DomainResult<Vec<MailMessage>> {
        let sql = format!(
            "{} WHERE to_session_id = $1 AND read_at IS NULL ORDER BY created_at, id COLLATE \"C\"",
            *SELECT
        );
        self.query(&sql, &[&session_id]).await
    }

    async fn mark_read(&self, ids: &[String], at: i64) -> DomainResult<Vec<MailMessage>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE {T} SET read_at = $2 WHERE id = ANY($1) AND read_at IS NULL RETURNING {}",
            col_list(COLS)
        );
        let mut updated = self.query(&sql, &[&ids, &at]).await?;
        // Return them in the order the ids were given (the in-memory reference's order).
        updated.sort_by_key(|m| ids.iter().position(|id| *id == m.id).unwrap_or(usize::MAX));
        Ok(updated)
    }
}
