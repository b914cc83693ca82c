//! In-memory adapters: the embedded defaults and the reference behaviour other adapters match.

mod bus;
mod repos;

pub use bus::{DEFAULT_SUBSCRIBER_LIMITS, MemoryEventBus, ReplayConfig};
pub use repos::{
    MemoryMailRepository, MemoryModalStore, MemoryOrderingRepository, MemoryProjectRepository,
    MemorySessionRepository, MemoryTaskRepository, MemoryTeamMemberRepository,
};
