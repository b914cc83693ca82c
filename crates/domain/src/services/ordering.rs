//! OrderingService (ref §3.7).

use std::sync::Arc;

use super::Ctx;
use crate::entities::{Ordering, OrderingEntityType};
use crate::error::DomainResult;
use crate::ids::{check_id, check_ids};

/// UI orderings. No events (ref §4.6).
#[derive(Clone)]
pub struct OrderingService {
    pub(crate) ctx: Arc<Ctx>,
}

impl OrderingService {
    /// The saved ordering, or `{projectId, entityType, orderedIds: [], updatedAt: 0}`.
    ///
    /// # Errors
    /// `Validation` if `project_id` breaks the id rule (it names the file, spec §2).
    pub async fn get(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
    ) -> DomainResult<Ordering> {
        check_id("projectId", project_id)?;
        Ok(self
            .ctx
            .ports
            .orderings
            .get(project_id, entity_type)
            .await?
            .unwrap_or_else(|| Ordering {
                project_id: project_id.to_owned(),
                entity_type,
                ordered_ids: Vec::new(),
                updated_at: 0,
                odd: Default::default(),
            }))
    }

    /// Replaces the ordering (`updatedAt = now`).
    ///
    /// # Errors
    /// `Validation` if `project_id` or an element of `ordered_ids` (path `orderedIds[i]`)
    /// breaks the id rule (spec §2).
    pub async fn save(
        &self,
        project_id: &str,
        entity_type: OrderingEntityType,
        ordered_ids: Vec<String>,
    ) -> DomainResult<Ordering> {
        check_id("projectId", project_id)?;
        check_ids("orderedIds", &ordered_ids)?;
        self.ctx
            .ports
            .orderings
            .save(Ordering {
                project_id: project_id.to_owned(),
                entity_type,
                ordered_ids,
                updated_at: self.ctx.now(),
                odd: Default::default(),
            })
            .await
    }
}
