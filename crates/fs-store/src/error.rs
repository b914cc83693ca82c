//! Errors of the filesystem store and their mapping to [`DomainError`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use maestro_domain::DomainError;

/// A failure of the filesystem store.
///
/// Port methods never return this type: they map it to a `DomainError` via
/// [`FsStoreError::into_domain`]. [`crate::FsStore::open`] and
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

    /// Maps to a `DomainError`: an I/O failure (disk full, permissions, a failing device) is
    /// `StoreUnavailable` (503: the change was not made, try again later); anything else is
    /// `Internal`, keeping `self` as the source.
    pub fn into_domain(self) -> DomainError {
        if self.is_io() {
            DomainError::StoreUnavailable(self.to_string())
        } else {
            DomainError::internal("filesystem store failure", self)
        }
    }

    /// True when the device is out of space (or quota) for this operation.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            Self::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            Self::Shared(inner) => inner.is_out_of_space(),
            Self::Serialize { .. } | Self::Task(_) => false,
        }
    }

    /// True for a filesystem operation's failure (also when shared).
    pub fn is_io(&self) -> bool {
        match self {
            Self::Io { .. } => true,
            Self::Shared(inner) => inner.is_io(),
            Self::Serialize { .. } | Self::Task(_) => false,
        }
    }
}

impl From<FsStoreError> for DomainError {
    fn from(e: FsStoreError) -> Self {
        e.into_domain()
    }
}
