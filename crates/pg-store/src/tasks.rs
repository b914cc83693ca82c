//! [`TaskRepository`] on the `tasks` table.
//!
//! Link and per-session status changes are single atomic statements (seed 000 §8.3):
//! `array_append … WHERE NOT ($2 = ANY(session_ids))`, `array_remove`, and
//! `task_session_statuses || jsonb_build_object(…)` / `- $2`. A generic [`TaskPatch`] is
//! applied with [`Task::apply`] (exactly the in-memory semantics) in an optimistic
//! read-modify-write: read the row and its version (`xmin`), write it back only if the version
//! is unchanged, re-read on a conflict; after a few lost races it takes the row lock
//! (`SELECT … FOR UPDATE` in a transaction). Atomic either way.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{
    Task, TaskFilter, TaskPatch, TaskPriority, TaskSessionStatus, TaskStatus,
};
use maestro_domain::error::{DomainError, DomainResult};
use maestro_domain::ports::TaskRepository;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{
    Known, OPTIMISTIC_TRIES, col, col_list, cols_at, extra_from_json, extra_to_json, from_opt_json,
    insert_sql, parse_enum, select_versioned_sql, to_opt_json, update_sql, update_versioned_sql,
    upsert_sql,
};

const T: &str = "tasks";

/// Columns written and read, in parameter order (`id` first).
pub(crate) const COLS: &[&str] = &[
    "id",
    "project_id",
    "parent_id",
    "title",
    "description",
    "status",
    "priority",
    "task_session_statuses",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "initial_prompt",
    "session_ids",
    "skill_ids",
    "agent_ids",
    "dependencies",
    "reference_task_ids",
    "pinned",
    "team_member_id",
    "team_member_ids",
    "extra",
];

static SELECT: LazyLock<String> = LazyLock::new(|| format!("SELECT {} FROM {T}", col_list(COLS)));
static RETURNING: LazyLock<String> = LazyLock::new(|| format!("RETURNING {}", col_list(COLS)));
static INSERT: LazyLock<String> = LazyLock::new(|| insert_sql(T, COLS));
pub(crate) static UPSERT: LazyLock<String> = LazyLock::new(|| upsert_sql(T, COLS, &["id"]));
static UPDATE: LazyLock<String> = LazyLock::new(|| update_sql(T, COLS));
static SELECT_VERSIONED: LazyLock<String> = LazyLock::new(|| select_versioned_sql(T, COLS));
static UPDATE_VERSIONED: LazyLock<String> = LazyLock::new(|| update_versioned_sql(T, COLS));

/// Owned values of the columns that need a conversion.
pub(crate) struct Params {
    status: &'static str,
    priority: &'static str,
    statuses: Option<Value>,
    extra: Value,
}

/// The texts of the CHECKed enum columns, `(status, priority)`; `Validation` naming every
/// value PostgreSQL cannot hold.
pub(crate) fn enum_texts(t: &Task) -> DomainResult<(&'static str, &'static str)> {
    let mut k = Known::new(T, &t.odd);
    let texts = (k.one("status", &t.status), k.one("priority", &t.priority));
    k.finish().map(|()| texts)
}

impl Params {
    pub(crate) fn new(t: &Task) -> DomainResult<Self> {
        let (status, priority) = enum_texts(t)?;
        Ok(Self {
            status,
            priority,
            statuses: to_opt_json("taskSessionStatuses", t.task_session_statuses.as_ref())?,
            extra: extra_to_json(&t.extra),
        })
    }

    /// Parameters in [`COLS`] order.
    pub(crate) fn refs<'a>(&'a self, t: &'a Task) -> [&'a (dyn ToSql + Sync); 22] {
        [
            &t.id,
            &t.project_id,
            &t.parent_id,
            &t.title,
            &t.description,
            &self.status,
            &self.priority,
            &self.statuses,
            &t.created_at,
            &t.updated_at,
            &t.started_at,
            &t.completed_at,
            &t.initial_prompt,
            &t.session_ids,
            &t.skill_ids,
            &t.agent_ids,
            &t.dependencies,
            &t.reference_task_ids,
            &t.pinned,
            &t.team_member_id,
            &t.team_member_ids,
            &self.extra,
        ]
    }
}

fn decode(row: &Row) -> DomainResult<Task> {
    let status: String = cols_at!(row, "status")?;
    let priority: String = cols_at!(row, "priority")?;
    Ok(Task {
        id: cols_at!(row, "id")?,
        project_id: cols_at!(row, "project_id")?,
        parent_id: cols_at!(row, "parent_id")?,
        title: cols_at!(row, "title")?,
        description: cols_at!(row, "description")?,
        status: parse_enum(T, "status", &status, TaskStatus::parse)?.into(),
        task_session_statuses: from_opt_json(
            T,
            "task_session_statuses",
            cols_at!(row, "task_session_statuses")?,
        )?,
        priority: parse_enum(T, "priority", &priority, TaskPriority::parse)?.into(),
        created_at: cols_at!(row, "created_at")?,
        updated_at: cols_at!(row, "updated_at")?,
        started_at: cols_at!(row, "started_at")?,
        completed_at: cols_at!(row, "completed_at")?,
        initial_prompt: cols_at!(row, "initial_prompt")?,
        session_ids: cols_at!(row, "session_ids")?,
        skill_ids: cols_at!(row, "skill_ids")?,
        agent_ids: cols_at!(row, "agent_ids")?,
        dependencies: cols_at!(row, "dependencies")?,
        reference_task_ids: cols_at!(row, "reference_task_ids")?,
        pinned: cols_at!(row, "pinned")?,
        team_member_id: cols_at!(row, "team_member_id")?,
        team_member_ids: cols_at!(row, "team_member_ids")?,
        extra: extra_from_json(cols_at!(row, "extra")?),
        odd: Default::default(),
    })
}

/// Tasks on PostgreSQL.
#[derive(Clone)]
pub struct PgTaskRepository {
    pool: Pool,
}

impl PgTaskRepository {
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
    ) -> DomainResult<Task> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
        let row = client
            .query_opt(&stmt, params)
            .await
            .map_err(db_err)?
            .ok_or_else(|| DomainError::not_found("Task", id))?;
        decode(&row)
    }
}

static SET_STATUS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE {T} SET task_session_statuses = \
            coalesce(task_session_statuses, '{{}}'::jsonb) || jsonb_build_object($2::text, $3::text), \
            updated_at = $4 \
         WHERE id = $1 {}",
        *RETURNING
    )
});

static ADD_SESSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE {T} SET session_ids = array_append(session_ids, $2::text), updated_at = $3 \
         WHERE id = $1 AND NOT ($2::text = ANY(session_ids)) {}",
        *RETURNING
    )
});

static REMOVE_SESSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE {T} SET session_ids = array_remove(session_ids, $2::text), \
            task_session_statuses = CASE WHEN $3::bool \
                THEN task_session_statuses - $2::text ELSE task_session_statuses END, \
            updated_at = $4 \
         WHERE id = $1 {}",
        *RETURNING
    )
});

impl PgTaskRepository {
    /// [`TaskRepository::update`] under a row lock (`SELECT … FOR UPDATE` in a transaction),
    /// for rows the optimistic loop keeps losing.
    async fn update_locked(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
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
            .ok_or_else(|| DomainError::not_found("Task", id))?;
        let mut task = decode(&row)?;
        task.apply(patch, now);
        let update = tx.prepare_cached(&UPDATE).await.map_err(db_err)?;
        let p = Params::new(&task)?;
        tx.execute(&update, &p.refs(&task)).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(task)
    }
}

#[async_trait]
impl TaskRepository for PgTaskRepository {
    async fn insert(&self, task: Task) -> DomainResult<Task> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&INSERT).await.map_err(db_err)?;
        let p = Params::new(&task)?;
        client
            .execute(&stmt, &p.refs(&task))
            .await
            .map_err(|e| match db_err(e) {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("Task {} exists", task.id))
                }
                other => other,
            })?;
        Ok(task)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Task>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("{} WHERE id = $1", *SELECT))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self, filter: &TaskFilter) -> DomainResult<Vec<Task>> {
        // Built per filter shape so each shape gets its own (index-friendly) cached plan.
        let status = filter.status.map(TaskStatus::as_str);
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(p) = &filter.project_id {
            params.push(p);
            conds.push(format!("project_id = ${}", params.len()));
        }
        if let Some(s) = &status {
            params.push(s);
            conds.push(format!("status = ${}", params.len()));
        }
        match &filter.parent_id {
            None => {}
            Some(None) => conds.push("parent_id IS NULL".into()),
            Some(Some(parent)) => {
                params.push(parent);
                conds.push(format!("parent_id = ${}", params.len()));
            }
        }
        if let Some(s) = &filter.session_id {
            params.push(s);
            conds.push(format!("session_ids @> ARRAY[${}::text]", params.len()));
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "{}{where_clause} ORDER BY created_at, id COLLATE \"C\"",
            *SELECT
        );
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&sql).await.map_err(db_err)?;
        let rows = client.query(&stmt, &params).await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }

    async fn update(&self, id: &str, patch: &TaskPatch, now: i64) -> DomainResult<Task> {
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
                    .ok_or_else(|| DomainError::not_found("Task", id))?;
                let version: String = col(&row, T, "row_version")?;
                let mut task = decode(&row)?;
                task.apply(patch, now);
                let p = Params::new(&task)?;
                let mut params = p.refs(&task).to_vec();
                params.push(&version);
                if client.execute(&write, &params).await.map_err(db_err)? == 1 {
                    return Ok(task);
                }
            }
        }
        // Heavy contention on this row: take the row lock instead.
        self.update_locked(id, patch, now).await
    }

    async fn set_session_status(
        &self,
        id: &str,
        session_id: &str,
        status: TaskSessionStatus,
        now: i64,
    ) -> DomainResult<Task> {
        let status = status.as_str();
        self.update_one(&SET_STATUS, id, &[&id, &session_id, &status, &now])
            .await
    }

    async fn add_session(
        &self,
        id: &str,
        session_id: &str,
        now: i64,
    ) -> DomainResult<(Task, bool)> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&ADD_SESSION).await.map_err(db_err)?;
        if let Some(row) = client
            .query_opt(&stmt, &[&id, &session_id, &now])
            .await
            .map_err(db_err)?
        {
            return Ok((decode(&row)?, true));
        }
        // Not updated: either already linked (no bump, ref §2) or missing.
        drop(client);
        match self.get(id).await? {
            Some(task) => Ok((task, false)),
            None => Err(DomainError::not_found("Task", id)),
        }
    }

    async fn remove_session(
        &self,
        id: &str,
        session_id: &str,
        drop_status: bool,
        now: i64,
    ) -> DomainResult<Task> {
        self.update_one(&REMOVE_SESSION, id, &[&id, &session_id, &drop_status, &now])
            .await
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("DELETE FROM tasks WHERE id = $1")
            .await
            .map_err(db_err)?;
        match client.execute(&stmt, &[&id]).await.map_err(db_err)? {
            0 => Err(DomainError::not_found("Task", id)),
            _ => Ok(()),
        }
    }

    async fn exists_by_project(&self, project_id: &str) -> DomainResult<bool> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM tasks WHERE project_id = $1)")
            .await
            .map_err(db_err)?;
        let row = client
            .query_one(&stmt, &[&project_id])
            .await
            .map_err(db_err)?;
        col(&row, T, "exists")
    }
}
