//! The wire format of `@socket.io/redis-streams-adapter` 0.3 (the `ClusterAdapter` envelope of
//! `socket.io-adapter`): messages `{uid, nsp, type, data}`, written as stream entries (fields
//! `uid`, `nsp`, `type` as decimal text, `data` as JSON text, or base64 msgpack when it carries
//! binary) or as one msgpack map on pub/sub; sessions as base64 msgpack `{sid, pid, rooms, data}`;
//! offsets as stream entry ids.
//!
//! Everything here is pure, and decoding never panics on bad input.

use std::fmt;

use base64::Engine as _;
use rmpv::Value;

use super::super::wire::{self, WireError, get, get_str, get_u64};
use crate::recovery::SessionState;

/// Message types (`MessageType` of socket.io-adapter).
pub(super) mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
}

/// One message of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Message {
    /// The sending node's id (of its adapter for this namespace).
    pub uid: String,
    pub nsp: String,
    pub ty: u64,
    pub data: Option<Value>,
}

impl Message {
    /// The fields of a stream entry.
    pub(super) fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut fields = vec![
            ("uid", self.uid.as_bytes().to_vec()),
            ("nsp", self.nsp.as_bytes().to_vec()),
            ("type", self.ty.to_string().into_bytes()),
        ];
        if let Some(data) = &self.data {
            let text = if has_binary(data) {
                base64::engine::general_purpose::STANDARD
                    .encode(wire::encode_msgpack(data))
                    .into_bytes()
            } else {
                wire::encode_json(data)
            };
            fields.push(("data", text));
        }
        fields
    }

    /// A message from the fields of a stream entry.
    pub(super) fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Message, WireError> {
        let (mut uid, mut nsp, mut ty, mut data) = (None, None, None, None);
        for (k, v) in fields {
            match k {
                b"uid" => uid = std::str::from_utf8(v).ok(),
                b"nsp" => nsp = std::str::from_utf8(v).ok(),
                b"type" => ty = std::str::from_utf8(v).ok().and_then(|t| t.parse().ok()),
                b"data" => data = Some(v),
                _ => {}
            }
        }
        let (Some(uid), Some(nsp), Some(ty)) = (uid, nsp, ty) else {
            return Err(WireError("stream entry without uid, nsp or type"));
        };
        let data = match data {
            None | Some(b"") => None,
            Some(text) if text.first() == Some(&b'{') => Some(wire::decode_message(text)?),
            Some(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| WireError("data is neither JSON nor base64"))?;
                Some(wire::decode_msgpack(&bytes)?)
            }
        };
        Ok(Message {
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
            ty,
            data,
        })
    }

    /// A pub/sub payload: the whole message as one msgpack map.
    pub(super) fn to_msgpack(&self) -> Vec<u8> {
        let mut entries = vec![
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
            ("type", Value::from(self.ty)),
        ];
        if let Some(data) = &self.data {
            entries.push(("data", data.clone()));
        }
        wire::encode_msgpack(&wire::map(entries))
    }

    /// A message from a pub/sub payload.
    pub(super) fn from_msgpack(bytes: &[u8]) -> Result<Message, WireError> {
        let v = wire::decode_msgpack(bytes)?;
        let (Some(uid), Some(nsp), Some(ty)) =
            (get_str(&v, "uid"), get_str(&v, "nsp"), get_u64(&v, "type"))
        else {
            return Err(WireError("message without uid, nsp or type"));
        };
        Ok(Message {
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
            ty,
            data: get(&v, "data").cloned(),
        })
    }

    /// A field of `data`.
    pub(super) fn field(&self, key: &str) -> Option<&Value> {
        self.data.as_ref().and_then(|d| get(d, key))
    }

    /// The `requestId` of `data`.
    pub(super) fn request_id(&self) -> Option<&str> {
        self.field("requestId").and_then(Value::as_str)
    }
}

/// Whether a tree carries bytes (then it travels as msgpack, as Node's `hasBinary` decides).
fn has_binary(v: &Value) -> bool {
    match v {
        Value::Binary(_) | Value::Ext(..) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Map(entries) => entries.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// A session as Redis keeps it: base64 of the msgpack map `{sid, pid, rooms, data}`.
pub(super) fn encode_session(s: &SessionState) -> Vec<u8> {
    let v = wire::map(vec![
        ("sid", Value::from(&*s.sid)),
        ("pid", Value::from(&*s.pid)),
        ("rooms", wire::rooms_value(&s.rooms)),
        ("data", wire::json_to_value(&s.data)),
    ]);
    base64::engine::general_purpose::STANDARD
        .encode(wire::encode_msgpack(&v))
        .into_bytes()
}

/// A session from what Redis kept.
pub(super) fn decode_session(text: &[u8]) -> Option<SessionState> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let v = wire::decode_msgpack(&bytes).ok()?;
    Some(SessionState {
        sid: wire::get_arc(&v, "sid")?,
        pid: wire::get_arc(&v, "pid")?,
        rooms: wire::rooms_of(get(&v, "rooms")),
        data: get(&v, "data")
            .map(wire::value_to_json)
            .unwrap_or(serde_json::Value::Null),
    })
}

/// A stream entry id, `<ms>-<seq>`: the offset clients present to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(super) struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Parses `<ms>-<seq>` (digits only, as Node checks before asking Redis).
    pub(super) fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = s.split_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The smallest id after this one (exclusive ranges need Redis 6.2; this works everywhere).
    pub(super) fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_fields_round_trip_json_and_binary() {
        let plain = Message {
            uid: "abc".into(),
            nsp: "/chat".into(),
            ty: kind::BROADCAST,
            data: Some(wire::map(vec![("x", Value::from(1))])),
        };
        let fields = plain.to_fields();
        assert_eq!(fields[2], ("type", b"3".to_vec()));
        assert_eq!(fields[3], ("data", br#"{"x":1}"#.to_vec()));
        let back = Message::from_fields(fields.iter().map(|(k, v)| (k.as_bytes(), &v[..])));
        assert_eq!(back.unwrap(), plain);

        let binary = Message {
            data: Some(wire::map(vec![("b", Value::Binary(vec![1, 2, 3]))])),
            ..plain
        };
        let fields = binary.to_fields();
        assert_ne!(fields[3].1.first(), Some(&b'{'));
        let back = Message::from_fields(fields.iter().map(|(k, v)| (k.as_bytes(), &v[..])));
        assert_eq!(back.unwrap(), binary);
    }

    #[test]
    fn bad_entries_are_errors() {
        let f = |pairs: &[(&str, &str)]| {
            let owned: Vec<(Vec<u8>, Vec<u8>)> = pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            Message::from_fields(owned.iter().map(|(k, v)| (&k[..], &v[..]))).is_err()
        };
        assert!(f(&[("uid", "a"), ("nsp", "/")]));
        assert!(f(&[("uid", "a"), ("nsp", "/"), ("type", "x")]));
        assert!(f(&[
            ("uid", "a"),
            ("nsp", "/"),
            ("type", "3"),
            ("data", "%%")
        ]));
        assert!(f(&[
            ("uid", "a"),
            ("nsp", "/"),
            ("type", "3"),
            ("data", "{bad")
        ]));
        assert!(Message::from_msgpack(b"\x81").is_err());
    }

    #[test]
    fn sessions_round_trip() {
        let s = SessionState {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "r".into()],
            data: serde_json::json!({"name": "alice", "n": [1, 2]}),
        };
        let back = decode_session(&encode_session(&s)).unwrap();
        assert_eq!((back.sid, back.pid, back.rooms), (s.sid, s.pid, s.rooms));
        assert_eq!(back.data, s.data);
        assert!(decode_session(b"not base64!").is_none());
    }

    #[test]
    fn stream_ids() {
        let id = StreamId::parse("1700000000000-5").unwrap();
        assert_eq!(id.to_string(), "1700000000000-5");
        assert_eq!(id.next().to_string(), "1700000000000-6");
        assert!(StreamId::parse("1-2") < StreamId::parse("2-0"));
        for bad in ["", "1", "-1", "1-", "a-1", "1-2-3", "+1-2"] {
            assert!(StreamId::parse(bad).is_none(), "{bad}");
        }
    }
}
