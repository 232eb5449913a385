//! Socket.IO packets and parsers (protocol v5, and the packet layer of the legacy v4).
//!
//! Pure code: bytes in, packets out, no I/O. The engine hands every Engine.IO message of a
//! connection to a [`Parser`] together with that connection's [`DecodeState`]; the parser returns
//! whole [`Packet`]s (a binary packet is complete only once its attachments have arrived). Going
//! out, [`Parser::encode`] turns a packet into frames ready for the transport.
//!
//! Event and acknowledgement arguments are an [`Args`], which keeps received JSON as text until a
//! handler asks for typed values, so relaying arguments costs a copy of their text and nothing
//! more. Any [`ParseError`] means the connection must be closed with the reason "parse error".

#![warn(missing_docs)]

mod args;
mod de;
mod error;
mod json;
mod json_scan;
mod msgpack;
mod packet;
mod placeholder;
mod ser;
mod tree_de;

use std::fmt;

use bytes::Bytes;
pub use tokio_tungstenite::tungstenite::Utf8Bytes;

pub use args::Args;
pub use error::{ArgsError, ParseError};
pub use json::{DecodeState, DefaultParser};
pub use msgpack::MsgpackParser;
pub use packet::{EventName, Packet, PacketData, PacketType, RESERVED_EVENTS};

/// Turns Engine.IO messages into Socket.IO packets and back.
///
/// Object safe, so the server holds a `Box<dyn Parser>` / `Arc<dyn Parser>` chosen at build time:
/// [`DefaultParser`] (JSON plus binary attachments, Node's default) or [`MsgpackParser`]
/// (`socket.io-msgpack-parser`), whose packets are single binary messages.
pub trait Parser: Send + Sync + fmt::Debug + 'static {
    /// Decodes a text message. `text` is the Engine.IO message data without its type digit `4`.
    /// Returns `None` when the packet waits for binary attachments (kept in `state`).
    fn decode_text(
        &self,
        state: &mut DecodeState,
        text: Utf8Bytes,
    ) -> Result<Option<Packet>, ParseError>;

    /// Decodes a binary message: an attachment of the pending packet for the default parser, a
    /// whole packet for a binary parser. Returns `None` while more attachments are due.
    fn decode_binary(
        &self,
        state: &mut DecodeState,
        data: Bytes,
    ) -> Result<Option<Packet>, ParseError>;

    /// Encodes a packet. Never fails: every [`Packet`] can be written.
    fn encode(&self, packet: &Packet) -> Encoded;
}

/// A packet ready for the transport: a first frame, then one binary frame per attachment.
///
/// A text first frame already STARTS WITH THE ENGINE.IO MESSAGE TYPE `4` (the event `2["foo"]` is
/// the text `42["foo"]`), so the engine sends it as is: a broadcast is encoded once and the same
/// bytes are cloned (a reference count, no copy) into every recipient's transport. Attachments
/// are raw bytes; the engine adds its own framing (a binary websocket frame, or `b<base64>` on
/// polling). A binary first frame (msgpack parsers) is the message data without any Engine.IO
/// type, as binary messages have none in Engine.IO v4.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The packet itself.
    pub first: EncodedFrame,
    /// Binary attachments to send right after `first`, in order.
    pub attachments: Vec<Bytes>,
}

/// One frame of an [`Encoded`] packet.
#[derive(Debug, Clone)]
pub enum EncodedFrame {
    /// A text message, Engine.IO type `4` included.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Encoded {
    /// The text of the first frame, when it is text (handy in tests and logs).
    pub fn text(&self) -> Option<&str> {
        match &self.first {
            EncodedFrame::Text(text) => Some(text.as_str()),
            EncodedFrame::Binary(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_is_object_safe() {
        let parser: Box<dyn Parser> = Box::new(DefaultParser::new());
        let encoded = parser.encode(&Packet::disconnect("/"));
        assert_eq!(encoded.text(), Some("41"));
        let mut state = DecodeState::new();
        let packet = parser.decode_text(&mut state, Utf8Bytes::from_static("1"));
        assert!(matches!(
            packet,
            Ok(Some(Packet {
                data: PacketData::Disconnect,
                ..
            }))
        ));
    }

    #[test]
    fn types_cross_threads() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Args>();
        check::<Packet>();
        check::<Encoded>();
        check::<DefaultParser>();
        fn send<T: Send + 'static>() {}
        send::<DecodeState>();
    }

    #[test]
    fn idle_state_is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<DecodeState>(),
            std::mem::size_of::<usize>()
        );
    }
}
