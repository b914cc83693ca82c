//! The write-ahead journal: a change is durable once its record is in the journal, before its
//! entity file is written.
//!
//! # Files
//! `<data_dir>/.maestro-journal/journal-<seq>-<instance>.log` (hidden, so the TypeScript tools
//! and the loader ignore it). A store appends to one *segment* at a time; a checkpoint seals it
//! and the next record starts a new segment with a higher `<seq>`. Segments are replayed in
//! `<seq>` order.
//!
//! # Record format
//! All integers little-endian. A 12-byte header, then the payload:
//! ```text
//! magic  "MJL1"   4 bytes
//! len    u32      payload length in bytes (at most 1 GiB)
//! crc    u32      CRC-32C of the 4 `len` bytes followed by the payload
//! payload:
//!   gsn        u64  submission number (diagnostics; order is the file order)
//!   kind       u8   1 = write the file, 2 = remove it, 3 = patch it
//!   path_len   u16  then the path relative to the data directory, UTF-8, `/`-separated
//!   stray_len  u16  then an optional second relative path to remove (0 = none; see `Stray`)
//!   data            the file's new bytes (kind 1), or a patch of its previous state (kind 3,
//!                   module `delta`), up to the end of the payload
//! ```
//! Segments are zero-filled ahead of the records (64 KiB at first, then in chunks that double
//! up to 4 MiB), so most appends overwrite allocated blocks and `fdatasync` has no metadata to
//! commit; an all-zero header marks the clean end.
//!
//! # Protocol
//! 1. Writers queue their changes; one committer at a time takes everything queued, renders it,
//!    appends the records with one `write` and makes them durable with **one `fdatasync`**
//!    (group commit), then acknowledges every change of the batch. A new segment is zero-filled,
//!    `fsync`ed and its directory `fsync`ed before its first record counts.
//! 2. Only then are the entity files updated (temp file + rename, no `fsync`): a file never
//!    holds a state that is not already in the journal.
//! 3. A checkpoint seals the current segment, waits until every change in it reached its file,
//!    `fsync`s every file and directory written since the previous checkpoint, and only then
//!    deletes the sealed segments (and `fsync`s the journal directory).
//! 4. [`recover`] (module `recover`), before the store loads, replays every valid record of
//!    every segment in order, applies the final state of each file atomically, `fsync`s what
//!    it wrote and deletes the journal. Invalid bytes at the end of a segment are the torn
//!    tail of a crash; invalid bytes followed by valid records are damage: the replay
//!    resynchronises on the next valid record, and the segment is kept aside
//!    (`damaged-<unix ms>-<name>`, never replayed again) with an error log saying what was
//!    lost. A change whose file cannot be written is never dropped: the journal is kept and
//!    the store does not open ([`FsStoreError::JournalReplay`]).
//!
//! # Crash cases
//! - *During an append*: the batch was not acknowledged. Its records are complete, partly
//!   written or zero; the checksum rejects the incomplete ones. Valid records after an invalid
//!   one in that batch (the disk may persist pages out of order) are replayed too, which is
//!   allowed for an unacknowledged batch; the segment is then reported as damaged.
//! - *After the `fdatasync`, before or during the file writes*: the files are old (or some
//!   new, renames are atomic); the replay writes the journaled state.
//! - *During a checkpoint*: the segments still exist until every file they cover is durable;
//!   the replay rewrites the same states, which is idempotent. A file replaced by a newer
//!   change while the checkpoint syncs it may be synced in its newer state only; that change's
//!   record is in a newer segment, which the checkpoint keeps.
//! - *Around a superseded copy (`Stray`)*: it is removed only after the record asking for it is
//!   durable, so a crash can never leave neither the old nor the new file.
//! - *After a failed append*: the segment is sealed as it is and a new one is started; its
//!   valid prefix still counts, the failed batch was reported to its writers.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::crc::Crc32c;
use crate::durable::{ensure_dir, fsync_dir, remove_file};
use crate::error::FsStoreError;

mod recover;

pub(crate) use recover::recover;

/// The journal's directory under the data directory.
pub(crate) const JOURNAL_DIR: &str = ".maestro-journal";
const MAGIC: [u8; 4] = *b"MJL1";
/// Header bytes: magic, payload length, checksum.
const HEADER: usize = 12;
/// Fixed payload bytes before the paths: gsn, kind, two path lengths.
const FIXED: usize = 8 + 1 + 2 + 2;
/// Largest payload accepted, in bytes; a larger length is corruption.
const MAX_PAYLOAD: usize = 1 << 30;
/// First zero-filled size of a segment, in bytes.
const MIN_CHUNK: u64 = 64 << 10;
/// Largest zero-fill step, in bytes.
const MAX_CHUNK: u64 = 4 << 20;

const KIND_WRITE: u8 = 1;
const KIND_REMOVE: u8 = 2;
/// The data is a patch of the file's previous state (module `delta`), not its content.
const KIND_PATCH: u8 = 3;

/// Distinguishes the segments of several stores of one process (tests open a data directory
/// twice); with the process id it makes segment names unique.
static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// One journaled change, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// Submission number.
    pub(crate) gsn: u64,
    /// Path relative to the data directory.
    pub(crate) path: &'a str,
    /// Superseded copy to remove as well, relative to the data directory.
    pub(crate) stray: Option<&'a str>,
    /// New content (or, with `patch`, a patch of the previous content); `None` removes the
    /// file.
    pub(crate) data: Option<&'a [u8]>,
    /// `data` is a patch (module `delta`), applied to the file's previous state at replay.
    pub(crate) patch: bool,
}

/// Appends the encoded `rec` to `buf`.
///
/// # Errors
/// `InvalidInput` when a path or the payload is too long for the format.
pub(crate) fn encode(buf: &mut Vec<u8>, rec: &Record<'_>) -> io::Result<()> {
    let stray = rec.stray.unwrap_or("");
    let data = rec.data.unwrap_or(&[]);
    let too_long = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
    let path_len = u16::try_from(rec.path.len()).map_err(|_| too_long("path too long"))?;
    let stray_len = u16::try_from(stray.len()).map_err(|_| too_long("path too long"))?;
    let len = FIXED + rec.path.len() + stray.len() + data.len();
    if len > MAX_PAYLOAD {
        return Err(too_long("record larger than 1 GiB"));
    }
    let len_bytes = (len as u32).to_le_bytes();
    let start = buf.len();
    buf.reserve(HEADER + len);
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&len_bytes);
    buf.extend_from_slice(&[0; 4]); // checksum, filled in below
    buf.extend_from_slice(&rec.gsn.to_le_bytes());
    buf.push(match (rec.data.is_some(), rec.patch) {
        (true, false) => KIND_WRITE,
        (true, true) => KIND_PATCH,
        (false, _) => KIND_REMOVE,
    });
    buf.extend_from_slice(&path_len.to_le_bytes());
    buf.extend_from_slice(&stray_len.to_le_bytes());
    buf.extend_from_slice(rec.path.as_bytes());
    buf.extend_from_slice(stray.as_bytes());
    buf.extend_from_slice(data);
    let crc = Crc32c::new()
        .update(&len_bytes)
        .update(&buf[start + HEADER..])
        .finish();
    buf[start + 8..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What [`decode`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A valid record and the offset after it.
    Record(Record<'a>, usize),
    /// The end: no bytes left, or a zero-filled header.
    End,
    /// A torn or corrupt record (the reason).
    Invalid(&'static str),
}

/// Decodes the record at `at` in `buf`.
pub(crate) fn decode(buf: &[u8], at: usize) -> Decoded<'_> {
    let rest = buf.get(at..).unwrap_or_default();
    if rest.is_empty() || rest.iter().take(HEADER).all(|&b| b == 0) {
        return Decoded::End;
    }
    let Some(header) = rest.get(..HEADER) else {
        return Decoded::Invalid("truncated header");
    };
    if header[..4] != MAGIC {
        return Decoded::Invalid("bad magic");
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if !(FIXED..=MAX_PAYLOAD).contains(&len) {
        return Decoded::Invalid("bad length");
    }
    let Some(payload) = rest.get(HEADER..HEADER + len) else {
        return Decoded::Invalid("truncated record");
    };
    if Crc32c::new().update(&header[4..8]).update(payload).finish() != crc {
        return Decoded::Invalid("checksum mismatch");
    }
    let mut gsn = [0; 8];
    gsn.copy_from_slice(&payload[..8]);
    let kind = payload[8];
    let path_len = u16::from_le_bytes([payload[9], payload[10]]) as usize;
    let stray_len = u16::from_le_bytes([payload[11], payload[12]]) as usize;
    let Some(paths) = payload.get(FIXED..FIXED + path_len + stray_len) else {
        return Decoded::Invalid("bad path length");
    };
    let (Ok(path), Ok(stray)) = (
        std::str::from_utf8(&paths[..path_len]),
        std::str::from_utf8(&paths[path_len..]),
    ) else {
        return Decoded::Invalid("path is not UTF-8");
    };
    let data = &payload[FIXED + path_len + stray_len..];
    let (data, patch) = match kind {
        KIND_WRITE => (Some(data), false),
        KIND_PATCH => (Some(data), true),
        KIND_REMOVE if data.is_empty() => (None, false),
        _ => return Decoded::Invalid("bad kind"),
    };
    let rec = Record {
        gsn: u64::from_le_bytes(gsn),
        path,
        stray: (!stray.is_empty()).then_some(stray),
        data,
        patch,
    };
    Decoded::Record(rec, at + HEADER + len)
}

/// The segment being appended to.
struct Segment {
    path: PathBuf,
    file: File,
    /// Bytes of records written.
    len: u64,
    /// Bytes zero-filled (the file's size).
    allocated: u64,
}

impl Segment {
    /// Zero-fills the file up to at least `needed` bytes: a growing chunk ahead, or, when
    /// the device has no room for that (disk nearly full), just what `needed` takes.
    fn reserve(&mut self, needed: u64) -> io::Result<()> {
        if needed <= self.allocated {
            return Ok(());
        }
        let step = self.allocated.clamp(MIN_CHUNK, MAX_CHUNK);
        let ahead = (self.allocated + step).max(needed.next_multiple_of(MIN_CHUNK));
        match self.zero_fill(ahead) {
            Err(e) if e.kind() == io::ErrorKind::StorageFull && ahead > needed => {
                // Give back what the failed fill took, then take only what is needed.
                let _ = self.file.set_len(self.allocated);
                self.zero_fill(needed.next_multiple_of(4096))
            }
            other => other,
        }
    }

    /// Zero-fills `allocated..target`.
    fn zero_fill(&mut self, target: u64) -> io::Result<()> {
        let zeros = vec![0u8; (target - self.allocated).min(MAX_CHUNK) as usize];
        let mut at = self.allocated;
        while at < target {
            let n = (target - at).min(zeros.len() as u64) as usize;
            self.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        self.allocated = target;
        Ok(())
    }
}

/// Segments handed to a checkpoint by [`Journal::rotate`].
#[derive(Debug, Default)]
pub(crate) struct Sealed {
    /// Segment files, oldest first.
    pub(crate) paths: Vec<PathBuf>,
    /// Highest submission number they contain.
    pub(crate) boundary: u64,
}

/// The appending side of the journal. Not synchronized: the writer keeps it behind a mutex.
pub(crate) struct Journal {
    dir: PathBuf,
    tag: String,
    next_seq: u64,
    current: Option<Segment>,
    /// Segments no longer appended to and not yet deleted, oldest first.
    sealed: Vec<PathBuf>,
    /// Highest submission number appended.
    last_gsn: u64,
}

impl Journal {
    /// The journal of the data directory `root`; creates nothing until the first append.
    pub(crate) fn new(root: &Path) -> Self {
        let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
        Self {
            dir: root.join(JOURNAL_DIR),
            tag: format!("{}-{n}", std::process::id()),
            next_seq: 1,
            current: None,
            sealed: Vec::new(),
            last_gsn: 0,
        }
    }

    /// Gives the zero-filled space ahead of the current segment's records back to the device
    /// (the disk is full and entity files need it); the next append fills what it needs.
    pub(crate) fn give_back_reserve(&mut self) {
        if let Some(seg) = self.current.as_mut()
            && seg.allocated > seg.len
            && seg.file.set_len(seg.len).is_ok()
        {
            seg.allocated = seg.len;
        }
    }

    /// Bytes of records in the current segment.
    pub(crate) fn len(&self) -> u64 {
        self.current.as_ref().map_or(0, |s| s.len)
    }

    /// Appends `records` (encoded, ending with submission `last_gsn`) and makes them durable
    /// with one `fdatasync`. On failure the segment is sealed as it is; the next append starts
    /// a new one.
    ///
    /// # Errors
    /// The I/O error, naming the segment.
    pub(crate) fn append(&mut self, records: &[u8], last_gsn: u64) -> Result<(), FsStoreError> {
        if self.current.is_none() {
            self.current = Some(self.create_segment()?);
        }
        let Some(seg) = self.current.as_mut() else {
            return Err(FsStoreError::Task("journal segment missing".into()));
        };
        let end = seg.len + records.len() as u64;
        let written = seg
            .reserve(end)
            .and_then(|()| seg.file.write_all_at(records, seg.len))
            .and_then(|()| seg.file.sync_data());
        match written {
            Ok(()) => {
                seg.len = end;
                self.last_gsn = last_gsn;
                Ok(())
            }
            Err(e) => {
                let path = seg.path.clone();
                self.seal_current();
                Err(FsStoreError::io("append to journal", path, e))
            }
        }
    }

    fn seal_current(&mut self) {
        if let Some(seg) = self.current.take() {
            // The zero-filled tail is never written now: give its space back (a nearly full
            // disk needs it for the entity files that let the segment be deleted). The zero
            // header after the records still marks the end if this fails or is lost.
            if seg.allocated > seg.len {
                let _ = seg.file.set_len(seg.len);
            }
            self.sealed.push(seg.path);
        }
    }

    /// Creates, zero-fills and durably links a new segment.
    fn create_segment(&mut self) -> Result<Segment, FsStoreError> {
        ensure_dir(&self.dir).map_err(|e| FsStoreError::io("create directory", &self.dir, e))?;
        let path = self
            .dir
            .join(format!("journal-{:012}-{}.log", self.next_seq, self.tag));
        self.next_seq += 1;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|file| {
                let mut seg = Segment {
                    path: path.clone(),
                    file,
                    len: 0,
                    allocated: 0,
                };
                seg.reserve(MIN_CHUNK)?;
                seg.file.sync_all()?;
                fsync_dir(&self.dir)?;
                Ok(seg)
            });
        created.map_err(|e| {
            let _ = fs::remove_file(&path);
            FsStoreError::io("create journal segment", &path, e)
        })
    }

    /// Seals the current segment (if it holds records) and hands every sealed segment to a
    /// checkpoint.
    pub(crate) fn rotate(&mut self) -> Sealed {
        if self.len() > 0 {
            self.seal_current();
        }
        Sealed {
            paths: std::mem::take(&mut self.sealed),
            boundary: self.last_gsn,
        }
    }

    /// Gives back segments a checkpoint could not delete; they stay older than any sealed since.
    pub(crate) fn restore(&mut self, mut older: Vec<PathBuf>) {
        older.append(&mut self.sealed);
        self.sealed = older;
    }

    /// The journal directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Deletes `segments` durably. Returns those that could not be deleted, with the first error.
pub(crate) fn delete_segments(
    dir: &Path,
    segments: Vec<PathBuf>,
) -> Result<(), (Vec<PathBuf>, io::Error)> {
    let mut left = Vec::new();
    let mut first = None;
    for p in segments {
        if let Err(e) = remove_file(&p) {
            first.get_or_insert(e);
            left.push(p);
        }
    }
    if let Err(e) = fsync_dir(dir) {
        // The deletions may not be durable: an old segment could come back after a crash and
        // be replayed without the newer ones, so report it.
        return Err((left, e));
    }
    match first {
        Some(e) => Err((left, e)),
        None => Ok(()),
    }
}

/// A safe relative path (only normal components) under `root`.
fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    (normal && !rel.is_empty()).then(|| root.join(p))
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
