//! axum-socketio
pub mod engine;
pub mod protocol;
