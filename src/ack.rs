//! Acknowledgements: the [`Ack`] a handler answers with, and the errors of waiting for one.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::protocol::{Args, ArgsError, Packet};
use crate::socket::{EmitError, Socket};

/// Why waiting for an acknowledgement failed.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// No answer within the timeout (Node's "operation has timed out").
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("the socket disconnected before answering")]
    Disconnected,
    /// The answer does not deserialize into the requested type.
    #[error("bad acknowledgement data: {0}")]
    Data(#[from] ArgsError),
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// A cluster adapter could not reach the other nodes (a broadcast with acknowledgements
    /// while Redis is down): their answers will not come.
    #[error(transparent)]
    Adapter(#[from] crate::adapter::AdapterError),
}

/// Where an answer goes: one waiting `emit_with_ack`, or the collector of a broadcast.
pub(crate) enum AckSender {
    Single(tokio::sync::oneshot::Sender<Args>),
    Broadcast(tokio::sync::mpsc::UnboundedSender<Args>),
}

impl AckSender {
    pub(crate) fn send(self, args: Args) {
        match self {
            AckSender::Single(tx) => {
                let _ = tx.send(args);
            }
            AckSender::Broadcast(tx) => {
                let _ = tx.send(args);
            }
        }
    }
}

/// Why an acknowledgement could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum AckSendError {
    /// The client did not ask for an acknowledgement: nothing was sent.
    #[error("the client did not ask for an acknowledgement")]
    NotRequested,
    /// Another handler of the same event answered first: nothing was sent.
    #[error("the event was already acknowledged")]
    AlreadySent,
    /// The answer could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// The acknowledgement callback of an event.
///
/// ```
/// use axum_socketio::{Ack, Data};
///
/// // socket.on("sum", sum): the client calls `socket.emit("sum", 1, 2, (total) => …)`.
/// async fn sum(Data((a, b)): Data<(i64, i64)>, ack: Ack) {
///     ack.send(&(a + b)).ok();
/// }
/// ```
///
/// Always extracts; when the client asked for none,
/// [`send`](Ack::send) does nothing and says so. Every handler of the event (catch-all ones
/// included) gets one, and they share it as Node's listeners share the callback: the first
/// `send` answers, later ones do nothing and say so.
pub struct Ack {
    socket: Socket,
    id: Option<u64>,
    sent: Option<Arc<AtomicBool>>,
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack").field("id", &self.id).finish()
    }
}

impl Ack {
    pub(crate) fn new(socket: Socket, ack: Option<(u64, Arc<AtomicBool>)>) -> Self {
        let (id, sent) = match ack {
            Some((id, sent)) => (Some(id), Some(sent)),
            None => (None, None),
        };
        Ack { socket, id, sent }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn requested(&self) -> bool {
        self.id.is_some()
    }

    /// Answers with `data` (a tuple is several arguments, `()` none, anything else one).
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), AckSendError> {
        let args = Args::from_serialize(data).map_err(EmitError::Serialize)?;
        self.send_args(args)
    }

    /// Answers with a raw argument list (for example the event's own `Args`).
    pub fn send_args(self, args: Args) -> Result<(), AckSendError> {
        let Some(id) = self.id else {
            tracing::debug!(socket = %self.socket.id(), "ack not sent: the client asked for none");
            return Err(AckSendError::NotRequested);
        };
        if self
            .sent
            .as_ref()
            .is_some_and(|s| s.swap(true, Ordering::AcqRel))
        {
            tracing::debug!(socket = %self.socket.id(), id, "ack not sent: already answered");
            return Err(AckSendError::AlreadySent);
        }
        let packet = Packet::ack(self.socket.ns().name_bytes().clone(), id, args);
        self.socket.send_packet(&packet, false)?;
        Ok(())
    }
}
