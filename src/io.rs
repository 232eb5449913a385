//! [`Io`]: the server handle (Node's `Server`): namespaces, broadcasts, cluster operations,
//! shutdown. Also an axum extractor in plain HTTP handlers.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use axum::extract::FromRequestParts;
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;

use crate::adapter::{AdapterError, AdapterFactory};
use crate::broadcast::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::engine::{DisconnectReason as EngineReason, DynEngine, Route};
use crate::handler::Handler;
use crate::metrics::{Counters, Metrics};
use crate::namespace::{ConnectError, Hooks, Matcher, Namespace, ParentInner, ParentNamespace};
use crate::protocol::{Args, Parser};
use crate::socket::{DisconnectReason, EmitError, Socket};

type NewNamespaceListener = Arc<dyn Fn(&Namespace) + Send + Sync>;
type ServerSideHandler = Arc<dyn Fn(Args) -> Option<Args> + Send + Sync>;

/// The Socket.IO options that are not the engine's.
pub(crate) struct IoConfig {
    pub(crate) path: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) cleanup_empty_child_namespaces: bool,
    pub(crate) parser: Arc<dyn Parser>,
    pub(crate) adapter: Arc<dyn AdapterFactory>,
    pub(crate) state: http::Extensions,
    pub(crate) recovery: Option<crate::recovery::RecoveryConfig>,
}

pub(crate) struct IoInner {
    pub(crate) config: IoConfig,
    namespaces: RwLock<HashMap<String, Namespace>>,
    parents: RwLock<Vec<ParentNamespace>>,
    new_namespace: RwLock<Vec<NewNamespaceListener>>,
    server_side: RwLock<HashMap<String, ServerSideHandler>>,
    engine: OnceLock<Weak<dyn DynEngine>>,
    /// Kept for `serve`; taken by `close` to break the cycle Io → engine → handler → Io.
    route: std::sync::Mutex<Option<Route>>,
    closed: AtomicBool,
    closed_notify: tokio::sync::Notify,
    pub(crate) counters: Counters,
}

/// The server (Node's `Server`, `io`): namespaces, broadcasts, cluster operations and shutdown.
/// Cheap to clone; also an axum extractor, so a REST route can emit to sockets:
///
/// ```
/// use axum::{routing::post, Router};
/// use axum_socketio::{Io, SocketIoLayer};
///
/// let layer = SocketIoLayer::new();
/// let app: Router = Router::new()
///     .route("/notify", post(|io: Io| async move { io.emit("tick", &1).ok(); }))
///     .layer(layer);
/// ```
#[derive(Clone)]
pub struct Io(pub(crate) Arc<IoInner>);

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("path", &self.path()).finish()
    }
}

impl Io {
    pub(crate) fn new(config: IoConfig) -> Io {
        let io = Io(Arc::new(IoInner {
            config,
            namespaces: RwLock::new(HashMap::new()),
            parents: RwLock::new(Vec::new()),
            new_namespace: RwLock::new(Vec::new()),
            server_side: RwLock::new(HashMap::new()),
            engine: OnceLock::new(),
            route: std::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
            closed_notify: tokio::sync::Notify::new(),
            counters: Counters::default(),
        }));
        io.of("/");
        io
    }

    pub(crate) fn set_engine(&self, engine: Weak<dyn DynEngine>, route: Route) {
        let _ = self.0.engine.set(engine);
        *self.0.route.lock().unwrap_or_else(|e| e.into_inner()) = Some(route);
    }

    pub(crate) fn parser(&self) -> Arc<dyn Parser> {
        self.0.config.parser.clone()
    }

    pub(crate) fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0.config.state.get::<T>().cloned()
    }

    /// The path the server is served at (`/socket.io` by default).
    pub fn path(&self) -> &str {
        &self.0.config.path
    }

    /// How long a connection may wait before joining a namespace (default 45 s).
    pub fn connect_timeout(&self) -> Duration {
        self.0.config.connect_timeout
    }

    /// How many Engine.IO connections are open (Node's `io.engine.clientsCount`).
    pub fn client_count(&self) -> usize {
        self.0
            .engine
            .get()
            .and_then(Weak::upgrade)
            .map_or(0, |e| e.client_count())
    }

    /// A snapshot of the server: clients by transport, sockets and rooms per namespace, and
    /// the message, byte, drop and timeout counters since start.
    pub fn metrics(&self) -> Metrics {
        let (clients_polling, clients_websocket) = self
            .0
            .engine
            .get()
            .and_then(Weak::upgrade)
            .map_or((0, 0), |e| e.transport_counts());
        let mut m = Metrics {
            clients_polling,
            clients_websocket,
            ..Metrics::default()
        };
        for ns in self.namespaces() {
            m.sockets
                .insert(ns.name().to_owned(), ns.sockets_map().len());
            m.rooms
                .insert(ns.name().to_owned(), ns.adapter().local_rooms().len());
        }
        m.fill_counters(&self.0.counters);
        m
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.0.counters
    }

    // ----- namespaces -----

    /// The namespace called `name`, created if it does not exist (Node's `io.of(name)`).
    pub fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = self.get_namespace(&name) {
            return ns;
        }
        let ns = {
            let mut map = self.0.namespaces.write().unwrap_or_else(|e| e.into_inner());
            if let Some(ns) = map.get(&name) {
                return ns.clone();
            }
            let ns = Namespace::new(
                &self.0,
                &name,
                Arc::new(RwLock::new(Hooks::default())),
                None,
            );
            map.insert(name, ns.clone());
            ns
        };
        self.announce(&ns);
        ns
    }

    /// The main namespace `/` (Node's `io.sockets`).
    pub fn sockets(&self) -> Namespace {
        self.of("/")
    }

    /// A namespace that exists already.
    pub fn get_namespace(&self, name: &str) -> Option<Namespace> {
        self.0
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every namespace that exists now.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.0
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// A parent namespace for every name matching `pattern` (Node's `io.of(/regex/)`).
    ///
    /// ```
    /// # fn f(io: axum_socketio::Io) {
    /// let workspaces = io.of_regex(regex::Regex::new(r"^/workspace-\d+$").unwrap());
    /// workspaces.on_connection(|socket: axum_socketio::Socket| async move {
    ///     socket.emit("hello", socket.nsp()).ok();
    /// });
    /// # }
    /// ```
    pub fn of_regex(&self, pattern: regex::Regex) -> ParentNamespace {
        self.of_fn(move |name, _auth| pattern.is_match(name))
    }

    /// A parent namespace for every name the function accepts, given the name and the client's
    /// `auth` (Node's `io.of((name, auth, next) => …)`).
    pub fn of_fn<F>(&self, f: F) -> ParentNamespace
    where
        F: Fn(&str, &serde_json::Value) -> bool + Send + Sync + 'static,
    {
        let matcher: Matcher = Arc::new(f);
        let parent = ParentNamespace(Arc::new(ParentInner {
            matcher,
            hooks: Arc::new(RwLock::new(Hooks::default())),
            children: RwLock::new(Vec::new()),
            io: Arc::downgrade(&self.0),
        }));
        self.0
            .parents
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(parent.clone());
        parent
    }

    /// Runs when a namespace is created, children of parent namespaces included (Node's
    /// `new_namespace` event).
    pub fn on_new_namespace<F>(&self, f: F)
    where
        F: Fn(&Namespace) + Send + Sync + 'static,
    {
        self.0
            .new_namespace
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(f));
    }

    fn announce(&self, ns: &Namespace) {
        let listeners = self
            .0
            .new_namespace
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for l in listeners {
            l(ns);
        }
    }

    /// The namespace a CONNECT names: an existing one, or a new child of the first parent that
    /// accepts it.
    pub(crate) fn resolve_namespace(
        &self,
        name: &str,
        auth: &serde_json::Value,
    ) -> Option<Namespace> {
        if let Some(ns) = self.get_namespace(name) {
            return Some(ns);
        }
        let parents = self
            .0
            .parents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let parent = parents.into_iter().find(|p| (p.0.matcher)(name, auth))?;
        let ns = {
            let mut map = self.0.namespaces.write().unwrap_or_else(|e| e.into_inner());
            if let Some(ns) = map.get(name) {
                return Some(ns.clone());
            }
            let ns = Namespace::new(
                &self.0,
                name,
                Arc::new(RwLock::new(
                    parent
                        .0
                        .hooks
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                )),
                Some(Arc::downgrade(&parent.0)),
            );
            map.insert(name.to_owned(), ns.clone());
            ns
        };
        parent
            .0
            .children
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(ns.clone());
        self.announce(&ns);
        Some(ns)
    }

    // ----- the main namespace -----

    /// Registers a handler for connections to `/` (Node's `io.on("connection", …)`).
    pub fn on_connection<H: Handler<T>, T: 'static>(&self, handler: H) {
        self.sockets().on_connection(handler)
    }

    /// Adds a connect middleware to `/` (Node's `io.use`).
    pub fn use_middleware<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.sockets().use_middleware(f)
    }

    /// Targets the sockets of `/` in `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// Same as [`to`](Self::to) (Node's `io.in`).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// Every socket of `/` except those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().except(rooms)
    }

    /// Broadcasts on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.sockets().local()
    }

    /// Drops the packet for clients that cannot take it right now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.sockets().volatile()
    }

    /// Sets the compress flag.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.sockets().compress(compress)
    }

    /// Sets how long `emit_with_ack` waits.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.sockets().timeout(timeout)
    }

    /// Emits to every socket of `/`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.sockets().emit(event, data)
    }

    /// Emits to every socket of `/` and waits for each one's acknowledgement (Node's
    /// `io.emitWithAck`; set a timeout with [`timeout`](Self::timeout)).
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<R>, crate::broadcast::PartialAcks<R>>
    where
        T: Serialize + ?Sized,
        R: serde::de::DeserializeOwned + fmt::Debug,
    {
        self.sockets().emit_with_ack(event, data).await
    }

    /// Emits `message` to every socket of `/` (Node's `io.send`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.sockets().send(data)
    }

    /// Describes every socket of `/`, cluster-wide.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.sockets().fetch_sockets().await
    }

    /// Makes every socket of `/` join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_join(rooms)
    }

    /// Makes every socket of `/` leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`; with `close`, their connections.
    pub fn disconnect_sockets(&self, close: bool) {
        self.sockets().disconnect_sockets(close)
    }

    // ----- cluster -----

    /// Sends an event to the other servers of the cluster, whose
    /// [`on_server_side_emit`](Self::on_server_side_emit) handlers get it. On a single node it
    /// reaches no one (logged at debug).
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.sockets().server_side_emit(event, data)
    }

    /// Like [`server_side_emit`](Self::server_side_emit), waiting for each other server's
    /// answer; an empty list on a single node.
    pub async fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Vec<Args>, AdapterError> {
        self.sockets()
            .server_side_emit_with_ack(event, data, timeout)
            .await
    }

    /// Handles an event sent by another server with `server_side_emit`; the returned `Args`, if
    /// any, answer a `server_side_emit_with_ack`.
    pub fn on_server_side_emit<F>(&self, event: &str, f: F)
    where
        F: Fn(Args) -> Option<Args> + Send + Sync + 'static,
    {
        self.0
            .server_side
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(event.to_owned(), Arc::new(f));
    }

    /// Runs the local handler of a server-side event (called by cluster adapters).
    pub fn dispatch_server_side_emit(&self, event: &str, args: Args) -> Option<Args> {
        let handler = self
            .0
            .server_side
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(event)
            .cloned();
        handler.and_then(|h| h(args))
    }

    // ----- lifecycle -----

    /// Closes the server: every socket leaves with "server shutting down", adapters are closed,
    /// every connection (long-polls and websockets) ends, the server lets go of what it holds
    /// (it is freed once the last handle and layer are dropped), and [`closed`](Self::closed) resolves,
    /// which ends a server started by [`listen`](Self::listen) and can drive axum's graceful
    /// shutdown.
    pub async fn close(&self) {
        if self.0.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for ns in self.namespaces() {
            for socket in ns.sockets() {
                socket.close(DisconnectReason::ServerShuttingDown);
            }
            ns.adapter().close().await;
        }
        if let Some(engine) = self.0.engine.get().and_then(Weak::upgrade) {
            engine.close_all(EngineReason::ServerShuttingDown);
        }
        // The server holds itself through two cycles (Io → engine → handler → Io, and Io ↔ its
        // namespaces); once closed it lets go of both, so dropping every handle frees it.
        self.0
            .route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.0
            .parents
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let namespaces =
            std::mem::take(&mut *self.0.namespaces.write().unwrap_or_else(|e| e.into_inner()));
        drop(namespaces);
        self.0.closed_notify.notify_waiters();
    }

    /// Resolves once [`close`](Self::close) has run: hand it to
    /// `axum::serve(…).with_graceful_shutdown(io.closed())`.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = self.0.clone();
        async move {
            let notified = inner.closed_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if inner.closed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Serves this server alone on `addr` (Node's `new Server(port)` / `io.listen(port)`): other
    /// requests answer 404. Returns when [`close`](Self::close) has been called and the
    /// connections have ended.
    pub async fn listen(&self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        self.serve(listener).await
    }

    /// Like [`listen`](Self::listen), on a listener already bound.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let route = self
            .0
            .route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(route) = route else {
            return Err(std::io::Error::other("this Io has no engine"));
        };
        let layer = crate::layer::SocketIoLayer::from_parts(self.clone(), route);
        let app = axum::Router::new().layer(layer);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(self.closed())
        .await
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

impl IoInner {
    pub(crate) fn remove_namespace(&self, name: &str) {
        self.namespaces
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

/// `Io` is available in HTTP handlers behind the Socket.IO layer.
impl<S: Send + Sync> FromRequestParts<S> for Io {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Io>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "axum_socketio::Io is missing: is the route behind a SocketIoLayer?",
        ))
    }
}
