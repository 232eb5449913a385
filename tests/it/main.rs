//! The integration tests: one binary, real servers on real ports, real clients.
//!
//! Run with `./scripts/test` (installs the npm clients first) or `cargo test --test it`.

mod chat;
mod common;
mod engine_client;
mod engine_raw;
mod hardening;
mod metrics;
mod props;
mod server_api;
mod socketio;
