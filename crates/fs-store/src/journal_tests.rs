#![allow(clippy::unwrap_used)]

use super::recover::Replayed;
use super::*;
use crate::FsStore;
use maestro_domain::ports::TaskRepository;
use maestro_domain::testing::fixtures::{T0, task};

fn write_rec(buf: &mut Vec<u8>, gsn: u64, path: &str, data: Option<&[u8]>) {
    let rec = Record {
        gsn,
        path,
        stray: None,
        data,
        patch: false,
    };
    encode(buf, &rec).unwrap();
}

/// Writes `bytes` as a journal segment of `root`, zero-padded like a real one.
fn write_segment(root: &Path, seq: u64, bytes: &[u8]) -> PathBuf {
    let dir = root.join(JOURNAL_DIR);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("journal-{seq:012}-test.log"));
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len() + 4096, 0);
    fs::write(&path, padded).unwrap();
    path
}

fn task_json(id: &str, title: &str) -> Vec<u8> {
    let mut t = task(id, "p1", T0);
    t.title = title.into();
    crate::op::to_json(&t).unwrap()
}

#[test]
fn records_round_trip_and_every_truncation_is_detected() {
    let mut buf = Vec::new();
    write_rec(&mut buf, 7, "tasks/p1/t1.json", Some(b"{\"a\": 1}"));
    let first_len = buf.len();
    let rec = Record {
        gsn: 8,
        path: "tasks/p1/t2.json",
        stray: Some("tasks/t2.json"),
        data: None,
        patch: false,
    };
    encode(&mut buf, &rec).unwrap();
    let Decoded::Record(r1, next) = decode(&buf, 0) else {
        panic!("first record")
    };
    assert_eq!(
        (r1.gsn, r1.path, r1.stray, r1.data),
        (7, "tasks/p1/t1.json", None, Some(&b"{\"a\": 1}"[..]))
    );
    assert_eq!(next, first_len);
    assert_eq!(decode(&buf, next), Decoded::Record(rec, buf.len()));
    assert_eq!(decode(&buf, buf.len()), Decoded::End);
    // Zero fill after the records is the clean end.
    let mut padded = buf.clone();
    padded.resize(buf.len() + 100, 0);
    assert_eq!(decode(&padded, buf.len()), Decoded::End);
    // A record cut anywhere (then zero-filled, as in a preallocated segment) is invalid.
    for cut in first_len + 1..buf.len() {
        let mut torn = buf[..cut].to_vec();
        torn.resize(buf.len() + 16, 0);
        assert!(
            matches!(decode(&torn, first_len), Decoded::Invalid(_)),
            "cut at {cut}"
        );
    }
    // Any flipped bit is caught.
    for i in [0, 5, 9, 13, first_len - 1] {
        let mut bad = buf.clone();
        bad[i] ^= 0x10;
        assert!(matches!(decode(&bad, 0), Decoded::Invalid(_)), "byte {i}");
    }
}

#[test]
fn unsafe_paths_are_not_resolved() {
    let root = Path::new("/d");
    assert_eq!(
        resolve(root, "tasks/p/t.json"),
        Some(root.join("tasks/p/t.json"))
    );
    for bad in ["", "/etc/passwd", "../x", "tasks/../../x", "./x"] {
        assert_eq!(resolve(root, bad), None, "{bad:?}");
    }
}

/// (a) A journal whose last record is torn is replayed up to the last valid record.
#[test]
fn torn_tail_is_replayed_up_to_the_last_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let f = |n: &str| root.join(format!("tasks/p1/{n}.json"));
    let mut buf = Vec::new();
    write_rec(&mut buf, 1, "tasks/p1/a.json", Some(b"a1"));
    write_rec(&mut buf, 2, "tasks/p1/b.json", Some(b"b1"));
    write_rec(&mut buf, 3, "tasks/p1/a.json", Some(b"a2"));
    let valid = buf.len();
    write_rec(
        &mut buf,
        4,
        "tasks/p1/a.json",
        Some(b"a3-never-acknowledged"),
    );
    write_rec(&mut buf, 5, "tasks/p1/c.json", Some(b"c1"));
    // The crash tore the fourth record: its last bytes never reached the disk.
    buf.truncate(valid + 20);
    let seg = write_segment(root, 1, &buf);
    let replayed = recover(root).unwrap();
    assert_eq!(replayed.records, 3);
    assert_eq!(replayed.files, 2);
    assert_eq!(fs::read(f("a")).unwrap(), b"a2");
    assert_eq!(fs::read(f("b")).unwrap(), b"b1");
    assert!(!f("c").exists());
    assert!(!seg.exists(), "the journal is deleted after the replay");
    // Replaying nothing is fine.
    assert_eq!(recover(root).unwrap(), Replayed::default());
}

#[test]
fn segments_replay_in_order_with_removals_and_strays() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("tasks/p1")).unwrap();
    fs::write(root.join("tasks/t9.json"), "legacy").unwrap();
    fs::create_dir_all(root.join("mail")).unwrap();
    fs::write(root.join("mail/m1.json"), "old").unwrap();
    let mut one = Vec::new();
    write_rec(&mut one, 1, "tasks/p1/a.json", Some(b"a1"));
    let rec = Record {
        gsn: 2,
        path: "tasks/p1/t9.json",
        stray: Some("tasks/t9.json"),
        data: Some(b"moved"),
        patch: false,
    };
    encode(&mut one, &rec).unwrap();
    let mut two = Vec::new();
    write_rec(&mut two, 3, "tasks/p1/a.json", Some(b"a2"));
    write_rec(&mut two, 4, "mail/m1.json", None);
    // Segment 10 sorts after segment 9 numerically, not by name.
    write_segment(root, 10, &two);
    write_segment(root, 9, &one);
    let replayed = recover(root).unwrap();
    assert_eq!((replayed.segments, replayed.records), (2, 4));
    assert_eq!(fs::read(root.join("tasks/p1/a.json")).unwrap(), b"a2");
    assert_eq!(fs::read(root.join("tasks/p1/t9.json")).unwrap(), b"moved");
    assert!(!root.join("tasks/t9.json").exists(), "stray removed");
    assert!(!root.join("mail/m1.json").exists(), "removal replayed");
    assert_eq!(fs::read_dir(root.join(JOURNAL_DIR)).unwrap().count(), 0);
}

/// (b) The process died after the journal sync but before the file write: the files are
/// stale, the store still opens with the journaled state, in memory and on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journaled_changes_reach_stale_files_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = root.join("tasks/p1/task_1.json");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, task_json("task_1", "stale")).unwrap();
    let mut buf = Vec::new();
    let t1 = task_json("task_1", "journaled");
    let t2 = task_json("task_2", "created");
    write_rec(&mut buf, 1, "tasks/p1/task_1.json", Some(&t1));
    write_rec(&mut buf, 2, "tasks/p1/task_2.json", Some(&t2));
    write_segment(root, 1, &buf);

    let store = FsStore::open(root).await.unwrap();
    let got = store.tasks.get("task_1").await.unwrap().unwrap();
    assert_eq!(got.title, "journaled");
    let created = store.tasks.get("task_2").await.unwrap().unwrap();
    assert_eq!(created.title, "created");
    assert_eq!(fs::read(&file).unwrap(), t1);
    assert_eq!(fs::read(root.join("tasks/p1/task_2.json")).unwrap(), t2);
    assert_eq!(fs::read_dir(root.join(JOURNAL_DIR)).unwrap().count(), 0);
}

#[test]
fn journal_appends_rotates_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut j = Journal::new(root);
    assert_eq!(j.rotate().paths.len(), 0, "nothing to seal");
    assert!(!root.join(JOURNAL_DIR).exists(), "created lazily");
    let mut buf = Vec::new();
    write_rec(&mut buf, 1, "a.json", Some(&[7; 100_000]));
    j.append(&buf, 1).unwrap();
    j.append(&buf, 2).unwrap();
    let len = j.len();
    assert_eq!(len, 2 * buf.len() as u64);
    let sealed = j.rotate();
    assert_eq!((sealed.paths.len(), sealed.boundary), (1, 2));
    let size = fs::metadata(&sealed.paths[0]).unwrap().len();
    assert_eq!(
        size, len,
        "a sealed segment gives back its zero-filled tail"
    );
    let bytes = fs::read(&sealed.paths[0]).unwrap();
    let Decoded::Record(_, next) = decode(&bytes, 0) else {
        panic!()
    };
    assert!(matches!(decode(&bytes, next), Decoded::Record(..)));
    j.append(&buf, 3).unwrap();
    j.restore(sealed.paths.clone());
    let again = j.rotate();
    assert_eq!(again.paths.len(), 2);
    assert_eq!(
        again.paths[0], sealed.paths[0],
        "restored segments stay first"
    );
    assert_eq!(again.boundary, 3);
    delete_segments(j.dir(), again.paths).unwrap();
    assert_eq!(fs::read_dir(j.dir()).unwrap().count(), 0);
}

// ---- Damage and unwritable files (module `recover`) ----

/// Runs `f` with the `tracing` output captured; returns its result and the log text.
fn logged<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_ansi(false)
        .finish();
    let r = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (r, text)
}

/// `n` records, one file each (`tasks/p1/tNNN.json`, submission `i + 1`), and the byte range
/// of each record.
fn numbered(n: usize) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for i in 0..n {
        let start = buf.len();
        write_rec(
            &mut buf,
            i as u64 + 1,
            &format!("tasks/p1/t{i:03}.json"),
            Some(content(i).as_bytes()),
        );
        ranges.push(start..buf.len());
    }
    (buf, ranges)
}

fn content(i: usize) -> String {
    format!("{{\"n\": {i}, \"pad\": \"{}\"}}", "x".repeat(200))
}

/// Asserts that exactly the records `0..n` except `lost` reached their files.
fn assert_replayed(root: &Path, n: usize, lost: &[usize]) {
    for i in 0..n {
        let path = root.join(format!("tasks/p1/t{i:03}.json"));
        if lost.contains(&i) {
            assert!(!path.exists(), "record {i} was damaged");
        } else {
            assert_eq!(fs::read_to_string(&path).unwrap(), content(i), "record {i}");
        }
    }
}

/// The journal directory's entries (names).
fn journal_names(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join(JOURNAL_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Recovers a damaged 201-record segment; returns the log. Checks what every damage case
/// shares: every other record replayed, the segment kept aside byte for byte and never
/// replayed again.
fn recover_damaged(bytes: &[u8], lost: &[usize]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let seg = write_segment(root, 1, bytes);
    let original = fs::read(&seg).unwrap();
    let (replayed, log) = logged(|| recover(root).unwrap());
    assert_eq!(replayed.records, 201 - lost.len(), "{log}");
    assert_eq!(replayed.damaged, 1);
    assert_replayed(root, 201, lost);
    let names = journal_names(root);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with("damaged-") && names[0].ends_with("-journal-000000000001-test.log"),
        "{names:?}"
    );
    assert_eq!(
        fs::read(root.join(JOURNAL_DIR).join(&names[0])).unwrap(),
        original,
        "kept as it was"
    );
    assert!(
        log.contains("ERROR") && log.contains("DAMAGED SEGMENT"),
        "{log}"
    );
    assert!(
        log.contains(&names[0]),
        "the log says where it is kept: {log}"
    );
    // Never replayed again.
    assert_eq!(recover(root).unwrap(), Replayed::default());
    log
}

/// One flipped byte in the middle of a 201-record segment (the case) loses exactly
/// that record; the log names its byte range, its declared length and (unverified) its path.
#[test]
fn a_flipped_byte_mid_segment_loses_only_its_record() {
    let (mut buf, ranges) = numbered(201);
    let r = ranges[100].clone();
    buf[r.start + 100] ^= 0x01;
    let log = recover_damaged(&buf, &[100]);
    let payload = r.len() - HEADER;
    for needle in [
        format!("bytes {}..{}", r.start, r.end),
        format!("one record with an intact header declaring a {payload}-byte payload"),
        "submission 101 (unverified)".to_owned(),
        "for tasks/p1/t100.json (unverified)".to_owned(),
        "the lost changes: submission 101".to_owned(),
    ] {
        assert!(log.contains(&needle), "{needle:?} in {log}");
    }
}

/// A destroyed header (garbage or zeros): nothing is known of the record, every later one
/// is still replayed.
#[test]
fn a_destroyed_header_is_skipped_by_resynchronising() {
    for fill in [0xA5, 0x00] {
        let (mut buf, ranges) = numbered(201);
        let r = ranges[100].clone();
        buf[r.start..r.start + HEADER].fill(fill);
        let log = recover_damaged(&buf, &[100]);
        assert!(
            log.contains(&format!("bytes {}..{}", r.start, r.end)),
            "{log}"
        );
        assert!(log.contains("record header destroyed"), "{log}");
    }
}

/// A damaged length field: the declared end is wrong, so the scan finds the next record.
#[test]
fn a_damaged_length_field_is_skipped_by_resynchronising() {
    for len in [7_u32, 300, u32::MAX] {
        let (mut buf, ranges) = numbered(201);
        let r = ranges[100].clone();
        buf[r.start + 4..r.start + 8].copy_from_slice(&len.to_le_bytes());
        let log = recover_damaged(&buf, &[100]);
        assert!(
            log.contains(&format!("bytes {}..{}", r.start, r.end)),
            "{log}"
        );
    }
}

/// Damage in two places, and a torn tail after them: two damage ranges in the log, the tail
/// only a warning, every other record replayed.
#[test]
fn damage_in_two_places_and_a_torn_tail() {
    let (mut buf, ranges) = numbered(201);
    buf[ranges[40].start + 50] ^= 0xFF;
    buf[ranges[150].start..ranges[150].start + 6].fill(0);
    buf.truncate(ranges[200].end - 30);
    let log = recover_damaged(&buf, &[40, 150, 200]);
    for r in [&ranges[40], &ranges[150]] {
        assert!(
            log.contains(&format!("bytes {}..{}", r.start, r.end)),
            "{log}"
        );
    }
    assert!(log.contains("WARN") && log.contains("torn tail"), "{log}");
}

/// The scan never resumes at a record numbered before the last valid one: a complete record
/// embedded in a damaged record's content is not replayed.
#[test]
fn resynchronising_never_goes_back_in_submission_order() {
    let mut embedded = Vec::new();
    write_rec(&mut embedded, 1, "projects/evil.json", Some(b"{}"));
    let mut buf = Vec::new();
    write_rec(&mut buf, 1, "tasks/p1/a.json", Some(b"a"));
    let damaged_at = buf.len();
    write_rec(&mut buf, 2, "tasks/p1/b.json", Some(&embedded));
    write_rec(&mut buf, 3, "tasks/p1/c.json", Some(b"c"));
    buf[damaged_at..damaged_at + HEADER].fill(0xEE);
    let scanned = recover::scan(&buf);
    let paths: Vec<_> = scanned.records.iter().map(|r| r.path).collect();
    assert_eq!(paths, ["tasks/p1/a.json", "tasks/p1/c.json"]);
    assert_eq!(scanned.gaps.len(), 1);
    assert!(!scanned.gaps[0].tail);
}

/// A clean segment and a torn tail are not damage: nothing is kept aside.
#[test]
fn a_torn_tail_is_not_damage() {
    let (mut buf, ranges) = numbered(3);
    let clean = recover::scan(&buf);
    assert!(clean.gaps.is_empty() && !clean.damaged());
    buf.truncate(ranges[2].start + 5);
    let torn = recover::scan(&buf);
    assert_eq!(torn.records.len(), 2);
    assert_eq!(torn.gaps.len(), 1);
    assert!(torn.gaps[0].tail && !torn.damaged());
    assert_eq!(torn.gaps[0].range, ranges[2].start..ranges[2].start + 5);
}

/// A record whose file cannot be written is never dropped. Permission bits do not stop
/// root (tests may run as root), so the write errors here are real ones any user gets: a
/// regular file where a directory is needed (ENOTDIR), and a name longer than the file
/// system allows (ENAMETOOLONG). The journal is kept byte for byte, every other file is
/// written, a superseded copy is not removed, and the error names the file, the OS error and
/// how to recover; once the cause is fixed the same journal replays completely.
#[test]
fn a_record_whose_file_cannot_be_written_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("tasks")).unwrap();
    fs::write(root.join("tasks/blocked"), "a file in the way").unwrap();
    fs::write(root.join("tasks/legacy.json"), "legacy copy").unwrap();
    let long = format!("team-members/{}/m.json", "x".repeat(300));
    let mut buf = Vec::new();
    write_rec(&mut buf, 1, "tasks/p1/a.json", Some(b"a"));
    write_rec(&mut buf, 2, "tasks/blocked/b.json", Some(b"b"));
    let moved = Record {
        gsn: 3,
        path: "tasks/p1/legacy.json",
        stray: Some("tasks/legacy.json"),
        data: Some(b"moved"),
        patch: false,
    };
    encode(&mut buf, &moved).unwrap();
    write_rec(&mut buf, 4, &long, Some(b"m"));
    let seg = write_segment(root, 1, &buf);
    let original = fs::read(&seg).unwrap();

    let err = recover(root).unwrap_err();
    let FsStoreError::JournalReplay { failed, journal } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(journal, &root.join(JOURNAL_DIR));
    let failed: Vec<_> = failed.iter().map(|(p, e)| (p.clone(), e.kind())).collect();
    assert_eq!(
        failed,
        [
            (
                root.join("tasks/blocked/b.json"),
                io::ErrorKind::NotADirectory
            ),
            (root.join(&long), io::ErrorKind::InvalidFilename),
        ]
    );
    let msg = err.to_string();
    for needle in [
        "cannot write 2 files from the journal",
        &root.join("tasks/blocked/b.json").display().to_string(),
        "Not a directory",
        "name too long",
        "move it aside, then start again",
        "can never be written here",
        &root.join(JOURNAL_DIR).display().to_string(),
        "Nothing was dropped",
        "only these changes are then lost",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }
    assert_eq!(fs::read(&seg).unwrap(), original, "journal kept as it is");
    assert_eq!(fs::read(root.join("tasks/p1/a.json")).unwrap(), b"a");
    assert_eq!(
        fs::read(root.join("tasks/p1/legacy.json")).unwrap(),
        b"moved"
    );
    assert!(
        root.join("tasks/legacy.json").exists(),
        "no superseded copy is removed while a change is not in its file"
    );

    // The cause fixed (the name that is too long given up by hand, as the message says for
    // it would lose only that change), the same journal replays completely.
    fs::remove_file(root.join("tasks/blocked")).unwrap();
    let mut rest = Vec::new();
    let mut at = 0;
    while let Decoded::Record(rec, next) = decode(&original, at) {
        if rec.path != long {
            encode(&mut rest, &rec).unwrap();
        }
        at = next;
    }
    write_segment(root, 1, &rest);
    let replayed = recover(root).unwrap();
    assert_eq!((replayed.records, replayed.files), (3, 3));
    assert_eq!(fs::read(root.join("tasks/blocked/b.json")).unwrap(), b"b");
    assert!(
        !root.join("tasks/legacy.json").exists(),
        "superseded copy removed"
    );
    assert!(journal_names(root).is_empty());
}

/// Content crafted to look like record headers (raw modal HTML can hold any byte) costs at
/// most the checksum budget: with a tiny budget the scan gives up and reports damage (the
/// segment is kept aside) instead of spending quadratic time; with the normal budget the
/// record after it is found.
#[test]
fn record_like_content_is_bounded_by_the_resync_budget() {
    // 200 fake headers: kind 1, a high submission number, a length that fits, a wrong CRC.
    let mut fake = Vec::new();
    for _ in 0..200 {
        fake.extend_from_slice(&MAGIC);
        fake.extend_from_slice(&1000_u32.to_le_bytes());
        fake.extend_from_slice(&[0; 4]);
        fake.extend_from_slice(&u64::MAX.to_le_bytes());
        fake.push(KIND_WRITE);
        fake.resize(fake.len() + 9, b'x');
    }
    let mut buf = Vec::new();
    write_rec(&mut buf, 1, "tasks/p1/a.json", Some(b"a"));
    let damaged_at = buf.len();
    write_rec(&mut buf, 2, "modals/m.html", Some(&fake));
    write_rec(&mut buf, 3, "tasks/p1/c.json", Some(b"c"));
    buf[damaged_at..damaged_at + HEADER].fill(0xEE);

    let scanned = recover::scan(&buf);
    let paths: Vec<_> = scanned.records.iter().map(|r| r.path).collect();
    assert_eq!(paths, ["tasks/p1/a.json", "tasks/p1/c.json"]);

    let starved = recover::scan_within(&buf, 10_000);
    assert_eq!(starved.records.len(), 1);
    assert_eq!(starved.gaps.len(), 1);
    assert!(
        !starved.gaps[0].tail && starved.damaged(),
        "kept aside, not a tail"
    );
    assert!(starved.gaps[0].describe().contains("gave up"));
}
