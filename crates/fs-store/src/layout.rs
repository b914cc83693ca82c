//! The data directory layout (ref §6.2, spec §6.2) and id checks for path segments.

use std::path::{Path, PathBuf};

use maestro_domain::entities::OrderingEntityType;
use maestro_domain::{DomainError, DomainResult};

/// Paths of every file kind under the data directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

/// Subdirectories created at start-up.
pub(crate) const TOP_DIRS: &[&str] = &[
    "projects",
    "tasks",
    "sessions",
    "ordering",
    "ordering/task",
    "ordering/session",
    "team-members",
    "mail",
    "modals",
];

/// Suffix of a default member's override file (`<defaultId>.override.json`).
pub(crate) const OVERRIDE_SUFFIX: &str = ".override.json";

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `projects/<id>.json`.
    pub(crate) fn project(&self, id: &str) -> PathBuf {
        self.root.join("projects").join(format!("{id}.json"))
    }

    /// `tasks/<projectId>/<taskId>.json`.
    pub(crate) fn task(&self, project_id: &str, id: &str) -> PathBuf {
        self.root
            .join("tasks")
            .join(project_id)
            .join(format!("{id}.json"))
    }

    /// `sessions/<id>.json`.
    pub(crate) fn session(&self, id: &str) -> PathBuf {
        self.root.join("sessions").join(format!("{id}.json"))
    }

    /// `ordering/<type>/<projectId>.json`.
    pub(crate) fn ordering(&self, kind: OrderingEntityType, project_id: &str) -> PathBuf {
        self.root
            .join("ordering")
            .join(kind.as_str())
            .join(format!("{project_id}.json"))
    }

    /// `team-members/<projectId>/<id>.json`.
    pub(crate) fn member(&self, project_id: &str, id: &str) -> PathBuf {
        self.root
            .join("team-members")
            .join(project_id)
            .join(format!("{id}.json"))
    }

    /// `team-members/<projectId>/<defaultId>.override.json`.
    pub(crate) fn member_override(&self, project_id: &str, default_id: &str) -> PathBuf {
        self.root
            .join("team-members")
            .join(project_id)
            .join(format!("{default_id}{OVERRIDE_SUFFIX}"))
    }

    /// `session-docs/<sessionId>/<fileName>`: doc content the newer reference (653bc6a) keeps
    /// outside the session (`<docId>.md`, `<docId>.excalidraw`). Read only: this server
    /// stores doc content inline.
    pub(crate) fn session_doc(&self, session_id: &str, file_name: &str) -> PathBuf {
        self.root
            .join("session-docs")
            .join(session_id)
            .join(file_name)
    }

    /// `mail/<id>.json`.
    pub(crate) fn mail(&self, id: &str) -> PathBuf {
        self.root.join("mail").join(format!("{id}.json"))
    }

    /// `modals/<id>.html`.
    pub(crate) fn modal(&self, id: &str) -> PathBuf {
        self.root.join("modals").join(format!("{id}.html"))
    }
}

/// Rejects ids that could escape their directory when used as a path segment: empty,
/// containing `/`, `\`, `..` or NUL. The HTTP layer already restricts ids to
/// `^[A-Za-z0-9_-]{1,128}$`; this is defence in depth.
///
/// # Errors
/// `DomainError::Validation` naming the field.
pub(crate) fn check_id(field: &str, id: &str) -> DomainResult<()> {
    if id.is_empty() || id.contains(['/', '\\', '\0']) || id.contains("..") {
        return Err(DomainError::invalid_field(
            field,
            "must not be empty or contain '/', '\\' or '..'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("id", "task_1_abc").is_ok());
        for bad in ["", "..", "a/b", "a\\b", "../x", "a..b"] {
            assert!(check_id("id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        let l = Layout::new(PathBuf::from("/d"));
        assert_eq!(l.task("p", "t"), PathBuf::from("/d/tasks/p/t.json"));
        assert_eq!(
            l.ordering(OrderingEntityType::Session, "p"),
            PathBuf::from("/d/ordering/session/p.json")
        );
        assert_eq!(
            l.member_override("p", "tm_p_coordinator"),
            PathBuf::from("/d/team-members/p/tm_p_coordinator.override.json")
        );
    }
}
