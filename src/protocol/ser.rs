//! Writing arguments as JSON: the serde bridge with the tuple rule, binary capture, and the
//! writer for msgpack trees.
//!
//! Binary capture relies on serde_json calling [`Formatter::write_byte_array`] for
//! `serialize_bytes` (what `bytes::Bytes` and `serde_bytes` emit): our formatter writes Node's
//! placeholder `{"_placeholder":true,"num":N}` there and keeps the bytes as attachment `N`, in the
//! depth-first order in which serde visits them — the order Node's encoder uses. So a value is
//! turned into packet text plus attachments in one pass, without an intermediate tree.

use std::fmt;
use std::io::{self, Write};

use bytes::Bytes;
use rmpv::Value;
use serde::ser::{Impossible, Serialize, Serializer};
use serde_json::ser::Formatter;

use super::error::ArgsError;

/// serde_json formatter that turns byte arrays into attachment placeholders; everything else is
/// written compactly, as `JSON.stringify` does.
struct BinaryFormatter<'a> {
    attachments: &'a mut Vec<Bytes>,
}

impl Formatter for BinaryFormatter<'_> {
    fn write_byte_array<W>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()>
    where
        W: ?Sized + Write,
    {
        write_placeholder(writer, self.attachments.len())?;
        self.attachments.push(Bytes::copy_from_slice(value));
        Ok(())
    }
}

/// Writes Node's placeholder object, keys in Node's order.
fn write_placeholder<W: ?Sized + Write>(writer: &mut W, num: usize) -> io::Result<()> {
    write!(writer, "{{\"_placeholder\":true,\"num\":{num}}}")
}

/// Serializes one value as JSON onto `buf`, capturing binary into `attachments` (placeholders are
/// numbered from `attachments.len()`, so several values can share one list).
pub(crate) fn write_one<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
    value: &T,
) -> Result<(), ArgsError> {
    let mut ser = serde_json::Serializer::with_formatter(buf, BinaryFormatter { attachments });
    value
        .serialize(&mut ser)
        .map_err(|e| ArgsError::Serialize(e.to_string()))
}

/// Arguments produced from one Rust value by the tuple rule.
pub(crate) struct Serialized {
    /// A JSON array holding the arguments (compact, so the items span `1..len - 1`).
    pub(crate) text: Vec<u8>,
    /// How many arguments.
    pub(crate) len: usize,
    /// Captured binary, in placeholder order.
    pub(crate) attachments: Vec<Bytes>,
}

/// Applies the tuple rule: a tuple is several arguments, `()` none, anything else one.
///
/// The shape is found by a probe serializer that stops at the value's first call (so the value is
/// looked at twice but serialized once); only the top level differs, everything inside goes to
/// serde_json directly. Returns `None` for `()`, so callers can use the static empty list.
pub(crate) fn serialize_args<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Option<Serialized>, ArgsError> {
    let shape = match value.serialize(Probe) {
        // Only `()` itself means "no arguments": other values that serialize as a unit
        // (`serde_json::Value::Null`) are one `null` argument.
        Err(Found(Shape::Unit)) if std::any::type_name::<T>() != "()" => Shape::One,
        Err(Found(shape)) => shape,
        // The probe never succeeds; treat the impossible as a single value.
        Ok(()) => Shape::One,
    };
    let mut text = Vec::with_capacity(64);
    let mut attachments = Vec::new();
    let len = match shape {
        Shape::Unit => return Ok(None),
        // serde_json writes a tuple as an array: exactly the argument list.
        Shape::Tuple(n) => {
            write_one(&mut text, &mut attachments, value)?;
            n
        }
        Shape::One => {
            text.push(b'[');
            write_one(&mut text, &mut attachments, value)?;
            text.push(b']');
            1
        }
    };
    Ok(Some(Serialized {
        text,
        len,
        attachments,
    }))
}

/// The top-level shape of a value, as far as the tuple rule cares.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Unit,
    Tuple(usize),
    One,
}

/// The probe's "error", which is how it reports the shape and stops the value's serialization.
#[derive(Debug)]
struct Found(Shape);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl serde::ser::Error for Found {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        // The value failed before telling its shape; the real pass will report its error.
        Found(Shape::One)
    }
}

/// Serializer that answers every call with the shape it implies.
struct Probe;

macro_rules! probe_one {
    ($($method:ident($($arg:ty),*);)*) => {
        $(
            fn $method(self, $(_: $arg),*) -> Result<(), Found> {
                Err(Found(Shape::One))
            }
        )*
    };
}

impl Serializer for Probe {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Impossible<(), Found>;
    type SerializeTuple = Impossible<(), Found>;
    type SerializeTupleStruct = Impossible<(), Found>;
    type SerializeTupleVariant = Impossible<(), Found>;
    type SerializeMap = Impossible<(), Found>;
    type SerializeStruct = Impossible<(), Found>;
    type SerializeStructVariant = Impossible<(), Found>;

    probe_one! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_unit(self) -> Result<(), Found> {
        Err(Found(Shape::Unit))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Found> {
        Err(Found(Shape::One))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Shape::One))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Shape::One))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Found> {
        Err(Found(Shape::Tuple(len)))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Found> {
        Err(Found(Shape::One))
    }
}

/// Writes a JSON string literal (escaped as serde_json does).
pub(crate) fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Deepest msgpack tree written as JSON; rmpv's own decoder stops at the same depth, so only a
/// tree built by hand can be deeper, and its deeper parts are written as `null`.
const MAX_TREE_DEPTH: usize = rmpv::decode::MAX_DEPTH;

/// Writes a msgpack tree as JSON, binary as placeholders (numbered from `attachments.len()`).
///
/// Our own writer rather than serde, because it must never fail: non-string map keys become
/// strings (as JavaScript object keys would), non-finite floats `null` (as `JSON.stringify`
/// does), extension values `null`, and invalid UTF-8 strings are written lossily.
pub(crate) fn write_value(buf: &mut Vec<u8>, value: &Value, attachments: &mut Vec<Bytes>) {
    write_value_at(buf, value, attachments, MAX_TREE_DEPTH);
}

fn write_value_at(buf: &mut Vec<u8>, value: &Value, attachments: &mut Vec<Bytes>, depth: usize) {
    match value {
        Value::Nil | Value::Ext(..) => buf.extend_from_slice(b"null"),
        Value::Boolean(true) => buf.extend_from_slice(b"true"),
        Value::Boolean(false) => buf.extend_from_slice(b"false"),
        Value::Integer(n) => {
            if let Some(n) = n.as_u64() {
                let _ = write!(buf, "{n}");
            } else if let Some(n) = n.as_i64() {
                let _ = write!(buf, "{n}");
            }
        }
        Value::F32(f) => write_float(buf, f64::from(*f)),
        Value::F64(f) => write_float(buf, *f),
        Value::String(s) => match s.as_str() {
            Some(s) => write_json_str(buf, s),
            None => write_json_str(buf, &String::from_utf8_lossy(s.as_bytes())),
        },
        Value::Binary(data) => {
            let _ = write_placeholder(buf, attachments.len());
            attachments.push(Bytes::copy_from_slice(data));
        }
        Value::Array(items) => {
            if depth == 0 {
                buf.extend_from_slice(b"null");
                return;
            }
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_value_at(buf, item, attachments, depth - 1);
            }
            buf.push(b']');
        }
        Value::Map(entries) => {
            if depth == 0 {
                buf.extend_from_slice(b"null");
                return;
            }
            buf.push(b'{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_key(buf, key);
                buf.push(b':');
                write_value_at(buf, item, attachments, depth - 1);
            }
            buf.push(b'}');
        }
    }
}

/// JSON numbers for floats; NaN and infinities are `null`, as in `JSON.stringify`.
fn write_float(buf: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let _ = serde_json::to_writer(&mut *buf, &f);
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// Object keys must be strings: anything else is written as the string of its JSON text.
fn write_key(buf: &mut Vec<u8>, key: &Value) {
    match key {
        Value::String(s) => match s.as_str() {
            Some(s) => write_json_str(buf, s),
            None => write_json_str(buf, &String::from_utf8_lossy(s.as_bytes())),
        },
        other => {
            let mut text = Vec::new();
            // Binary inside a key cannot travel: its bytes are dropped, its placeholder text stays.
            write_value_at(&mut text, other, &mut Vec::new(), 8);
            write_json_str(buf, &String::from_utf8_lossy(&text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn args(v: &(impl Serialize + ?Sized)) -> (String, usize, usize) {
        match serialize_args(v).unwrap() {
            None => ("[]".to_owned(), 0, 0),
            Some(s) => (
                String::from_utf8(s.text).unwrap(),
                s.len,
                s.attachments.len(),
            ),
        }
    }

    #[derive(Serialize)]
    struct Point(i32, i32);

    #[derive(Serialize)]
    struct File {
        name: String,
        data: Bytes,
    }

    #[test]
    fn tuple_rule() {
        assert_eq!(args(&()), ("[]".into(), 0, 0));
        assert_eq!(args(&("a", 1)), (r#"["a",1]"#.into(), 2, 0));
        assert_eq!(args(&vec![1, 2]), ("[[1,2]]".into(), 1, 0));
        // serde models fixed-size arrays as tuples; a slice is a sequence.
        assert_eq!(args(&[1, 2]), ("[1,2]".into(), 2, 0));
        assert_eq!(args(&[1, 2][..]), ("[[1,2]]".into(), 1, 0));
        assert_eq!(args(&"x"), (r#"["x"]"#.into(), 1, 0));
        assert_eq!(args(&(7,)), ("[7]".into(), 1, 0));
        assert_eq!(args(&Point(1, 2)), ("[[1,2]]".into(), 1, 0));
        assert_eq!(args(&None::<i32>), ("[null]".into(), 1, 0));
        assert_eq!(args(&Some((1, 2))), ("[[1,2]]".into(), 1, 0));
        assert_eq!(args(&((), 1)), ("[null,1]".into(), 2, 0));
        assert_eq!(args(&&&("a", 1)), (r#"["a",1]"#.into(), 2, 0));
    }

    #[test]
    fn binary_is_captured_depth_first() {
        let v = (
            vec![File {
                name: "a".into(),
                data: Bytes::from_static(b"\x01\x02"),
            }],
            Bytes::from_static(b"\x03"),
        );
        let s = serialize_args(&v).unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&s.text).unwrap(),
            r#"[[{"name":"a","data":{"_placeholder":true,"num":0}}],{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(s.attachments, vec![&b"\x01\x02"[..], &b"\x03"[..]]);
    }

    #[test]
    fn serialize_errors_are_reported() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(vec![1u8], 1);
        assert!(matches!(serialize_args(&m), Err(ArgsError::Serialize(_))));
    }

    #[test]
    fn tree_writer() {
        let v = Value::Map(vec![
            (Value::from("a"), Value::from(1)),
            (Value::from(2), Value::Binary(vec![9])),
            (Value::from("f"), Value::F64(f64::NAN)),
            (Value::from("g"), Value::F64(1.5)),
            (Value::from("n"), Value::from(-5)),
            (Value::from("s"), Value::from("q\"")),
            (
                Value::from("x"),
                Value::Array(vec![Value::Nil, true.into()]),
            ),
        ]);
        let mut buf = Vec::new();
        let mut att = Vec::new();
        write_value(&mut buf, &v, &mut att);
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"a":1,"2":{"_placeholder":true,"num":0},"f":null,"g":1.5,"n":-5,"s":"q\"","x":[null,true]}"#
        );
        assert_eq!(att, vec![Bytes::from_static(&[9])]);
    }

    #[test]
    fn tree_writer_depth_is_bounded() {
        let mut v = Value::Nil;
        for _ in 0..(MAX_TREE_DEPTH + 5) {
            v = Value::Array(vec![v]);
        }
        let mut buf = Vec::new();
        write_value(&mut buf, &v, &mut Vec::new());
        let opened = buf.iter().filter(|c| **c == b'[').count();
        assert_eq!(opened, MAX_TREE_DEPTH);
        assert!(buf.starts_with(b"[[") && buf.windows(5).any(|w| w == b"[null"));
        // Dropping a deep tree recurses too; unwind it iteratively.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Nil);
        }
    }
}
