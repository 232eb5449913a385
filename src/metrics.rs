//! Counters of what the server does, and the snapshot an app can expose ([`Io::metrics`]).
//!
//! Counters are relaxed atomics bumped once per message (a broadcast adds its recipients in one
//! go), so they cost next to nothing on the hot path.
//!
//! [`Io::metrics`]: crate::Io::metrics

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The server's running counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
    volatile_dropped: AtomicU64,
    outbox_full: AtomicU64,
    acks_timed_out: AtomicU64,
}

impl Counters {
    pub(crate) fn received(&self, bytes: usize) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, messages: u64, bytes: u64) {
        self.messages_out.fetch_add(messages, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn volatile_dropped(&self) {
        self.volatile_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn outbox_full(&self) {
        self.outbox_full.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn ack_timed_out(&self) {
        self.acks_timed_out.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the server: who is connected, and what went through since it started.
/// Serializes to JSON for a `/stats` route.
///
/// ```
/// # async fn f() {
/// use axum::{routing::get, Json, Router};
/// use axum_socketio::{Io, SocketIoLayer};
///
/// let layer = SocketIoLayer::new();
/// let app: Router = Router::new()
///     .route("/stats", get(|io: Io| async move { Json(io.metrics()) }))
///     .layer(layer);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Engine.IO connections on long-polling.
    pub clients_polling: usize,
    /// Engine.IO connections on websocket.
    pub clients_websocket: usize,
    /// Connected sockets per namespace on this node.
    pub sockets: BTreeMap<String, usize>,
    /// Rooms per namespace on this node (sockets' own rooms included, as in Node).
    pub rooms: BTreeMap<String, usize>,
    /// Socket.IO messages received (attachments count as messages).
    pub messages_in: u64,
    /// Bytes received in those messages.
    pub bytes_in: u64,
    /// Socket.IO messages queued to clients (a broadcast counts once per recipient).
    pub messages_out: u64,
    /// Bytes of those messages.
    pub bytes_out: u64,
    /// Volatile packets dropped because the client could not take them.
    pub volatile_dropped: u64,
    /// Sends refused because a client's outbox was full (slow consumers).
    pub outbox_full: u64,
    /// `emit_with_ack` calls that timed out.
    pub acks_timed_out: u64,
}

impl Metrics {
    pub(crate) fn fill_counters(&mut self, c: &Counters) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.messages_in = get(&c.messages_in);
        self.bytes_in = get(&c.bytes_in);
        self.messages_out = get(&c.messages_out);
        self.bytes_out = get(&c.bytes_out);
        self.volatile_dropped = get(&c.volatile_dropped);
        self.outbox_full = get(&c.outbox_full);
        self.acks_timed_out = get(&c.acks_timed_out);
    }
}
