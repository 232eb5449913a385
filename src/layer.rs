//! [`SocketIoLayer`]: the Socket.IO server as one tower layer, and its builder.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use tower_http::cors::CorsLayer;
use tower_layer::Layer;

use crate::adapter::{AdapterFactory, MemoryAdapterFactory};
use crate::client::SocketIoHandler;
use crate::engine::{Engine, EngineIoBuilder, EngineIoService, Message, Route, Transport};
use crate::io::{Io, IoConfig};
use crate::protocol::{DefaultParser, Parser};

/// The Socket.IO server as a tower [`Layer`]: requests under its path (default `/socket.io/`)
/// are answered by the server, every other request goes to the wrapped service, with the [`Io`]
/// handle in its extensions.
///
/// ```no_run
/// use axum::Router;
/// use axum_socketio::{Data, Socket, SocketIoLayer};
///
/// # async fn run() {
/// let layer = SocketIoLayer::new();
/// layer.io().on_connection(|socket: Socket| async move {
///     socket.on("ping", |socket: Socket, Data(n): Data<u32>| async move {
///         socket.emit("pong", &n).ok();
///     });
/// });
/// let app = Router::new().layer(layer);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
///
/// Every clone shares one server, so `Router::layer`, which clones the layer for each route,
/// serves one session table.
#[derive(Clone)]
pub struct SocketIoLayer {
    io: Io,
    route: Route,
}

impl fmt::Debug for SocketIoLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoLayer")
            .field("path", &self.io.path())
            .finish()
    }
}

impl Default for SocketIoLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SocketIoLayer {
    /// A server with every default.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for every option.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder::new()
    }

    /// The server handle: register handlers, emit, close.
    pub fn io(&self) -> Io {
        self.io.clone()
    }

    pub(crate) fn from_parts(io: Io, route: Route) -> Self {
        SocketIoLayer { io, route }
    }
}

impl<S> Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineIoService::with_route(inner, self.route.clone())
    }
}

/// The service made by [`SocketIoLayer`]: the Socket.IO server in front of `S`.
pub type SocketIoService<S> = EngineIoService<S>;

/// Builds a [`SocketIoLayer`]: every option of the Node server, snake_case, durations as
/// [`Duration`], with Node's defaults.
///
/// ```
/// use std::time::Duration;
/// let layer = axum_socketio::SocketIoLayer::builder()
///     .ping_interval(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(5))
///     .with_state(String::from("shared"))
///     .build();
/// ```
pub struct SocketIoBuilder {
    engine: EngineIoBuilder,
    path: String,
    connect_timeout: Duration,
    cleanup_empty_child_namespaces: bool,
    parser: Arc<dyn Parser>,
    adapter: Arc<dyn AdapterFactory>,
    state: http::Extensions,
    recovery: Option<crate::recovery::RecoveryConfig>,
    serve_client: bool,
    client_dir: Option<PathBuf>,
}

impl fmt::Debug for SocketIoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoBuilder")
            .field("engine", &self.engine)
            .field("path", &self.path)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for SocketIoBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SocketIoBuilder {
    /// Node's defaults (path `/socket.io`).
    pub fn new() -> Self {
        SocketIoBuilder {
            engine: EngineIoBuilder::new().path("/socket.io"),
            path: "/socket.io".into(),
            connect_timeout: Duration::from_secs(45),
            cleanup_empty_child_namespaces: false,
            parser: Arc::new(DefaultParser::new()),
            adapter: Arc::new(MemoryAdapterFactory),
            state: http::Extensions::new(),
            recovery: None,
            serve_client: true,
            client_dir: None,
        }
    }

    /// Where the server is served (default `/socket.io`).
    pub fn path(mut self, path: &str) -> Self {
        self.engine = self.engine.path(path);
        self.path = self.engine.config().path().to_owned();
        self
    }

    /// With `true` (the default) the server answers `<path>/…` (what Node's clients request) and
    /// `<path>` itself; with `false`, only `<path>` itself.
    pub fn add_trailing_slash(mut self, enabled: bool) -> Self {
        self.engine = self.engine.add_trailing_slash(enabled);
        self
    }

    /// How long a connection may wait before joining a namespace (default 45 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Remove a child of a parent namespace when its last socket leaves (default `false`).
    pub fn cleanup_empty_child_namespaces(mut self, enabled: bool) -> Self {
        self.cleanup_empty_child_namespaces = enabled;
        self
    }

    /// The adapter of every namespace (default: in memory).
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// Connection state recovery (Node's `connectionStateRecovery`, default off): a client that
    /// drops for a recoverable reason and comes back within `max_disconnection_duration` gets the
    /// same socket id, rooms and data, and every event it missed, before the CONNECT reply.
    /// With `skip_middlewares`, a restored socket skips the connect middlewares. Node's defaults
    /// are 2 minutes and `true` ([`RecoveryConfig::default`](crate::RecoveryConfig)). Kept in
    /// the adapter: the memory adapter keeps at most
    /// [`MAX_STORED_PACKETS`](crate::MAX_STORED_PACKETS) packets per namespace.
    pub fn connection_state_recovery(
        mut self,
        max_disconnection_duration: Duration,
        skip_middlewares: bool,
    ) -> Self {
        self.recovery = Some(crate::recovery::RecoveryConfig {
            max_disconnection_duration,
            skip_middlewares,
        });
        self
    }

    /// A value handlers get with the `State<T>` extractor.
    pub fn with_state<T: Clone + Send + Sync + 'static>(mut self, state: T) -> Self {
        self.state.insert(state);
        self
    }

    /// How often the server pings (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_interval(d);
        self
    }

    /// How long the server waits for a pong (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_timeout(d);
        self
    }

    /// How long an upgrade may take (default 10 s).
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.upgrade_timeout(d);
        self
    }

    /// The largest message or polling body, in bytes (default 1 000 000).
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.engine = self.engine.max_http_buffer_size(bytes);
        self
    }

    /// The transports accepted (default polling and websocket).
    pub fn transports(mut self, transports: &[Transport]) -> Self {
        self.engine = self.engine.transports(transports);
        self
    }

    /// Whether polling sessions may upgrade (default `true`).
    pub fn allow_upgrades(mut self, enabled: bool) -> Self {
        self.engine = self.engine.allow_upgrades(enabled);
        self
    }

    /// A hook run on every handshake; `Err(message)` refuses it (403, code 4).
    pub fn allow_request<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.engine = self.engine.allow_request(f);
        self
    }

    /// CORS with tower-http's [`CorsLayer`] (default none).
    pub fn cors(mut self, cors: CorsLayer) -> Self {
        self.engine = self.engine.cors(cors);
        self
    }

    /// A message sent right after the open packet.
    pub fn initial_packet(mut self, msg: impl Into<Message>) -> Self {
        self.engine = self.engine.initial_packet(msg);
        self
    }

    /// Set the `io` cookie on the polling handshake (default off).
    pub fn cookie(mut self, enabled: bool) -> Self {
        self.engine = self.engine.cookie(enabled);
        self
    }

    /// Engine.IO session ids from the handshake request.
    pub fn generate_id<F>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> String + Send + Sync + 'static,
    {
        self.engine = self.engine.generate_id(f);
        self
    }

    /// The websocket read buffer per connection (default 2048 bytes).
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.engine = self.engine.ws_read_buffer_size(bytes);
        self
    }

    /// How many messages may wait for one client before it counts as a slow consumer (default
    /// 1024).
    pub fn max_buffered_packets(mut self, n: usize) -> Self {
        self.engine = self.engine.max_buffered_packets(n);
        self
    }

    /// Accept Socket.IO v2 clients (Engine.IO v3, Socket.IO protocol v4) as well as v3+ ones
    /// (default `false`, as Node's `allowEIO3`). They join `/` as soon as they connect, send
    /// their auth in the namespace query, get socket ids made of the session id, and receive
    /// broadcasts together with v3+ clients, each in its own framing.
    pub fn allow_eio3(mut self, enabled: bool) -> Self {
        self.engine = self.engine.allow_eio3(enabled);
        self
    }

    /// Compress polling responses of at least 1024 bytes with gzip or deflate, as the client
    /// accepts (default `true`, as Node's `httpCompression`); `compress(false)` emits do not ask
    /// for it.
    pub fn http_compression(mut self, enabled: bool) -> Self {
        self.engine = self.engine.http_compression(enabled);
        self
    }

    /// HTTP compression of polling responses with these options (threshold, level).
    pub fn http_compression_options(mut self, options: crate::engine::HttpCompression) -> Self {
        self.engine = self.engine.http_compression_options(options);
        self
    }

    /// The Socket.IO parser (default [`DefaultParser`], JSON plus binary attachments). With
    /// [`MsgpackParser`](crate::protocol::MsgpackParser), clients must use the npm
    /// `socket.io-msgpack-parser`.
    pub fn parser(mut self, parser: impl Parser) -> Self {
        self.parser = Arc::new(parser);
        self
    }

    /// Serve the `socket.io-client` browser bundle at `<path>/socket.io.js`, `.min.js`,
    /// `.esm.min.js`, `.msgpack.min.js` and their `.map` files, with an `ETag` and
    /// `304 Not Modified` (default `true`, as in Node). The files are read once, when the layer is
    /// built, from [`client_dir`](Self::client_dir) or else from the first
    /// `node_modules/socket.io-client/dist/` found walking up from the current directory; with
    /// none, the option is off and one log line says so.
    pub fn serve_client(mut self, enabled: bool) -> Self {
        self.serve_client = enabled;
        self
    }

    /// Where [`serve_client`](Self::serve_client) finds the bundle: the `dist` directory of a
    /// `socket.io-client` installation, the package directory
    /// (`…/node_modules/socket.io-client`), or a project directory holding it in `node_modules`.
    /// Default: none, so the bundle is looked for above the current directory.
    ///
    /// ```
    /// let layer = axum_socketio::SocketIoLayer::builder()
    ///     .client_dir("frontend/node_modules/socket.io-client")
    ///     .build();
    /// ```
    pub fn client_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.client_dir = Some(dir.into());
        self
    }

    /// Builds the layer.
    pub fn build(self) -> SocketIoLayer {
        let path = self.path.clone();
        let io = Io::new(IoConfig {
            path: self.path,
            connect_timeout: self.connect_timeout,
            cleanup_empty_child_namespaces: self.cleanup_empty_child_namespaces,
            parser: self.parser,
            adapter: self.adapter,
            state: self.state,
            recovery: self.recovery,
        });
        let engine = Engine::new(
            self.engine.config().clone(),
            SocketIoHandler { io: io.clone() },
        );
        let dyn_engine =
            crate::serve_client::wrap(engine, &path, self.serve_client, self.client_dir.as_deref());
        let extend_io = io.clone();
        let route = Route::new(
            dyn_engine.clone(),
            Some(Arc::new(move |ext: &mut http::Extensions| {
                ext.insert(extend_io.clone());
            })),
        );
        io.set_engine(Arc::downgrade(&dyn_engine), route.clone());
        SocketIoLayer { io, route }
    }
}
