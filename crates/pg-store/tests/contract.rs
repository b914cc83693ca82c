//! The domain's repository contract suites against PostgreSQL. Every case gets its own
//! schema (`mt_<hex>`), migrated, and dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use maestro_domain::ports::{
    MailRepository, OrderingRepository, ProjectRepository, SessionRepository, TaskRepository,
    TeamMemberRepository,
};
use maestro_domain::testing;

use common::{Schemas, database_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::project_repository_contract(|| {
        s.make(&url, |st| st.projects.clone() as Arc<dyn ProjectRepository>)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::task_repository_contract(|| {
        s.make(&url, |st| st.tasks.clone() as Arc<dyn TaskRepository>)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::session_repository_contract(|| {
        s.make(&url, |st| st.sessions.clone() as Arc<dyn SessionRepository>)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::mail_repository_contract(|| {
        s.make(&url, |st| st.mail.clone() as Arc<dyn MailRepository>)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_members() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::team_member_repository_contract(|| {
        s.make(&url, |st| {
            st.team_members.clone() as Arc<dyn TeamMemberRepository>
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderings() {
    let Some(url) = database_url() else { return };
    let s = Schemas::default();
    testing::ordering_repository_contract(|| {
        s.make(&url, |st| {
            st.orderings.clone() as Arc<dyn OrderingRepository>
        })
    })
    .await;
}
