//! [`Args`]: the argument list of an event or acknowledgement.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rmpv::Value;
use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::de::{self, Source};
use super::error::ArgsError;
use super::placeholder::ToValue;
use super::ser::{self, write_value};

/// The arguments of an event or acknowledgement, binary included. Cheap to clone.
///
/// Handlers get typed values out of it with [`Args::deserialize`]; the server builds it from Rust
/// values with [`Args::from_serialize`]; and a handler that relays arguments untouched
/// (`io.emit("message-back", args)`) passes it on as is, in which case the encoder copies the
/// received JSON text byte for byte instead of decoding and re-encoding it.
///
/// Both directions follow the tuple rule: a tuple is several arguments, `()` is none, any other
/// value is one argument.
///
/// Representation (private): either JSON text — a slice of the received message, or what
/// `from_serialize` wrote — already validated, plus the attachments its placeholders refer to; or
/// a list of msgpack trees (`rmpv::Value`, binary as `Binary`) for arguments that came from
/// msgpack (the msgpack parser, the Redis adapter). Plain JSON arguments are deserialized in one
/// serde_json pass; arguments with binary go through a temporary tree, because JSON text cannot
/// hand bytes to serde.
#[derive(Clone)]
pub struct Args {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Json(JsonArgs),
    Values { items: Arc<[Value]>, binary: bool },
}

/// Arguments as JSON text.
#[derive(Clone)]
struct JsonArgs {
    /// A JSON array (possibly with surrounding whitespace), already validated.
    text: Utf8Bytes,
    /// Leading items that are not arguments: 1 for an event's name, else 0.
    skip: usize,
    /// Number of arguments.
    len: usize,
    /// Byte range of the arguments' text inside `text` (empty when there are none): copied
    /// verbatim when the arguments are written into another packet.
    items: (usize, usize),
    /// Binary attachments, in placeholder order.
    attachments: Vec<Bytes>,
}

const EMPTY: JsonArgs = JsonArgs {
    text: Utf8Bytes::from_static("[]"),
    skip: 0,
    len: 0,
    items: (1, 1),
    attachments: Vec::new(),
};

impl Args {
    /// No arguments. Does not allocate.
    pub const fn new() -> Args {
        Args {
            repr: Repr::Json(EMPTY),
        }
    }

    /// Builds arguments from a Rust value with the tuple rule: `&("a", 1)` is two arguments,
    /// `&vec![1, 2]` is one (an array), `&()` is none. Serde models fixed-size arrays (`[T; N]`)
    /// as tuples, so they count as several arguments too; pass a `Vec` or a slice for one array.
    /// Tuple structs, newtypes, `Option`s and unit structs are one argument.
    ///
    /// Written straight to compact JSON in one pass; `bytes::Bytes` and `serde_bytes` values
    /// anywhere inside become binary attachments (not arrays of numbers). Fails only when the
    /// value cannot be JSON (e.g. a map with non-string keys) or its `Serialize` impl fails.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Args, ArgsError> {
        Ok(match ser::serialize_args(value)? {
            None => Args::new(),
            Some(s) => Args::from_serialized(s),
        })
    }

    fn from_serialized(s: ser::Serialized) -> Args {
        let end = s.text.len().saturating_sub(1);
        let text = match String::from_utf8(s.text) {
            Ok(text) => Utf8Bytes::from(text),
            // serde_json only writes UTF-8; keep going rather than panic if that ever changed.
            Err(e) => Utf8Bytes::from(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        };
        Args {
            repr: Repr::Json(JsonArgs {
                text,
                skip: 0,
                len: s.len,
                items: (1.min(end), end),
                attachments: s.attachments,
            }),
        }
    }

    /// Arguments from msgpack trees (binary as `Value::Binary`), as the Redis adapter and the
    /// msgpack parser produce them.
    pub fn from_values(values: Vec<Value>) -> Args {
        let binary = values.iter().any(tree_has_binary);
        Args {
            repr: Repr::Values {
                items: values.into(),
                binary,
            },
        }
    }

    /// Used by the JSON decoder: `text` is a validated JSON array whose first `skip` items are not
    /// arguments, the arguments span `items`.
    pub(crate) fn from_received(
        text: Utf8Bytes,
        skip: usize,
        len: usize,
        items: (usize, usize),
    ) -> Args {
        Args {
            repr: Repr::Json(JsonArgs {
                text,
                skip,
                len,
                items,
                attachments: Vec::new(),
            }),
        }
    }

    /// Used by the JSON decoder once the announced attachments have arrived.
    pub(crate) fn set_attachments(&mut self, attachments: Vec<Bytes>) {
        if let Repr::Json(json) = &mut self.repr {
            json.attachments = attachments;
        }
    }

    /// How many arguments.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Json(json) => json.len,
            Repr::Values { items, .. } => items.len(),
        }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the arguments travel with binary attachments (the packet is then written as
    /// BINARY_EVENT / BINARY_ACK).
    pub fn has_binary(&self) -> bool {
        match &self.repr {
            Repr::Json(json) => !json.attachments.is_empty(),
            Repr::Values { binary, .. } => *binary,
        }
    }

    /// Reads the arguments into `T` with the tuple rule: a tuple type reads them positionally, `()`
    /// reads nothing, any other type reads the first one (fixed-size arrays are tuples, as in
    /// [`Args::from_serialize`]). Extra arguments are ignored; a missing one is
    /// [`ArgsError::Missing`] unless its type is an `Option` (then `None`).
    ///
    /// Binary arguments deserialize into `bytes::Bytes`, `serde_bytes::ByteBuf`, `Vec<u8>` with
    /// `#[serde(with = "serde_bytes")]`, or `rmpv::Value`; `serde_json::Value` cannot hold bytes,
    /// so deserializing binary into it is an error.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        match &self.repr {
            Repr::Json(json) if json.attachments.is_empty() => de::deserialize(Source::Json {
                text: json.text.as_str(),
                skip: json.skip,
            }),
            Repr::Json(_) => {
                let values = self.to_values()?;
                de::deserialize(Source::Values(&values))
            }
            Repr::Values { items, .. } => de::deserialize(Source::Values(items)),
        }
    }

    /// Appends one argument (no tuple rule: a tuple is one array argument here), as connection
    /// state recovery does with the offset of a stored event.
    ///
    /// Costs a copy of the existing arguments' text.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ArgsError> {
        match &mut self.repr {
            Repr::Values { items, binary } => {
                let mut attachments = Vec::new();
                let mut text = Vec::new();
                ser::write_one(&mut text, &mut attachments, value)?;
                let extra = json_to_value(&text, &attachments)?;
                *binary |= tree_has_binary(&extra);
                let mut all = items.to_vec();
                all.push(extra);
                *items = all.into();
            }
            Repr::Json(_) => {
                let mut text = Vec::with_capacity(self.json_len_hint() + 16);
                let mut attachments = Vec::new();
                text.push(b'[');
                self.write_items(&mut text, &mut attachments);
                if !self.is_empty() {
                    text.push(b',');
                }
                ser::write_one(&mut text, &mut attachments, value)?;
                text.push(b']');
                *self = Args::from_serialized(ser::Serialized {
                    text,
                    len: self.len() + 1,
                    attachments,
                });
            }
        }
        Ok(())
    }

    /// The arguments as msgpack trees, binary as `Value::Binary` (placeholders resolved), for the
    /// msgpack parser and the Redis adapter.
    pub fn to_values(&self) -> Result<Vec<Value>, ArgsError> {
        match &self.repr {
            Repr::Values { items, .. } => Ok(items.to_vec()),
            Repr::Json(json) => {
                let mut de = serde_json::Deserializer::from_str(json.text.as_str());
                serde::Deserializer::deserialize_seq(
                    &mut de,
                    CollectValues {
                        skip: json.skip,
                        attachments: &json.attachments,
                    },
                )
                .map_err(|e| ArgsError::Invalid {
                    index: 0,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Writes the arguments as JSON array items (comma separated, no brackets), binary as
    /// placeholders numbered from `attachments.len()`, which must be 0 for JSON-text arguments
    /// with binary (their placeholders are already numbered from 0): one argument list per packet.
    pub(crate) fn write_items(&self, buf: &mut Vec<u8>, attachments: &mut Vec<Bytes>) {
        match &self.repr {
            Repr::Json(json) => {
                if let Some(items) = json.text.as_str().get(json.items.0..json.items.1) {
                    buf.extend_from_slice(items.as_bytes());
                }
                attachments.extend(json.attachments.iter().cloned());
            }
            Repr::Values { items, .. } => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_value(buf, item, attachments);
                }
            }
        }
    }

    /// Roughly how many bytes [`Args::write_items`] writes, to size buffers once.
    pub(crate) fn json_len_hint(&self) -> usize {
        match &self.repr {
            Repr::Json(json) => json.items.1.saturating_sub(json.items.0),
            Repr::Values { items, .. } => items.len() * 16,
        }
    }

    /// How many attachments [`Args::write_items`] adds, to size the list once.
    pub(crate) fn attachment_count_hint(&self) -> usize {
        match &self.repr {
            Repr::Json(json) => json.attachments.len(),
            Repr::Values { .. } => 0,
        }
    }
}

impl Default for Args {
    fn default() -> Self {
        Args::new()
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Self {
        Args::from_values(values)
    }
}

/// Shows the arguments as the JSON they are written as, plus the attachment sizes.
impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::new();
        let mut attachments = Vec::new();
        self.write_items(&mut buf, &mut attachments);
        write!(f, "Args([{}]", String::from_utf8_lossy(&buf))?;
        if !attachments.is_empty() {
            let sizes: Vec<usize> = attachments.iter().map(Bytes::len).collect();
            write!(f, ", attachments: {sizes:?}")?;
        }
        f.write_str(")")
    }
}

fn json_to_value(text: &[u8], attachments: &[Bytes]) -> Result<Value, ArgsError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    ToValue { attachments }
        .deserialize(&mut de)
        .map_err(|e| ArgsError::Serialize(e.to_string()))
}

/// Whether a tree holds binary anywhere; iterative, as trees from msgpack may be deep.
fn tree_has_binary(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Binary(_) => return true,
            Value::Array(items) => stack.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    false
}

/// Reads the outer JSON array into trees, skipping the event name.
struct CollectValues<'a> {
    skip: usize,
    attachments: &'a [Bytes],
}

impl<'de> Visitor<'de> for CollectValues<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        for _ in 0..self.skip {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
        }
        let seed = ToValue {
            attachments: self.attachments,
        };
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(seed)? {
            out.push(item);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
