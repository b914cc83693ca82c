//! Entities (ref §1, spec §3) with serde shapes byte-compatible with the reference JSON.
//!
//! Conventions (ref §0): camelCase keys, epoch-ms timestamps (team members: ISO strings),
//! optional fields absent when unset, `X | null` fields written as `null`. Every stored
//! entity keeps unknown JSON keys in `extra` so a load/save round trip preserves them
//! (spec §1.3), and loads a field of an unexpected JSON type as an odd value that is served
//! and written back as stored ([`stored`], [`Stored`]).

mod enums;
mod launch;
mod mail;
mod model_profile;
mod ordering;
mod project;
mod session;
pub(crate) mod stored;
mod task;
mod team_member;
mod text;

pub use enums::*;
pub use launch::*;
pub use mail::*;
pub use model_profile::*;
pub use ordering::*;
pub use project::*;
pub use session::*;
pub use stored::{OddValue, OddValues, PathStep, Stored, StoredError};
pub use task::*;
pub use team_member::*;
pub use text::*;

/// Unknown JSON keys of a stored entity, kept in insertion order.
pub type Extra = serde_json::Map<String, serde_json::Value>;
