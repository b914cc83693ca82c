//! `maestro-server import-fs`: copies a data directory into PostgreSQL (spec §6.3, seed 000
//! §7.2). The directory is read with the filesystem store's own loader, so the reference
//! layout and the legacy shapes of ref §3.9 are understood exactly as the fs backend
//! understands them (journal replay included).
//!
//! The source directory is never modified: `FsStore::open` migrates what it loads in place
//! (moves legacy task files, re-saves sessions, converts legacy mail, creates directories,
//! replays a journal), so the loader runs on a private copy of the directory's entity files
//! (modal HTML and `server-url` are not copied: they stay on disk whatever the store).
//!
//! The import upserts, so running it twice leaves the same rows and prints the same counts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use maestro_domain::DomainError;
use maestro_domain::entities::{SessionFilter, TaskFilter};
use maestro_domain::ports::{ProjectRepository, SessionRepository, TaskRepository};
use maestro_fs_store::{FsStore, FsStoreError};
use maestro_pg_store::{ImportCounts, ImportData, MigrationReport};

/// Top-level entries of a data directory that hold no entity.
const NOT_IMPORTED: &[&str] = &["modals", "server-url"];

/// Why a data directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadDirError {
    /// The source is not a directory.
    #[error("{} is not a data directory", .0.display())]
    NotADirectory(PathBuf),
    /// Copying the source to the scratch directory failed.
    #[error("copying {} for reading: {source}", path.display())]
    Copy {
        /// The file or directory being copied.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The filesystem store could not load the copy.
    #[error("loading the data directory: {0}")]
    Load(#[from] FsStoreError),
    /// A repository could not list its entities.
    #[error("reading {what}: {source}")]
    Read {
        /// `projects`, `tasks`, `sessions`.
        what: &'static str,
        /// The repository error.
        #[source]
        source: Box<DomainError>,
    },
    /// A background task failed.
    #[error("background task failed: {0}")]
    Task(String),
}

/// Reads every entity of `data_dir` (reference layout, legacy shapes included) without
/// modifying it.
///
/// # Errors
/// [`ReadDirError`].
pub async fn read_data_dir(data_dir: &Path) -> Result<ImportData, ReadDirError> {
    if !tokio::fs::metadata(data_dir)
        .await
        .is_ok_and(|m| m.is_dir())
    {
        return Err(ReadDirError::NotADirectory(data_dir.to_path_buf()));
    }
    let source = data_dir.to_path_buf();
    let scratch =
        tokio::task::spawn_blocking(move || -> Result<tempfile::TempDir, ReadDirError> {
            let scratch = tempfile::Builder::new()
                .prefix("maestro-import-")
                .tempdir()
                .map_err(|e| ReadDirError::Copy {
                    path: std::env::temp_dir(),
                    source: e,
                })?;
            copy_dir(&source, scratch.path(), true)?;
            Ok(scratch)
        })
        .await
        .map_err(|e| ReadDirError::Task(e.to_string()))??;

    let store = FsStore::open(scratch.path()).await?;
    let read = |what: &'static str| {
        move |source| ReadDirError::Read {
            what,
            source: Box::new(source),
        }
    };
    let mut sessions = store
        .sessions
        .list(&SessionFilter::default())
        .await
        .map_err(read("sessions"))?;
    // Doc content the newer reference keeps in `session-docs/` files is stored inline in
    // PostgreSQL (`contentFilePath` is kept as stored).
    for session in &mut sessions {
        for doc in &mut session.docs {
            if doc.content.is_none() && doc.content_file_path.is_some() {
                doc.content = store
                    .sessions
                    .doc_content(&session.id, doc)
                    .await
                    .map_err(read("sessions"))?;
            }
        }
    }
    let data = ImportData {
        projects: store.projects.list().await.map_err(read("projects"))?,
        tasks: store
            .tasks
            .list(&TaskFilter::default())
            .await
            .map_err(read("tasks"))?,
        sessions,
        mail: store.mail.all(),
        team_members: store.team_members.all_custom(),
        team_member_overrides: store.team_members.all_overrides(),
        orderings: store.orderings.all(),
    };
    // Let the loader's own migration writes finish before the copy goes away.
    store.flush().await?;
    drop(store);
    tokio::task::spawn_blocking(move || scratch.close())
        .await
        .map_err(|e| ReadDirError::Task(e.to_string()))?
        .unwrap_or_else(|e| tracing::warn!(error = %e, "could not remove the import scratch copy"));
    Ok(data)
}

/// `maestro-server import-fs`: applies pending migrations, then upserts everything in
/// `data_dir`. Returns what the migration did and the rows written per table.
///
/// # Errors
/// The directory cannot be read, PostgreSQL is unreachable, a migration or the import fails.
pub async fn import_fs(
    cfg: &crate::config::Config,
    data_dir: &Path,
) -> anyhow::Result<(MigrationReport, ImportCounts)> {
    let data = read_data_dir(data_dir)
        .await
        .with_context(|| format!("reading {}", data_dir.display()))?;
    let store = crate::postgres::connect(cfg)?;
    let report = crate::postgres::migrate(cfg, &store).await?;
    let counts = store
        .import(&data)
        .await
        .context("importing into PostgreSQL")?;
    Ok((report, counts))
}

/// Copies the files under `from` into `to` (following symlinks), skipping
/// [`NOT_IMPORTED`] at the top level.
fn copy_dir(from: &Path, to: &Path, top: bool) -> Result<(), ReadDirError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadDirError::Copy { path, source }
    };
    std::fs::create_dir_all(to).map_err(err(to))?;
    for entry in std::fs::read_dir(from).map_err(err(from))? {
        let entry = entry.map_err(err(from))?;
        let name = entry.file_name();
        if top && NOT_IMPORTED.iter().any(|n| name == *n) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(err(&path))?;
        if meta.is_dir() {
            copy_dir(&path, &to.join(&name), false)?;
        } else if meta.is_file() {
            std::fs::copy(&path, to.join(&name)).map_err(err(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fs-store/tests/fixtures/ts-data")
    }

    /// Every file under `dir` with its bytes.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn reads_the_typescript_fixture_with_legacy_shapes_and_leaves_it_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        copy_dir(&fixture(), &data, false).unwrap();
        let before = snapshot(&data);

        let read = read_data_dir(&data).await.unwrap();
        assert_eq!(
            snapshot(&data),
            before,
            "the source directory is not modified"
        );

        let ids = |v: Vec<String>| {
            let mut v = v;
            v.sort();
            v
        };
        assert_eq!(
            ids(read.projects.iter().map(|p| p.id.clone()).collect()),
            [
                "proj_1706789123456_abc123def",
                "proj_1706789234567_zzz999xyz"
            ]
        );
        // The legacy root-level task file is included.
        assert!(
            read.tasks
                .iter()
                .any(|t| t.id == "task_1706790333333_ddddddddd")
        );
        // The legacy session shape is migrated (taskId → taskIds).
        let legacy = read
            .sessions
            .iter()
            .find(|s| s.id == "sess_1706793333333_opq901xyz")
            .unwrap();
        assert_eq!(legacy.task_ids, ["task_1706790000000_aaaaaaaaa"]);
        // Legacy mail/<parent>/<id>.json is converted to typed mail.
        assert!(
            read.mail
                .iter()
                .any(|m| m.id == "mail_1706796666666_rrrrrrrrr")
        );
        assert_eq!(read.team_members.len(), 1);
        assert_eq!(read.team_member_overrides.len(), 1);
        assert_eq!(read.orderings.len(), 2);
    }

    /// The newer reference's layout: global members, and doc content from `session-docs/`
    /// stored inline.
    #[tokio::test]
    async fn reads_the_newer_layout_with_doc_content_inline() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        copy_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fs-store/tests/fixtures/ts-data-653bc6a-fields"),
            &data,
            false,
        )
        .unwrap();
        let read = read_data_dir(&data).await.unwrap();
        let s = &read.sessions[0];
        assert_eq!(
            s.docs[0]
                .content
                .as_deref()
                .map(|c| c.starts_with(r#"{"type":"excalidraw""#)),
            Some(true)
        );
        assert_eq!(
            s.docs[1].content.as_deref(),
            Some("# Notes\n\nThe store keeps **docs** in files.\n")
        );
        assert!(s.docs[1].content_file_path.is_some(), "kept as stored");
        let global = read
            .team_members
            .iter()
            .find(|m| m.id == "tm_1782000600000_globalbt1")
            .unwrap();
        assert!(global.is_global());
        assert_eq!(read.team_members.len(), 3);
        assert_eq!(read.team_member_overrides.len(), 2);
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = read_data_dir(&tmp.path().join("nope"))
            .await
            .expect_err("missing");
        assert!(matches!(err, ReadDirError::NotADirectory(_)), "{err}");
    }
}
