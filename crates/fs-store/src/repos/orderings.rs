//! UI orderings: `ordering/<entityType>/<projectId>.json` (ref §1.11).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use maestro_domain::DomainResult;
use maestro_domain::entities::{Ordering, OrderingEntityType};
use maestro_domain::ports::OrderingRepository;

use super::{Ctx, read, settle, unwrap_arc, write};
use crate::layout::check_id;
use crate::op::Op;

type Key = (String, OrderingEntityType);

/// [`OrderingRepository`] on `ordering/<entityType>/<projectId>.json`.
pub struct FsOrderingRepository {
    ctx: Arc<Ctx>,
    map: RwLock<HashMap<Key, Ordering>>,
}

impl FsOrderingRepository {
    pub(crate) fn new(ctx: Arc<Ctx>, map: HashMap<Key, Ordering>) -> Self {
        Self {
            ctx,
            map: RwLock::new(map),
        }
    }

    /// Every stored ordering, by project id then entity type (for exports and tests).
    pub fn all(&self) -> Vec<Ordering> {
        let map = read(&self.map);
        let mut v: Vec<&Ordering> = map.values().collect();
        v.sort_unstable_by(|a, b| {
            (&a.project_id, a.entity_type).cmp(&(&b.project_id, b.entity_type))
        });
        v.into_iter().cloned().collect()
    }
}

#[async_trait]
impl OrderingRepository for FsOrderingRepository {
    async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Option<Ordering>> {
        Ok(read(&self.map)
            .get(&(project_id.to_owned(), entity_type))
            .cloned())
    }

    async fn save(&self, ordering: Ordering) -> DomainResult<Ordering> {
        check_id("projectId", &ordering.project_id)?;
        let (snap, ticket) = {
            let mut map = write(&self.map);
            map.insert(
                (ordering.project_id.clone(), ordering.entity_type),
                ordering.clone(),
            );
            let snap = Arc::new(ordering);
            let path = self.ctx.layout.ordering(snap.entity_type, &snap.project_id);
            let ticket = self.ctx.writer.submit(path, Op::json(snap.clone(), None));
            (snap, ticket)
        };
        settle(ticket).await?;
        Ok(unwrap_arc(snap))
    }

    async fn delete_by_project(&self, project_id: &str) -> DomainResult<()> {
        check_id("projectId", project_id)?;
        let tickets: Vec<_> = {
            let mut map = write(&self.map);
            OrderingEntityType::ALL
                .iter()
                .map(|&kind| {
                    map.remove(&(project_id.to_owned(), kind));
                    let path = self.ctx.layout.ordering(kind, project_id);
                    self.ctx.writer.submit(path, Op::Delete { also: None })
                })
                .collect()
        };
        for t in tickets {
            settle(t).await?;
        }
        Ok(())
    }
}
