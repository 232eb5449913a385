//! Namespaces: their sockets, connect middlewares, connection handlers and adapter; and the
//! parent namespaces that create children on demand (from a pattern or a function).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use serde::Serialize;

use crate::adapter::{Adapter, AdapterContext, BroadcastOptions, Room, RoomEvent, SocketInfo};
use crate::broadcast::BroadcastOperator;
use crate::engine::Utf8Bytes;
use crate::handler::{BoxedHandler, Handler, boxed};
use crate::io::{Io, IoInner};
use crate::protocol::Parser;
use crate::socket::{EmitError, Socket};

/// An error a connect middleware returns: the client gets a CONNECT_ERROR with this message and,
/// when given, `data`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// `message` of the CONNECT_ERROR packet.
    pub message: String,
    /// `data` of the CONNECT_ERROR packet.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Attaches `data` (any serializable value) to the error.
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).ok();
        self
    }
}

type MiddlewareFuture = Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>;
pub(crate) type Middleware = Arc<dyn Fn(Socket) -> MiddlewareFuture + Send + Sync>;
type RoomListener = Arc<dyn Fn(&RoomEvent) + Send + Sync>;

pub(crate) fn middleware<F, Fut>(f: F) -> Middleware
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    Arc::new(move |s| Box::pin(f(s)))
}

/// What a namespace runs when a socket connects: middlewares, then handlers. A child of a
/// parent namespace starts with a copy of the parent's, as in Node: what is added to the parent
/// later reaches only children created later, and what is added to a child stays its own.
#[derive(Default, Clone)]
pub(crate) struct Hooks {
    pub(crate) middlewares: Vec<Middleware>,
    pub(crate) on_connection: Vec<BoxedHandler>,
}

/// A namespace's sockets on this node, by id.
pub(crate) type SocketMap = HashMap<Arc<str>, Socket, crate::engine::sid::IdHash>;

pub(crate) struct NsInner {
    pub(crate) name: Utf8Bytes,
    pub(crate) io: Arc<IoInner>,
    sockets: RwLock<SocketMap>,
    adapter: Box<dyn Adapter>,
    pub(crate) hooks: Arc<RwLock<Hooks>>,
    ack_ids: AtomicU64,
    room_listeners: RwLock<Vec<RoomListener>>,
    /// Set on children of a parent namespace, for `cleanup_empty_child_namespaces`.
    pub(crate) parent: Option<Weak<ParentInner>>,
}

/// A namespace: a channel of its own over the same connections (`/`, `/admin`, …). Cheap to
/// clone.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NsInner>);

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name())
            .finish()
    }
}

impl Namespace {
    pub(crate) fn new(
        io: &Arc<IoInner>,
        name: &str,
        hooks: Arc<RwLock<Hooks>>,
        parent: Option<Weak<ParentInner>>,
    ) -> Namespace {
        let name_arc: Arc<str> = name.into();
        Namespace(Arc::new_cyclic(|weak| NsInner {
            name: Utf8Bytes::from(name),
            io: io.clone(),
            sockets: RwLock::new(SocketMap::default()),
            adapter: io.config.adapter.create(AdapterContext {
                ns: weak.clone(),
                name: name_arc,
                recovery: io.config.recovery,
            }),
            hooks,
            ack_ids: AtomicU64::new(0),
            room_listeners: RwLock::new(Vec::new()),
            parent,
        }))
    }

    /// The namespace name (`/`, `/admin`, …).
    pub fn name(&self) -> &str {
        self.0.name.as_str()
    }

    pub(crate) fn name_bytes(&self) -> &Utf8Bytes {
        &self.0.name
    }

    /// The server.
    pub fn io(&self) -> Io {
        Io(self.0.io.clone())
    }

    /// The adapter (rooms index and fan-out) of this namespace.
    pub fn adapter(&self) -> &dyn Adapter {
        &*self.0.adapter
    }

    pub(crate) fn parser(&self) -> &dyn Parser {
        &*self.0.io.config.parser
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.0.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a handler for new connections (Node's `nsp.on("connection", …)`).
    pub fn on_connection<H: Handler<T>, T: 'static>(&self, handler: H) {
        write(&self.0.hooks).on_connection.push(boxed(handler));
    }

    /// Adds a connect middleware (Node's `nsp.use`): runs before the connection handlers; an
    /// error refuses the connection with a CONNECT_ERROR carrying its message and data.
    ///
    /// ```
    /// # fn f(io: axum_socketio::Io) {
    /// use axum_socketio::ConnectError;
    /// io.of("/admin").use_middleware(|socket: axum_socketio::Socket| async move {
    ///     match socket.handshake().auth().get("token") {
    ///         Some(_) => Ok(()),
    ///         None => Err(ConnectError::new("not authorized").with_data(serde_json::json!({"code": 401}))),
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.0.hooks).middlewares.push(middleware(f));
    }

    /// Listens to the adapter's room events (`create-room`, `delete-room`, `join-room`,
    /// `leave-room`), for presence.
    pub fn on_room_event<F>(&self, f: F)
    where
        F: Fn(&RoomEvent) + Send + Sync + 'static,
    {
        self.0
            .room_listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(f));
    }

    pub(crate) fn emit_room_event(&self, ev: &RoomEvent) {
        let listeners: Vec<RoomListener> = self
            .0
            .room_listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for l in listeners {
            l(ev);
        }
    }

    /// The sockets of this namespace on this node.
    pub fn sockets(&self) -> Vec<Socket> {
        self.sockets_map().values().cloned().collect()
    }

    /// A socket of this namespace on this node, by id.
    pub fn get_socket(&self, sid: &str) -> Option<Socket> {
        self.sockets_map().get(sid).cloned()
    }

    pub(crate) fn sockets_map(&self) -> RwLockReadGuard<'_, SocketMap> {
        self.0.sockets.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert_socket(&self, socket: Socket) {
        self.0
            .sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.id_arc(), socket);
    }

    pub(crate) fn remove_socket(&self, sid: &str) {
        let now_empty = {
            let mut sockets = self.0.sockets.write().unwrap_or_else(|e| e.into_inner());
            sockets.remove(sid);
            sockets.is_empty()
        };
        if now_empty {
            if let Some(parent) = self.0.parent.as_ref().and_then(Weak::upgrade) {
                parent.child_emptied(self);
            }
        }
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), BroadcastOptions::default())
    }

    /// Targets the sockets in `rooms` (Node's `to`).
    pub fn to(&self, rooms: impl crate::broadcast::IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Same as [`to`](Self::to) (Node's `in`).
    pub fn in_(&self, rooms: impl crate::broadcast::IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms`.
    pub fn except(&self, rooms: impl crate::broadcast::IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Delivers on this node only, even with a cluster adapter.
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Drops the packet for clients that cannot receive it right now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Sets the compress flag.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.operator().compress(compress)
    }

    /// Sets how long `emit_with_ack` waits.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.operator().emit(event, data)
    }

    /// Emits to every socket of the namespace and waits for each one's acknowledgement (see
    /// [`BroadcastOperator::emit_with_ack`]; set a timeout with [`timeout`](Self::timeout)).
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<R>, crate::broadcast::PartialAcks<R>>
    where
        T: Serialize + ?Sized,
        R: serde::de::DeserializeOwned + fmt::Debug,
    {
        self.operator().emit_with_ack(event, data).await
    }

    /// Emits a `message` event (Node's `send`/`write`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Describes every socket of the namespace, cluster-wide.
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<crate::broadcast::RemoteSocket>, crate::adapter::AdapterError> {
        self.operator().fetch_sockets().await
    }

    /// Makes every socket join `rooms`.
    pub fn sockets_join(&self, rooms: impl crate::broadcast::IntoRooms) {
        self.operator().sockets_join(rooms)
    }

    /// Makes every socket leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl crate::broadcast::IntoRooms) {
        self.operator().sockets_leave(rooms)
    }

    /// Disconnects every socket; with `close`, their whole connections.
    pub fn disconnect_sockets(&self, close: bool) {
        self.operator().disconnect_sockets(close)
    }

    /// Sends an event to the other servers of the cluster (see [`Io::server_side_emit`]).
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        check_server_side_event(event)?;
        let args = crate::protocol::Args::from_serialize(data).map_err(EmitError::Serialize)?;
        let fut = self
            .0
            .adapter
            .server_side_emit(event.to_owned(), args, None);
        tokio::spawn(async move {
            if let Err(e) = fut.await {
                tracing::warn!(error = %e, "server_side_emit failed");
            }
        });
        Ok(())
    }

    /// Sends an event to the other servers and waits for each one's answer (one answer per
    /// other server; none on a single node).
    pub async fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Vec<crate::protocol::Args>, crate::adapter::AdapterError> {
        check_server_side_event(event)
            .map_err(|e| crate::adapter::AdapterError::Unavailable(e.to_string()))?;
        let args = crate::protocol::Args::from_serialize(data)
            .map_err(|e| crate::adapter::AdapterError::Unavailable(e.to_string()))?;
        self.0
            .adapter
            .server_side_emit(event.to_owned(), args, Some(timeout))
            .await
    }

    pub(crate) fn socket_infos(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.0
            .adapter
            .sockets(opts)
            .iter()
            .map(Socket::info)
            .collect()
    }

    pub(crate) fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.0.adapter.socket_rooms(sid)
    }
}

/// Names Node refuses in `serverSideEmit`: they mean something else on the receiving server.
fn check_server_side_event(event: &str) -> Result<(), EmitError> {
    if ["connect", "connection", "new_namespace"].contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    Ok(())
}

fn write(hooks: &RwLock<Hooks>) -> std::sync::RwLockWriteGuard<'_, Hooks> {
    hooks.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) type Matcher = Arc<dyn Fn(&str, &serde_json::Value) -> bool + Send + Sync>;

/// A parent namespace's shared state: the children it created, and the hooks they share.
pub(crate) struct ParentInner {
    pub(crate) matcher: Matcher,
    pub(crate) hooks: Arc<RwLock<Hooks>>,
    pub(crate) children: RwLock<Vec<Namespace>>,
    pub(crate) io: Weak<IoInner>,
}

impl ParentInner {
    fn child_emptied(&self, child: &Namespace) {
        let Some(io) = self.io.upgrade() else {
            return;
        };
        if !io.config.cleanup_empty_child_namespaces {
            return;
        }
        self.children
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|c| !Arc::ptr_eq(&c.0, &child.0));
        io.remove_namespace(child.name());
        let adapter_close = child.0.adapter.close();
        tokio::spawn(adapter_close);
    }
}

/// A parent namespace (Node's `io.of(/regex/)` or `io.of(fn)`): a child namespace is created
/// for each name that matches, sharing the parent's middlewares and connection handlers.
#[derive(Clone)]
pub struct ParentNamespace(pub(crate) Arc<ParentInner>);

impl fmt::Debug for ParentNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParentNamespace").finish_non_exhaustive()
    }
}

impl ParentNamespace {
    /// Registers a connection handler for every child.
    pub fn on_connection<H: Handler<T>, T: 'static>(&self, handler: H) {
        write(&self.0.hooks).on_connection.push(boxed(handler));
    }

    /// Adds a connect middleware for every child.
    pub fn use_middleware<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.0.hooks).middlewares.push(middleware(f));
    }

    /// The children created so far.
    pub fn children(&self) -> Vec<Namespace> {
        self.0
            .children
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Emits to every socket of every child.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        for child in self.children() {
            child.emit(event, data)?;
        }
        Ok(())
    }
}
