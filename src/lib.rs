//! # axum-socketio
//!
//! A Socket.IO v4 server for Rust that drops into any axum app as one tower layer. It speaks the
//! wire protocol of the Node `socket.io` server (Engine.IO v4, Socket.IO v5), so every client
//! that works with Node works with it.
//!
//! ```no_run
//! use axum::{routing::post, Router};
//! use axum_socketio::{Ack, Data, Io, Socket, SocketIoLayer};
//!
//! # async fn run() {
//! let layer = SocketIoLayer::new();
//! let io = layer.io();
//! io.on_connection(|socket: Socket| async move {
//!     socket.join("lobby");
//!     socket.on("chat", |socket: Socket, Data(msg): Data<String>| async move {
//!         socket.to("lobby").emit("chat", &msg).ok();
//!     });
//!     socket.on("sum", |Data((a, b)): Data<(i64, i64)>, ack: Ack| async move {
//!         ack.send(&(a + b)).ok();
//!     });
//! });
//! let app = Router::new()
//!     .route("/notify", post(|io: Io| async move { io.emit("tick", &1).ok(); }))
//!     .layer(layer);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! The layers of the code, each knowing only the one below: [`layer`](SocketIoLayer) →
//! [`engine`] (Engine.IO) → [`protocol`] (packets and parsers) → the server ([`Io`],
//! [`Namespace`], [`Socket`], [`BroadcastOperator`], handlers and extractors) → [`adapter`].

#![warn(missing_docs)]

pub mod adapter;
pub mod engine;
pub mod extract;
pub mod protocol;

mod ack;
mod broadcast;
mod client;
mod handler;
mod handshake;
mod io;
mod layer;
mod legacy;
mod metrics;
mod namespace;
mod recovery;
mod serve_client;
mod socket;

pub use ack::{Ack, AckError, AckSendError};
pub use broadcast::{BroadcastOperator, IntoRooms, PartialAcks, RemoteSocket};
pub use extract::{Data, Event, Extension, FromContext, HandlerContext, State, TryData};
pub use handler::Handler;
pub use handshake::Handshake;
pub use io::Io;
pub use layer::{SocketIoBuilder, SocketIoLayer, SocketIoService};
pub use metrics::Metrics;
pub use namespace::{ConnectError, Namespace, ParentNamespace};
pub use protocol::Args;
pub use recovery::{MAX_STORED_PACKETS, RecoveryConfig, Restored, SessionState};
pub use socket::{DisconnectReason, EmitError, PacketMiddleware, Socket, SocketEmitter};
