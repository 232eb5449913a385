//! Errors of the protocol layer.
//!
//! Two families, because the caller reacts differently: a [`ParseError`] means the peer broke the
//! protocol and the whole connection is closed with the reason "parse error", whereas an
//! [`ArgsError`] only concerns one event whose arguments do not fit what a handler asked for (or
//! what the server tried to send), and the connection stays up.

use std::fmt;

/// A Socket.IO packet (or one of its binary attachments) could not be decoded.
///
/// Every variant is fatal for the connection that sent it: the caller closes the connection with
/// the reason "parse error", as the Node server does. The messages follow the Node decoder's
/// wording where it has one, so logs read the same on both servers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The message was empty, so it has no packet type.
    #[error("empty packet")]
    Empty,
    /// The first character is not one of the packet types `0`..=`6`.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// The `<n>-` header of a binary packet is malformed or zero, or a placeholder points to an
    /// attachment that does not exist.
    #[error("illegal attachments")]
    IllegalAttachments,
    /// A binary packet announces more attachments than the parser accepts.
    #[error("too many attachments: {count} (at most {max})")]
    TooManyAttachments {
        /// How many the packet announced.
        count: usize,
        /// The parser's limit.
        max: usize,
    },
    /// The acknowledgement id does not fit in 64 bits.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The JSON payload is malformed, has trailing data, or does not have the shape the packet type
    /// requires (object for CONNECT, non-empty array with a valid event name for EVENT, ...).
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// A binary message arrived while no binary packet was waiting for attachments.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedBinary,
    /// A text message arrived while a binary packet was still waiting for attachments.
    #[error("got plaintext data when reconstructing a packet")]
    UnexpectedText,
}

impl ParseError {
    pub(crate) fn payload(reason: impl fmt::Display) -> Self {
        ParseError::InvalidPayload(reason.to_string())
    }
}

/// The arguments of an event or acknowledgement could not be converted from or into Rust values.
///
/// Unlike [`ParseError`] this never closes a connection: the wire data was valid Socket.IO, it just
/// does not match the type a handler asked for (or the value the server wants to send cannot be
/// expressed as JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// The client sent fewer arguments than the target type needs and the one at `index` is not an
    /// `Option` (an `Option` would have become `None`).
    #[error("missing argument at index {index}")]
    Missing {
        /// Zero-based position of the first missing argument.
        index: usize,
    },
    /// The argument at `index` exists but does not deserialize into the requested type.
    #[error("invalid argument at index {index}: {message}")]
    Invalid {
        /// Zero-based position of the argument.
        index: usize,
        /// The deserializer's explanation.
        message: String,
    },
    /// The value could not be serialized into arguments (for example a map whose keys are not
    /// strings, or a `Serialize` impl that failed).
    #[error("cannot serialize arguments: {0}")]
    Serialize(String),
}

/// Error type of the private deserializers over trees; converted to [`ArgsError`] at the top.
#[derive(Debug)]
pub(crate) struct DeError(pub(crate) String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl serde::de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_node_wording() {
        assert_eq!(
            ParseError::UnexpectedBinary.to_string(),
            "got binary data when not reconstructing a packet"
        );
        assert_eq!(
            ParseError::UnexpectedText.to_string(),
            "got plaintext data when reconstructing a packet"
        );
        assert_eq!(
            ParseError::IllegalAttachments.to_string(),
            "illegal attachments"
        );
        assert!(
            ParseError::payload("x")
                .to_string()
                .starts_with("invalid payload")
        );
        assert_eq!(
            ArgsError::Missing { index: 2 }.to_string(),
            "missing argument at index 2"
        );
    }
}
