//! Display ordering (ref §1.11).

use serde::{Deserialize, Serialize};

use super::OrderingEntityType;

/// A UI ordering: `ordering/<entityType>/<projectId>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ordering {
    /// Project.
    pub project_id: String,
    /// `task | session`.
    pub entity_type: OrderingEntityType,
    /// Ordered ids (not validated).
    pub ordered_ids: Vec<String>,
    /// Epoch ms; `0` for the empty default.
    pub updated_at: i64,
}
