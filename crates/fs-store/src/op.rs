//! What a repository asks the writer to do with one file: [`Op`], and the superseded copy of
//! a file ([`Stray`]) whose removal rides along.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::durable::remove_file;

/// Produces the bytes of a file; run on the committer, off every repository lock.
pub(crate) type Render = Box<dyn FnOnce() -> serde_json::Result<Vec<u8>> + Send>;

/// Streams a file's content when the file writer gets to it (possibly more than once: a
/// failed write is retried).
pub(crate) type FileRender =
    Arc<dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync>;

/// A [`FileRender`] of `value` as pretty JSON (what [`to_json`] produces).
pub(crate) fn json_render<T: Serialize + Send + Sync + 'static>(value: Arc<T>) -> FileRender {
    Arc::new(move |w| serde_json::to_writer_pretty(w, &*value).map_err(std::io::Error::other))
}

/// Pretty JSON with 2-space indentation and no trailing newline (`JSON.stringify(x, null, 2)`).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value)
}

/// An older copy of an entity's file at a non-canonical path (a legacy root-level task file,
/// or a file whose directory disagrees with its content). Its removal is journaled with the
/// first write of the canonical file and done right after that file is written.
#[derive(Debug)]
pub(crate) struct Stray {
    path: PathBuf,
    removed: AtomicBool,
}

impl Stray {
    pub(crate) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            removed: AtomicBool::new(false),
        })
    }

    /// True once the stray file is gone.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Unlinks the file (not durably: the journal record asking for it is replayed after a
    /// crash, and the next checkpoint syncs the directory).
    pub(crate) fn remove(&self) -> std::io::Result<()> {
        if !self.is_removed() {
            remove_file(&self.path)?;
            self.removed.store(true, Ordering::Release);
        }
        Ok(())
    }
}

/// The stray of an entity, if it still has to be removed.
pub(crate) fn live_stray(stray: &Option<Arc<Stray>>) -> Option<Arc<Stray>> {
    stray.as_ref().filter(|s| !s.is_removed()).cloned()
}

/// What to do with a file.
pub(crate) enum Op {
    /// Replace the file's content, then remove the stray (if any).
    Write {
        /// The new content.
        render: Render,
        /// Superseded copy to remove once the new content is durable.
        then_remove: Option<Arc<Stray>>,
        /// Acknowledge only once the file itself is written, even under write-behind.
        visible: bool,
    },
    /// Remove the file (and the stray, if any).
    Delete {
        /// Superseded copy to remove as well.
        also: Option<Arc<Stray>>,
    },
    /// Journal only what changed (`patch`, applied to the file's previous state at replay, see
    /// module `delta`); the file writer renders the whole new state later (`file`). A session
    /// that grew to megabytes then costs its journal the appended entry, not the session.
    Patch {
        /// The journal record's bytes.
        patch: Render,
        /// The file's new content, rendered by the file writer.
        file: FileRender,
    },
}

impl Op {
    /// Writes `value` as pretty JSON.
    pub(crate) fn json<T: Serialize + Send + Sync + 'static>(
        value: Arc<T>,
        then_remove: Option<Arc<Stray>>,
    ) -> Self {
        Op::Write {
            render: Box::new(move || to_json(&*value)),
            then_remove,
            visible: false,
        }
    }

    /// Writes raw bytes; acknowledged only once the file holds them.
    pub(crate) fn bytes(bytes: Vec<u8>) -> Self {
        Op::Write {
            render: Box::new(move || Ok(bytes)),
            then_remove: None,
            visible: true,
        }
    }

    /// The superseded copy this change removes, if the change can carry one.
    pub(crate) fn stray_mut(&mut self) -> Option<&mut Option<Arc<Stray>>> {
        match self {
            Op::Write { then_remove, .. } => Some(then_remove),
            Op::Delete { also } => Some(also),
            Op::Patch { .. } => None,
        }
    }
}
