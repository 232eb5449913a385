//! The integration tests: one binary, real servers on real ports, real clients.
//!
//! Run with `./scripts/test` (installs the npm clients first) or `cargo test --test it`.

mod chat;
mod common;
mod compat;
mod engine_client;
mod engine_raw;
mod hardening;
mod metrics;
mod props;
mod recovery;
mod recovery_busy;
#[cfg(feature = "redis")]
mod redis;
mod server_api;
mod socketio;
