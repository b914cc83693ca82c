//! Repository contract suites (feature `testing`): one generic suite per port that every
//! adapter runs — the in-memory repositories (the reference behaviour), the filesystem store,
//! and later PostgreSQL.
//!
//! # How to run a suite
//! Each suite is an `async fn` taking a factory that yields a **fresh, empty** repository:
//! ```ignore
//! use maestro_domain::testing;
//! #[tokio::test(flavor = "multi_thread")]
//! async fn tasks() {
//!     testing::task_repository_contract(|| async {
//!         Arc::new(MemoryTaskRepository::default()) as Arc<dyn TaskRepository>
//!     })
//!     .await;
//! }
//! ```
//! The suite calls the factory once per case, so an adapter can give each case its own
//! temp dir or schema, and inspect it afterwards (the filesystem tests re-open every store
//! and compare the reloaded state). Each case is announced on stderr (`contract case
//! tasks::update_rules`), so the captured output of a failing test names it. The cases are also public, one module per port
//! ([`tasks`], [`sessions`], …), for adapters that want to run them one by one.
//!
//! Suites use no runtime-specific API (no `tokio::spawn`): concurrent cases drive many
//! repository futures at once with [`join_all`], which interleaves them on the calling task
//! — enough to exercise each adapter's atomicity, since every future runs up to its first
//! await point before the next one starts. Run them on a multi-threaded runtime when the
//! adapter does background work.
//!
//! What they assert: the port docs in [`crate::ports`] and ref §2, with the decisions of
//! spec §2 (list order creation time then id; per-session status dropped on session delete)
//! and the atomicity of spec §6.1.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

pub use event_bus::event_bus_contract;

use crate::error::{DomainError, DomainResult};
use crate::ports::{
    MailRepository, ModalStore, OrderingRepository, ProjectRepository, SessionRepository,
    TaskRepository, TeamMemberRepository,
};

pub mod event_bus;
pub mod fixtures;
pub mod mail;
pub mod modals;
pub mod orderings;
pub mod projects;
pub mod sessions;
pub mod tasks;
pub mod team_members;

/// Polls every future concurrently on the current task until all are ready; returns their
/// outputs in input order.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Panics unless `r` is a `NotFound` error.
#[track_caller]
pub fn assert_not_found<T: Debug>(r: DomainResult<T>, what: &str) {
    match r {
        Err(e) if e.is_not_found() => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

/// Panics unless `r` is a `Conflict` error.
#[track_caller]
pub fn assert_conflict<T: Debug>(r: DomainResult<T>, what: &str) {
    match r {
        Err(DomainError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// Unwraps a port result, naming the call in the panic message.
#[track_caller]
pub fn ok<T>(r: DomainResult<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error: {e:?}"),
    }
}

macro_rules! run_cases {
    ($port:literal, $make:ident, [$($case:path),+ $(,)?]) => {
        $(
            {
                let name = concat!($port, "::", stringify!($case));
                eprintln!("contract case {name}");
                $case($make().await).await;
            }
        )+
    };
}

/// Runs every [`projects`] case, each on a fresh repository from `make`.
pub async fn project_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn ProjectRepository>>,
{
    run_cases!(
        "projects",
        make,
        [
            projects::insert_get_conflict,
            projects::list_order,
            projects::update_rules,
            projects::delete,
            projects::newer_reference_fields,
        ]
    );
}

/// Runs every [`tasks`] case, each on a fresh repository from `make`.
pub async fn task_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn TaskRepository>>,
{
    run_cases!(
        "tasks",
        make,
        [
            tasks::insert_get_conflict,
            tasks::list_filters_and_order,
            tasks::update_rules,
            tasks::set_session_status,
            tasks::add_session_idempotent,
            tasks::remove_session,
            tasks::delete_and_exists,
            tasks::concurrent_session_statuses,
            tasks::concurrent_add_remove_sessions,
            tasks::json_forms,
            tasks::newer_reference_fields,
        ]
    );
}

/// Runs every [`sessions`] case, each on a fresh repository from `make`.
pub async fn session_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn SessionRepository>>,
{
    run_cases!(
        "sessions",
        make,
        [
            sessions::upsert_get_overwrite,
            sessions::list_filters_and_order,
            sessions::update_rules,
            sessions::add_remove_task,
            sessions::appends,
            sessions::delete_and_exists,
            sessions::concurrent_appends,
            sessions::spawn_metadata_of_newer_servers,
            sessions::docs_keep_newer_fields,
        ]
    );
}

/// Runs every [`mail`] case, each on a fresh repository from `make`.
pub async fn mail_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn MailRepository>>,
{
    run_cases!(
        "mail",
        make,
        [
            mail::insert_get_delete,
            mail::inbox_rules,
            mail::thread_order,
            mail::unread_and_mark_read,
            mail::concurrent_mark_read,
        ]
    );
}

/// Runs every [`team_members`] case, each on a fresh repository from `make`.
pub async fn team_member_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn TeamMemberRepository>>,
{
    run_cases!(
        "team_members",
        make,
        [
            team_members::custom_crud,
            team_members::overrides,
            team_members::every_mode_and_tool,
            team_members::global_members,
        ]
    );
}

/// Runs every [`orderings`] case, each on a fresh repository from `make`.
pub async fn ordering_repository_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn OrderingRepository>>,
{
    run_cases!("orderings", make, [orderings::save_get_delete]);
}

/// Runs every [`modals`] case, each on a fresh store from `make`.
pub async fn modal_store_contract<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn ModalStore>>,
{
    run_cases!("modals", make, [modals::save_overwrites]);
}
