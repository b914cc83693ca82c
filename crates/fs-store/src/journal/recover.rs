//! Start-up replay of the journal (step 4 of the protocol in the parent module).
//!
//! Every segment is scanned record by record. Where no valid record decodes, the scan looks
//! for the next one: first at the end declared by an intact header (a record whose payload
//! fails its checksum), then at every later occurrence of the magic whose record decodes with
//! a matching checksum and a submission number above the last valid one (numbers increase
//! within a segment). Candidates are filtered by cheap checks before their checksum, and the
//! checksumming per segment is bounded (16 × its size + 64 MiB), so content crafted to look
//! like records cannot stall the start-up; past the bound the rest of the segment counts as
//! damaged. What lies between is a *gap*:
//! - a gap with no valid record after it is the **torn tail** left by a crash during an
//!   append: a batch that was never acknowledged. It is logged as a warning; the segment is
//!   deleted after the replay like an intact one;
//! - a gap followed by valid records is **damage**. Every valid record after it is replayed,
//!   the segment is renamed aside to `damaged-<unix ms>-<name>` (which the replay never reads
//!   again) and an `error` log gives the byte ranges lost and what is known of the lost
//!   records: nothing when their header is destroyed; the declared length (and, unverified,
//!   the submission number and path) when the header survived; the range of submission
//!   numbers the lost changes had.
//!
//! Each file then gets the state of its last valid record. A file that cannot be written
//! (or removed) fails the replay: every other file is still written and synced, nothing is
//! deleted or renamed, and [`FsStoreError::JournalReplay`] names the files, so the operator
//! fixes the cause and the next start replays the same journal. Segments are retired oldest
//! first, so a crash during the retirement leaves a suffix of them, whose replay is
//! idempotent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    Decoded, FIXED, HEADER, JOURNAL_DIR, KIND_PATCH, KIND_REMOVE, KIND_WRITE, MAGIC, MAX_PAYLOAD,
    Record, decode, resolve,
};
use crate::durable::{fsync_dir, remove_file, replace_file, sync_paths};
use crate::error::{FsStoreError, NAMED_IN_ERROR};
use crate::load::{Entry, classify, read_regular};

/// What [`recover`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Segment files read.
    pub(crate) segments: usize,
    /// Valid records found.
    pub(crate) records: usize,
    /// Files written or removed.
    pub(crate) files: usize,
    /// Damaged segments kept aside.
    pub(crate) damaged: usize,
}

/// What an intact header (magic and a plausible length) says about a record that failed its
/// checksum. The payload fields are unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LostHeader {
    /// Declared payload length, in bytes.
    pub(super) len: usize,
    /// Submission number read from the payload, if it is there.
    pub(super) gsn: Option<u64>,
    /// Path read from the payload, if it is a safe relative UTF-8 path.
    pub(super) path: Option<String>,
}

/// A stretch of a segment where no valid record decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gap {
    /// Byte range in the segment.
    pub(super) range: Range<usize>,
    /// Nothing valid follows: the torn tail of a crash, not damage.
    pub(super) tail: bool,
    /// Why the record at its start did not decode.
    pub(super) why: &'static str,
    /// The header at its start, when it survived.
    pub(super) header: Option<LostHeader>,
    /// The replay resumed exactly at the end declared by that header: one record was lost.
    pub(super) one_record: bool,
    /// Submission numbers of the valid records just before and just after it.
    pub(super) before: Option<u64>,
    pub(super) after: Option<u64>,
}

/// One segment, scanned.
#[derive(Debug, Default)]
pub(super) struct Scan<'a> {
    /// Valid records, in file order.
    pub(super) records: Vec<Record<'a>>,
    /// Invalid stretches, in file order (at most the last is a tail).
    pub(super) gaps: Vec<Gap>,
}

impl Scan<'_> {
    /// True if a gap is followed by valid records.
    pub(super) fn damaged(&self) -> bool {
        self.gaps.iter().any(|g| !g.tail)
    }
}

/// The header at `at`, if its magic and length are plausible.
fn header_at(buf: &[u8], at: usize) -> Option<LostHeader> {
    let header = buf.get(at..at.checked_add(HEADER)?)?;
    if header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !(FIXED..=MAX_PAYLOAD).contains(&len) {
        return None;
    }
    let payload = &buf[at + HEADER..];
    let gsn = payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    let path = payload.get(9..11).and_then(|l| {
        let path_len = u16::from_le_bytes([l[0], l[1]]) as usize;
        let raw = payload.get(FIXED..FIXED + path_len)?;
        let text = std::str::from_utf8(raw).ok()?;
        resolve(Path::new("/"), text)?;
        (!text.chars().any(char::is_control)).then(|| text.to_owned())
    });
    Some(LostHeader { len, gsn, path })
}

/// The submission number of a valid record at `at` that may follow submission `after`.
fn valid_at(buf: &[u8], at: usize, after: Option<u64>) -> Option<u64> {
    match decode(buf, at) {
        Decoded::Record(rec, _) if after.is_none_or(|g| rec.gsn > g) => Some(rec.gsn),
        _ => None,
    }
}

/// Where the scan resumes after invalid bytes.
enum Resume {
    /// At a valid record (its offset and submission number).
    At(usize, u64),
    /// Nothing valid follows.
    Nothing,
    /// The checksum budget ran out before a valid record was found.
    GaveUp,
}

/// Bytes the resynchronisation of one segment may checksum: candidates are rejected by cheap
/// checks first, but content crafted to look like records (modal HTML is stored raw) must not
/// make the start-up quadratic.
fn resync_budget(segment_len: usize) -> usize {
    segment_len.saturating_mul(16).saturating_add(64 << 20)
}

/// The first position from `from` on where a valid record may resume the replay. Before its
/// checksum, a candidate must have a plausible length that fits in `buf`, a known kind (keep
/// in step with `decode`) and a submission number above `after`; entity JSON cannot contain
/// such a header (its control bytes are escaped), so only raw content costs checksums, which
/// are charged to `budget`.
fn next_valid(buf: &[u8], from: usize, after: Option<u64>, budget: &mut usize) -> Resume {
    let mut at = from;
    loop {
        let Some(found) = buf
            .get(at..)
            .and_then(|rest| rest.windows(MAGIC.len()).position(|w| w == MAGIC))
            .map(|i| at + i)
        else {
            return Resume::Nothing;
        };
        at = found + 1;
        let Some(h) = header_at(buf, found) else {
            continue;
        };
        let payload = &buf[found + HEADER..];
        let plausible = payload.len() >= h.len
            && matches!(
                payload.get(8),
                Some(&(KIND_WRITE | KIND_REMOVE | KIND_PATCH))
            )
            && h.gsn.is_some_and(|g| after.is_none_or(|a| g > a));
        if !plausible {
            continue;
        }
        let Some(left) = budget.checked_sub(h.len) else {
            return Resume::GaveUp;
        };
        *budget = left;
        if let Some(gsn) = valid_at(buf, found, after) {
            return Resume::At(found, gsn);
        }
    }
}

/// Scans one segment (see the module docs).
pub(super) fn scan(buf: &[u8]) -> Scan<'_> {
    scan_within(buf, resync_budget(buf.len()))
}

/// [`scan`] with an explicit resynchronisation budget, in bytes checksummed.
pub(super) fn scan_within(buf: &[u8], mut budget: usize) -> Scan<'_> {
    let mut out = Scan::default();
    let mut at = 0;
    let mut last = None;
    loop {
        let why = match decode(buf, at) {
            Decoded::Record(rec, next) => {
                last = Some(rec.gsn);
                out.records.push(rec);
                at = next;
                continue;
            }
            Decoded::End => None,
            Decoded::Invalid(why) => Some(why),
        };
        let rest = buf.get(at..).unwrap_or_default();
        let Some(used) = rest.iter().rposition(|&b| b != 0) else {
            break; // The clean end: nothing but zero fill.
        };
        let header = why.and_then(|_| header_at(buf, at));
        let declared_end = header.as_ref().map(|h| at + HEADER + h.len);
        let skip = declared_end.and_then(|end| valid_at(buf, end, last).map(|gsn| (end, gsn)));
        let resume = match skip {
            Some((next, gsn)) => Resume::At(next, gsn),
            None => next_valid(buf, at + 1, last, &mut budget),
        };
        let gap = |range, tail, why: Option<&'static str>, after| Gap {
            range,
            tail,
            why: why.unwrap_or("zeroed header"),
            header: header.clone(),
            one_record: skip.is_some(),
            before: last,
            after,
        };
        match resume {
            Resume::At(next, gsn) => {
                out.gaps.push(gap(at..next, false, why, Some(gsn)));
                at = next;
            }
            Resume::Nothing => {
                out.gaps.push(gap(at..at + used + 1, true, why, None));
                break;
            }
            Resume::GaveUp => {
                // Not a torn tail: valid records may follow, so the segment is kept aside.
                let why = Some("resynchronisation gave up: too many record-like byte sequences");
                out.gaps.push(gap(at..at + used + 1, false, why, None));
                break;
            }
        }
    }
    out
}

impl Gap {
    /// A sentence for the log: where, and what is known of what was lost.
    pub(super) fn describe(&self) -> String {
        let Range { start, end } = self.range;
        let mut s = format!("bytes {start}..{end} ({} bytes, {})", end - start, self.why);
        match &self.header {
            Some(h) => {
                let count = if self.one_record {
                    "one record"
                } else {
                    "a record (and possibly more after it)"
                };
                let _ = write!(
                    s,
                    ": {count} with an intact header declaring a {}-byte payload",
                    h.len
                );
                if let Some(gsn) = h.gsn {
                    let _ = write!(s, ", submission {gsn} (unverified)");
                }
                if let Some(path) = &h.path {
                    let _ = write!(s, ", for {path} (unverified)");
                }
            }
            None => s.push_str(": record header destroyed, nothing is known of the records there"),
        }
        let lost = if self.tail {
            "changes never acknowledged"
        } else {
            "lost changes"
        };
        match (self.before, self.after) {
            (Some(a), Some(b)) if b == a + 2 => {
                let _ = write!(s, "; the {lost}: submission {}", a + 1);
            }
            (Some(a), Some(b)) if b > a + 2 => {
                let _ = write!(
                    s,
                    "; the {lost}: at most {} among submissions {} to {}",
                    b - a - 1,
                    a + 1,
                    b - 1
                );
            }
            (None, Some(b)) => {
                let _ = write!(s, "; the {lost}: submissions below {b}");
            }
            (Some(a), None) => {
                let _ = write!(s, "; the {lost}: submissions above {a}");
            }
            _ => {}
        }
        s
    }
}

/// The last journaled state of a file during replay.
struct Final<'a> {
    /// Position of its last record.
    last: usize,
    /// Its last full state: content, `None` when removed; unset (`Base::Disk`) when the journal
    /// holds only patches of it.
    base: Base<'a>,
    /// Patches journaled after `base`, in order (module `delta`).
    patches: Vec<&'a [u8]>,
}

/// Where a replayed file's state starts from.
#[derive(Clone, Copy)]
enum Base<'a> {
    /// The file as it is on disk (the journal holds only patches of it).
    Disk,
    /// This content.
    Content(&'a [u8]),
    /// Removed.
    Removed,
}

impl<'a> Final<'a> {
    /// The file's final content (`None`: removed), applying the patches to the base.
    fn content(&self, path: &Path) -> io::Result<Option<std::borrow::Cow<'a, [u8]>>> {
        let base = match self.base {
            Base::Content(bytes) if self.patches.is_empty() => {
                return Ok(Some(std::borrow::Cow::Borrowed(bytes)));
            }
            Base::Removed if self.patches.is_empty() => return Ok(None),
            Base::Content(bytes) => bytes.to_vec(),
            Base::Disk => fs::read(path)?,
            Base::Removed => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the journal patches a removed file",
                ));
            }
        };
        crate::delta::apply(&base, &self.patches).map(|b| Some(std::borrow::Cow::Owned(b)))
    }
}

/// The segment files of `dir`, in replay order. Entries that are not regular files (a FIFO
/// would block the read forever) are skipped with a warning and left alone.
fn list_segments(dir: &Path) -> Result<Vec<PathBuf>, FsStoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsStoreError::io("list", dir, e)),
    };
    let mut found = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| FsStoreError::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let seq = name
            .strip_prefix("journal-")
            .filter(|_| name.ends_with(".log"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|s| s.parse::<u64>().ok());
        let Some(seq) = seq else { continue };
        match classify(&entry) {
            Entry::File => found.push((seq, name, entry.path())),
            Entry::Dir | Entry::Other(_) => {
                tracing::warn!(path = %entry.path().display(),
                    "journal: skipping a segment name that is not a regular file");
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Where a damaged segment is kept: `damaged-<unix ms>-<name>` in the journal directory.
fn aside(seg: &Path, now_ms: u128) -> PathBuf {
    let name = seg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    seg.with_file_name(format!("damaged-{now_ms}-{name}"))
}

/// Logs the gaps of one segment.
fn report(seg: &Path, scan: &Scan<'_>, kept_as: Option<&Path>) {
    for gap in scan.gaps.iter().filter(|g| g.tail) {
        tracing::warn!(segment = %seg.display(), tail = %gap.describe(),
            "journal: torn tail (a batch cut by a crash, never acknowledged); replaying the \
             records before it");
    }
    let damage: Vec<String> = scan
        .gaps
        .iter()
        .filter(|g| !g.tail)
        .map(Gap::describe)
        .collect();
    if let (false, Some(kept_as)) = (damage.is_empty(), kept_as) {
        tracing::error!(
            segment = %seg.display(),
            kept_as = %kept_as.display(),
            recovered = scan.records.len(),
            damage = %damage.join("; "),
            "journal: DAMAGED SEGMENT. Every intact record before and after the damage is \
             replayed; the changes in the damaged bytes are lost unless their files already \
             held them (files are written right after each journal sync). The segment is kept \
             aside and never replayed again."
        );
    }
}

/// True if `path` is a regular file whose content is exactly `bytes`.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() && m.len() == bytes.len() as u64 => {
            std::fs::read(path).is_ok_and(|on_disk| on_disk == bytes)
        }
        _ => false,
    }
}

/// Replays the journal of the data directory `root` into its files, makes them durable and
/// retires the journal: intact segments are deleted, damaged ones kept aside (see the module
/// docs).
///
/// # Errors
/// - [`FsStoreError::JournalReplay`] when files cannot be written or removed; the journal is
///   kept as it is (every other file is written and synced).
/// - [`FsStoreError::Io`] when a segment cannot be read, the replayed files cannot be made
///   durable, or a segment cannot be deleted or renamed; the journal (or the suffix of it not
///   yet retired) is kept.
pub(crate) fn recover(root: &Path) -> Result<Replayed, FsStoreError> {
    let dir = root.join(JOURNAL_DIR);
    let segments = list_segments(&dir)?;
    let mut stats = Replayed {
        segments: segments.len(),
        ..Replayed::default()
    };
    if segments.is_empty() {
        return Ok(stats);
    }
    let mut contents = Vec::with_capacity(segments.len());
    for seg in &segments {
        contents.push(read_regular(seg).map_err(|e| FsStoreError::io("read", seg, e))?);
    }
    let scans: Vec<Scan<'_>> = contents.iter().map(|b| scan(b)).collect();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let kept: Vec<Option<PathBuf>> = segments
        .iter()
        .zip(&scans)
        .map(|(seg, scan)| scan.damaged().then(|| aside(seg, now_ms)))
        .collect();
    for ((seg, scan), kept_as) in segments.iter().zip(&scans).zip(&kept) {
        report(seg, scan, kept_as.as_deref());
    }

    // Final state per file (None = removed) and the position of its last record; strays with
    // the position of the record that asked for their removal.
    let mut finals: HashMap<PathBuf, Final<'_>> = HashMap::new();
    let mut strays: Vec<(usize, PathBuf)> = Vec::new();
    let mut order = 0;
    for rec in scans.iter().flat_map(|s| &s.records) {
        order += 1;
        stats.records += 1;
        match resolve(root, rec.path) {
            Some(p) => {
                let f = finals.entry(p).or_insert(Final {
                    last: order,
                    base: Base::Disk,
                    patches: Vec::new(),
                });
                f.last = order;
                match (rec.data, rec.patch) {
                    (Some(patch), true) => f.patches.push(patch),
                    (Some(bytes), false) => {
                        f.base = Base::Content(bytes);
                        f.patches.clear();
                    }
                    (None, _) => {
                        f.base = Base::Removed;
                        f.patches.clear();
                    }
                }
            }
            None => tracing::warn!(path = rec.path, "journal: skipping unsafe path"),
        }
        if let Some(s) = rec.stray.and_then(|s| resolve(root, s)) {
            strays.push((order, s));
        }
    }
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut failed = Vec::new();
    for (path, last) in &finals {
        let data = match last.content(path) {
            Ok(data) => data,
            Err(e) => {
                failed.push((path.clone(), Arc::new(e)));
                continue;
            }
        };
        let done = match data.as_deref() {
            // A file that already holds the journaled bytes (the usual case: the crash came
            // after its write) is only synced: no write, and no room needed for a temp copy
            // (after a disk-full episode there may be none).
            Some(bytes) if holds(path, bytes) => {
                files.push(path.clone());
                Ok(())
            }
            Some(bytes) => replace_file(path, bytes).map(|()| files.push(path.clone())),
            None => remove_file(path).map(|_| ()),
        };
        match done {
            Ok(()) => {
                stats.files += 1;
                dirs.extend(path.parent().map(Path::to_path_buf));
            }
            Err(e) => failed.push((path.clone(), Arc::new(e))),
        }
    }
    // A superseded copy goes only once every change is in its file: with a failure, the copy
    // may be the only one left of its entity.
    for (at, stray) in strays.into_iter().filter(|_| failed.is_empty()) {
        // A record for that path after the removal request wins.
        if finals.get(&stray).is_some_and(|f| f.last > at) {
            continue;
        }
        match remove_file(&stray) {
            Ok(_) => dirs.extend(stray.parent().map(Path::to_path_buf)),
            Err(e) => tracing::warn!(path = %stray.display(), error = %e,
                "journal: cannot remove superseded file"),
        }
    }
    dirs.sort();
    dirs.dedup();
    if let Some((path, e)) = sync_paths(&files, &dirs).into_iter().next() {
        return Err(FsStoreError::io("sync", path, e));
    }
    if !failed.is_empty() {
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        // The error names the first few; the log has the others.
        for (path, e) in failed.iter().skip(NAMED_IN_ERROR) {
            tracing::error!(path = %path.display(), error = %e,
                "journal: cannot write an acknowledged change to its file; keeping the journal");
        }
        return Err(FsStoreError::JournalReplay {
            failed,
            journal: dir,
        });
    }
    // Oldest first, so that what a crash here leaves is a suffix of the segments.
    for (seg, kept_as) in segments.iter().zip(&kept) {
        match kept_as {
            Some(to) => {
                fs::rename(seg, to)
                    .and_then(|()| fsync_dir(&dir))
                    .map_err(|e| FsStoreError::io("keep damaged journal segment", seg, e))?;
                stats.damaged += 1;
            }
            None => {
                remove_file(seg).map_err(|e| FsStoreError::io("delete journal", seg, e))?;
            }
        }
    }
    fsync_dir(&dir).map_err(|e| FsStoreError::io("sync", &dir, e))?;
    tracing::info!(
        segments = stats.segments,
        records = stats.records,
        files = stats.files,
        damaged = stats.damaged,
        "journal replayed"
    );
    Ok(stats)
}
