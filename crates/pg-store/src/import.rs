//! `PgStore::import` (spec §6.3 `maestro-server import-fs`): idempotent upserts
//! (`INSERT … ON CONFLICT (pk) DO UPDATE SET` every column) of each entity kind in its own
//! transaction, in the order projects, tasks, sessions, mail, team_members (custom members,
//! then default overrides), orderings.
//!
//! Speed: one prepared statement per kind; the rows of a chunk are sent without waiting for
//! each reply (tokio-postgres pipelines concurrent queries on one connection), so 20k tasks
//! take a few seconds at most.

use deadpool_postgres::{Pool, Transaction};
use futures::future::try_join_all;
use maestro_domain::error::{DomainError, DomainResult};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::error::{db_store_err, pool_store_err, to_store_err};
use crate::rows::storable;
use crate::{ImportCounts, ImportData, PgStoreError};
use crate::{mail, orderings, projects, sessions, tasks, team_members};

/// Rows sent per pipelined batch.
const CHUNK: usize = 500;

/// Imports `data`; see the module docs.
///
/// # Errors
/// [`PgStoreError::InvalidData`] before anything is written when an entity has a value the
/// schema's CHECK constraints refuse (see [`check`]); database errors otherwise.
pub(crate) async fn run(pool: &Pool, data: &ImportData) -> Result<ImportCounts, PgStoreError> {
    let problems = check(data);
    if !problems.is_empty() {
        return Err(PgStoreError::InvalidData(problems));
    }
    let mut client = pool.get().await.map_err(pool_store_err)?;
    let mut counts = ImportCounts::default();

    // Projects.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let n = upsert_all(
        &tx,
        &projects::UPSERT,
        &data.projects,
        projects::Params::new,
        |prm, p| prm.refs(p).to_vec(),
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("projects", n));

    // Tasks.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let n = upsert_all(
        &tx,
        &tasks::UPSERT,
        &data.tasks,
        tasks::Params::new,
        |prm, t| prm.refs(t).to_vec(),
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("tasks", n));

    // Sessions.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let n = upsert_all(
        &tx,
        &sessions::UPSERT,
        &data.sessions,
        sessions::Params::new,
        |prm, s| prm.refs(s).to_vec(),
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("sessions", n));

    // Mail.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let n = upsert_all(
        &tx,
        &mail::UPSERT,
        &data.mail,
        mail::Params::new,
        |prm, m| prm.refs(m).to_vec(),
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("mail", n));

    // Team members: custom members and default overrides, one transaction.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let mut n = upsert_all(
        &tx,
        &team_members::UPSERT_CUSTOM,
        &data.team_members,
        team_members::Params::new,
        |prm, m| prm.refs(m).to_vec(),
    )
    .await?;
    n += upsert_all(
        &tx,
        team_members::UPSERT_OVERRIDE,
        &data.team_member_overrides,
        |(_, _, obj)| Ok(Value::Object(obj.clone())),
        |value, (project_id, id, _)| vec![project_id, id, value],
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("team_members", n));

    // Orderings.
    let tx = client.transaction().await.map_err(db_store_err)?;
    let n = upsert_all(
        &tx,
        orderings::UPSERT,
        &data.orderings,
        |o| Ok(o.entity_type.as_str()),
        |kind, o| vec![&o.project_id, kind, &o.ordered_ids, &o.updated_at],
    )
    .await?;
    tx.commit().await.map_err(db_store_err)?;
    counts.tables.push(("orderings", n));

    Ok(counts)
}

/// Every enum value of `data` outside the closed set of its column (the CHECK constraints of
/// migration 0001; each module's `enum_texts`): `"<kind> <id>: <table>.<column>: <value> is
/// not one of …"`, and every stored value of an unexpected JSON type (`"<kind> <id>:
/// <table>.<jsonPath>: stored value … cannot be stored in PostgreSQL"`, [`storable`]), in
/// import order. Unknown strings inside JSONB columns (per-session task statuses,
/// snapshots, default overrides) are kept and not checked.
fn check(data: &ImportData) -> Vec<String> {
    let mut problems = Vec::new();
    let mut note = |entity: String, res: DomainResult<()>| match res {
        Ok(()) => {}
        Err(DomainError::Validation { details, .. }) if !details.is_empty() => {
            for d in details {
                problems.push(format!("{entity}: {}: {}", d.path, d.message));
            }
        }
        Err(e) => problems.push(format!("{entity}: {e}")),
    };
    for p in &data.projects {
        note(format!("project {}", p.id), storable("projects", &p.odd));
    }
    for t in &data.tasks {
        note(format!("task {}", t.id), tasks::enum_texts(t).map(drop));
    }
    for s in &data.sessions {
        note(
            format!("session {}", s.id),
            sessions::enum_texts(s).map(drop),
        );
    }
    for m in &data.mail {
        note(format!("mail {}", m.id), storable("mail", &m.odd));
    }
    for m in &data.team_members {
        let entity = format!("team member {} (project {})", m.id, m.project_id);
        note(entity, team_members::enum_texts(m).map(drop));
    }
    for o in &data.orderings {
        let entity = format!("ordering {} (project {})", o.entity_type, o.project_id);
        note(entity, storable("orderings", &o.odd));
    }
    problems
}

/// Upserts `items` with the prepared `sql`, `CHUNK` rows pipelined at a time; returns the
/// number of rows written. `prepare` builds the owned converted values of one item, `refs`
/// its parameter list.
async fn upsert_all<'a, I, P>(
    tx: &Transaction<'_>,
    sql: &str,
    items: &'a [I],
    prepare: impl Fn(&'a I) -> maestro_domain::error::DomainResult<P>,
    refs: impl for<'b> Fn(&'b P, &'b I) -> Vec<&'b (dyn ToSql + Sync)>,
) -> Result<u64, PgStoreError> {
    if items.is_empty() {
        return Ok(0);
    }
    let stmt = tx.prepare(sql).await.map_err(db_store_err)?;
    let mut written = 0;
    for chunk in items.chunks(CHUNK) {
        let prepared: Vec<P> = chunk
            .iter()
            .map(&prepare)
            .collect::<Result<_, _>>()
            .map_err(to_store_err)?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = prepared
            .iter()
            .zip(chunk)
            .map(|(p, item)| refs(p, item))
            .collect();
        let results = try_join_all(params.iter().map(|p| tx.execute(&stmt, p)))
            .await
            .map_err(db_store_err)?;
        written += results.iter().sum::<u64>();
    }
    Ok(written)
}
