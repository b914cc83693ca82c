//! `maestro-socketio-gateway`: real-time delivery of domain events to clients.
//!
//! - [`legacy_ws`]: the raw WebSocket bridge of the TypeScript server (spec §1.2, ref §5.3),
//!   which the desktop app and `maestro session watch` connect to at `ws://HOST:PORT/`.
//!
//! The Socket.IO namespaces (spec §5.1) will live here too. This crate depends only on the
//! domain's ports ([`maestro_domain::events::EventBus`]) and on axum for the upgrade.

pub mod legacy_ws;

pub use legacy_ws::{LegacyWsConfig, LegacyWsHub};
