//! A Socket.IO socket: one client in one namespace. Events in, events out, rooms, acks, and the
//! end of it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ack::{AckError, AckSender};
use crate::adapter::{BroadcastOptions, Room, SocketInfo};
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::client::Client;
use crate::engine::{self, EngineSocket, Frame, SendError};
use crate::extract::HandlerContext;
use crate::handler::{self, BoxedHandler, Handler, boxed};
use crate::handshake::Handshake;
use crate::io::Io;
use crate::namespace::Namespace;
use crate::protocol::{Args, Encoded, EncodedFrame, EventName, Packet, PacketData};

/// Why a socket left, with the Node server's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The connection broke or the client broke a transport rule.
    TransportError,
    /// The client closed the connection.
    TransportClose,
    /// The server closed the connection.
    ForcedClose,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent something that is not an Engine.IO packet.
    ParseError,
    /// The server is shutting down ([`Io::close`]).
    ServerShuttingDown,
    /// The server closed the connection because the client broke the Socket.IO protocol (a
    /// packet before CONNECT, a second CONNECT, no CONNECT in time).
    ForcedServerClose,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket ([`Socket::disconnect`]).
    ServerNamespaceDisconnect,
}

impl DisconnectReason {
    /// The reason as Node names it (`"transport close"`, `"server namespace disconnect"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<engine::DisconnectReason> for DisconnectReason {
    fn from(r: engine::DisconnectReason) -> Self {
        match r {
            engine::DisconnectReason::TransportError => DisconnectReason::TransportError,
            engine::DisconnectReason::TransportClose => DisconnectReason::TransportClose,
            engine::DisconnectReason::ForcedClose => DisconnectReason::ForcedClose,
            engine::DisconnectReason::PingTimeout => DisconnectReason::PingTimeout,
            engine::DisconnectReason::ParseError => DisconnectReason::ParseError,
            engine::DisconnectReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
        }
    }
}

/// Why an emit failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Closed,
    /// The socket's outbox is full: the client does not read fast enough.
    #[error("the socket's outbox is full")]
    Full,
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// The data does not serialize.
    #[error("the data does not serialize: {0}")]
    Serialize(#[source] crate::protocol::ArgsError),
}

impl From<SendError> for EmitError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Closed => EmitError::Closed,
            SendError::Full => EmitError::Full,
        }
    }
}

/// Event names the server may not emit, as in Node.
const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED.contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    Ok(())
}

struct Listener {
    handler: BoxedHandler,
    once: bool,
}

/// A packet middleware (Node's `socket.use`): sees every incoming event first; an error stops the
/// event and goes to the socket's error handlers.
pub type PacketMiddleware = Arc<dyn Fn(&Socket, &str, &Args) -> Result<(), String> + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&Socket, &str) + Send + Sync>;

#[derive(Default)]
struct Listeners {
    on: HashMap<String, Arc<[Listener]>>,
    any: Arc<[BoxedHandler]>,
    any_outgoing: Arc<[BoxedHandler]>,
    middlewares: Arc<[PacketMiddleware]>,
    disconnecting: Vec<BoxedHandler>,
    disconnect: Vec<BoxedHandler>,
    error: Vec<ErrorHandler>,
}

pub(crate) struct SocketInner {
    id: Arc<str>,
    ns: Namespace,
    pub(crate) client: Arc<Client>,
    handshake: Handshake,
    listeners: RwLock<Listeners>,
    has_any_outgoing: AtomicBool,
    acks: Mutex<HashMap<u64, AckSender>>,
    data: Mutex<serde_json::Value>,
    connected: AtomicBool,
    closing: AtomicBool,
    recovered: bool,
    /// The private session id of connection state recovery.
    pid: Option<Arc<str>>,
    span: tracing::Span,
}

/// One client in one namespace (Node's `Socket`). Cheap to clone; move it into tasks freely.
///
/// ```
/// use std::time::Duration;
/// use axum_socketio::{Data, Socket};
///
/// async fn on_connection(socket: Socket) {
///     socket.join("lobby");
///     socket.emit("welcome", &("hello", socket.id())).ok();
///     socket.on("chat", |socket: Socket, Data(text): Data<String>| async move {
///         // To everyone in the lobby but the sender.
///         socket.to("lobby").emit("chat", &text).ok();
///     });
///     let answer: Result<String, _> = socket
///         .timeout(Duration::from_secs(5))
///         .emit_with_ack("name?", &())
///         .await;
///     if let Ok(name) = answer {
///         socket.set_data(&name).ok();
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id())
            .field("nsp", &self.ns().name())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Socket {
    pub(crate) fn new(
        id: Arc<str>,
        ns: Namespace,
        client: Arc<Client>,
        handshake: Handshake,
        pid: Option<Arc<str>>,
        recovered: bool,
    ) -> Socket {
        let span =
            crate::engine::live_span(tracing::debug_span!("socket", id = &*id, nsp = ns.name()));
        Socket(Arc::new(SocketInner {
            span,
            id,
            ns,
            client,
            handshake,
            listeners: RwLock::new(Listeners::default()),
            has_any_outgoing: AtomicBool::new(false),
            acks: Mutex::new(HashMap::new()),
            data: Mutex::new(serde_json::Value::Null),
            connected: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            recovered,
            pid,
        }))
    }

    /// The socket id: 20 random url-safe characters, distinct from the Engine.IO session id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    pub(crate) fn id_arc(&self) -> Arc<str> {
        self.0.id.clone()
    }

    /// The namespace.
    pub fn ns(&self) -> &Namespace {
        &self.0.ns
    }

    /// The namespace's name (Node's `socket.nsp.name`).
    pub fn nsp(&self) -> &str {
        self.0.ns.name()
    }

    /// The server.
    pub fn io(&self) -> Io {
        self.0.ns.io()
    }

    /// The handshake: headers, address, query, auth, …
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// The underlying Engine.IO connection (transport, protocol, upgraded).
    pub fn conn(&self) -> &EngineSocket {
        &self.0.client.conn
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    /// Whether the socket is disconnected.
    pub fn disconnected(&self) -> bool {
        !self.connected()
    }

    /// Whether the socket was restored by connection state recovery.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The socket's `data`, deserialized (`None` when unset or of another shape). It travels
    /// with `fetch_sockets`, across the cluster too.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let data = self.0.data.lock().unwrap_or_else(|e| e.into_inner());
        T::deserialize(&*data).ok()
    }

    /// Sets the socket's `data`.
    pub fn set_data<T: Serialize>(&self, data: &T) -> Result<(), serde_json::Error> {
        let value = serde_json::to_value(data)?;
        *self.0.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
        Ok(())
    }

    pub(crate) fn pid(&self) -> Option<&str> {
        self.0.pid.as_deref()
    }

    pub(crate) fn set_data_value(&self, value: serde_json::Value) {
        *self.0.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }

    pub(crate) fn data_value(&self) -> serde_json::Value {
        self.0
            .data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The rooms the socket is in (its own id included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.rooms_of(self.id())
    }

    /// Joins rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.0.ns.adapter().add_all(self.id(), &rooms.into_rooms());
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.0.ns.adapter().del(self.id(), room);
    }

    pub(crate) fn info(&self) -> SocketInfo {
        SocketInfo {
            id: self.id_arc(),
            handshake: self.0.handshake.clone(),
            rooms: self.rooms(),
            data: self.data_value(),
        }
    }

    // ----- emitting -----

    /// Emits an event to this client. `data` follows the argument rule: a tuple is several
    /// arguments, `()` none, anything else one; binary (`bytes::Bytes`, `serde_bytes`) travels as
    /// attachments.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_with(event, data, false, true)
    }

    pub(crate) fn emit_with<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        check_event(event)?;
        let args = Args::from_serialize(data).map_err(EmitError::Serialize)?;
        self.emit_args_with(event, args, volatile, compress)
    }

    /// Emits a raw argument list (for example one received from a client, binary included).
    pub fn emit_args(&self, event: &str, args: Args) -> Result<(), EmitError> {
        check_event(event)?;
        self.emit_args_with(event, args, false, true)
    }

    pub(crate) fn emit_args_with(
        &self,
        event: &str,
        args: Args,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Closed);
        }
        self.notify_outgoing(event, &args);
        let packet = Packet::event(self.0.ns.name_bytes().clone(), event, args);
        if self.0.pid.is_some() && !volatile {
            // With recovery on, a plain emit is a broadcast to the socket's own room, so that it
            // gets an offset and is kept for a client that comes back (as in Node).
            let opts = BroadcastOptions {
                rooms: vec![self.id_arc()],
                ..Default::default()
            };
            self.0.ns.adapter().broadcast(packet, &opts);
            return Ok(());
        }
        self.send_packet_with(&packet, volatile, compress)
    }

    /// Emits `message` (Node's `send`/`write`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Emits an event and waits for the client's acknowledgement, deserialized into `R` (with the
    /// same argument rule). Waits at most `timeout` when one is set with [`timeout`](Self::timeout),
    /// forever otherwise (as Node); fails when the socket disconnects first.
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.emit_with_ack_timeout(event, data, None, false, true)
            .await
    }

    pub(crate) async fn emit_with_ack_timeout<T, R>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
        volatile: bool,
        compress: bool,
    ) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        check_event(event)?;
        let args = Args::from_serialize(data).map_err(EmitError::Serialize)?;
        if !self.connected() {
            return Err(AckError::Emit(EmitError::Closed));
        }
        let id = self.0.ns.next_ack_id();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.lock_acks().insert(id, AckSender::Single(tx));
        self.notify_outgoing(event, &args);
        let packet = Packet::event(self.0.ns.name_bytes().clone(), event, args).with_id(id);
        if let Err(e) = self.send_packet_with(&packet, volatile, compress) {
            self.lock_acks().remove(&id);
            return Err(AckError::Emit(e));
        }
        let answer = match timeout {
            Some(d) => match tokio::time::timeout(d, rx).await {
                Ok(r) => r,
                Err(_) => {
                    self.lock_acks().remove(&id);
                    self.counters().ack_timed_out();
                    return Err(AckError::Timeout);
                }
            },
            None => rx.await,
        };
        let args = answer.map_err(|_| AckError::Disconnected)?;
        Ok(args.deserialize()?)
    }

    /// Emit modifiers for this socket: `timeout`, `volatile`, `compress`.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: Some(timeout),
            volatile: false,
            compress: true,
        }
    }

    /// Drops the event if the transport cannot take it right now.
    pub fn volatile(&self) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: None,
            volatile: true,
            compress: true,
        }
    }

    /// Whether the event may be compressed (default `true`): with `false`, a polling response
    /// carrying only such packets is sent without HTTP compression. Websocket frames are never
    /// compressed.
    pub fn compress(&self, compress: bool) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: None,
            volatile: false,
            compress,
        }
    }

    fn counters(&self) -> &crate::metrics::Counters {
        &self.0.ns.0.io.counters
    }

    fn lock_acks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AckSender>> {
        self.0.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register_broadcast_ack(
        &self,
        id: u64,
        tx: tokio::sync::mpsc::UnboundedSender<Args>,
    ) {
        self.lock_acks().insert(id, AckSender::Broadcast(tx));
    }

    pub(crate) fn send_packet(&self, packet: &Packet, volatile: bool) -> Result<(), EmitError> {
        self.send_packet_with(packet, volatile, true)
    }

    /// [`send_packet`](Self::send_packet) with the `compress` flag.
    pub(crate) fn send_packet_with(
        &self,
        packet: &Packet,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        let encoded = self.0.ns.parser().encode(packet);
        self.send_encoded(encoded, volatile, compress)
    }

    /// Sends the packets a restored socket missed, past the outbox bound (the recovery store
    /// bounds them), so that a client that missed many gets them all, as in Node.
    pub(crate) fn send_missed(&self, packets: &[Packet]) {
        let conn = &self.0.client.conn;
        for packet in packets {
            let encoded = self.0.ns.parser().encode(packet);
            let len = encoded_len(&encoded);
            if conn
                .send_frames_unbounded(frames_of(encoded), true)
                .is_err()
            {
                return;
            }
            self.counters().sent(1, len);
        }
    }

    /// Queues an encoded packet (its attachments with it). A volatile packet is dropped, without
    /// error, when the transport cannot take it right now.
    pub(crate) fn send_encoded(
        &self,
        encoded: Encoded,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        let len = encoded_len(&encoded);
        if self.enqueue(encoded, volatile, compress)? {
            self.counters().sent(1, len);
        }
        Ok(())
    }

    /// Queues without counting (broadcasts count their recipients once). `Ok(false)` when a
    /// volatile packet was dropped. `compress: false` keeps the packet from asking for HTTP
    /// compression of the polling response that carries it. Taken by value: a broadcast clones
    /// its frames (reference counts), a direct emit moves them.
    pub(crate) fn enqueue(
        &self,
        encoded: Encoded,
        volatile: bool,
        compress: bool,
    ) -> Result<bool, EmitError> {
        let conn = &self.0.client.conn;
        if volatile && !conn.is_writable() {
            self.counters().volatile_dropped();
            return Ok(false);
        }
        match queue_encoded(conn, encoded, compress) {
            Ok(()) => Ok(true),
            Err(SendError::Full) if volatile => {
                self.counters().volatile_dropped();
                Ok(false)
            }
            Err(e) => {
                if e == SendError::Full {
                    self.counters().outbox_full();
                }
                Err(e.into())
            }
        }
    }

    /// Runs the outgoing catch-all handlers for a broadcast packet, as Node's adapter does for
    /// every recipient.
    pub(crate) fn notify_outgoing_packet(&self, packet: &Packet) {
        if !self.0.has_any_outgoing.load(Ordering::Acquire) {
            return;
        }
        if let PacketData::Event { name, args } = &packet.data {
            self.notify_outgoing(name.as_str(), args);
        }
    }

    fn notify_outgoing(&self, event: &str, args: &Args) {
        if !self.0.has_any_outgoing.load(Ordering::Acquire) {
            return;
        }
        let handlers = self.read_listeners().any_outgoing.clone();
        for h in handlers.iter() {
            let mut ctx = HandlerContext::new(self.clone(), args.clone());
            ctx.event = Some(EventName::from(event));
            handler::invoke(&**h, &mut ctx);
        }
    }

    // ----- broadcasting from this socket -----

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.0.ns.clone(),
            BroadcastOptions {
                except: vec![self.id_arc()],
                ..Default::default()
            },
        )
    }

    /// Targets the sockets in `rooms`, this one excluded (Node's `socket.to`).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Same as [`to`](Self::to) (Node's `socket.in`).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Every socket of the namespace except this one and those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Every socket of the namespace except this one (Node's `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        self.operator()
    }

    /// Broadcasts from this socket on this node only (Node's `socket.local`).
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    // ----- listeners -----

    fn read_listeners(&self) -> std::sync::RwLockReadGuard<'_, Listeners> {
        self.0.listeners.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_listeners(&self) -> std::sync::RwLockWriteGuard<'_, Listeners> {
        self.0.listeners.write().unwrap_or_else(|e| e.into_inner())
    }

    fn add_listener(&self, event: &str, handler: BoxedHandler, once: bool) {
        let mut l = self.write_listeners();
        let added = Listener { handler, once };
        // The list is shared with running dispatches (they clone the `Arc`), so it is
        // replaced, not changed; the first handler of an event, the usual case, costs one
        // allocation.
        match l.on.get_mut(event) {
            None => {
                l.on.insert(event.to_owned(), Arc::from([added]));
            }
            Some(entry) => {
                let mut list = Vec::with_capacity(entry.len() + 1);
                list.extend(entry.iter().map(|x| Listener {
                    handler: x.handler.clone(),
                    once: x.once,
                }));
                list.push(added);
                *entry = list.into();
            }
        }
    }

    /// Handles an event. Handlers of one socket run in arrival order (see [`Handler`]).
    pub fn on<H: Handler<T>, T: 'static>(&self, event: &str, handler: H) {
        self.add_listener(event, boxed(handler), false);
    }

    /// Handles the next occurrence of an event only.
    pub fn once<H: Handler<T>, T: 'static>(&self, event: &str, handler: H) {
        self.add_listener(event, boxed(handler), true);
    }

    /// Removes every handler of an event.
    pub fn off(&self, event: &str) {
        self.write_listeners().on.remove(event);
    }

    /// Handles every incoming event (the `Event` and `Args` extractors give its name and
    /// arguments), before the event's own handlers.
    pub fn on_any<H: Handler<T>, T: 'static>(&self, handler: H) {
        let mut l = self.write_listeners();
        let mut v: Vec<BoxedHandler> = l.any.to_vec();
        v.push(boxed(handler));
        l.any = v.into();
    }

    /// Like [`on_any`](Self::on_any), but runs before the other catch-all handlers.
    pub fn prepend_any<H: Handler<T>, T: 'static>(&self, handler: H) {
        let mut l = self.write_listeners();
        let mut v: Vec<BoxedHandler> = vec![boxed(handler)];
        v.extend(l.any.iter().cloned());
        l.any = v.into();
    }

    /// Removes every catch-all handler.
    pub fn off_any(&self) {
        self.write_listeners().any = Arc::from([]);
    }

    /// How many catch-all handlers are registered.
    pub fn listeners_any(&self) -> usize {
        self.read_listeners().any.len()
    }

    /// Handles every outgoing event of this socket.
    pub fn on_any_outgoing<H: Handler<T>, T: 'static>(&self, handler: H) {
        let mut l = self.write_listeners();
        let mut v: Vec<BoxedHandler> = l.any_outgoing.to_vec();
        v.push(boxed(handler));
        l.any_outgoing = v.into();
        self.0.has_any_outgoing.store(true, Ordering::Release);
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), first in line.
    pub fn prepend_any_outgoing<H: Handler<T>, T: 'static>(&self, handler: H) {
        let mut l = self.write_listeners();
        let mut v: Vec<BoxedHandler> = vec![boxed(handler)];
        v.extend(l.any_outgoing.iter().cloned());
        l.any_outgoing = v.into();
        self.0.has_any_outgoing.store(true, Ordering::Release);
    }

    /// Removes every outgoing catch-all handler.
    pub fn off_any_outgoing(&self) {
        self.write_listeners().any_outgoing = Arc::from([]);
        self.0.has_any_outgoing.store(false, Ordering::Release);
    }

    /// How many outgoing catch-all handlers are registered.
    pub fn listeners_any_outgoing(&self) -> usize {
        self.read_listeners().any_outgoing.len()
    }

    /// Adds a packet middleware (Node's `socket.use`).
    pub fn use_middleware<F>(&self, f: F)
    where
        F: Fn(&Socket, &str, &Args) -> Result<(), String> + Send + Sync + 'static,
    {
        let mut l = self.write_listeners();
        let mut v: Vec<PacketMiddleware> = l.middlewares.to_vec();
        v.push(Arc::new(f));
        l.middlewares = v.into();
    }

    /// Runs when the socket is about to leave; its rooms are still there.
    pub fn on_disconnecting<H: Handler<T>, T: 'static>(&self, handler: H) {
        self.write_listeners().disconnecting.push(boxed(handler));
    }

    /// Runs when the socket has left (the `DisconnectReason` extractor gives why).
    pub fn on_disconnect<H: Handler<T>, T: 'static>(&self, handler: H) {
        self.write_listeners().disconnect.push(boxed(handler));
    }

    /// Runs when a packet middleware refuses an event (Node's `error` event).
    pub fn on_error<F>(&self, f: F)
    where
        F: Fn(&Socket, &str) + Send + Sync + 'static,
    {
        self.write_listeners().error.push(Arc::new(f));
    }

    // ----- incoming -----

    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.data {
            PacketData::Event { name, args } => self.on_event(name, args, packet.id),
            PacketData::Ack(args) => self.on_ack(packet.id, args),
            PacketData::Disconnect => {
                self.close(DisconnectReason::ClientNamespaceDisconnect);
            }
            PacketData::Connect(_) | PacketData::ConnectError(_) => {}
        }
    }

    fn on_event(&self, name: EventName, args: Args, ack_id: Option<u64>) {
        let _span = self.0.span.enter();
        tracing::trace!(event = name.as_str(), "event");
        let (middlewares, any, handlers) = {
            let l = self.read_listeners();
            (
                l.middlewares.clone(),
                l.any.clone(),
                l.on.get(name.as_str()).cloned(),
            )
        };
        for mw in middlewares.iter() {
            if let Err(message) = mw(self, name.as_str(), &args) {
                let errors = self.read_listeners().error.clone();
                for e in errors {
                    e(self, &message);
                }
                return;
            }
        }
        let mut ctx = HandlerContext::new(self.clone(), args);
        ctx.event = Some(name);
        ctx.ack = ack_id.map(|id| (id, Default::default()));
        for h in any.iter() {
            handler::invoke(&**h, &mut ctx);
        }
        let Some(handlers) = handlers else {
            return;
        };
        let mut had_once = false;
        for l in handlers.iter() {
            had_once |= l.once;
            handler::invoke(&*l.handler, &mut ctx);
        }
        if had_once {
            let mut l = self.write_listeners();
            if let Some(event) = ctx.event.as_ref() {
                if let Some(list) = l.on.get_mut(event.as_str()) {
                    let kept: Vec<Listener> = list
                        .iter()
                        .filter(|x| !x.once)
                        .map(|x| Listener {
                            handler: x.handler.clone(),
                            once: false,
                        })
                        .collect();
                    *list = kept.into();
                }
            }
        }
    }

    fn on_ack(&self, id: Option<u64>, args: Args) {
        let Some(id) = id else {
            return;
        };
        let sender = self.lock_acks().remove(&id);
        match sender {
            Some(s) => s.send(args),
            None => tracing::debug!(socket = %self.id(), id, "ack for an unknown id"),
        }
    }

    pub(crate) fn run_connection_handlers(&self, handlers: &[BoxedHandler], auth: Args) {
        let _span = self.0.span.enter();
        let mut ctx = HandlerContext::new(self.clone(), auth);
        for h in handlers {
            handler::invoke(&**h, &mut ctx);
        }
    }

    pub(crate) fn set_connected(&self) {
        self.0.connected.store(true, Ordering::Release);
    }

    // ----- leaving -----

    /// Disconnects the socket: the client gets a DISCONNECT for this namespace ("server
    /// namespace disconnect"). With `close`, the whole connection closes, every namespace of it.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.0.client.disconnect_all();
            return;
        }
        if !self.connected() {
            return;
        }
        let packet = Packet::disconnect(self.0.ns.name_bytes().clone());
        let _ = self.send_packet(&packet, false);
        self.close(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Closes the whole connection of this socket with an engine reason.
    pub(crate) fn close_connection(&self, reason: DisconnectReason) {
        self.0.client.close(reason);
    }

    /// Ends the socket: `disconnecting` handlers (rooms still there), leave every room, forget
    /// pending acks, `disconnect` handlers.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.connected() || self.0.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let _span = self.0.span.enter();
        tracing::info!(socket = %self.id(), nsp = self.nsp(), %reason, "socket disconnected");
        let (disconnecting, disconnect) = {
            let l = self.read_listeners();
            (l.disconnecting.clone(), l.disconnect.clone())
        };
        let run = |handlers: &[BoxedHandler]| {
            let mut ctx = HandlerContext::new(self.clone(), Args::default());
            ctx.reason = Some(reason);
            for h in handlers {
                handler::invoke(&**h, &mut ctx);
            }
        };
        run(&disconnecting);
        if let Some(pid) = &self.0.pid {
            if crate::recovery::recoverable(reason) {
                self.0
                    .ns
                    .adapter()
                    .persist_session(crate::recovery::SessionState {
                        sid: self.id_arc(),
                        pid: pid.clone(),
                        rooms: self.rooms(),
                        data: self.data_value(),
                    });
            }
        }
        self.0.ns.adapter().del_all(self.id());
        self.0.ns.remove_socket(self.id());
        self.0.client.remove_socket(self.nsp());
        self.lock_acks().clear();
        self.0.connected.store(false, Ordering::Release);
        run(&disconnect);
        // Handlers registered on the socket may hold clones of it; drop them to break cycles.
        *self.write_listeners() = Listeners::default();
    }
}

/// Emit modifiers on one socket (from [`Socket::timeout`], [`Socket::volatile`]).
#[derive(Debug, Clone)]
pub struct SocketEmitter {
    socket: Socket,
    timeout: Option<Duration>,
    volatile: bool,
    compress: bool,
}

impl SocketEmitter {
    /// Sets how long `emit_with_ack` waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Drops the event if the transport cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Whether the event may be compressed (see [`Socket::compress`]).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Emits the event.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.socket
            .emit_with(event, data, self.volatile, self.compress)
    }

    /// Emits the event and waits for the acknowledgement (error "operation has timed out" after
    /// the timeout).
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.socket
            .emit_with_ack_timeout(event, data, self.timeout, self.volatile, self.compress)
            .await
    }
}

/// The bytes an encoded packet puts on the wire (its attachments included).
pub(crate) fn encoded_len(encoded: &Encoded) -> u64 {
    let first = match &encoded.first {
        EncodedFrame::Text(t) => t.len(),
        EncodedFrame::Binary(b) => b.len(),
    };
    (first + encoded.attachments.iter().map(|a| a.len()).sum::<usize>()) as u64
}

/// Queues a packet and its attachments on a connection, together.
pub(crate) fn queue_encoded(
    conn: &EngineSocket,
    encoded: Encoded,
    compress: bool,
) -> Result<(), SendError> {
    let n = 1 + encoded.attachments.len();
    conn.send_frames_with(frames_of(encoded), n, compress)
}

fn frames_of(encoded: Encoded) -> impl Iterator<Item = Frame> {
    let first = match encoded.first {
        EncodedFrame::Text(t) => Frame::Text(t),
        EncodedFrame::Binary(b) => Frame::Binary(b),
    };
    std::iter::once(first).chain(encoded.attachments.into_iter().map(Frame::Binary))
}
