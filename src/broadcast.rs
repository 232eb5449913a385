//! Broadcasts: a selection of sockets (rooms, exceptions, flags) and what can be done to all of
//! them at once. Each modifier returns a new operator, as in Node.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ack::AckError;
use crate::adapter::{AdapterError, BroadcastOptions, Room, SocketInfo};
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::protocol::{Args, Packet};
use crate::socket::{EmitError, check_event};

/// Anything that names one or more rooms: `"a"`, `String`, `["a", "b"]`, `vec![…]`, a socket id.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl IntoRooms for Arc<str> {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}

/// A broadcast that waited for acknowledgements and did not get them all.
#[derive(Debug, thiserror::Error)]
#[error("{error} ({} responses received)", responses.len())]
pub struct PartialAcks<R: fmt::Debug> {
    /// Why it stopped (a timeout).
    pub error: AckError,
    /// The answers that did arrive.
    pub responses: Vec<R>,
}

/// A selection of sockets: every socket of a namespace, narrowed by rooms and exceptions, with
/// flags (Node's `BroadcastOperator`).
///
/// ```
/// # async fn f(io: axum_socketio::Io) {
/// use std::time::Duration;
///
/// io.to(["room-1", "room-2"]).except("banned").emit("news", &"hello").ok();
/// io.local().volatile().emit("tick", &1).ok();
/// // Every answer, or the partial answers with the error at the timeout.
/// match io.timeout(Duration::from_secs(2)).emit_with_ack::<_, bool>("ready?", &()).await {
///     Ok(answers) => println!("{} ready", answers.len()),
///     Err(partial) => println!("{} answered before: {}", partial.responses.len(), partial.error),
/// }
/// let sockets = io.in_("room-1").fetch_sockets().await.unwrap_or_default();
/// for s in sockets {
///     s.join("everyone-from-room-1");
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    opts: BroadcastOptions,
}

impl fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.ns.name())
            .field("opts", &self.opts)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace, opts: BroadcastOptions) -> Self {
        BroadcastOperator { ns, opts }
    }

    /// Also targets the sockets in `rooms`.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// Same as [`to`](Self::to) (Node's `in`).
    pub fn in_(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms`.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.except.contains(&room) {
                self.opts.except.push(room);
            }
        }
        self
    }

    /// Delivers on this node only.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// Drops the packet for clients that cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Sets the compress flag.
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.flags.compress = compress;
        self
    }

    /// Sets how long [`emit_with_ack`](Self::emit_with_ack) waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// The selection and flags.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits to every selected socket. A broadcast never fails because of one recipient: a
    /// recipient whose outbox is full is disconnected (a slow consumer).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        check_event(event)?;
        let args = Args::from_serialize(data).map_err(EmitError::Serialize)?;
        self.emit_args(event, args);
        Ok(())
    }

    /// Emits a raw argument list (for example one received from a client).
    pub fn emit_args(&self, event: &str, args: Args) {
        let packet = Packet::event(self.ns.name_bytes().clone(), event, args);
        self.ns.adapter().broadcast(packet, &self.opts);
    }

    /// Emits `message` (Node's `send`/`write`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Emits and waits for every reached client's acknowledgement, each deserialized into `R`.
    /// Gives the partial answers with the error when the timeout ends first.
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<Vec<R>, PartialAcks<R>>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned + fmt::Debug,
    {
        let fail = |error: AckError| PartialAcks {
            error,
            responses: Vec::new(),
        };
        check_event(event).map_err(|e| fail(e.into()))?;
        let args = Args::from_serialize(data).map_err(|e| fail(EmitError::Serialize(e).into()))?;
        let packet = Packet::event(self.ns.name_bytes().clone(), event, args);
        let mut stream = self.ns.adapter().broadcast_with_ack(packet, &self.opts);
        let deadline = self
            .opts
            .flags
            .timeout
            .map(|d| tokio::time::Instant::now() + d);
        let mut expected = stream.expected;
        let mut responses = Vec::new();
        let mut answered = 0;
        // An answer of the wrong shape still counts as an answer; the call then fails with it.
        let mut bad_answer: Option<crate::protocol::ArgsError> = None;
        let mut counts_open = stream.more_expected.is_some();
        let finish = |responses: Vec<R>, bad: Option<crate::protocol::ArgsError>| match bad {
            None => Ok(responses),
            Some(e) => Err(PartialAcks {
                error: AckError::Data(e),
                responses,
            }),
        };
        loop {
            if answered >= expected && !counts_open {
                return finish(responses, bad_answer);
            }
            let next = async {
                tokio::select! {
                    a = stream.answers.recv() => Some(Ok(a)),
                    c = async {
                        match stream.more_expected.as_mut() {
                            Some(rx) => rx.recv().await,
                            None => std::future::pending().await,
                        }
                    }, if counts_open => Some(Err(c)),
                }
            };
            let got = match deadline {
                Some(d) => tokio::time::timeout_at(d, next).await.unwrap_or_default(),
                None => next.await,
            };
            match got {
                Some(Ok(Some(args))) => {
                    answered += 1;
                    match args.deserialize::<R>() {
                        Ok(r) => responses.push(r),
                        Err(e) => {
                            tracing::debug!(error = %e, "broadcast ack does not deserialize");
                            bad_answer.get_or_insert(e);
                        }
                    }
                }
                Some(Ok(None)) => {
                    // Every recipient is gone: nobody else will answer.
                    if answered >= expected {
                        return finish(responses, bad_answer);
                    }
                    return Err(PartialAcks {
                        error: AckError::Disconnected,
                        responses,
                    });
                }
                Some(Err(Some(Ok(more)))) => expected += more,
                Some(Err(Some(Err(e)))) => {
                    // The cluster is out of reach: the other nodes' answers will not come.
                    return Err(PartialAcks {
                        error: AckError::Adapter(e),
                        responses,
                    });
                }
                Some(Err(None)) => counts_open = false,
                None => {
                    self.ns.io().counters().ack_timed_out();
                    return Err(PartialAcks {
                        error: AckError::Timeout,
                        responses,
                    });
                }
            }
        }
    }

    /// Describes the selected sockets, cluster-wide.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let infos = if self.opts.flags.local {
            self.ns.socket_infos(&self.opts)
        } else {
            self.ns.adapter().fetch_sockets(&self.opts).await?
        };
        Ok(infos
            .into_iter()
            .map(|info| RemoteSocket {
                ns: self.ns.clone(),
                info,
            })
            .collect())
    }

    /// Makes the selected sockets join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.ns
            .adapter()
            .add_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Makes the selected sockets leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.ns
            .adapter()
            .del_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Disconnects the selected sockets; with `close`, their whole connections.
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns.adapter().disconnect_sockets(&self.opts, close);
    }
}

/// A socket as [`fetch_sockets`](BroadcastOperator::fetch_sockets) returns it, on this node or
/// another: its id, handshake, rooms and data, and what can be done to it from anywhere.
#[derive(Clone)]
pub struct RemoteSocket {
    ns: Namespace,
    info: SocketInfo,
}

impl fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.info.id)
            .field("rooms", &self.info.rooms)
            .finish()
    }
}

impl RemoteSocket {
    /// The socket id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Its handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.info.handshake
    }

    /// Its rooms.
    pub fn rooms(&self) -> &[Room] {
        &self.info.rooms
    }

    /// Its `data`, deserialized.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.info.data).ok()
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone(), BroadcastOptions::default())
            .to(self.info.id.clone())
    }

    /// Emits to this socket, wherever it is.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.operator().emit(event, data)
    }

    /// Emits with a timeout on the acknowledgement.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Makes it join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.operator().sockets_join(rooms)
    }

    /// Makes it leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.operator().sockets_leave(rooms)
    }

    /// Disconnects it; with `close`, its whole connection.
    pub fn disconnect(&self, close: bool) {
        self.operator().disconnect_sockets(close)
    }
}
