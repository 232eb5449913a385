//! The wire format of `@socket.io/redis-adapter` 8 (shared/reference/redis-adapter.md): channel
//! names, msgpack as `notepack.io` writes it, and the conversions between msgpack trees, JSON
//! values, packets and broadcast options.
//!
//! Everything here is pure: bytes in, values out. Decoding never panics on bad input.

use std::sync::Arc;

use rmpv::Value;

use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
use crate::protocol::{Args, EventName, Packet, PacketData, Utf8Bytes};

/// Request and response types (the `type` field).
pub(super) mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// Socket.IO packet types used in broadcasts.
const EVENT: u64 = 2;
const BINARY_EVENT: u64 = 5;

/// Nesting deeper than this is refused when decoding msgpack.
const MAX_DEPTH: usize = 256;

/// The channels of one namespace's adapter.
#[derive(Debug, Clone)]
pub(super) struct Channels {
    /// `{key}#{nsp}#`: broadcasts; a broadcast to one room appends `{room}#`.
    pub broadcast: String,
    /// `{key}#{nsp}#*`, the pattern every node subscribes to.
    pub pattern: String,
    /// `{key}-request#{nsp}#`.
    pub request: String,
    /// `{key}-response#{nsp}#`, where responses go by default.
    pub response: String,
    /// `{key}-response#{nsp}#{uid}#`, where responses to this node go when the responder
    /// publishes on specific channels.
    pub specific_response: String,
}

impl Channels {
    pub(super) fn new(key: &str, nsp: &str, uid: &str) -> Channels {
        let response = format!("{key}-response#{nsp}#");
        Channels {
            broadcast: format!("{key}#{nsp}#"),
            pattern: format!("{key}#{nsp}#*"),
            request: format!("{key}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// Where a broadcast is published: the room channel when it targets exactly one room.
    pub(super) fn for_broadcast(&self, opts: &BroadcastOptions) -> String {
        let mut rooms = opts.rooms.iter();
        match (rooms.next(), rooms.all(|r| Some(r) == opts.rooms.first())) {
            (Some(room), true) => format!("{}{}#", self.broadcast, room),
            _ => self.broadcast.clone(),
        }
    }

    /// Where a response to `requester` goes.
    pub(super) fn for_response(&self, requester: Option<&str>, specific: bool) -> String {
        match requester {
            Some(uid) if specific => format!("{}{}#", self.response, uid),
            _ => self.response.clone(),
        }
    }

    /// The room a message on a broadcast channel is for (`None` on the plain channel); `Err`
    /// when the channel is not one of this namespace. Like Node, the last character (the `#`) is
    /// cut off whatever it is.
    pub(super) fn room_of<'a>(&self, channel: &'a str) -> Result<Option<&'a str>, ()> {
        let rest = channel.strip_prefix(&self.broadcast).ok_or(())?;
        match rest.char_indices().last() {
            None => Ok(None),
            Some((i, _)) => Ok(Some(&rest[..i])),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// msgpack

/// Why a message could not be read.
#[derive(Debug)]
pub(super) struct WireError(pub(super) &'static str);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Writes a msgpack tree (smallest integer forms, binary as `bin`).
pub(super) fn encode_msgpack(value: &Value) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut buf, value);
    buf
}

/// Reads a msgpack message as notepack.io writes it: `undefined` (fixext 1, type 0) is dropped
/// from maps and is nil elsewhere; a `Date` (fixext 8, type 0) becomes its ISO string, as
/// JSON.stringify would give it to clients; an `ArrayBuffer` (ext 8/16/32, type 0) is binary.
pub(super) fn decode_msgpack(bytes: &[u8]) -> Result<Value, WireError> {
    let mut r = Reader { bytes, at: 0 };
    let v = r.value(0)?.unwrap_or(Value::Nil);
    if r.at != bytes.len() {
        return Err(WireError("trailing bytes after the msgpack value"));
    }
    Ok(v)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(WireError("truncated msgpack"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, WireError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// One value; `None` for `undefined`.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError("msgpack nested too deep"));
        }
        let b = self.u8()?;
        let v = match b {
            0x00..=0x7f => Value::from(b),
            0x80..=0x8f => self.map(usize::from(b & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(b & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(b & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (b - 0xc4))? as usize;
                Value::Binary(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (b - 0xc7))? as usize;
                let ty = self.u8()? as i8;
                let data = self.take(n)?;
                if ty == 0 {
                    Value::Binary(data.to_vec())
                } else {
                    Value::Ext(ty, data.to_vec())
                }
            }
            0xca => Value::F64(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::F64(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Value::from(self.be(1 << (b - 0xcc))?),
            0xd0 => Value::from(self.be(1)? as u8 as i8),
            0xd1 => Value::from(self.be(2)? as u16 as i16),
            0xd2 => Value::from(self.be(4)? as u32 as i32),
            0xd3 => Value::from(self.be(8)? as i64),
            0xd4..=0xd8 => {
                let ty = self.u8()? as i8;
                let data = self.take(1 << (b - 0xd4))?;
                match (ty, data.len()) {
                    (0, 1) => return Ok(None),
                    (0, 8) => {
                        let hi =
                            i64::from(i32::from_be_bytes([data[0], data[1], data[2], data[3]]));
                        let lo =
                            i64::from(u32::from_be_bytes([data[4], data[5], data[6], data[7]]));
                        Value::from(iso_date(hi * (1 << 32) + lo))
                    }
                    _ => Value::Ext(ty, data.to_vec()),
                }
            }
            0xd9..=0xdb => {
                let n = self.be(1 << (b - 0xd9))? as usize;
                self.str(n)?
            }
            0xdc | 0xdd => {
                let n = self.be(if b == 0xdc { 2 } else { 4 })? as usize;
                self.array(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.be(if b == 0xde { 2 } else { 4 })? as usize;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::from(b as i8),
            0xc1 => return Err(WireError("msgpack byte 0xc1 is never used")),
        };
        Ok(Some(v))
    }

    fn str(&mut self, n: usize) -> Result<Value, WireError> {
        let s = self.take(n)?;
        Ok(Value::from(String::from_utf8_lossy(s).into_owned()))
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        // Every item takes at least one byte: a length beyond what is left is a lie.
        if n > self.remaining() {
            return Err(WireError("truncated msgpack array"));
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?.unwrap_or(Value::Nil));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        if n > self.remaining() / 2 {
            return Err(WireError("truncated msgpack map"));
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.value(depth + 1)?.unwrap_or(Value::Nil);
            if let Some(v) = self.value(depth + 1)? {
                entries.push((k, v));
            }
        }
        Ok(Value::Map(entries))
    }
}

/// `2026-11-26T10:00:00.000Z` for milliseconds since the epoch (what `Date#toJSON` gives).
fn iso_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Trees

/// A field of a msgpack map.
pub(super) fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A string field.
pub(super) fn get_str<'a>(map: &'a Value, key: &str) -> Option<&'a str> {
    get(map, key).and_then(Value::as_str)
}

/// An unsigned integer field (a float with an integer value counts, as JSON numbers may be).
pub(super) fn get_u64(map: &Value, key: &str) -> Option<u64> {
    get(map, key).and_then(as_u64)
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    })
}

/// A map from string keys.
pub(super) fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// A room name as Node may send it: a string, or a number.
fn room(v: &Value) -> Option<Room> {
    match v {
        Value::String(s) => s.as_str().map(Room::from),
        Value::Integer(i) => Some(Room::from(i.to_string())),
        Value::F64(f) => Some(Room::from(f.to_string())),
        _ => None,
    }
}

fn rooms(v: Option<&Value>) -> Vec<Room> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(room).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

/// `opts` of a broadcast or request: `{rooms, except, flags}` (flags only where `with_flags`).
pub(super) fn opts_value(opts: &BroadcastOptions, with_flags: bool) -> Value {
    let mut except: Vec<Room> = Vec::with_capacity(opts.except.len());
    for r in &opts.except {
        if !except.contains(r) {
            except.push(r.clone());
        }
    }
    let mut entries = vec![
        ("rooms", rooms_value(&opts.rooms)),
        ("except", rooms_value(&except)),
    ];
    if with_flags {
        let f = &opts.flags;
        let mut flags = Vec::new();
        if f.volatile {
            flags.push(("volatile", Value::Boolean(true)));
        }
        // Node leaves `compress` out unless it was set; it defaults to true.
        if !f.compress {
            flags.push(("compress", Value::Boolean(false)));
        }
        if let Some(t) = f.timeout {
            flags.push(("timeout", Value::from(t.as_millis() as u64)));
        }
        entries.push(("flags", map(flags)));
    }
    map(entries)
}

/// Reads `opts` (`{rooms, except, flags}`); `local` never travels.
pub(super) fn opts_from(v: Option<&Value>) -> BroadcastOptions {
    let Some(v) = v else {
        return BroadcastOptions::default();
    };
    let flags = get(v, "flags");
    let flag = |name: &str, default: bool| {
        flags
            .and_then(|f| get(f, name))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    BroadcastOptions {
        rooms: rooms(get(v, "rooms")),
        except: rooms(get(v, "except")),
        flags: BroadcastFlags {
            volatile: flag("volatile", false),
            compress: flag("compress", true),
            local: false,
            timeout: flags
                .and_then(|f| get_u64(f, "timeout"))
                .map(std::time::Duration::from_millis),
        },
    }
}

/// A broadcast packet as a msgpack map: `{type: 2, data: [event, ...args], nsp}`, binary inline.
pub(super) fn packet_value(packet: &Packet) -> Option<Value> {
    let PacketData::Event { name, args } = &packet.data else {
        return None;
    };
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(event_name_value(name));
    match args.to_values() {
        Ok(values) => data.extend(values),
        Err(e) => {
            tracing::warn!(error = %e, "broadcast arguments cannot be written as msgpack");
            return None;
        }
    }
    Some(map(vec![
        ("type", Value::from(EVENT)),
        ("data", Value::Array(data)),
        ("nsp", Value::from(packet.nsp.as_str())),
    ]))
}

fn event_name_value(name: &EventName) -> Value {
    if name.is_numeric() {
        if let Ok(i) = name.as_str().parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = name.as_str().parse::<f64>() {
            return Value::F64(f);
        }
    }
    Value::from(name.as_str())
}

/// A broadcast packet from a msgpack map, if it is an event of namespace `nsp` (a packet without
/// `nsp` is for `/`).
pub(super) fn packet_from(v: &Value, nsp: &str) -> Option<Packet> {
    let packet_nsp = get_str(v, "nsp").unwrap_or("/");
    if packet_nsp != nsp {
        return None;
    }
    let ty = get_u64(v, "type")?;
    if ty != EVENT && ty != BINARY_EVENT {
        return None;
    }
    let Some(Value::Array(data)) = get(v, "data") else {
        return None;
    };
    let (first, rest) = data.split_first()?;
    let name = match first {
        Value::String(s) => EventName::new(s.as_str()?.to_owned()),
        Value::Integer(i) => EventName::from_number(i.as_i64()?),
        _ => return None,
    };
    let mut packet = Packet::event(
        Utf8Bytes::from(nsp.to_owned()),
        name,
        Args::from_values(rest.to_vec()),
    );
    packet.id = None;
    Some(packet)
}

/// One argument list from a value that Node sends as a single answer (an ack's first argument,
/// a server-side emit's answer): none when it is missing.
pub(super) fn single_answer(v: Option<&Value>) -> Args {
    match v {
        Some(v) => Args::from_values(vec![v.clone()]),
        None => Args::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Reads a request or response: JSON when it starts with `{`, msgpack otherwise.
pub(super) fn decode_message(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.first() == Some(&b'{') {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| WireError("malformed JSON"))?;
        Ok(json_to_value(&json))
    } else {
        decode_msgpack(bytes)
    }
}

/// Writes a tree as JSON text.
pub(super) fn encode_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&value_to_json(v)).unwrap_or_else(|_| b"{}".to_vec())
}

/// JSON to a msgpack tree.
pub(super) fn json_to_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => Value::F64(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        J::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_to_value(v)))
                .collect(),
        ),
    }
}

/// A msgpack tree to JSON, as Node's JSON.stringify writes what notepack decoded: binary
/// becomes `{"type": "Buffer", "data": [bytes…]}`, non-finite floats `null`, non-string keys
/// their text.
pub(super) fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => J::from(u),
            (_, Some(i)) => J::from(i),
            _ => J::Null,
        },
        Value::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Value::Binary(b) | Value::Ext(_, b) => serde_json::json!({"type": "Buffer", "data": b}),
        Value::Array(items) => J::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                        other => value_to_json(other).to_string(),
                    };
                    (key, value_to_json(v))
                })
                .collect(),
        ),
    }
}

/// Arguments as trees, for a JSON message ([`encode_json`] writes binary as Node's Buffer JSON).
pub(super) fn args_values(args: &Args) -> Vec<Value> {
    match args.to_values() {
        Ok(values) => values,
        Err(e) => {
            tracing::warn!(error = %e, "arguments cannot be read for the cluster");
            Vec::new()
        }
    }
}

/// A fresh random id: `n` letters and digits.
pub(super) fn random_id(n: usize) -> String {
    use rand::RngExt as _;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// A room list for a `Vec<Room>`-typed field.
pub(super) fn rooms_of(v: Option<&Value>) -> Vec<Room> {
    rooms(v)
}

/// The `Arc<str>` of a string field.
pub(super) fn get_arc(map: &Value, key: &str) -> Option<Arc<str>> {
    get_str(map, key).map(Arc::from)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
