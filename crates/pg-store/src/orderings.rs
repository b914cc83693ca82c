//! [`OrderingRepository`] on the `orderings` table, `UNIQUE (project_id, entity_type)`.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use maestro_domain::entities::{Ordering, OrderingEntityType};
use maestro_domain::error::DomainResult;
use maestro_domain::ports::OrderingRepository;

use crate::error::db_err;
use crate::pool::get;
use crate::rows::{col, parse_enum, storable};

const T: &str = "orderings";

/// Upsert of one ordering: `$1 project_id, $2 entity_type, $3 ordered_ids, $4 updated_at`.
pub(crate) const UPSERT: &str = "INSERT INTO orderings (project_id, entity_type, ordered_ids, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (project_id, entity_type) DO UPDATE \
     SET ordered_ids = EXCLUDED.ordered_ids, updated_at = EXCLUDED.updated_at";

/// Orderings on PostgreSQL.
#[derive(Clone)]
pub struct PgOrderingRepository {
    pool: Pool,
}

impl PgOrderingRepository {
    /// A repository on `pool`.
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl OrderingRepository for PgOrderingRepository {
    async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Option<Ordering>> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached(
                "SELECT project_id, entity_type, ordered_ids, updated_at FROM orderings \
                 WHERE project_id = $1 AND entity_type = $2",
            )
            .await
            .map_err(db_err)?;
        let row = client
            .query_opt(&stmt, &[&project_id, &entity_type.as_str()])
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let kind: String = col(&row, T, "entity_type")?;
        Ok(Some(Ordering {
            project_id: col(&row, T, "project_id")?,
            entity_type: parse_enum(T, "entity_type", &kind, OrderingEntityType::parse)?,
            ordered_ids: col(&row, T, "ordered_ids")?,
            updated_at: col(&row, T, "updated_at")?,
            odd: Default::default(),
        }))
    }

    async fn save(&self, ordering: Ordering) -> DomainResult<Ordering> {
        storable(T, &ordering.odd)?;
        let client = get(&self.pool).await?;
        let stmt = client.prepare_cached(UPSERT).await.map_err(db_err)?;
        client
            .execute(
                &stmt,
                &[
                    &ordering.project_id,
                    &ordering.entity_type.as_str(),
                    &ordering.ordered_ids,
                    &ordering.updated_at,
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(ordering)
    }

    async fn delete_by_project(&self, project_id: &str) -> DomainResult<()> {
        let client = get(&self.pool).await?;
        let stmt = client
            .prepare_cached("DELETE FROM orderings WHERE project_id = $1")
            .await
            .map_err(db_err)?;
        client
            .execute(&stmt, &[&project_id])
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
