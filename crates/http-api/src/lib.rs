//! `maestro-http-api`: the REST API of ref §4 and spec §2–§3 as an axum router.

pub mod log_digest;
pub mod skills;
pub mod workflow_templates;
