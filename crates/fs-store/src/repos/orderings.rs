//! UI orderings: `ordering/<entityType>/<projectId>.json` (ref §1.11).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use maestro_domain::DomainResult;
use maestro_domain::entities::{Ordering, OrderingEntityType};
use maestro_domain::ports::OrderingRepository;

use super::table::{Change, Table};
use super::{Ctx, found};
use crate::layout::check_id;
use crate::op::Op;

type Key = (String, OrderingEntityType);

/// [`OrderingRepository`] on `ordering/<entityType>/<projectId>.json`.
pub struct FsOrderingRepository {
    ctx: Arc<Ctx>,
    table: Arc<Table<Key, Ordering>>,
}

impl FsOrderingRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<Key, Ordering>) -> Self {
        Self {
            ctx,
            table: Table::new(map),
        }
    }

    /// Every stored ordering, by project id then entity type (for exports and tests).
    pub fn all(&self) -> Vec<Ordering> {
        self.table.with_rows(|rows| {
            let mut v: Vec<&Ordering> = rows.collect();
            v.sort_unstable_by(|a, b| {
                (&a.project_id, a.entity_type).cmp(&(&b.project_id, b.entity_type))
            });
            v.into_iter().cloned().collect()
        })
    }

    async fn store(
        &self,
        project_id: &str,
        kind: OrderingEntityType,
        value: Option<Ordering>,
    ) -> DomainResult<Option<Arc<Ordering>>> {
        let path = self.ctx.layout.ordering(kind, project_id);
        let (new, ()) = self
            .table
            .mutate(
                &self.ctx,
                (project_id.to_owned(), kind),
                |_| {
                    Ok(match value {
                        Some(o) => Change::Put(o, ()),
                        None => Change::Delete(()),
                    })
                },
                |_, new| match new {
                    Some(o) => (path, Op::json(o.clone(), None)),
                    None => (path, Op::Delete { also: None }),
                },
            )
            .await?;
        Ok(new)
    }
}

#[async_trait]
impl OrderingRepository for FsOrderingRepository {
    async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Option<Ordering>> {
        Ok(self
            .table
            .get(&(project_id.to_owned(), entity_type))
            .map(|o| Ordering::clone(&o)))
    }

    async fn save(&self, ordering: Ordering) -> DomainResult<Ordering> {
        check_id("projectId", &ordering.project_id)?;
        let (project_id, kind) = (ordering.project_id.clone(), ordering.entity_type);
        let new = self.store(&project_id, kind, Some(ordering)).await?;
        found(new, "Ordering", &project_id)
    }

    async fn delete_by_project(&self, project_id: &str) -> DomainResult<()> {
        check_id("projectId", project_id)?;
        // Unlinks even files that were not loaded; both run together (one journal sync).
        let removals = OrderingEntityType::ALL
            .iter()
            .map(|&kind| self.store(project_id, kind, None));
        for r in futures::future::join_all(removals).await {
            r?;
        }
        Ok(())
    }
}
