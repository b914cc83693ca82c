//! Project (ref §1.1).

use serde::{Deserialize, Serialize};

use super::Extra;

/// A project: `projects/<id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    /// Unknown keys from stored files.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Fields a project update may change (spec §2: only Project's own fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectPatch {
    /// New name (not trimmed on update, must be non-blank).
    pub name: Option<String>,
    /// New working directory.
    pub working_dir: Option<String>,
    /// New description.
    pub description: Option<String>,
}

impl Project {
    /// Applies a patch and bumps `updated_at` to `now` (ms).
    pub fn apply(&mut self, patch: &ProjectPatch, now: i64) {
        if let Some(name) = &patch.name {
            self.name = name.clone();
        }
        if let Some(dir) = &patch.working_dir {
            self.working_dir = dir.clone();
        }
        if let Some(desc) = &patch.description {
            self.description = Some(desc.clone());
        }
        self.updated_at = now;
    }
}
