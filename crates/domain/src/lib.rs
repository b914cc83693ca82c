//! `maestro-domain`: the entities, ports and services of the Maestro server.
//!
//! This crate knows no I/O: adapters (filesystem and PostgreSQL stores, Redis bus, HTTP API,
//! Socket.IO gateway) implement the [`ports`] and drive the [`services`]. See `ARCHITECTURE.md`
//! at the repository root for the map.
//!
//! - [`entities`]: Project, Task, Session, MailMessage, TeamMember, Ordering (ref §1, spec §3).
//! - [`ports`]: repository traits (ref §2, spec §6.1) and small service ports.
//! - [`events`]: the event envelope and the [`events::EventBus`] port (spec §4).
//! - [`services`]: the behaviour of ref §3 with the decisions of spec §2, bundled in [`App`].
//! - [`memory`]: in-memory adapters (the default bus and reference repositories).

pub mod broadcast;
pub mod entities;
pub mod error;
pub mod events;
pub mod ids;
pub mod memory;
pub mod ports;
pub mod services;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{DomainError, DomainResult, FieldError};
pub use services::{App, AppConfig, Ports};
