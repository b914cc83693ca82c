//! Errors of the filesystem store and their mapping to [`DomainError`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use maestro_domain::DomainError;

/// A failure of the filesystem store.
///
/// Port methods never return this type: they map it to `DomainError::Internal` (keeping it as
/// the source) via [`FsStoreError::into_domain`]. [`crate::FsStore::open`] and
/// [`crate::FsStore::flush`] return it directly.
#[derive(Debug, thiserror::Error)]
pub enum FsStoreError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`write`, `remove`, `read`, `create directory`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error, shared because every waiter of a coalesced write receives it.
        #[source]
        source: Arc<io::Error>,
    },
    /// An entity could not be serialized to JSON.
    #[error("serialize {path}: {source}")]
    Serialize {
        /// The file it was meant for.
        path: PathBuf,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A background write or load task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// A write failed; shared by every caller whose change it carried.
    #[error(transparent)]
    Shared(Arc<FsStoreError>),
}

impl FsStoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Maps to `DomainError::Internal`, keeping `self` as the source.
    pub fn into_domain(self) -> DomainError {
        DomainError::internal("filesystem store failure", self)
    }
}

impl From<FsStoreError> for DomainError {
    fn from(e: FsStoreError) -> Self {
        e.into_domain()
    }
}
