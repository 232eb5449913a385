//! The Redis adapter: joins a cluster of Socket.IO servers, Node or Rust, that share a Redis
//! server through pub/sub (feature `redis`).
//!
//! It speaks the wire format of `@socket.io/redis-adapter` 8 exactly, so one cluster can mix
//! Node servers (`createAdapter(pubClient, subClient)`) and Rust servers, and
//! `@socket.io/redis-emitter` can drive Rust servers from any Node service.
//!
//! ```no_run
//! use axum_socketio::SocketIoLayer;
//! use axum_socketio::adapter::RedisAdapter;
//!
//! # async fn run() -> Result<(), axum_socketio::adapter::RedisAdapterError> {
//! let adapter = RedisAdapter::builder()
//!     .url("redis://127.0.0.1:6379/")
//!     .key("socket.io")
//!     .connect()
//!     .await?;
//! let layer = SocketIoLayer::builder().adapter(adapter).build();
//! layer.io().to("room1").emit("hello", "everyone, on every node").ok();
//! # Ok(())
//! # }
//! ```
//!
//! What crosses nodes: broadcasts with rooms, exceptions and flags (`local` stays local),
//! broadcasts with acknowledgements (every node reports its count and forwards its clients'
//! answers), `fetch_sockets` (remote sockets with id, handshake, rooms and data, and
//! `emit`/`join`/`leave`/`disconnect` on them), `sockets_join`, `sockets_leave`,
//! `disconnect_sockets`, all rooms, `server_side_emit` with and without acknowledgement, and the
//! server count (`PUBSUB NUMSUB` of the request channel).
//!
//! Connections: one connection manager publishes (every namespace's publications go through one
//! ordered queue, batched into pipelines); one pub/sub connection subscribes, for every
//! namespace, `{key}#{nsp}#*`, `{key}-request#{nsp}#`, `{key}-response#{nsp}#` and
//! `{key}-response#{nsp}#{uid}#`.
//!
//! When Redis goes away, local delivery goes on; broadcasts to other nodes are lost (logged and
//! counted, see [`RedisAdapter::failed_publications`]); operations that wait for other nodes
//! fail at once with [`AdapterError::Unavailable`](crate::adapter::AdapterError::Unavailable)
//! (a broadcast with acknowledgements with `AckError::Adapter`); `sockets_join`,
//! `sockets_leave` and `disconnect_sockets` apply on this node only. The adapter reconnects with
//! backoff, resubscribes, and the cluster works again. Redis Cluster and sharded pub/sub are not
//! supported yet.

/// The rooms index of a namespace lives on this node, in the adapter's `MemoryAdapter`
/// (`self.0.local`): both Redis adapters hand these [`Adapter`] methods to it.
macro_rules! local_rooms_index {
    () => {
        fn add_all(&self, sid: &str, rooms: &[Room]) {
            self.0.local.add_all(sid, rooms)
        }

        fn del(&self, sid: &str, room: &str) {
            self.0.local.del(sid, room)
        }

        fn del_all(&self, sid: &str) {
            self.0.local.del_all(sid)
        }

        fn socket_rooms(&self, sid: &str) -> Vec<Room> {
            self.0.local.socket_rooms(sid)
        }

        fn sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
            self.0.local.sockets(opts)
        }

        fn local_rooms(&self) -> Vec<Room> {
            self.0.local.local_rooms()
        }
    };
}
pub(crate) use local_rooms_index;

mod core;
mod driver;
mod incoming;
mod ops;
pub mod streams;
mod subscriber;
mod waiting;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use ::redis;
pub use streams::{RedisStreamsAdapter, RedisStreamsAdapterBuilder};

use self::core::NsAdapter;
use self::driver::{Config, Shared};
use crate::adapter::{Adapter, AdapterContext, AdapterFactory};

/// Why [`RedisAdapterBuilder::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// The URL is not a Redis URL.
    #[error("bad Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// Redis could not be reached.
    #[error("cannot connect to Redis: {0}")]
    Connect(#[source] redis::RedisError),
}

/// The Redis adapter: give it to [`SocketIoBuilder::adapter`](crate::SocketIoBuilder::adapter)
/// and every namespace gets a Redis-backed adapter. Cheap to clone; every clone shares the same
/// two Redis connections. See the [module documentation](self).
#[derive(Clone)]
pub struct RedisAdapter {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("key", &self.shared.config.key)
            .field("requests_timeout", &self.shared.config.requests_timeout)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl RedisAdapter {
    /// Options, then [`connect`](RedisAdapterBuilder::connect).
    pub fn builder() -> RedisAdapterBuilder {
        RedisAdapterBuilder::default()
    }

    /// Connects to the Redis server at `url` (`redis://host:port/db`) with every default option.
    pub async fn connect(url: &str) -> Result<RedisAdapter, RedisAdapterError> {
        Self::builder().url(url).connect().await
    }

    /// The channel prefix (`socket.io` by default).
    pub fn key(&self) -> &str {
        &self.shared.config.key
    }

    /// How long requests to the other nodes wait for their answers.
    pub fn requests_timeout(&self) -> Duration {
        self.shared.config.requests_timeout
    }

    /// Whether Redis is reachable right now (the pub/sub connection is up and subscribed).
    pub fn is_connected(&self) -> bool {
        self.shared.status.is_up()
    }

    /// Publications that reached Redis.
    pub fn publications(&self) -> u64 {
        self.shared.status.published()
    }

    /// Publications that did not reach Redis (while it was unreachable, or when the queue was
    /// full): broadcasts the other nodes missed.
    pub fn failed_publications(&self) -> u64 {
        self.shared.status.failed()
    }
}

impl AdapterFactory for RedisAdapter {
    fn create(&self, ctx: AdapterContext) -> Box<dyn Adapter> {
        Box::new(NsAdapter::new(self.shared.clone(), ctx))
    }
}

enum Source {
    Url(String),
    Client(redis::Client),
}

/// Options of a [`RedisAdapter`], with the defaults of `@socket.io/redis-adapter`.
pub struct RedisAdapterBuilder {
    source: Source,
    key: String,
    requests_timeout: Duration,
    publish_on_specific_response_channel: bool,
}

impl fmt::Debug for RedisAdapterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapterBuilder")
            .field("key", &self.key)
            .field("requests_timeout", &self.requests_timeout)
            .field(
                "publish_on_specific_response_channel",
                &self.publish_on_specific_response_channel,
            )
            .finish_non_exhaustive()
    }
}

impl Default for RedisAdapterBuilder {
    fn default() -> Self {
        RedisAdapterBuilder {
            source: Source::Url("redis://127.0.0.1:6379/".into()),
            key: "socket.io".into(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
        }
    }
}

impl RedisAdapterBuilder {
    /// The Redis server (default `redis://127.0.0.1:6379/`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.source = Source::Url(url.into());
        self
    }

    /// An existing client (its connection info: the adapter opens its own two connections).
    pub fn client(mut self, client: redis::Client) -> Self {
        self.source = Source::Client(client);
        self
    }

    /// The prefix of every channel (default `socket.io`); nodes of one cluster share it.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// How long requests to other nodes (fetch, all rooms, server-side emit with ack) wait for
    /// their answers (default 5 s).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Answer a node's requests on its own response channel (`{key}-response#{nsp}#{uid}#`)
    /// rather than the common one (default `false`, as in Node). Every node listens on both.
    pub fn publish_on_specific_response_channel(mut self, enabled: bool) -> Self {
        self.publish_on_specific_response_channel = enabled;
        self
    }

    /// Connects (a connection manager to publish, a pub/sub connection to subscribe) and starts
    /// the adapter's tasks on the current tokio runtime. Fails when Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisAdapter, RedisAdapterError> {
        let client = match self.source {
            Source::Client(c) => c,
            Source::Url(url) => redis::Client::open(url).map_err(RedisAdapterError::Url)?,
        };
        let config = Config {
            key: self.key,
            requests_timeout: self.requests_timeout,
            specific_response: self.publish_on_specific_response_channel,
        };
        let shared = Shared::start(client, config)
            .await
            .map_err(RedisAdapterError::Connect)?;
        Ok(RedisAdapter { shared })
    }
}
