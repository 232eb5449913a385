//! Handlers: async functions or closures whose arguments are extractors, called for connections,
//! events and disconnections.
//!
//! Events of one socket reach their handlers in arrival order, as in Node: a handler is polled
//! once right where the event is dispatched, so it runs up to its first `.await` before the next
//! event's handler starts; only if it is still waiting then does it continue as its own task, so
//! a slow handler never holds back the socket's later events.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::FutureExt;

use crate::extract::{FromContext, HandlerContext};

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A function that can handle Socket.IO events: an async fn or closure taking up to eight
/// [extractors](crate::extract) and returning `()`.
///
/// ```
/// use axum_socketio::{Ack, Data, Socket};
///
/// async fn sum(Data((a, b)): Data<(i64, i64)>, ack: Ack) {
///     ack.send(&(a + b)).ok();
/// }
///
/// fn register(socket: &Socket) {
///     socket.on("sum", sum);
///     socket.on("echo", |socket: Socket, Data(v): Data<serde_json::Value>| async move {
///         socket.emit("echo", &v).ok();
///     });
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Socket.IO handler",
    label = "not a handler",
    note = "a handler is an async fn or closure returning `()` whose arguments (at most 8) all implement `FromContext`: Socket, Io, Data<T>, TryData<T>, Args, Ack, Event, State<T>, Extension<T>, DisconnectReason"
)]
pub trait Handler<T>: Clone + Send + Sync + 'static {
    /// Extracts the arguments and starts the handler; `None` when an extractor failed.
    #[doc(hidden)]
    fn call(&self, ctx: &mut HandlerContext) -> Option<BoxFuture>;
}

macro_rules! impl_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<F, Fut, $($ty,)*> Handler<($($ty,)*)> for F
        where
            F: Fn($($ty,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
            $($ty: FromContext,)*
        {
            fn call(&self, ctx: &mut HandlerContext) -> Option<BoxFuture> {
                $(
                    let $ty = match $ty::from_context(ctx) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(
                                socket = %ctx.socket.id(),
                                event = ctx.event_name().unwrap_or("(connection or disconnection)"),
                                error = %e,
                                "handler not run: an extractor failed"
                            );
                            return None;
                        }
                    };
                )*
                Some(Box::pin((self)($($ty,)*)))
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// A handler with its extractor types erased, as sockets and namespaces store them.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    fn call(&self, ctx: &mut HandlerContext) -> Option<BoxFuture>;
}

struct Erased<H, T> {
    handler: H,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<H: Handler<T>, T: 'static> ErasedHandler for Erased<H, T> {
    fn call(&self, ctx: &mut HandlerContext) -> Option<BoxFuture> {
        self.handler.call(ctx)
    }
}

pub(crate) type BoxedHandler = Arc<dyn ErasedHandler>;

pub(crate) fn boxed<H: Handler<T>, T: 'static>(handler: H) -> BoxedHandler {
    Arc::new(Erased {
        handler,
        _marker: std::marker::PhantomData,
    })
}

/// Runs a handler: extract, poll once here, and hand the rest to a task only if it waits.
pub(crate) fn invoke(handler: &dyn ErasedHandler, ctx: &mut HandlerContext) {
    if let Some(fut) = handler.call(ctx) {
        run_now(fut);
    }
}

/// Polls `fut` once on the caller's stack; if it is not done, spawns it. A panic is caught and
/// logged either way, so a faulty handler never takes its socket or the server down.
pub(crate) fn run_now(mut fut: BoxFuture) {
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            // A freshly spawned task is always polled, so whatever the first poll registered with
            // the no-op waker is registered again with the task's own.
            let task = async move {
                if AssertUnwindSafe(fut).catch_unwind().await.is_err() {
                    tracing::error!("a Socket.IO handler panicked");
                }
            };
            tokio::spawn(tracing::Instrument::instrument(
                task,
                tracing::Span::current(),
            ));
        }
        Err(_) => tracing::error!("a Socket.IO handler panicked"),
    }
}
