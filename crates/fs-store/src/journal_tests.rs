#![allow(clippy::unwrap_used)]

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
