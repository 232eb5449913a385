//! The msgpack parser, byte-compatible with the npm `socket.io-msgpack-parser` (which encodes
//! with `notepack.io`).
//!
//! Every packet is one binary message: the msgpack map `{type, data, id, nsp}` of the packet
//! object. Binary travels inside it as msgpack `bin`, so there are no attachments and no
//! BINARY_EVENT / BINARY_ACK types. The keys come in the order the Node server writes them
//! (`{type, data, id, nsp}` for an event, `{id, type, data, nsp}` for an ack, …) and values as
//! notepack writes them: integers in the smallest format, every other number as a float 64,
//! strings as `fixstr`/`str8`/`str16`/`str32`, so the bytes match what a Node server sends.
//!
//! Decoding reads what notepack 2.2 (the version the npm parser uses) writes: `undefined` as
//! `fixext 1` of type 0 (a `data` that is `undefined` counts as absent, elsewhere it becomes
//! nil), an `ArrayBuffer` as `ext 8/16/32` of type 0 (binary), a `Date` as `fixext 8` of type 0
//! (kept as that extension, so it goes back out the same). It follows the npm decoder's checks
//! (type 0..=4, `nsp` a string, `data` of the shape the type needs, `id` an integer); unknown
//! keys (the JS client sends an `options` map) are ignored; an event name must be a string that
//! is not reserved, or a number, as with the default parser. Nesting is limited to
//! [`MsgpackParser::MAX_DEPTH`] levels.

use bytes::Bytes;
use rmpv::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::args::Args;
use super::error::ParseError;
use super::packet::{EventName, Packet, PacketData, RESERVED_EVENTS};
use super::{DecodeState, Encoded, EncodedFrame, Parser};

/// The msgpack parser (npm `socket.io-msgpack-parser`): one binary message per packet, binary
/// as msgpack `bin`. Clients must use the same parser.
///
/// ```
/// let layer = axum_socketio::SocketIoLayer::builder()
///     .parser(axum_socketio::protocol::MsgpackParser::new())
///     .build();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MsgpackParser {
    _private: (),
}

impl MsgpackParser {
    /// How deeply values may nest in a received packet (the packet map and its data array
    /// included); deeper input is a parse error, so a client cannot exhaust the stack.
    pub const MAX_DEPTH: usize = 130;

    /// The parser.
    pub const fn new() -> MsgpackParser {
        MsgpackParser { _private: () }
    }
}

const CONNECT: u64 = 0;
const DISCONNECT: u64 = 1;
const EVENT: u64 = 2;
const ACK: u64 = 3;
const CONNECT_ERROR: u64 = 4;

impl Parser for MsgpackParser {
    fn decode_text(
        &self,
        _state: &mut DecodeState,
        _text: Utf8Bytes,
    ) -> Result<Option<Packet>, ParseError> {
        // The npm decoder throws on anything but binary, and the Node server closes the
        // connection.
        Err(ParseError::payload(
            "the msgpack parser takes binary messages only",
        ))
    }

    fn decode_binary(
        &self,
        _state: &mut DecodeState,
        data: Bytes,
    ) -> Result<Option<Packet>, ParseError> {
        decode(&data).map(Some)
    }

    fn encode(&self, packet: &Packet) -> Encoded {
        let mut buf = Vec::with_capacity(32 + packet.nsp.len());
        write_packet(&mut buf, packet);
        Encoded {
            first: EncodedFrame::Binary(Bytes::from(buf)),
            attachments: Vec::new(),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Decoding

fn decode(data: &[u8]) -> Result<Packet, ParseError> {
    let mut reader = Reader { buf: data, at: 0 };
    let value = reader.value(0)?;
    if reader.at != data.len() {
        return Err(ParseError::payload(format_args!(
            "{} trailing bytes after the msgpack packet",
            data.len() - reader.at
        )));
    }
    let Value::Map(entries) = value else {
        return Err(ParseError::payload("a msgpack packet must be a map"));
    };
    let mut ty = None;
    let mut nsp = None;
    let mut data = None;
    let mut id = None;
    for (key, value) in entries {
        if is_undefined(&value) {
            continue;
        }
        match key.as_str() {
            Some("type") => ty = Some(value),
            Some("nsp") => nsp = Some(value),
            Some("data") => data = Some(value),
            Some("id") => id = Some(value),
            _ => {}
        }
    }
    let ty = ty
        .as_ref()
        .and_then(integer)
        .filter(|t| (CONNECT..=CONNECT_ERROR).contains(t))
        .ok_or_else(|| ParseError::payload("invalid packet type"))?;
    let nsp = match nsp {
        Some(Value::String(s)) => s
            .into_str()
            .ok_or_else(|| ParseError::payload("invalid namespace"))?,
        _ => return Err(ParseError::payload("invalid namespace")),
    };
    let id = match id {
        None => None,
        Some(v) => Some(integer(&v).ok_or(ParseError::InvalidAckId)?),
    };
    let data = match (ty, data) {
        (CONNECT, None) => PacketData::Connect(None),
        (CONNECT, Some(v @ Value::Map(_))) => PacketData::Connect(Some(to_json(&v)?)),
        (DISCONNECT, None) => PacketData::Disconnect,
        (CONNECT_ERROR, Some(v @ (Value::Map(_) | Value::String(_)))) => {
            PacketData::ConnectError(to_json(&v)?)
        }
        (EVENT, Some(Value::Array(items))) => {
            let mut items = items.into_iter();
            let name = event_name(items.next())?;
            PacketData::Event {
                name,
                args: Args::from_values(items.collect()),
            }
        }
        (ACK, Some(Value::Array(items))) => PacketData::Ack(Args::from_values(items)),
        _ => return Err(ParseError::payload("invalid payload")),
    };
    Ok(Packet {
        nsp: Utf8Bytes::from(nsp),
        id,
        data,
    })
}

/// `undefined` as read at the first level of the packet map (deeper, it is read as nil): never
/// produced otherwise, since an empty type-0 extension is read as binary.
const UNDEFINED_TAG: i8 = 0;

fn undefined() -> Value {
    Value::Ext(UNDEFINED_TAG, Vec::new())
}

fn is_undefined(v: &Value) -> bool {
    matches!(v, Value::Ext(UNDEFINED_TAG, data) if data.is_empty())
}

/// A msgpack reader for what notepack writes, with a depth limit and no allocation larger than
/// what the input can fill.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

fn truncated() -> ParseError {
    ParseError::payload("truncated msgpack")
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ParseError> {
        let end = self.at.checked_add(n).ok_or_else(truncated)?;
        let bytes = self.buf.get(self.at..end).ok_or_else(truncated)?;
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len(&mut self, width: usize) -> Result<usize, ParseError> {
        Ok(match width {
            1 => usize::from(self.u8()?),
            2 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MsgpackParser::MAX_DEPTH {
            return Err(ParseError::payload("msgpack nested too deeply"));
        }
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (marker - 0xc4))?;
                Value::Binary(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (marker - 0xc7))?;
                let tag = self.u8()? as i8;
                let data = self.take(n)?.to_vec();
                // notepack writes an ArrayBuffer as an extension of type 0.
                if tag == 0 {
                    Value::Binary(data)
                } else {
                    Value::Ext(tag, data)
                }
            }
            0xca => Value::F64(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Value::F64(f64::from_be_bytes(self.be()?)),
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(u16::from_be_bytes(self.be()?)),
            0xce => Value::from(u32::from_be_bytes(self.be()?)),
            0xcf => Value::from(u64::from_be_bytes(self.be()?)),
            0xd0 => Value::from(self.u8()? as i8),
            0xd1 => Value::from(i16::from_be_bytes(self.be()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.be()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.be()?)),
            0xd4..=0xd8 => {
                let n = 1 << (marker - 0xd4);
                let tag = self.u8()? as i8;
                let data = self.take(n)?.to_vec();
                if marker == 0xd4 && tag == UNDEFINED_TAG {
                    // `undefined`: absent at the first level, nil inside values.
                    if depth == 1 { undefined() } else { Value::Nil }
                } else {
                    Value::Ext(tag, data)
                }
            }
            0xd9..=0xdb => {
                let n = self.len(1 << (marker - 0xd9))?;
                self.str(n)?
            }
            0xdc | 0xdd => {
                let n = self.len(2 << (marker - 0xdc))?;
                self.array(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.len(2 << (marker - 0xde))?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::from(marker as i8),
            0xc1 => return Err(ParseError::payload("invalid msgpack marker 0xc1")),
        })
    }

    fn str(&mut self, n: usize) -> Result<Value, ParseError> {
        let bytes = self.take(n)?;
        Ok(Value::from(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// Every item takes at least one byte: a count larger than what is left is an error before
    /// anything is allocated.
    fn check_count(&self, n: usize, per_item: usize) -> Result<(), ParseError> {
        let left = self.buf.len() - self.at;
        if n.saturating_mul(per_item) > left {
            return Err(truncated());
        }
        Ok(())
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, ParseError> {
        self.check_count(n, 1)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, ParseError> {
        self.check_count(n, 2)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// A msgpack integer, or a float with an integral value (JavaScript's `Number.isInteger`), as a
/// non-negative `u64` (ids and types are never negative).
fn integer(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => i.as_u64(),
        Value::F64(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0 => {
            Some(*f as u64)
        }
        Value::F32(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0 => {
            Some(*f as u64)
        }
        _ => None,
    }
}

fn event_name(first: Option<Value>) -> Result<EventName, ParseError> {
    match first {
        Some(Value::String(s)) => {
            let name = s
                .into_str()
                .ok_or_else(|| ParseError::payload("event name is not UTF-8"))?;
            if RESERVED_EVENTS.contains(&name.as_str()) {
                return Err(ParseError::payload(format_args!(
                    "reserved event name {name:?}"
                )));
            }
            Ok(EventName::new(name))
        }
        Some(Value::Integer(i)) => Ok(EventName::numeric_unchecked(Utf8Bytes::from(i.to_string()))),
        Some(Value::F64(f)) if f.is_finite() => Ok(EventName::numeric_unchecked(Utf8Bytes::from(
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                format!("{}", f as i64)
            } else {
                f.to_string()
            },
        ))),
        Some(_) => Err(ParseError::payload(
            "event name must be a string or a number",
        )),
        None => Err(ParseError::payload("EVENT needs an event name")),
    }
}

/// A CONNECT / CONNECT_ERROR payload as JSON (binary becomes an array of byte values).
fn to_json(v: &Value) -> Result<serde_json::Value, ParseError> {
    serde_json::to_value(v).map_err(ParseError::payload)
}

// ------------------------------------------------------------------------------------------
// Encoding

fn write_packet(buf: &mut Vec<u8>, packet: &Packet) {
    let nsp = match packet.nsp.as_str() {
        "" => "/",
        nsp => nsp,
    };
    match &packet.data {
        PacketData::Connect(data) => {
            write_map_len(buf, 2 + usize::from(data.is_some()));
            write_entry_uint(buf, "type", CONNECT);
            if let Some(data) = data {
                write_str(buf, "data");
                write_json(buf, data);
            }
            write_str(buf, "nsp");
            write_str(buf, nsp);
        }
        PacketData::Disconnect => {
            write_map_len(buf, 2);
            write_entry_uint(buf, "type", DISCONNECT);
            write_str(buf, "nsp");
            write_str(buf, nsp);
        }
        PacketData::ConnectError(data) => {
            write_map_len(buf, 3);
            write_entry_uint(buf, "type", CONNECT_ERROR);
            write_str(buf, "data");
            write_json(buf, data);
            write_str(buf, "nsp");
            write_str(buf, nsp);
        }
        PacketData::Event { name, args } => {
            write_map_len(buf, 3 + usize::from(packet.id.is_some()));
            write_entry_uint(buf, "type", EVENT);
            write_str(buf, "data");
            let values = values_of(args);
            write_array_len(buf, values.len() + 1);
            if name.is_numeric() {
                match serde_json::from_str::<serde_json::Value>(name.as_str()) {
                    Ok(n) => write_json(buf, &n),
                    Err(_) => write_str(buf, name.as_str()),
                }
            } else {
                write_str(buf, name.as_str());
            }
            for v in &values {
                write_value(buf, v);
            }
            if let Some(id) = packet.id {
                write_entry_uint(buf, "id", id);
            }
            write_str(buf, "nsp");
            write_str(buf, nsp);
        }
        PacketData::Ack(args) => {
            write_map_len(buf, 3 + usize::from(packet.id.is_some()));
            if let Some(id) = packet.id {
                write_entry_uint(buf, "id", id);
            }
            write_entry_uint(buf, "type", ACK);
            write_str(buf, "data");
            let values = values_of(args);
            write_array_len(buf, values.len());
            for v in &values {
                write_value(buf, v);
            }
            write_str(buf, "nsp");
            write_str(buf, nsp);
        }
    }
}

fn values_of(args: &Args) -> Vec<Value> {
    args.to_values().unwrap_or_else(|e| {
        // Arguments are validated when built or received; never panic if one were not.
        tracing::warn!(error = %e, "arguments that cannot be written as msgpack are sent empty");
        Vec::new()
    })
}

fn write_entry_uint(buf: &mut Vec<u8>, key: &str, n: u64) {
    write_str(buf, key);
    write_uint(buf, n);
}

fn write_map_len(buf: &mut Vec<u8>, len: usize) {
    if len < 16 {
        buf.push(0x80 | len as u8);
    } else if len < 0x1_0000 {
        buf.push(0xde);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdf);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_array_len(buf: &mut Vec<u8>, len: usize) {
    if len < 16 {
        buf.push(0x90 | len as u8);
    } else if len < 0x1_0000 {
        buf.push(0xdc);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdd);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len < 0x100 {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 0x1_0000 {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s.as_bytes());
}

fn write_bin(buf: &mut Vec<u8>, b: &[u8]) {
    let len = b.len();
    if len < 0x100 {
        buf.extend_from_slice(&[0xc4, len as u8]);
    } else if len < 0x1_0000 {
        buf.push(0xc5);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xc6);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(b);
}

fn write_uint(buf: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        buf.push(n as u8);
    } else if n < 0x100 {
        buf.extend_from_slice(&[0xcc, n as u8]);
    } else if n < 0x1_0000 {
        buf.push(0xcd);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        buf.push(0xce);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(0xcf);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        return write_uint(buf, n as u64);
    }
    if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -0x80 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -0x8000 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -0x8000_0000 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// A number as notepack writes a JavaScript number: integral values as integers, every other
/// one as a float 64.
fn write_f64(buf: &mut Vec<u8>, f: f64) {
    const LIMIT: f64 = 18_446_744_073_709_551_616.0; // 2^64
    if f.is_finite() && f.fract() == 0.0 && f > -LIMIT / 2.0 && f < LIMIT {
        if f < 0.0 {
            return write_int(buf, f as i64);
        }
        return write_uint(buf, f as u64);
    }
    buf.push(0xcb);
    buf.extend_from_slice(&f.to_be_bytes());
}

fn write_ext(buf: &mut Vec<u8>, tag: i8, data: &[u8]) {
    let len = data.len();
    match len {
        1 => buf.push(0xd4),
        2 => buf.push(0xd5),
        4 => buf.push(0xd6),
        8 => buf.push(0xd7),
        16 => buf.push(0xd8),
        _ if len < 0x100 => buf.extend_from_slice(&[0xc7, len as u8]),
        _ if len < 0x1_0000 => {
            buf.push(0xc8);
            buf.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            buf.push(0xc9);
            buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    buf.push(tag as u8);
    buf.extend_from_slice(data);
}

fn write_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Nil => buf.push(0xc0),
        Value::Boolean(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => write_uint(buf, u),
            (None, Some(n)) => write_int(buf, n),
            (None, None) => buf.push(0xc0),
        },
        Value::F32(f) => write_f64(buf, f64::from(*f)),
        Value::F64(f) => write_f64(buf, *f),
        Value::String(s) => match s.as_str() {
            Some(s) => write_str(buf, s),
            None => write_bin(buf, s.as_bytes()),
        },
        Value::Binary(b) => write_bin(buf, b),
        Value::Array(items) => {
            write_array_len(buf, items.len());
            for item in items {
                write_value(buf, item);
            }
        }
        Value::Map(entries) => {
            write_map_len(buf, entries.len());
            for (k, v) in entries {
                write_value(buf, k);
                write_value(buf, v);
            }
        }
        Value::Ext(tag, data) => write_ext(buf, *tag, data),
    }
}

fn write_json(buf: &mut Vec<u8>, v: &serde_json::Value) {
    match v {
        serde_json::Value::Null => buf.push(0xc0),
        serde_json::Value::Bool(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_uint(buf, u);
            } else if let Some(i) = n.as_i64() {
                write_int(buf, i);
            } else {
                write_f64(buf, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        serde_json::Value::String(s) => write_str(buf, s),
        serde_json::Value::Array(items) => {
            write_array_len(buf, items.len());
            for item in items {
                write_json(buf, item);
            }
        }
        serde_json::Value::Object(map) => {
            write_map_len(buf, map.len());
            for (k, v) in map {
                write_str(buf, k);
                write_json(buf, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(p: &Packet) -> Vec<u8> {
        match MsgpackParser::new().encode(p).first {
            EncodedFrame::Binary(b) => b.to_vec(),
            EncodedFrame::Text(t) => panic!("text frame {t:?}"),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Packet, ParseError> {
        MsgpackParser::new()
            .decode_binary(&mut DecodeState::new(), Bytes::copy_from_slice(bytes))
            .map(|p| p.expect("a whole packet"))
    }

    /// Bytes written by notepack.io 2.2 for the same packet objects (socket.io-msgpack-parser
    /// 3.0.2 in Node 20).
    #[test]
    fn encodes_like_notepack() {
        // { type: 2, data: ["hello", 1, 1.5, -3, null, true, { a: "b" }], nsp: "/" }
        let args = Args::from_serialize(&(1, 1.5, -3, (), true, json!({"a": "b"}))).unwrap();
        let p = Packet::event("/", "hello", args);
        assert_eq!(
            encode(&p),
            [
                &[0x83, 0xa4][..],
                b"type",
                &[0x02, 0xa4],
                b"data",
                &[0x97, 0xa5],
                b"hello",
                &[
                    0x01, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xfd, 0xc0, 0xc3, 0x81, 0xa1
                ],
                b"a",
                &[0xa1],
                b"b",
                &[0xa3],
                b"nsp",
                &[0xa1, b'/'],
            ]
            .concat()
        );
        // { type: 0, data: { sid: "x" }, nsp: "/admin" }
        let p = Packet::connect_reply("/admin", "x", None);
        assert_eq!(
            encode(&p),
            [
                &[0x83, 0xa4][..],
                b"type",
                &[0x00, 0xa4],
                b"data",
                &[0x81, 0xa3],
                b"sid",
                &[0xa1, b'x', 0xa3],
                b"nsp",
                &[0xa6],
                b"/admin",
            ]
            .concat()
        );
        // { id: 7, type: 3, data: [<Buffer 01 02>], nsp: "/" }
        let args = Args::from_serialize(&bytes::Bytes::from_static(&[1, 2])).unwrap();
        let p = Packet::ack("/", 7, args);
        assert_eq!(
            encode(&p),
            [
                &[0x84, 0xa2][..],
                b"id",
                &[0x07, 0xa4],
                b"type",
                &[0x03, 0xa4],
                b"data",
                &[0x91, 0xc4, 0x02, 0x01, 0x02, 0xa3],
                b"nsp",
                &[0xa1, b'/'],
            ]
            .concat()
        );
        // { type: 1, nsp: "/" }
        assert_eq!(
            encode(&Packet::disconnect("/")),
            [
                &[0x82, 0xa4][..],
                b"type",
                &[0x01, 0xa3],
                b"nsp",
                &[0xa1, b'/']
            ]
            .concat()
        );
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        let mut buf = Vec::new();
        for f in [
            0.0,
            127.0,
            128.0,
            65536.0,
            -1.0,
            -33.0,
            -129.0,
            4294967296.0,
        ] {
            write_f64(&mut buf, f);
        }
        assert_eq!(
            buf,
            [
                0x00, 0x7f, 0xcc, 0x80, 0xce, 0, 1, 0, 0, 0xff, 0xd0, 0xdf, 0xd1, 0xff, 0x7f, 0xcf,
                0, 0, 0, 1, 0, 0, 0, 0
            ]
        );
        let mut buf = Vec::new();
        write_str(&mut buf, &"x".repeat(40));
        assert_eq!(&buf[..2], &[0xd9, 40]);
    }

    #[test]
    fn round_trip_with_binary() {
        let args = Args::from_serialize(&(
            "a",
            bytes::Bytes::from_static(&[0, 255]),
            json!({"k": [1, 2]}),
        ))
        .unwrap();
        let p = Packet::event("/chat", "ev", args).with_id(12);
        let back = decode(&encode(&p)).unwrap();
        assert_eq!(back.nsp.as_str(), "/chat");
        assert_eq!(back.id, Some(12));
        let PacketData::Event { name, args } = back.data else {
            panic!("not an event")
        };
        assert_eq!(name.as_str(), "ev");
        assert!(args.has_binary());
        let (s, b, v): (String, bytes::Bytes, serde_json::Value) = args.deserialize().unwrap();
        assert_eq!(
            (s.as_str(), &b[..], v),
            ("a", &[0u8, 255][..], json!({"k": [1, 2]}))
        );
    }

    #[test]
    fn decodes_what_the_js_client_sends() {
        // { type: 2, data: ["sum", 1, 2], options: { compress: true }, id: 0, nsp: "/" }
        let bytes = [
            &[0x85, 0xa4][..],
            b"type",
            &[0x02, 0xa4],
            b"data",
            &[0x93, 0xa3],
            b"sum",
            &[0x01, 0x02, 0xa7],
            b"options",
            &[0x81, 0xa8],
            b"compress",
            &[0xc3, 0xa2],
            b"id",
            &[0x00, 0xa3],
            b"nsp",
            &[0xa1, b'/'],
        ]
        .concat();
        let p = decode(&bytes).unwrap();
        assert_eq!(p.id, Some(0));
        let PacketData::Event { name, args } = p.data else {
            panic!("not an event")
        };
        assert_eq!(name.as_str(), "sum");
        assert_eq!(args.deserialize::<(i64, i64)>().unwrap(), (1, 2));

        // { type: 0, nsp: "/", data: { token: "abc" } }
        let bytes = [
            &[0x83, 0xa4][..],
            b"type",
            &[0x00, 0xa3],
            b"nsp",
            &[0xa1, b'/', 0xa4],
            b"data",
            &[0x81, 0xa5],
            b"token",
            &[0xa3],
            b"abc",
        ]
        .concat();
        let p = decode(&bytes).unwrap();
        assert!(
            matches!(p.data, PacketData::Connect(Some(ref v)) if v == &json!({"token": "abc"}))
        );
    }

    /// notepack 2.2 writes `undefined` as `d4 00 00`, an ArrayBuffer as `c7 <len> 00 <bytes>`, a
    /// Date as `d7 00 <ms>`.
    #[test]
    fn reads_notepack_extensions() {
        fn hex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }
        // { type: 0, data: undefined, nsp: "/" } (socket.io-client without auth)
        let p = decode(&hex("83a47479706500a464617461d40000a36e7370a12f")).unwrap();
        assert!(matches!(p.data, PacketData::Connect(None)));
        // { type: 2, data: ["e", undefined, <ArrayBuffer 01 02>, <Date 1000>], nsp: "/" }
        let p = decode(&hex(
            "83a47479706502a46461746194a165d40000c7020001 02d700000000000000 03e8a36e7370a12f"
                .replace(' ', "")
                .as_str(),
        ))
        .unwrap();
        let PacketData::Event { args, .. } = p.data else {
            panic!("not an event")
        };
        let values = args.to_values().unwrap();
        assert_eq!(values[0], Value::Nil);
        assert_eq!(values[1], Value::Binary(vec![1, 2]));
        assert_eq!(values[2], Value::Ext(0, vec![0, 0, 0, 0, 0, 0, 3, 0xe8]));
        // The Date goes back out as it came.
        let out = encode(&Packet::event("/", "e", args));
        assert!(
            out.windows(10)
                .any(|w| w == hex("d700000000000000 03e8".replace(' ', "").as_str()))
        );
    }

    #[test]
    fn rejects_what_the_npm_decoder_rejects() {
        let map = |entries: Vec<(&str, Value)>| {
            let v = Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect(),
            );
            let mut buf = Vec::new();
            rmpv::encode::write_value(&mut buf, &v).unwrap();
            buf
        };
        let nsp = || ("nsp", Value::from("/"));
        let bad = [
            map(vec![("type", Value::from(5)), nsp()]),
            map(vec![
                ("type", Value::from(2)),
                ("data", Value::from(vec![Value::from("a")])),
            ]),
            map(vec![("type", Value::from(0)), ("data", Value::Nil), nsp()]),
            map(vec![
                ("type", Value::from(1)),
                ("data", Value::from(1)),
                nsp(),
            ]),
            map(vec![
                ("type", Value::from(2)),
                ("data", Value::from(1)),
                nsp(),
            ]),
            map(vec![
                ("type", Value::from(2)),
                ("data", Value::Array(vec![])),
                nsp(),
            ]),
            map(vec![
                ("type", Value::from(2)),
                ("data", Value::from(vec![Value::from("disconnect")])),
                nsp(),
            ]),
            map(vec![
                ("type", Value::from(3)),
                ("data", Value::Array(vec![])),
                ("id", Value::from("x")),
                nsp(),
            ]),
            map(vec![
                ("type", Value::from(4)),
                ("data", Value::from(1)),
                nsp(),
            ]),
            vec![0x93, 1, 2, 3],
            vec![0x81],
            vec![],
            [map(vec![("type", Value::from(1)), nsp()]), vec![0xc0]].concat(),
        ];
        for b in bad {
            assert!(decode(&b).is_err(), "{b:02x?}");
        }
        // Nesting past the limit.
        let mut deep = vec![0x83, 0xa4];
        deep.extend_from_slice(b"type");
        deep.extend_from_slice(&[0x02, 0xa3]);
        deep.extend_from_slice(b"nsp");
        deep.extend_from_slice(&[0xa1, b'/', 0xa4]);
        deep.extend_from_slice(b"data");
        deep.extend(std::iter::repeat_n(0x91, 10_000));
        deep.push(0xc0);
        assert!(decode(&deep).is_err());
        assert!(
            MsgpackParser::new()
                .decode_text(&mut DecodeState::new(), Utf8Bytes::from_static("2[]"))
                .is_err()
        );
    }
}
