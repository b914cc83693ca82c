//! [`ProjectRepository`] on the `projects` table.
//!
//! Only the entity's columns are written; `owner_id` and `settings` (accounts, spec §8) are
//! left untouched by every statement here, imports included. The newer reference's
//! `isMaster` flag has no column: it is kept as the `isMaster` key of the `extra` JSON column
//! (written by [`Params::new`], taken out again by `decode`), so it needs no migration.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{Project, ProjectPatch};
use maestro_domain::error::{DomainError, DomainResult};
use maestro_domain::ports::ProjectRepository;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{
    col, col_list, extra_from_json, extra_to_json, insert_sql, storable, update_sql, upsert_sql,
};

const T: &str = "projects";

/// Columns written and read, in parameter order (`id` first).
pub(crate) const COLS: &[&str] = &[
    "id",
    "name",
    "description",
    "working_dir",
    "created_at",
    "updated_at",
    "extra",
];

static SELECT: LazyLock<String> = LazyLock::new(|| format!("SELECT {} FROM {T}", col_list(COLS)));
static INSERT: LazyLock<String> = LazyLock::new(|| insert_sql(T, COLS));
pub(crate) static UPSERT: LazyLock<String> = LazyLock::new(|| upsert_sql(T, COLS, &["id"]));
static UPDATE: LazyLock<String> = LazyLock::new(|| update_sql(T, COLS));

/// Owned values of the columns that need a conversion.
pub(crate) struct Params {
    extra: serde_json::Value,
}

impl Params {
    /// `Validation` if the project holds a value of an unexpected type (see [`storable`]).
    pub(crate) fn new(p: &Project) -> DomainResult<Self> {
        storable(T, &p.odd)?;
        Ok(Self {
            extra: extra_to_json(&p.extra),
        })
    }

    /// Parameters in [`COLS`] order.
    pub(crate) fn refs<'a>(&'a self, p: &'a Project) -> [&'a (dyn ToSql + Sync); 7] {
        [
            &p.id,
            &p.name,
            &p.description,
            &p.working_dir,
            &p.created_at,
            &p.updated_at,
            &self.extra,
        ]
    }
}

fn decode(row: &Row) -> DomainResult<Project> {
    // `isMaster` (newer reference) lives in `extra`, as in the project's file.
    let extra = extra_from_json(col(row, T, "extra")?);
    Ok(Project {
        id: col(row, T, "id")?,
        name: col(row, T, "name")?,
        description: col(row, T, "description")?,
        working_dir: col(row, T, "working_dir")?,
        created_at: col(row, T, "created_at")?,
        updated_at: col(row, T, "updated_at")?,
        extra,
        odd: Default::default(),
    })
}

/// Projects on PostgreSQL.
#[derive(Clone)]
pub struct PgProjectRepository {
    pool: Pool,
}

impl PgProjectRepository {
    /// A repository on `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ProjectRepository for PgProjectRepository {
    async fn insert(&self, project: Project) -> DomainResult<Project> {
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(&INSERT).await.map_err(db_err)?;
        let p = Params::new(&project)?;
        client
            .execute(&stmt, &p.refs(&project))
            .await
            .map_err(|e| match db_err(e) {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("Project {} exists", project.id))
                }
                other => other,
            })?;
        Ok(project)
    }

    async fn get(&self, id: &str) -> DomainResult<Option<Project>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!("{} WHERE id = $1", *SELECT))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self) -> DomainResult<Vec<Project>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(&format!(
                "{} ORDER BY created_at, id COLLATE \"C\"",
                *SELECT
            ))
            .await
            .map_err(db_err)?;
        let rows = client.query(&stmt, &[]).await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }

    async fn update(&self, id: &str, patch: &ProjectPatch, now: i64) -> DomainResult<Project> {
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
            .ok_or_else(|| DomainError::not_found("Project", id))?;
        let mut project = decode(&row)?;
        project.apply(patch, now);
        let update = tx.prepare_cached(&UPDATE).await.map_err(db_err)?;
        let p = Params::new(&project)?;
        tx.execute(&update, &p.refs(&project))
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(project)
    }

    async fn delete(&self, id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("DELETE FROM projects WHERE id = $1")
            .await
            .map_err(db_err)?;
        match client.execute(&stmt, &[&id]).await.map_err(db_err)? {
            0 => Err(DomainError::not_found("Project", id)),
            _ => Ok(()),
        }
    }
}
