//! Project (ref §1.1).

use serde::{Deserialize, Serialize};

use super::stored::stored_entity;
use super::{Extra, OddValues};

/// A project: `projects/<id>.json`. Loads leniently ([`super::Stored`]): a field of an
/// unexpected type is kept in `odd` and served as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Project {
    /// `proj_<ms>_<rand>`.
    pub id: String,
    /// Trimmed, non-blank on create.
    pub name: String,
    /// Working directory of the agents; `''` if omitted.
    #[serde(default)]
    pub working_dir: String,
    /// Always written on create (`''` default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last update, epoch ms.
    pub updated_at: i64,
    /// Unknown keys from stored files, and `isMaster` (see [`Project::is_master`]).
    #[serde(flatten)]
    pub extra: Extra,
    /// Stored values of an unexpected type (see [`OddValues`]); empty for new projects.
    #[serde(skip)]
    pub odd: OddValues,
}

/// The stored shape of a project (ref §1.1).
mod shape {
    use crate::entities::stored::{Field, Presence::*, Shape::*, field};

    pub(super) static PROJECT: [Field; 7] = [
        field("id", Str, Key),
        field("name", Str, Required),
        field("workingDir", Str, Defaulted),
        field("description", Str, Optional),
        field("createdAt", Int, Required),
        field("updatedAt", Int, Required),
        field("isMaster", Bool, Optional),
    ];
}

stored_entity!(Project, &shape::PROJECT);

/// Fields a project update may change (spec §2: only Project's own fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectPatch {
    /// New name (not trimmed on update, must be non-blank).
    pub name: Option<String>,
    /// New working directory.
    pub working_dir: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New `isMaster` (newer reference, 653bc6a).
    pub is_master: Option<bool>,
}

/// Key of the newer reference's (653bc6a) master-project flag, kept in [`Project::extra`]:
/// older data directories have no such key, and a file round-trips exactly as stored.
pub const IS_MASTER: &str = "isMaster";

impl Project {
    /// The newer reference's (653bc6a) `isMaster` flag: `Some` only when stored as a boolean.
    pub fn is_master(&self) -> Option<bool> {
        self.extra
            .get(IS_MASTER)
            .and_then(serde_json::Value::as_bool)
    }

    /// Applies a patch and bumps `updated_at` to `now` (ms).
    pub fn apply(&mut self, patch: &ProjectPatch, now: i64) {
        if let Some(name) = &patch.name {
            self.name = name.clone();
            self.odd.forget(&["name"]);
        }
        if let Some(dir) = &patch.working_dir {
            self.working_dir = dir.clone();
            self.odd.forget(&["workingDir"]);
        }
        if let Some(desc) = &patch.description {
            self.description = Some(desc.clone());
            self.odd.forget(&["description"]);
        }
        if let Some(flag) = patch.is_master {
            self.extra
                .insert(IS_MASTER.to_owned(), serde_json::Value::Bool(flag));
        }
        self.updated_at = now;
        self.odd.forget(&["updatedAt"]);
    }
}
