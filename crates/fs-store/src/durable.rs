//! Blocking file primitives: atomic replace (durable or not), unlink, batched `fsync`.
//!
//! A file is always replaced by writing a temp file in the same directory and renaming it over
//! the target, so a reader (or a crash) sees either the old or the new bytes, never a torn mix.
//! [`write_atomic`] also `fsync`s the temp file and the directory, which makes the new content
//! durable on its own; it is used at start-up (migrations, journal replay needs no per-file
//! sync). [`replace_file`] skips both `fsync`s: the runtime write path relies on the journal for
//! durability and makes files durable in bulk at checkpoints ([`sync_paths`]).
//! Directory `fsync`s of [`write_atomic`] are group-committed per directory ([`DirSyncs`]).
//!
//! Everything here blocks; callers run it on the blocking pool or in load threads.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Suffix of our temp files; `.<name>.<pid>.<n>.tmp` files are removed at start-up.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// True if `name` is one of our temp files (`.<name>.<pid>.<n>.tmp`).
pub(crate) fn is_temp_name(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(TMP_SUFFIX))
    else {
        return false;
    };
    let mut parts = inner.rsplitn(3, '.');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some_and(|n| !n.is_empty())
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}{TMP_SUFFIX}", std::process::id()))
}

/// Group-committed directory `fsync`s, one coordinator per directory.
#[derive(Default)]
pub(crate) struct DirSyncs {
    dirs: Mutex<HashMap<PathBuf, Arc<DirSync>>>,
}

#[derive(Default)]
struct DirSync {
    state: Mutex<DirSyncState>,
    cond: Condvar,
}

#[derive(Default)]
struct DirSyncState {
    /// Number of fsyncs started so far (the generation of the latest one).
    started: u64,
    /// Generation of the latest finished fsync.
    done: u64,
    /// Generation of the latest successful fsync.
    ok: u64,
    /// Error of the latest failed fsync.
    error: Option<Arc<io::Error>>,
    running: bool,
}

impl DirSyncs {
    /// Makes every directory entry change made in `dir` before this call durable: returns once
    /// an `fsync` of `dir` that started after the call has completed.
    pub(crate) fn sync(&self, dir: &Path) -> io::Result<()> {
        let ds = lock(&self.dirs)
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        let mut st = lock(&ds.state);
        // Any fsync that starts from now on covers our change.
        let needed = st.started + 1;
        loop {
            if st.done >= needed {
                if st.ok >= needed {
                    return Ok(());
                }
                let err = st.error.clone();
                return Err(match err {
                    Some(e) => io::Error::new(e.kind(), e.to_string()),
                    None => io::Error::other("directory fsync failed"),
                });
            }
            if st.running {
                st = ds.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.running = true;
            st.started += 1;
            let generation = st.started;
            drop(st);
            let result = fsync_dir(dir);
            st = lock(&ds.state);
            st.running = false;
            st.done = generation;
            match result {
                Ok(()) => st.ok = generation,
                Err(e) => st.error = Some(Arc::new(e)),
            }
            ds.cond.notify_all();
        }
    }
}

/// `fsync` of a directory (makes renames, creations and unlinks in it durable).
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` (and its parents) and makes the new entries durable.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        ensure_dir(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) => fsync_dir(parent),
        None => Ok(()),
    }
}

/// Atomically replaces `path` with `bytes` and makes it durable (temp + fsync + rename +
/// fsync(dir)). Creates the parent directory if needed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], dirs: &DirSyncs) -> io::Result<()> {
    let dir = rename_into_place(path, |f| f.write_all(bytes), true)?;
    dirs.sync(dir)
}

/// Atomically replaces `path` with `bytes` (temp + rename) without any `fsync`: readers never
/// see a torn file, but after a power loss the file may be old or empty until the journal is
/// replayed. Creates the parent directory (durably) if needed.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    rename_into_place(path, |f| f.write_all(bytes), false).map(|_| ())
}

/// [`replace_file`] with content that `write` streams into the temp file (through a buffer):
/// a multi-megabyte file is never held in memory whole. Returns the bytes written.
pub(crate) fn replace_file_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<u64> {
    let mut written = 0;
    rename_into_place(
        path,
        |f| {
            let mut out = io::BufWriter::with_capacity(64 << 10, Counted(f, &mut written));
            write(&mut out)?;
            out.flush()
        },
        false,
    )?;
    Ok(written)
}

/// A writer that counts what goes through it.
struct Counted<'a, W>(W, &'a mut u64);

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        *self.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Removes `path` without syncing its directory. Returns whether a file was removed; a missing
/// file is fine.
pub(crate) fn remove_file(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes a temp file next to `path` with `write` (`fdatasync`ed if `sync`) and renames it
/// over `path`. Returns the parent directory.
fn rename_into_place(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
    sync: bool,
) -> io::Result<&Path> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("path has no parent directory"))?;
    let tmp = temp_path(path);
    let open = || OpenOptions::new().write(true).create_new(true).open(&tmp);
    let mut file = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ensure_dir(dir)?;
            open()?
        }
        Err(e) => return Err(e),
    };
    let mut written = write(&mut file);
    if sync {
        written = written.and_then(|()| file.sync_data());
    }
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(dir)
}

/// Makes `files` (their data, `fdatasync`) and then `dirs` (their entries, `fsync`) durable,
/// spreading the calls over a few scoped threads so the device sees them concurrently. A file
/// that no longer exists is skipped (a later removal superseded it). Returns the paths that
/// failed, with their errors; empty means everything is durable.
pub(crate) fn sync_paths(files: &[PathBuf], dirs: &[PathBuf]) -> Vec<(PathBuf, io::Error)> {
    let mut failed = par_each(files, |p| match File::open(p) {
        Ok(f) => f.sync_data(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    });
    failed.extend(par_each(dirs, |d| match fsync_dir(d) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }));
    failed
}

/// Runs `f` on every path with up to 8 threads; collects the failures.
fn par_each(
    paths: &[PathBuf],
    f: impl Fn(&Path) -> io::Result<()> + Sync,
) -> Vec<(PathBuf, io::Error)> {
    const PER_THREAD: usize = 64;
    let run = |chunk: &[PathBuf]| -> Vec<(PathBuf, io::Error)> {
        chunk
            .iter()
            .filter_map(|p| f(p).err().map(|e| (p.clone(), e)))
            .collect()
    };
    let threads = paths.len().div_ceil(PER_THREAD).min(8);
    if threads <= 1 {
        return run(paths);
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths.chunks(chunk).map(|c| s.spawn(|| run(c))).collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(PathBuf::new(), io::Error::other("sync thread panicked"))]
                })
            })
            .collect()
    })
}

/// Removes `path` durably; a missing file is fine.
pub(crate) fn remove_durable(path: &Path, dirs: &DirSyncs) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => match path.parent() {
            Some(dir) => dirs.sync(dir),
            None => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn write_replace_remove() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = DirSyncs::default();
        let p = dir.path().join("sub/deeper/a.json");
        write_atomic(&p, b"one", &dirs).unwrap();
        write_atomic(&p, b"two", &dirs).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp file left: {names:?}");
        remove_durable(&p, &dirs).unwrap();
        remove_durable(&p, &dirs).unwrap();
        assert!(!p.exists());
        assert!(is_temp_name(".a.json.1.2.tmp"));
        assert!(!is_temp_name("a.json"));
        assert!(!is_temp_name(".notes.tmp"));
        assert!(!is_temp_name(".x.1.tmp"));
    }

    #[test]
    fn concurrent_dir_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = DirSyncs::default();
        std::thread::scope(|s| {
            for i in 0..16 {
                let dirs = &dirs;
                let p = dir.path().join(format!("f{i}.json"));
                s.spawn(move || write_atomic(&p, b"x", dirs).unwrap());
            }
        });
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 16);
    }
}
