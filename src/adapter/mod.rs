//! The adapter: the rooms index of a namespace and the fan-out of its operations.
//!
//! Every operation that may concern more than one socket goes through the namespace's
//! [`Adapter`]: joining and leaving rooms, broadcasts with rooms, exceptions and flags, fetching,
//! joining, leaving and disconnecting sockets by selector, server-side emits. The default
//! [`MemoryAdapter`] serves one node; a cluster adapter wraps it, applies each operation locally
//! through it and publishes it to the other nodes.

mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use memory::MemoryAdapter;
#[cfg(feature = "redis")]
pub use redis::{
    RedisAdapter, RedisAdapterBuilder, RedisAdapterError, RedisStreamsAdapter,
    RedisStreamsAdapterBuilder,
};

use crate::handshake::Handshake;
use crate::namespace::{Namespace, NsInner};
use crate::protocol::{Args, Packet};
use crate::socket::Socket;

/// A room name. Every socket is also in the room named by its own id.
pub type Room = Arc<str>;

/// A boxed future, as the adapter's cluster operations return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Modifiers of a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// Drop the packet for clients that cannot receive it right now.
    pub volatile: bool,
    /// Let the packet be compressed (default `true`, as in Node): with `false`, a polling response
    /// carrying only such packets is not HTTP-compressed. Websocket frames are never compressed.
    pub compress: bool,
    /// Deliver on this node only, even with a cluster adapter.
    pub local: bool,
    /// How long to wait for acknowledgements.
    pub timeout: Option<Duration>,
}

impl Default for BroadcastFlags {
    fn default() -> Self {
        BroadcastFlags {
            volatile: false,
            compress: true,
            local: false,
            timeout: None,
        }
    }
}

/// Which sockets an operation targets: those in any of `rooms` (every socket when empty), minus
/// those in any of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Rooms whose sockets are left out.
    pub except: Vec<Room>,
    /// Modifiers.
    pub flags: BroadcastFlags,
}

/// A socket as `fetch_sockets` describes it, wherever it lives in the cluster.
#[derive(Debug, Clone)]
pub struct SocketInfo {
    /// The socket id.
    pub id: Arc<str>,
    /// Its handshake.
    pub handshake: Handshake,
    /// Its rooms (its own id included).
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: serde_json::Value,
}

/// Why a cluster operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdapterError {
    /// Not every node answered in time; the answers that came are kept where the operation
    /// returns partial results.
    #[error("timeout reached: only {answered} of {expected} nodes answered")]
    Timeout {
        /// Nodes that answered (this node included, except for server-side emits, which only
        /// other nodes answer).
        answered: usize,
        /// Nodes expected.
        expected: usize,
        /// The answers that did come, for operations that hand back partial results
        /// (`server_side_emit_with_ack`); empty for the others.
        responses: Vec<Args>,
    },
    /// The cluster is out of reach (for example Redis is down).
    #[error("adapter unavailable: {0}")]
    Unavailable(String),
}

/// Answers to a broadcast with acknowledgement: how many clients were reached, and a stream of
/// their answers.
pub struct AckStream {
    /// Clients reached so far (on this node; a cluster adapter adds the other nodes' counts).
    pub expected: usize,
    /// Each reached client's answer, as it comes.
    pub answers: tokio::sync::mpsc::UnboundedReceiver<Args>,
    /// More clients reported by other nodes, as they report; closed once every node has
    /// reported. An error means the other nodes cannot be reached (their answers will not come).
    pub more_expected: Option<tokio::sync::mpsc::UnboundedReceiver<Result<usize, AdapterError>>>,
}

/// The rooms index and fan-out of one namespace. Object-safe: a namespace holds a
/// `Box<dyn Adapter>`, chosen by the builder.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a socket to rooms.
    fn add_all(&self, sid: &str, rooms: &[Room]);
    /// Removes a socket from a room.
    fn del(&self, sid: &str, room: &str);
    /// Removes a socket from every room.
    fn del_all(&self, sid: &str);
    /// The rooms a local socket is in.
    fn socket_rooms(&self, sid: &str) -> Vec<Room>;
    /// The local sockets targeted by `opts`.
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Socket>;
    /// The rooms of this node.
    fn local_rooms(&self) -> Vec<Room>;

    /// Sends `packet` to every targeted socket (and, for a cluster adapter, to the other nodes).
    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions);
    /// Sends `packet` expecting an acknowledgement from every reached client.
    fn broadcast_with_ack(&self, packet: Packet, opts: &BroadcastOptions) -> AckStream;

    /// Adds the targeted sockets to `rooms`, cluster-wide.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Removes the targeted sockets from `rooms`, cluster-wide.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the targeted sockets, cluster-wide.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    /// Describes the targeted sockets, cluster-wide.
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>>;
    /// Every room of the cluster.
    fn all_rooms(&self) -> BoxFuture<Result<HashSet<Room>, AdapterError>>;
    /// How many nodes serve this namespace (1 for the memory adapter).
    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>>;
    /// Sends an event to the other nodes' `on_server_side_emit` handlers. With `ack`, returns
    /// every other node's answer.
    fn server_side_emit(
        &self,
        event: String,
        args: Args,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>>;
    /// Connection state recovery: keeps the session of a socket that left for a recoverable
    /// reason. Adapters without a session store ignore it (the client then gets a fresh socket).
    fn persist_session(&self, session: crate::recovery::SessionState) {
        let _ = session;
    }

    /// Connection state recovery: the session of `pid` and the packets after `offset` it missed,
    /// if both are still known.
    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<Result<Option<crate::recovery::Restored>, AdapterError>> {
        let _ = (pid, offset);
        Box::pin(async { Ok(None) })
    }

    /// Connection state recovery: makes a restored socket local. `register` adds the socket to
    /// its namespace and rooms and sends it the packets it is given, oldest first; an adapter
    /// that delivers from elsewhere (a stream read by another task) runs it where nothing it
    /// delivers can fall between the replay of [`restore_session`](Self::restore_session) and
    /// the registration, and adds what it delivered meanwhile. The default runs it as is.
    fn complete_restore(
        &self,
        restored: crate::recovery::Restored,
        register: &mut dyn FnMut(crate::recovery::Restored),
    ) {
        register(restored)
    }

    /// Releases what the adapter holds (subscriptions, tasks).
    fn close(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }
}

/// Builds one adapter per namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of a new namespace.
    fn create(&self, ns: AdapterContext) -> Box<dyn Adapter>;
}

/// An adapter chosen at run time (for example from the configuration).
impl AdapterFactory for Box<dyn AdapterFactory> {
    fn create(&self, ns: AdapterContext) -> Box<dyn Adapter> {
        (**self).create(ns)
    }
}

/// The memory adapter's factory: the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryAdapterFactory;

impl AdapterFactory for MemoryAdapterFactory {
    fn create(&self, ns: AdapterContext) -> Box<dyn Adapter> {
        Box::new(MemoryAdapter::new(ns))
    }
}

/// What an adapter may use of its namespace: its name and its local sockets.
#[derive(Clone)]
pub struct AdapterContext {
    pub(crate) ns: Weak<NsInner>,
    pub(crate) name: Arc<str>,
    pub(crate) recovery: Option<crate::recovery::RecoveryConfig>,
}

impl AdapterContext {
    /// The namespace name (`/`, `/admin`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace, while it exists.
    pub fn namespace(&self) -> Option<Namespace> {
        self.ns.upgrade().map(Namespace)
    }

    /// A local socket by id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.ns
            .upgrade()
            .and_then(|ns| Namespace(ns).get_socket(sid))
    }
}

/// The room events of a namespace's adapter, which apps use for presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// A room was created (its first socket joined).
    CreateRoom(Room),
    /// A room was deleted (its last socket left).
    DeleteRoom(Room),
    /// A socket joined a room.
    JoinRoom {
        /// The room.
        room: Room,
        /// The socket id.
        sid: Arc<str>,
    },
    /// A socket left a room.
    LeaveRoom {
        /// The room.
        room: Room,
        /// The socket id.
        sid: Arc<str>,
    },
}
