//! [`SessionRepository`] on the `sessions` table.
//!
//! Task links and the event / timeline / doc appends are single atomic statements
//! (`array_append … WHERE NOT ($2 = ANY(task_ids))`, `array_remove`,
//! `timeline = timeline || jsonb_build_array($2)`), each bumping `last_activity` like the
//! entity methods. A generic [`SessionPatch`] is an optimistic read-modify-write guarded by the
//! row version (`xmin`), falling back to a transaction (`SELECT … FOR UPDATE`,
//! [`Session::apply`], write back).

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{
    DocEntry, Session, SessionEvent, SessionFilter, SessionPatch, SessionStatus, TimelineEvent,
};
use maestro_domain::error::{DomainError, DomainResult};
use maestro_domain::ports::SessionRepository;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{
    Known, OPTIMISTIC_TRIES, col, col_list, cols_at, extra_from_json, extra_to_json, from_json,
    from_opt_json, parse_enum, select_versioned_sql, to_json, to_opt_json, update_sql,
    update_versioned_sql, upsert_sql,
};

const T: &str = "sessions";

/// Columns written and read, in parameter order (`id` first).
pub(crate) const COLS: &[&str] = &[
    "id",
    "project_id",
    "task_ids",
    "name",
    "agent_id",
    "env",
    "status",
    "started_at",
    "last_activity",
    "completed_at",
    "hostname",
    "platform",
    "events",
    "timeline",
    "docs",
    "metadata",
    "needs_input",
    "team_member_id",
    "team_member_snapshot",
    "team_member_ids",
    "team_member_snapshots",
    "parent_session_id",
    "extra",
];

static SELECT: LazyLock<String> = LazyLock::new(|| format!("SELECT {} FROM {T}", col_list(COLS)));
static RETURNING: LazyLock<String> = LazyLock::new(|| format!("RETURNING {}", col_list(COLS)));
pub(crate) static UPSERT: LazyLock<String> = LazyLock::new(|| upsert_sql(T, COLS, &["id"]));
static UPDATE: LazyLock<String> = LazyLock::new(|| update_sql(T, COLS));
static SELECT_VERSIONED: LazyLock<String> = LazyLock::new(|| select_versioned_sql(T, COLS));
static UPDATE_VERSIONED: LazyLock<String> = LazyLock::new(|| update_versioned_sql(T, COLS));

/// Owned values of the columns that need a conversion.
pub(crate) struct Params {
    env: Value,
    status: &'static str,
    events: Value,
    timeline: Value,
    docs: Value,
    needs_input: Option<Value>,
    snapshot: Option<Value>,
    snapshots: Option<Value>,
    extra: Value,
}

/// The text of the CHECKed `status` column; `Validation` for a value PostgreSQL cannot hold.
pub(crate) fn enum_texts(s: &Session) -> DomainResult<&'static str> {
    let mut k = Known::new(T, &s.odd);
    let status = k.one("status", &s.status);
    k.finish().map(|()| status)
}

impl Params {
    pub(crate) fn new(s: &Session) -> DomainResult<Self> {
        Ok(Self {
            env: to_json("env", &s.env)?,
            status: enum_texts(s)?,
            events: to_json("events", &s.events)?,
            timeline: to_json("timeline", &s.timeline)?,
            docs: to_json("docs", &s.docs)?,
            needs_input: to_opt_json("needsInput", s.needs_input.as_ref())?,
            snapshot: to_opt_json("teamMemberSnapshot", s.team_member_snapshot.as_ref())?,
            snapshots: to_opt_json("teamMemberSnapshots", s.team_member_snapshots.as_ref())?,
            extra: extra_to_json(&s.extra),
        })
    }

    /// Parameters in [`COLS`] order.
    pub(crate) fn refs<'a>(&'a self, s: &'a Session) -> [&'a (dyn ToSql + Sync); 23] {
        [
            &s.id,
            &s.project_id,
            &s.task_ids,
            &s.name,
            &s.agent_id,
            &self.env,
            &self.status,
            &s.started_at,
            &s.last_activity,
            &s.completed_at,
            &s.hostname,
            &s.platform,
            &self.events,
            &self.timeline,
            &self.docs,
            &s.metadata,
            &self.needs_input,
            &s.team_member_id,
            &self.snapshot,
            &s.team_member_ids,
            &self.snapshots,
            &s.parent_session_id,
            &self.extra,
        ]
    }
}

fn decode(row: &Row) -> DomainResult<Session> {
    let status: String = cols_at!(row, "status")?;
    Ok(Session {
        id: cols_at!(row, "id")?,
        project_id: cols_at!(row, "project_id")?,
        task_ids: cols_at!(row, "task_ids")?,
        name: cols_at!(row, "name")?,
        agent_id: cols_at!(row, "agent_id")?,
        env: from_json(T, "env", cols_at!(row, "env")?)?,
        status: parse_enum(T, "status", &status, SessionStatus::parse)?.into(),
        started_at: cols_at!(row, "started_at")?,
        last_activity: cols_at!(row, "last_activity")?,
        completed_at: cols_at!(row, "completed_at")?,
        hostname: cols_at!(row, "hostname")?,
        platform: cols_at!(row, "platform")?,
        events: from_json(T, "events", cols_at!(row, "events")?)?,
        timeline: from_json(T, "timeline", cols_at!(row, "timeline")?)?,
        docs: from_json(T, "docs", cols_at!(row, "docs")?)?,
        metadata: cols_at!(row, "metadata")?,
        needs_input: from_opt_json(T, "needs_input", cols_at!(row, "needs_input")?)?,
        team_member_id: cols_at!(row, "team_member_id")?,
        team_member_snapshot: from_opt_json(
            T,
            "team_member_snapshot",
            cols_at!(row, "team_member_snapshot")?,
        )?,
        team_member_ids: cols_at!(row, "team_member_ids")?,
        team_member_snapshots: from_opt_json(
            T,
            "team_member_snapshots",
            cols_at!(row, "team_member_snapshots")?,
        )?,
        parent_session_id: cols_at!(row, "parent_session_id")?,
        extra: extra_from_json(cols_at!(row, "extra")?),
        odd: Default::default(),
    })
}

/// Sessions on PostgreSQL.
#[derive(Clone)]
pub struct PgSessionRepository {
    pool: Pool,
}

static ADD_TASK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE {T} SET task_ids = array_append(task_ids, $2::text), last_activity = $3 \
         WHERE id = $1 AND NOT ($2::text = ANY(task_ids)) {}",
        *RETURNING
    )
});

static REMOVE_TASK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE {T} SET task_ids = array_remove(task_ids, $2::text), last_activity = $3 \
         WHERE id = $1 {}",
        *RETURNING
    )
});

/// `UPDATE sessions SET <array> = <array> || jsonb_build_array($2), last_activity = $3`.
fn append_sql(column: &str) -> String {
    format!(
        "UPDATE {T} SET {column} = {column} || jsonb_build_array($2::jsonb), last_activity = $3 \
         WHERE id = $1 {}",
        *RETURNING
    )
}

static ADD_EVENT: LazyLock<String> = LazyLock::new(|| append_sql("events"));
static ADD_TIMELINE: LazyLock<String> = LazyLock::new(|| append_sql("timeline"));
static ADD_DOC: LazyLock<String> = LazyLock::new(|| append_sql("docs"));

impl PgSessionRepository {
    /// A repository on `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Runs one `UPDATE … WHERE id = $1 … RETURNING` statement; `NotFound` if no row.
    async fn update_one(
        &self,
        sql: &str,
        id: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> DomainResult<Session> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
        let row = client
            .query_opt(&stmt, params)
            .await
            .map_err(db_err)?
            .ok_or_else(|| DomainError::not_found("Session", id))?;
        decode(&row)
    }

    async fn append(&self, sql: &str, id: &str, item: Value, now: i64) -> DomainResult<Session> {
        self.update_one(sql, id, &[&id, &item, &now]).await
    }
}

impl PgSessionRepository {
    /// [`SessionRepository::update`] under a row lock (`SELECT … FOR UPDATE` in a
    /// transaction), for rows the optimistic loop keeps losing.
    async fn update_locked(
        &self,
        id: &str,
        patch: &SessionPatch,
        now: i64,
    ) -> DomainResult<Session> {
        let mut client = get(&self.pool).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let select = tx
            .prepare_cached(&format!("{} WHERE id = $1 FOR UPDATE", *SELECT))
            .await
            .map_err(db_err)?;
        let row = tx
            .query_opt(&select, &[&id])
            .await
            .map_err(db_err)?
            .ok_or_else(|| DomainError::not_found("Session", id))?;
        let mut session = decode(&row)?;
        session.apply(patch, now);
        let update = tx.prepare_cached(&UPDATE).await.map_err(db_err)?;
        let p = Params::new(&session)?;
        tx.execute(&update, &p.refs(&session))
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(session)
    }
}

#[async_trait]
impl SessionRepository for PgSessionRepository {
    async fn upsert(&self, session: Session) -> DomainResult<Session> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&UPSERT).await.map_err(db_err)?;
        let p = Params::new(&session)?;
        client
            .execute(&stmt, &p.refs(&session))
            .await
            .map_err(db_err)?;
        Ok(session)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Session>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("{} WHERE id = $1", *SELECT))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self, filter: &SessionFilter) -> DomainResult<Vec<Session>> {
        let status = filter.status.map(SessionStatus::as_str);
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(p) = &filter.project_id {
            params.push(p);
            conds.push(format!("project_id = ${}", params.len()));
        }
        if let Some(t) = &filter.task_id {
            params.push(t);
            conds.push(format!("task_ids @> ARRAY[${}::text]", params.len()));
        }
        if let Some(s) = &status {
            params.push(s);
            conds.push(format!("status = ${}", params.len()));
        }
        if let Some(p) = &filter.parent_session_id {
            params.push(p);
            conds.push(format!("parent_session_id = ${}", params.len()));
        }
        if filter.active_only {
            conds.push(format!("status <> '{}'", SessionStatus::Completed.as_str()));
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "{}{where_clause} ORDER BY started_at, id COLLATE \"C\"",
            *SELECT
        );
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&sql).await.map_err(db_err)?;
        let rows = client.query(&stmt, &params).await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }

    async fn update(&self, id: &str, patch: &SessionPatch, now: i64) -> DomainResult<Session> {
        {
            let client = get(&self.pool).await?;
            let select = client
                .prepare_cached(&SELECT_VERSIONED)
                .await
                .map_err(db_err)?;
            let write = client
                .prepare_cached(&UPDATE_VERSIONED)
                .await
                .map_err(db_err)?;
            for _ in 0..OPTIMISTIC_TRIES {
                let row = client
                    .query_opt(&select, &[&id])
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| DomainError::not_found("Session", id))?;
                let version: String = col(&row, T, "row_version")?;
                let mut session = decode(&row)?;
                session.apply(patch, now);
                let p = Params::new(&session)?;
                let mut params = p.refs(&session).to_vec();
                params.push(&version);
                if client.execute(&write, &params).await.map_err(db_err)? == 1 {
                    return Ok(session);
                }
            }
        }
        // Heavy contention on this row: take the row lock instead.
        self.update_locked(id, patch, now).await
    }

    async fn add_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<(Session, bool)> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&ADD_TASK).await.map_err(db_err)?;
        if let Some(row) = client
            .query_opt(&stmt, &[&id, &task_id, &now])
            .await
            .map_err(db_err)?
        {
            return Ok((decode(&row)?, true));
        }
        drop(client);
        match self.get(id).await? {
            Some(s) => Ok((s, false)),
            None => Err(DomainError::not_found("Session", id)),
        }
    }

    async fn remove_task(&self, id: &str, task_id: &str, now: i64) -> DomainResult<Session> {
        self.update_one(&REMOVE_TASK, id, &[&id, &task_id, &now])
            .await
    }

    async fn add_event(&self, id: &str, event: SessionEvent, now: i64) -> DomainResult<Session> {
        self.append(&ADD_EVENT, id, to_json("event", &event)?, now)
            .await
    }

    async fn add_timeline_event(
        &self,
        id: &str,
        event: TimelineEvent,
        now: i64,
    ) -> DomainResult<Session> {
        self.append(&ADD_TIMELINE, id, to_json("timeline event", &event)?, now)
            .await
    }

    async fn add_doc(&self, id: &str, doc: DocEntry, now: i64) -> DomainResult<Session> {
        self.append(&ADD_DOC, id, to_json("doc", &doc)?, now).await
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("DELETE FROM sessions WHERE id = $1")
            .await
            .map_err(db_err)?;
        match client.execute(&stmt, &[&id]).await.map_err(db_err)? {
            0 => Err(DomainError::not_found("Session", id)),
            _ => Ok(()),
        }
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM sessions WHERE project_id = $1)")
            .await
            .map_err(db_err)?;
        let row = client
            .query_one(&stmt, &[&project_id])
            .await
            .map_err(db_err)?;
        col(&row, T, "exists")
    }
}
