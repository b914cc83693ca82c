//! The repository contract suites against the filesystem store. Every case gets its own
//! temp dir; after a suite, each store is flushed and re-opened, and the reloaded state must
//! equal the state the first store held in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use maestro_domain::ports::{
    MailRepository, ModalStore, OrderingRepository, ProjectRepository, SessionRepository,
    TaskRepository, TeamMemberRepository,
};
use maestro_domain::testing;
use maestro_fs_store::FsStore;
use tempfile::TempDir;

use common::snapshot;

/// Stores created by one suite, kept to re-open them afterwards.
#[derive(Default, Clone)]
struct Stores(Arc<Mutex<Vec<(TempDir, FsStore)>>>);

impl Stores {
    /// A fresh store in its own temp dir; `pick` chooses the repository under test.
    async fn make<T: ?Sized>(&self, pick: impl FnOnce(&FsStore) -> Arc<T>) -> Arc<T> {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        let repo = pick(&store);
        self.0.lock().unwrap().push((dir, store));
        repo
    }

    /// Flushes, re-opens each store and compares the reloaded state with the live one.
    async fn check_reload(&self) {
        let stores = std::mem::take(&mut *self.0.lock().unwrap());
        assert!(!stores.is_empty());
        for (dir, store) in stores {
            store.flush().await.unwrap();
            let live = snapshot(&store).await;
            let reopened = FsStore::open(dir.path()).await.unwrap();
            let reloaded = snapshot(&reopened).await;
            assert_eq!(live, reloaded, "reloaded state differs in {:?}", dir.path());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects() {
    let s = Stores::default();
    testing::project_repository_contract(|| {
        s.make(|st| st.projects.clone() as Arc<dyn ProjectRepository>)
    })
    .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks() {
    let s = Stores::default();
    testing::task_repository_contract(|| s.make(|st| st.tasks.clone() as Arc<dyn TaskRepository>))
        .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions() {
    let s = Stores::default();
    testing::session_repository_contract(|| {
        s.make(|st| st.sessions.clone() as Arc<dyn SessionRepository>)
    })
    .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail() {
    let s = Stores::default();
    testing::mail_repository_contract(|| s.make(|st| st.mail.clone() as Arc<dyn MailRepository>))
        .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_members() {
    let s = Stores::default();
    testing::team_member_repository_contract(|| {
        s.make(|st| st.team_members.clone() as Arc<dyn TeamMemberRepository>)
    })
    .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderings() {
    let s = Stores::default();
    testing::ordering_repository_contract(|| {
        s.make(|st| st.orderings.clone() as Arc<dyn OrderingRepository>)
    })
    .await;
    s.check_reload().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modals() {
    let s = Stores::default();
    testing::modal_store_contract(|| s.make(|st| st.modals.clone() as Arc<dyn ModalStore>)).await;
    let stores = s.0.lock().unwrap();
    let (_, store) = &stores[0];
    let path = store.data_dir().join("modals/modal_1.html");
    assert!(path.is_absolute());
    assert_eq!(std::fs::read_to_string(path).unwrap(), "<h1>Two</h1>");
}
