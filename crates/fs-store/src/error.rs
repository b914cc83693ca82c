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
    /// At start-up, acknowledged changes in the journal could not be written to their files.
    /// Nothing was dropped: every other file was written and synced, and the journal is kept
    /// as it is, so the next start replays it again. The message names each file, its OS
    /// error, and how to recover.
    #[error("{}", replay_message(failed, journal))]
    JournalReplay {
        /// The files that could not be written or removed, with their OS errors (at least one).
        failed: Vec<(PathBuf, Arc<io::Error>)>,
        /// The journal directory that was kept (`<data_dir>/.maestro-journal`).
        journal: PathBuf,
    },
}

/// Files named in a [`FsStoreError::JournalReplay`] message (the others are logged).
pub(crate) const NAMED_IN_ERROR: usize = 5;

/// What the operator can do about a failed file write, by its OS error.
fn advice(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied => {
            "Make the directory writable by the user the server runs as, then start again."
        }
        K::ReadOnlyFilesystem => "Remount the file system read-write, then start again.",
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
            "Free disk space (or raise the quota), then start again."
        }
        K::NotADirectory => {
            "A file is in the way where a directory is needed: move it aside, then start again."
        }
        K::IsADirectory => {
            "A directory is in the way where a file is needed: move it aside, then start again."
        }
        K::InvalidFilename => {
            "The file name is not valid on this file system (too long?): this change can never \
             be written here, so the only way to start is to give it up (below)."
        }
        _ => "Fix the cause, then start again.",
    }
}

fn replay_message(failed: &[(PathBuf, Arc<io::Error>)], journal: &std::path::Path) -> String {
    use std::fmt::Write as _;
    let mut out = match failed {
        [(path, e)] => format!("cannot write {} from the journal: {e}.", path.display()),
        _ => {
            let mut s = format!("cannot write {} files from the journal:", failed.len());
            for (path, e) in failed.iter().take(NAMED_IN_ERROR) {
                let _ = write!(s, " {}: {e};", path.display());
            }
            if failed.len() > NAMED_IN_ERROR {
                let _ = write!(
                    s,
                    " and {} more (each is in the log);",
                    failed.len() - NAMED_IN_ERROR
                );
            }
            s.pop();
            s.push('.');
            s
        }
    };
    let mut advised = Vec::new();
    for (_, e) in failed {
        let a = advice(e);
        if !advised.contains(&a) {
            advised.push(a);
            let _ = write!(out, " {a}");
        }
    }
    let (these, is, it) = if failed.len() == 1 {
        ("this change", "is", "it is")
    } else {
        ("these changes", "are", "they are")
    };
    let _ = write!(
        out,
        " Nothing was dropped: the journal {journal} keeps {these} (acknowledged to clients) \
         and is replayed at every start until {it} written; every other change in it has been \
         written. To give up {these} instead, move that directory out of the data directory \
         and start again: only {these} {is} then lost.",
        journal = journal.display(),
    );
    out
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
            Self::Serialize { .. } | Self::Task(_) | Self::JournalReplay { .. } => false,
        }
    }

    /// True for a filesystem operation's failure (also when shared).
    pub fn is_io(&self) -> bool {
        match self {
            Self::Io { .. } => true,
            Self::Shared(inner) => inner.is_io(),
            Self::Serialize { .. } | Self::Task(_) | Self::JournalReplay { .. } => false,
        }
    }
}

impl From<FsStoreError> for DomainError {
    fn from(e: FsStoreError) -> Self {
        e.into_domain()
    }
}
