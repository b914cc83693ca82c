//! Display ordering (ref §1.11).

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{OddValues, OrderingEntityType};

/// A UI ordering: `ordering/<entityType>/<projectId>.json`. Loads leniently
/// ([`super::Stored`]): the reference stored any array as `orderedIds` (ref §4.6), so
/// `[1, 2]` loads as an empty list and is served as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Ordering {
    /// Project.
    pub project_id: String,
    /// `task | session`.
    pub entity_type: OrderingEntityType,
    /// Ordered ids (not validated).
    pub ordered_ids: Vec<String>,
    /// Epoch ms; `0` for the empty default.
    pub updated_at: i64,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new orderings.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of an ordering (ref §1.11).
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    pub(super) static ORDERING: [Field; 4] = [
        field("projectId", Str, Key),
        field("entityType", Str, Key),
        field("orderedIds", StrList, Required),
        field("updatedAt", Int, Required),
    ];
}

stored_entity!(Ordering, &shape::ORDERING);
