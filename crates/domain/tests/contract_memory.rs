//! The repository contract suites against the in-memory repositories (the reference
//! behaviour every other adapter must match).

use std::sync::Arc;

use maestro_domain::memory::{
    MemoryMailRepository, MemoryModalStore, MemoryOrderingRepository, MemoryProjectRepository,
    MemorySessionRepository, MemoryTaskRepository, MemoryTeamMemberRepository,
};
use maestro_domain::ports::{
    MailRepository, ModalStore, OrderingRepository, ProjectRepository, SessionRepository,
    TaskRepository, TeamMemberRepository,
};
use maestro_domain::testing;

#[tokio::test]
async fn projects() {
    testing::project_repository_contract(|| async {
        Arc::new(MemoryProjectRepository::default()) as Arc<dyn ProjectRepository>
    })
    .await;
}

#[tokio::test]
async fn tasks() {
    testing::task_repository_contract(|| async {
        Arc::new(MemoryTaskRepository::default()) as Arc<dyn TaskRepository>
    })
    .await;
}

#[tokio::test]
async fn sessions() {
    testing::session_repository_contract(|| async {
        Arc::new(MemorySessionRepository::default()) as Arc<dyn SessionRepository>
    })
    .await;
}

#[tokio::test]
async fn mail() {
    testing::mail_repository_contract(|| async {
        Arc::new(MemoryMailRepository::default()) as Arc<dyn MailRepository>
    })
    .await;
}

#[tokio::test]
async fn team_members() {
    testing::team_member_repository_contract(|| async {
        Arc::new(MemoryTeamMemberRepository::default()) as Arc<dyn TeamMemberRepository>
    })
    .await;
}

#[tokio::test]
async fn orderings() {
    testing::ordering_repository_contract(|| async {
        Arc::new(MemoryOrderingRepository::default()) as Arc<dyn OrderingRepository>
    })
    .await;
}

#[tokio::test]
async fn modals() {
    testing::modal_store_contract(|| async {
        Arc::new(MemoryModalStore::default()) as Arc<dyn ModalStore>
    })
    .await;
}

#[tokio::test]
async fn event_bus() {
    use maestro_domain::events::EventBus;
    use maestro_domain::ids::SystemClock;
    use maestro_domain::memory::{MemoryEventBus, ReplayConfig};
    testing::event_bus_contract(
        || async {
            Arc::new(MemoryEventBus::new(
                Arc::new(SystemClock),
                64,
                ReplayConfig::default(),
            )) as Arc<dyn EventBus>
        },
        64,
    )
    .await;
}
