//! The Socket.IO packet model, independent of any wire encoding.
//!
//! Binary is not a packet type here: an [`PacketData::Event`] or [`PacketData::Ack`] whose
//! [`Args`] hold binary is written as BINARY_EVENT / BINARY_ACK by the encoder, and a decoded
//! BINARY_EVENT comes back as a plain `Event`. Handlers therefore never care how data travelled.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::args::Args;

/// Event names a client may not send: they have a meaning of their own on one side or the other,
/// so the Node decoder rejects an EVENT using one of them, and so do we.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The namespace every client joins when it names none.
pub(crate) const ROOT_NSP: Utf8Bytes = Utf8Bytes::from_static("/");

/// The packet type digit of the Socket.IO v5 protocol.
///
/// Kept public because logs, metrics and the legacy (v4) protocol want to talk about types, even
/// though [`PacketData`] already implies the type of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// Join a namespace (client), or the server's acceptance.
    Connect = 0,
    /// Leave a namespace.
    Disconnect = 1,
    /// An event without binary.
    Event = 2,
    /// An acknowledgement without binary.
    Ack = 3,
    /// The server refused the namespace (ERROR in the v4 protocol).
    ConnectError = 4,
    /// An event followed by binary attachments.
    BinaryEvent = 5,
    /// An acknowledgement followed by binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit, so decoders share one table.
    pub fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The ASCII digit written on the wire.
    pub fn as_digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// One Socket.IO packet: which namespace, the optional acknowledgement id, and what it carries.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Namespace, `/` by default. A `Utf8Bytes` so a decoded namespace is a slice of the received
    /// message and `/` is static: building or decoding a packet for the main namespace never
    /// allocates. Never contains a comma when decoded (the comma ends it on the wire); a
    /// legacy (v4) client may append its query (`/admin?token=abc`), which the server splits off.
    pub nsp: Utf8Bytes,
    /// Acknowledgement id: on an EVENT, the sender wants an ACK with this id back; on an ACK, the
    /// EVENT it answers.
    pub id: Option<u64>,
    /// What the packet carries.
    pub data: PacketData,
}

/// What a packet carries, one variant per packet kind (binary variants folded in, see the module
/// documentation).
#[derive(Debug, Clone)]
pub enum PacketData {
    /// CONNECT. From a client: its auth object, if any (always a JSON object). From the server:
    /// `{"sid": …}` plus `"pid"` with connection state recovery; the legacy protocol sends none.
    Connect(Option<Value>),
    /// DISCONNECT, without payload.
    Disconnect,
    /// EVENT or BINARY_EVENT.
    Event {
        /// First item of the array.
        name: EventName,
        /// The remaining items.
        args: Args,
    },
    /// ACK or BINARY_ACK: the acknowledgement's arguments.
    Ack(Args),
    /// CONNECT_ERROR (ERROR in the legacy protocol): `{"message": …, "data": …}`, or a bare
    /// string from old peers.
    ConnectError(Value),
}

impl Packet {
    /// A CONNECT packet, as a client sends it. Mostly for tests and the legacy protocol's
    /// automatic connection to `/` (`auth` is `None` there).
    pub fn connect(nsp: impl Into<Utf8Bytes>, auth: Option<Value>) -> Packet {
        Packet {
            nsp: nsp.into(),
            id: None,
            data: PacketData::Connect(auth),
        }
    }

    /// The server's acceptance of a namespace: `{"sid":…}`, plus `"pid"` when connection state
    /// recovery gave the socket a private id.
    pub fn connect_reply(nsp: impl Into<Utf8Bytes>, sid: &str, pid: Option<&str>) -> Packet {
        let mut map = Map::new();
        map.insert("sid".to_owned(), Value::String(sid.to_owned()));
        if let Some(pid) = pid {
            map.insert("pid".to_owned(), Value::String(pid.to_owned()));
        }
        Packet::connect(nsp, Some(Value::Object(map)))
    }

    /// The server's refusal: `{"message":…}` plus `"data"` when a middleware attached some,
    /// exactly as Node writes it (the key is absent, not null, without data).
    pub fn connect_error(nsp: impl Into<Utf8Bytes>, message: &str, data: Option<Value>) -> Packet {
        let mut map = Map::new();
        map.insert("message".to_owned(), Value::String(message.to_owned()));
        if let Some(data) = data {
            map.insert("data".to_owned(), data);
        }
        Packet {
            nsp: nsp.into(),
            id: None,
            data: PacketData::ConnectError(Value::Object(map)),
        }
    }

    /// A DISCONNECT for one namespace.
    pub fn disconnect(nsp: impl Into<Utf8Bytes>) -> Packet {
        Packet {
            nsp: nsp.into(),
            id: None,
            data: PacketData::Disconnect,
        }
    }

    /// An EVENT without acknowledgement id (add one with [`Packet::with_id`]).
    pub fn event(nsp: impl Into<Utf8Bytes>, name: impl Into<EventName>, args: Args) -> Packet {
        Packet {
            nsp: nsp.into(),
            id: None,
            data: PacketData::Event {
                name: name.into(),
                args,
            },
        }
    }

    /// The answer to the EVENT that carried acknowledgement id `id`.
    pub fn ack(nsp: impl Into<Utf8Bytes>, id: u64, args: Args) -> Packet {
        Packet {
            nsp: nsp.into(),
            id: Some(id),
            data: PacketData::Ack(args),
        }
    }

    /// Sets the acknowledgement id, for emits that expect an answer.
    #[must_use]
    pub fn with_id(mut self, id: u64) -> Packet {
        self.id = Some(id);
        self
    }

    /// The wire type this packet is written as: BINARY_EVENT / BINARY_ACK when its arguments hold
    /// binary.
    pub fn packet_type(&self) -> PacketType {
        match &self.data {
            PacketData::Connect(_) => PacketType::Connect,
            PacketData::Disconnect => PacketType::Disconnect,
            PacketData::Event { args, .. } if args.has_binary() => PacketType::BinaryEvent,
            PacketData::Event { .. } => PacketType::Event,
            PacketData::Ack(args) if args.has_binary() => PacketType::BinaryAck,
            PacketData::Ack(_) => PacketType::Ack,
            PacketData::ConnectError(_) => PacketType::ConnectError,
        }
    }

    /// The arguments of an EVENT or ACK, so callers that only forward them need no match.
    pub fn args(&self) -> Option<&Args> {
        match &self.data {
            PacketData::Event { args, .. } | PacketData::Ack(args) => Some(args),
            _ => None,
        }
    }
}

/// The name of an event: the first item of the EVENT array.
///
/// Node accepts a number there as well as a string (its event emitter turns it into a string key),
/// so a name keeps its text — a string's value, or for a number its decimal text (integral values
/// as JavaScript prints them: `2.0` and `2e0` are "2"; other numbers as sent) — plus a flag saying
/// it was a number, which only matters when the name is written back (`[1,…]` rather than
/// `["1",…]`). Equality, hashing and `Borrow<str>`
/// look at the text only, like Node's listener lookup. Backed by `Utf8Bytes`, so a decoded name is
/// usually a slice of the received message (no allocation) and clones are cheap.
#[derive(Clone)]
pub struct EventName {
    name: Utf8Bytes,
    numeric: bool,
}

impl EventName {
    /// A string event name.
    pub fn new(name: impl Into<Utf8Bytes>) -> EventName {
        EventName {
            name: name.into(),
            numeric: false,
        }
    }

    /// A string event name without allocation, for names known at compile time.
    pub const fn from_static(name: &'static str) -> EventName {
        EventName {
            name: Utf8Bytes::from_static(name),
            numeric: false,
        }
    }

    /// A numeric event name, written as a JSON number.
    pub fn from_number(n: i64) -> EventName {
        EventName {
            name: n.to_string().into(),
            numeric: true,
        }
    }

    /// Used by the decoder, which has already checked that `text` is a valid JSON number.
    pub(crate) fn numeric_unchecked(text: Utf8Bytes) -> EventName {
        EventName {
            name: text,
            numeric: true,
        }
    }

    /// The name as handlers are looked up by.
    pub fn as_str(&self) -> &str {
        self.name.as_str()
    }

    /// Whether the client sent a number rather than a string.
    pub fn is_numeric(&self) -> bool {
        self.numeric
    }

    /// Whether this is one of [`RESERVED_EVENTS`], which the server must not emit either.
    pub fn is_reserved(&self) -> bool {
        !self.numeric && RESERVED_EVENTS.contains(&self.as_str())
    }

    /// The shared buffer, for callers that store names without copying.
    pub fn as_utf8_bytes(&self) -> &Utf8Bytes {
        &self.name
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numeric {
            f.write_str(self.as_str())
        } else {
            fmt::Debug::fmt(self.as_str(), f)
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for EventName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventName {}

impl Hash for EventName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for EventName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Deref for EventName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for EventName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for EventName {
    fn from(name: &str) -> Self {
        EventName::new(name)
    }
}

impl From<String> for EventName {
    fn from(name: String) -> Self {
        EventName::new(name)
    }
}

impl From<&String> for EventName {
    fn from(name: &String) -> Self {
        EventName::new(name.as_str())
    }
}

impl From<Utf8Bytes> for EventName {
    fn from(name: Utf8Bytes) -> Self {
        EventName::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn digits_round_trip() {
        for d in b'0'..=b'6' {
            let t = PacketType::from_digit(d).map(PacketType::as_digit);
            assert_eq!(t, Some(d));
        }
        assert_eq!(PacketType::from_digit(b'7'), None);
        assert_eq!(PacketType::from_digit(b'a'), None);
    }

    #[test]
    fn event_name_equality_ignores_the_numeric_flag() {
        let a = EventName::from_number(1);
        let b = EventName::from("1");
        assert_eq!(a, b);
        assert!(a.is_numeric() && !b.is_numeric());
        let set: HashSet<EventName> = [a].into_iter().collect();
        assert!(set.contains("1"));
        assert_eq!(
            format!("{:?} {:?}", EventName::from_number(-3), b),
            "-3 \"1\""
        );
    }

    #[test]
    fn reserved_names() {
        assert!(EventName::from_static("disconnect").is_reserved());
        assert!(!EventName::from_static("message").is_reserved());
    }

    #[test]
    fn constructors() {
        let p = Packet::connect_reply("/", "abc", Some("p"));
        match &p.data {
            PacketData::Connect(Some(v)) => {
                assert_eq!(v.to_string(), r#"{"sid":"abc","pid":"p"}"#)
            }
            other => panic!("{other:?}"),
        }
        let p = Packet::connect_error("/a", "nope", None);
        assert_eq!(p.packet_type(), PacketType::ConnectError);
        let p = Packet::event("/", "x", Args::new()).with_id(7);
        assert_eq!(p.id, Some(7));
        assert_eq!(p.packet_type(), PacketType::Event);
        assert!(p.args().is_some());
        assert_eq!(
            Packet::disconnect("/").packet_type(),
            PacketType::Disconnect
        );
        assert_eq!(
            Packet::ack("/", 1, Args::new()).packet_type(),
            PacketType::Ack
        );
    }
}
