//! The Redis streams adapter: a cluster of Socket.IO servers, Node or Rust, sharing a Redis
//! stream, where a client can recover its session on any node (feature `redis`).
//!
//! It follows `@socket.io/redis-streams-adapter` 0.3 and speaks its wire format: broadcasts,
//! joins, leaves and disconnects are appended to one stream (`XADD … MAXLEN ~ max_len`) that every
//! node reads; broadcasts with acknowledgements, `fetch_sockets` and server-side emits are
//! requests on pub/sub (`{prefix}#{nsp}#`), answered on the requester's channel
//! (`{prefix}#{nsp}#{uid}#`); the server count is the public channel's subscriber count. With
//! [connection state recovery](crate::SocketIoBuilder::connection_state_recovery), the stream
//! entry id of each broadcast is its offset, sessions are kept in Redis
//! (`SET sio:session:{pid} … PX max_disconnection_duration`), and a client coming back to any
//! node gets the packets it missed replayed from the stream.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum_socketio::SocketIoLayer;
//! use axum_socketio::adapter::RedisStreamsAdapter;
//!
//! # async fn run() -> Result<(), axum_socketio::adapter::RedisAdapterError> {
//! let adapter = RedisStreamsAdapter::builder()
//!     .url("redis://127.0.0.1:6379/")
//!     .connect()
//!     .await?;
//! let layer = SocketIoLayer::builder()
//!     .connection_state_recovery(Duration::from_secs(120), true)
//!     .adapter(adapter)
//!     .build();
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! Differences from Node's adapter: this node delivers its own broadcasts when its reader gets
//! them back from the stream (Node delivers them when `XADD` answers), so every node delivers
//! in stream order; a restore is exact even while broadcasts go on (each missed packet once);
//! `all_rooms` is answered from `fetch_sockets`. One stream for every namespace (Node's
//! `streamCount` > 1 is not supported), no sharded pub/sub, no Redis Cluster.

mod message;
mod node;
mod ops;
mod shared;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use self::node::{NsAdapter, StreamNs};
use self::shared::{Options, Streams};
use super::RedisAdapterError;
use super::driver::{Config, Shared};
use crate::adapter::{Adapter, AdapterContext, AdapterFactory};

/// The Redis streams adapter: give it to
/// [`SocketIoBuilder::adapter`](crate::SocketIoBuilder::adapter). Cheap to clone; clones share
/// the connections and the reader. See the [module documentation](self).
#[derive(Clone)]
pub struct RedisStreamsAdapter {
    streams: Arc<Streams>,
}

impl fmt::Debug for RedisStreamsAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
            .field("options", &self.streams.options)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl RedisStreamsAdapter {
    /// Options, then [`connect`](RedisStreamsAdapterBuilder::connect).
    pub fn builder() -> RedisStreamsAdapterBuilder {
        RedisStreamsAdapterBuilder::default()
    }

    /// Connects to the Redis server at `url` with every default option.
    pub async fn connect(url: &str) -> Result<RedisStreamsAdapter, RedisAdapterError> {
        Self::builder().url(url).connect().await
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.streams.options.stream
    }

    /// Whether the pub/sub connection is up.
    pub fn is_connected(&self) -> bool {
        self.streams.redis.status.is_up()
    }
}

impl AdapterFactory for RedisStreamsAdapter {
    fn create(&self, ctx: AdapterContext) -> Box<dyn Adapter> {
        Box::new(NsAdapter(StreamNs::new(self.streams.clone(), ctx)))
    }
}

/// Options of a [`RedisStreamsAdapter`]; the defaults are Node's.
pub struct RedisStreamsAdapterBuilder {
    client: Option<Result<redis::Client, redis::RedisError>>,
    options: Options,
}

impl fmt::Debug for RedisStreamsAdapterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamsAdapterBuilder")
            .field("options", &self.options)
            .finish()
    }
}

impl Default for RedisStreamsAdapterBuilder {
    fn default() -> Self {
        RedisStreamsAdapterBuilder {
            client: None,
            options: Options {
                stream: "socket.io".into(),
                prefix: "socket.io".into(),
                max_len: 10_000,
                read_count: 100,
                block: Duration::from_secs(5),
                session_prefix: "sio:session:".into(),
                requests_timeout: Duration::from_secs(5),
            },
        }
    }
}

impl RedisStreamsAdapterBuilder {
    /// The Redis server (`redis://host:port/db`; default `redis://127.0.0.1/`).
    pub fn url(mut self, url: &str) -> Self {
        self.client = Some(redis::Client::open(url));
        self
    }

    /// A Redis client made elsewhere.
    pub fn client(mut self, client: redis::Client) -> Self {
        self.client = Some(Ok(client));
        self
    }

    /// The stream (default `socket.io`).
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.options.stream = name.into();
        self
    }

    /// The prefix of the pub/sub channels (default `socket.io`).
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }

    /// About how many entries the stream keeps (`MAXLEN ~`, default 10 000): the recovery
    /// window in messages.
    pub fn max_len(mut self, n: usize) -> Self {
        self.options.max_len = n.max(1);
        self
    }

    /// How many entries one read takes at most (default 100).
    pub fn read_count(mut self, n: usize) -> Self {
        self.options.read_count = n.max(1);
        self
    }

    /// How long one blocking read waits (default 5 s).
    pub fn block_time(mut self, d: Duration) -> Self {
        self.options.block = d.max(Duration::from_millis(1));
        self
    }

    /// The prefix of the session keys (default `sio:session:`).
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.session_prefix = prefix.into();
        self
    }

    /// How long requests to other nodes wait for answers (default 5 s).
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.options.requests_timeout = d;
        self
    }

    /// Connects, and starts reading the stream from its current end.
    pub async fn connect(self) -> Result<RedisStreamsAdapter, RedisAdapterError> {
        let client = match self.client {
            Some(c) => c.map_err(RedisAdapterError::Url)?,
            None => redis::Client::open("redis://127.0.0.1/").map_err(RedisAdapterError::Url)?,
        };
        let config = Config {
            key: self.options.prefix.clone(),
            requests_timeout: self.options.requests_timeout,
            specific_response: true,
        };
        let redis = Shared::start(client.clone(), config)
            .await
            .map_err(RedisAdapterError::Connect)?;
        let mut conn = redis.connection();
        let last = shared::last_id(&mut conn, &self.options.stream)
            .await
            .map_err(RedisAdapterError::Connect)?;
        let streams = Arc::new(Streams::new(self.options, redis, client, last));
        tokio::spawn(shared::reader(Arc::downgrade(&streams)));
        Ok(RedisStreamsAdapter { streams })
    }
}
