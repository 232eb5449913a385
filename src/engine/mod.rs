//! Engine.IO v4: sessions, handshake, heartbeat, long-polling, websocket and the upgrade between
//! them; Engine.IO v3 (legacy clients) with `allow_eio3`; HTTP compression of polling bodies.
//!
//! The engine knows nothing of Socket.IO. It hands whole messages (text or binary) to an
//! [`EngineHandler`] and takes messages to send through an [`EngineSocket`]. It can be served on
//! its own as a raw Engine.IO endpoint with [`EngineIoLayer`]:
//!
//! ```no_run
//! use axum::Router;
//! use axum_socketio::engine::{DisconnectReason, EngineHandler, EngineIoLayer, EngineSocket, Message};
//!
//! /// Sends every message back to its sender.
//! struct Echo;
//!
//! impl EngineHandler for Echo {
//!     type Connection = ();
//!     fn on_open(&self, _socket: &EngineSocket, _req: &http::request::Parts) {}
//!     fn on_message(&self, _conn: &(), socket: &EngineSocket, msg: Message) {
//!         socket.send(msg).ok();
//!     }
//!     fn on_close(&self, _conn: &(), _socket: &EngineSocket, _reason: DisconnectReason) {}
//! }
//!
//! # async fn run() {
//! let app = Router::new().layer(EngineIoLayer::new(Echo));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

mod compress;
mod config;
mod error;
mod layer;
pub(crate) mod packet;
mod payload_v3;
mod polling;
mod server;
pub(crate) mod sid;
mod socket;
mod v3;
mod websocket;

use std::fmt;

pub use compress::HttpCompression;
pub use config::{CookieOptions, EngineConfig, EngineIoBuilder};
pub use error::SendError;
pub use layer::{EngineIoLayer, EngineIoService};
pub use socket::EngineSocket;
pub use tokio_tungstenite::tungstenite::Utf8Bytes;

pub(crate) use layer::{DynEngine, Route};
pub(crate) use payload_v3::form_decode;
pub(crate) use server::{Engine, percent_decode};
pub(crate) use sid::generate as generate_id;
pub(crate) use socket::Frame;
#[cfg(test)]
pub(crate) use v3::test_socket;

/// A whole Engine.IO message, as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(bytes::Bytes),
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<bytes::Bytes> for Message {
    fn from(b: bytes::Bytes) -> Self {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}

/// The transports an Engine.IO session can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

impl Transport {
    /// The name used on the wire (`polling`, `websocket`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::Websocket),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an Engine.IO session ended, with the strings the Node server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The connection broke, or the client broke a rule of the transport (overlapping
    /// requests, an oversized message, a ping sent the wrong way, …).
    TransportError,
    /// The client closed the connection (close packet, websocket closed).
    TransportClose,
    /// The server closed the session ([`EngineSocket::close`]).
    ForcedClose,
    /// The client did not answer a ping within `ping_timeout`.
    PingTimeout,
    /// The client sent something that is not an Engine.IO packet.
    ParseError,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl DisconnectReason {
    /// The reason as the Node server names it (`"transport close"`, `"ping timeout"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an application plugs into the engine: it learns of new sessions, their messages and
/// their end.
///
/// Calls for one session never overlap in time in a way that reorders its messages: messages are
/// handed over in the order the client sent them. `on_message` runs on the connection's own task,
/// so it should not block; spawn work that waits.
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-connection state, created on open and handed to every later call for that session.
    type Connection: Send + Sync + 'static;

    /// A session opened. `req` is the handshake request (headers, URI, extensions).
    fn on_open(&self, socket: &EngineSocket, req: &http::request::Parts) -> Self::Connection;

    /// A message arrived on the session.
    fn on_message(&self, conn: &Self::Connection, socket: &EngineSocket, msg: Message);

    /// The session ended; called exactly once per opened session.
    fn on_close(&self, conn: &Self::Connection, socket: &EngineSocket, reason: DisconnectReason);
}

/// `span`, or no span at all when no subscriber wants it. A disabled span still costs on every
/// poll of the task it instruments (tracing's `log` feature, which tower enables, checks the
/// `log` crate's level at each enter and exit): a connection task is polled for every message.
pub(crate) fn live_span(span: tracing::Span) -> tracing::Span {
    if span.is_disabled() {
        tracing::Span::none()
    } else {
        span
    }
}
