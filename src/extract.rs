//! Extractors: what a handler's arguments can be. Each reads one thing from the event (or the
//! connection, or the disconnection) being handled.
//!
//! | extractor | gives |
//! |---|---|
//! | [`Socket`] | the socket the event came from |
//! | [`Io`] | the server handle |
//! | [`Data<T>`] | the event's arguments (for connection handlers: the `auth` object), deserialized |
//! | [`TryData<T>`] | the same, with the error handed to the handler instead of skipping it |
//! | [`Args`] | the raw argument list, binary included, re-emittable as is |
//! | [`Ack`] | the acknowledgement callback (a no-op when the client asked for none) |
//! | [`Event`] | the event name |
//! | [`State<T>`] | a value given to the builder with `with_state` |
//! | [`Extension<T>`] | a value from the extensions of the handshake request |
//! | [`DisconnectReason`] | why the socket left (disconnect handlers) |

use serde::de::DeserializeOwned;

use crate::ack::Ack;
use crate::io::Io;
use crate::protocol::{Args, ArgsError, EventName};
use crate::socket::{DisconnectReason, Socket};

/// What extractors draw from: the socket, and the event, connection or disconnection at hand.
pub struct HandlerContext {
    pub(crate) socket: Socket,
    pub(crate) event: Option<EventName>,
    pub(crate) args: Args,
    pub(crate) ack: Option<(u64, std::sync::Arc<std::sync::atomic::AtomicBool>)>,
    pub(crate) reason: Option<DisconnectReason>,
}

impl HandlerContext {
    pub(crate) fn new(socket: Socket, args: Args) -> Self {
        HandlerContext {
            socket,
            event: None,
            args,
            ack: None,
            reason: None,
        }
    }

    /// The socket being handled.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The event name, for event handlers.
    pub fn event_name(&self) -> Option<&str> {
        self.event.as_ref().map(|e| e.as_str())
    }

    /// The arguments (the `auth` object for connection handlers).
    pub fn args(&self) -> &Args {
        &self.args
    }
}

/// Why an extractor could not produce its value; the handler is then not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The arguments do not deserialize into the requested type.
    #[error("bad event data: {0}")]
    Data(#[from] ArgsError),
    /// `State<T>` was asked for a type the builder was not given.
    #[error("no state of type {0} was given to the builder")]
    MissingState(&'static str),
    /// `Extension<T>` was asked for a type the handshake request does not carry.
    #[error("the handshake request has no extension of type {0}")]
    MissingExtension(&'static str),
    /// `DisconnectReason` outside a disconnect handler.
    #[error("no disconnect reason outside a disconnect handler")]
    NoReason,
    /// `Event` outside an event handler.
    #[error("no event name outside an event handler")]
    NoEvent,
    /// A custom extractor's own failure.
    #[error("{0}")]
    Custom(String),
}

/// Something a handler can take as an argument.
pub trait FromContext: Sized {
    /// Produces the value from the context, or says why it cannot.
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError>;
}

impl FromContext for Socket {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(ctx.socket.clone())
    }
}

impl FromContext for Io {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(ctx.socket.io())
    }
}

/// The event's arguments deserialized into `T`: a tuple reads them positionally, any other type
/// reads the first one; extra arguments are ignored, a missing one fails unless it is an
/// `Option`. In connection handlers, the client's `auth` object.
#[derive(Debug, Clone)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> FromContext for Data<T> {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(Data(ctx.args.deserialize()?))
    }
}

/// Like [`Data`], but the handler runs either way and gets the error.
#[derive(Debug)]
pub struct TryData<T>(pub Result<T, ArgsError>);

impl<T: DeserializeOwned> FromContext for TryData<T> {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(TryData(ctx.args.deserialize()))
    }
}

impl FromContext for Args {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(ctx.args.clone())
    }
}

impl FromContext for Ack {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        Ok(Ack::new(ctx.socket.clone(), ctx.ack.clone()))
    }
}

/// The name of the event being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event(pub String);

impl FromContext for Event {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        ctx.event
            .as_ref()
            .map(|e| Event(e.as_str().to_owned()))
            .ok_or(ExtractError::NoEvent)
    }
}

/// A value given to the builder with `with_state`, cloned for each call.
#[derive(Debug, Clone)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext for State<T> {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        ctx.socket
            .io()
            .state::<T>()
            .map(State)
            .ok_or(ExtractError::MissingState(std::any::type_name::<T>()))
    }
}

/// A value from the extensions of the handshake request, so that an authentication layer in
/// front of the Socket.IO layer can hand over the user.
#[derive(Debug, Clone)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext for Extension<T> {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        ctx.socket
            .handshake()
            .extensions()
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or(ExtractError::MissingExtension(std::any::type_name::<T>()))
    }
}

impl FromContext for DisconnectReason {
    fn from_context(ctx: &mut HandlerContext) -> Result<Self, ExtractError> {
        ctx.reason.ok_or(ExtractError::NoReason)
    }
}
