//! Issue 12 item 1: a change to a session journals what changed (the appended timeline entry,
//! the new status), not the whole session, and a crash replays those patches onto whatever
//! state the session's file holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use maestro_domain::entities::{
    DocEntry, DocKind, Session, SessionEvent, SessionPatch, SessionStatus, TimelineEvent,
    TimelineEventType,
};
use maestro_domain::ports::SessionRepository;
use maestro_domain::testing::fixtures::{T0, session};
use maestro_fs_store::{FsStore, FsStoreOptions};

fn entry(i: usize) -> TimelineEvent {
    TimelineEvent {
        id: format!("evt_{i}"),
        kind: TimelineEventType::Progress.into(),
        timestamp: T0 + i as i64,
        message: Some(format!("{i:04} {}", "x".repeat(1_000))),
        task_id: None,
        metadata: None,
    }
}

/// Every file write is deferred for an hour: only the journal holds the changes.
fn deferred() -> FsStoreOptions {
    FsStoreOptions {
        write_behind_rate: 0,
        write_behind_delay: Duration::from_secs(3600),
        ..FsStoreOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_journals_the_entry_not_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store
        .sessions
        .upsert(session("sess_1", "p1", T0))
        .await
        .unwrap();
    for i in 0..500 {
        store
            .sessions
            .add_timeline_event("sess_1", entry(i), T0 + i as i64)
            .await
            .unwrap();
    }
    let size = serde_json::to_vec(&store.sessions.get("sess_1").await.unwrap().unwrap())
        .unwrap()
        .len();
    assert!(size > 500_000, "a big session: {size} B");
    let before = store.journal_stats().bytes;
    store
        .sessions
        .add_timeline_event("sess_1", entry(500), T0 + 500)
        .await
        .unwrap();
    let patch = SessionPatch {
        status: Some(SessionStatus::Working),
        ..SessionPatch::default()
    };
    store
        .sessions
        .update("sess_1", &patch, T0 + 501)
        .await
        .unwrap();
    let journaled = store.journal_stats().bytes - before;
    assert!(
        journaled < 8_000,
        "two changes of a {size} B session journaled {journaled} B"
    );
    store.flush().await.unwrap();
    let file: Session =
        serde_json::from_slice(&std::fs::read(dir.path().join("sessions/sess_1.json")).unwrap())
            .unwrap();
    assert_eq!(file, store.sessions.get("sess_1").await.unwrap().unwrap());
}

/// A process killed with its session changes only in the journal (file writes deferred), and
/// one killed after the file caught up with part of them: the next open has every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_replays_session_patches_onto_the_file_it_finds() {
    for flushed_after in [None, Some(3)] {
        let dir = tempfile::tempdir().unwrap();
        let want = {
            let store = FsStore::open_with(dir.path(), deferred()).await.unwrap();
            store
                .sessions
                .upsert(session("sess_1", "p1", T0))
                .await
                .unwrap();
            for i in 0..6 {
                if Some(i) == flushed_after {
                    // The file holds the first changes; the journal restarts.
                    store.flush().await.unwrap();
                }
                let s = &store.sessions;
                s.add_timeline_event("sess_1", entry(i), T0 + 1)
                    .await
                    .unwrap();
                let ev = SessionEvent {
                    id: format!("e{i}"),
                    timestamp: T0 + 2,
                    kind: "tool".into(),
                    data: None,
                };
                s.add_event("sess_1", ev, T0 + 2).await.unwrap();
                let doc = DocEntry {
                    id: format!("doc_{i}"),
                    title: "d".into(),
                    file_path: "/d.md".into(),
                    kind: Some(DocKind::Diagram.into()),
                    content: None,
                    content_file_path: None,
                    task_id: None,
                    added_at: T0 + 3,
                    added_by: None,
                    extra: Default::default(),
                };
                s.add_doc("sess_1", doc, T0 + 3).await.unwrap();
                s.add_task("sess_1", &format!("task_{i}"), T0 + 4)
                    .await
                    .unwrap();
            }
            let patch = SessionPatch {
                status: Some(SessionStatus::Completed),
                ..SessionPatch::default()
            };
            store
                .sessions
                .update("sess_1", &patch, T0 + 9)
                .await
                .unwrap()
            // Dropped without a flush: the journal is all there is of the later changes.
        };
        let store = FsStore::open(dir.path()).await.unwrap();
        let got = store.sessions.get("sess_1").await.unwrap().unwrap();
        assert_eq!(got, want, "flushed after {flushed_after:?}");
        assert_eq!(got.timeline.len(), 7);
        assert_eq!(got.docs.len(), 6);
        let file: Session = serde_json::from_slice(
            &std::fs::read(dir.path().join("sessions/sess_1.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(file, want, "the replay wrote the patched file");
    }
}
