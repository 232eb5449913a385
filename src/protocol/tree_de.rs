//! Serde deserialization out of msgpack trees, with JSON's conventions.
//!
//! Arguments with binary are deserialized through an [`rmpv::Value`] tree (JSON has no bytes, so a
//! single serde_json pass cannot hand `Bytes` to a target). The deserializer here is our own
//! rather than rmpv's because it follows JSON's conventions, so a type deserializes the same way
//! from a binary event as from a plain one: enums are `"Variant"` or `{"Variant": value}`, map
//! keys are strings that may hold numbers, and nesting is bounded like serde_json's.

use std::vec;

use rmpv::{Integer, Value};
use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::error::DeError;

/// How deep a tree may nest before deserialization stops, as serde_json's recursion limit.
const MAX_DEPTH: usize = 128;

/// Deserializes an owned msgpack tree with JSON conventions (see the module documentation).
///
/// Owned so that strings and binary are handed over without a copy (`visit_string`,
/// `visit_byte_buf`).
pub(crate) struct ValueDe {
    value: Value,
    depth: usize,
}

impl ValueDe {
    pub(crate) fn new(value: Value) -> ValueDe {
        ValueDe {
            value,
            depth: MAX_DEPTH,
        }
    }

    fn child(value: Value, depth: usize) -> ValueDe {
        ValueDe { value, depth }
    }
}

/// The depth budget one level down, or an error when it is spent.
fn deeper(depth: usize) -> Result<usize, DeError> {
    match depth.checked_sub(1) {
        Some(d) if d > 0 => Ok(d),
        _ => Err(DeError("recursion limit exceeded".to_owned())),
    }
}

fn visit_integer<'de, V: Visitor<'de>>(n: Integer, visitor: V) -> Result<V::Value, DeError> {
    if let Some(v) = n.as_u64() {
        visitor.visit_u64(v)
    } else if let Some(v) = n.as_i64() {
        visitor.visit_i64(v)
    } else {
        Err(DeError("integer out of range".to_owned()))
    }
}

impl<'de> Deserializer<'de> for ValueDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Nil => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(n) => visit_integer(n, visitor),
            Value::F32(f) => visitor.visit_f32(f),
            Value::F64(f) => visitor.visit_f64(f),
            Value::String(s) => match s.into_str() {
                Some(s) => visitor.visit_string(s),
                None => Err(DeError("invalid UTF-8 in string".to_owned())),
            },
            Value::Binary(data) => visitor.visit_byte_buf(data),
            Value::Array(items) => visit_array(items, deeper(self.depth)?, visitor),
            Value::Map(entries) => {
                let depth = deeper(self.depth)?;
                let mut map = MapDe {
                    iter: entries.into_iter(),
                    value: None,
                    depth,
                };
                let out = visitor.visit_map(&mut map)?;
                match map.iter.len() {
                    0 => Ok(out),
                    _ => Err(DeError("trailing entries in map".to_owned())),
                }
            }
            Value::Ext(tag, data) => {
                let items = vec![Value::from(tag), Value::Binary(data)];
                visit_array(items, deeper(self.depth)?, visitor)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => match s.into_str() {
                Some(s) => visitor.visit_enum(StringDeserializer::<DeError>::new(s)),
                None => Err(DeError("invalid UTF-8 in string".to_owned())),
            },
            Value::Map(entries) if entries.len() == 1 => {
                let depth = deeper(self.depth)?;
                let mut iter = entries.into_iter();
                match iter.next() {
                    Some((key, value)) => visitor.visit_enum(EnumDe { key, value, depth }),
                    None => Err(DeError("empty map for enum".to_owned())),
                }
            }
            other => Err(DeError(format!(
                "invalid type: {}, expected a string or a map with one key",
                describe(&other)
            ))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Nil => "null",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::F32(_) | Value::F64(_) => "number",
        Value::String(_) => "string",
        Value::Binary(_) => "binary",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Ext(..) => "extension",
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    depth: usize,
    visitor: V,
) -> Result<V::Value, DeError> {
    let mut seq = SeqDe {
        iter: items.into_iter(),
        depth,
    };
    let out = visitor.visit_seq(&mut seq)?;
    match seq.iter.len() {
        0 => Ok(out),
        _ => Err(DeError("trailing items in array".to_owned())),
    }
}

struct SeqDe {
    iter: vec::IntoIter<Value>,
    depth: usize,
}

impl<'de> SeqAccess<'de> for SeqDe {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(v) => seed.deserialize(ValueDe::child(v, self.depth)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe {
    iter: vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
    depth: usize,
}

impl<'de> MapAccess<'de> for MapDe {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(KeyDe(ValueDe::child(k, self.depth)))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(ValueDe::child(v, self.depth)),
            None => Err(DeError("map value requested before its key".to_owned())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Map keys: JSON keys are strings, and serde_json lets a numeric target read one as a number
/// (`HashMap<u32, _>`); do the same.
struct KeyDe(ValueDe);

macro_rules! key_number {
    ($($method:ident => $visit:ident : $ty:ty,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                if let Some(text) = self.0.value.as_str() {
                    return match text.parse::<$ty>() {
                        Ok(n) => visitor.$visit(n),
                        Err(_) => Err(DeError(format!("invalid number in map key: {text:?}"))),
                    };
                }
                self.0.deserialize_any(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for KeyDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.0.deserialize_any(visitor)
    }

    key_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.0.deserialize_option(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct EnumDe {
    key: Value,
    value: Value,
    depth: usize,
}

impl<'de> EnumAccess<'de> for EnumDe {
    type Error = DeError;
    type Variant = VariantDe;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe), DeError> {
        let variant = seed.deserialize(ValueDe::child(self.key, self.depth))?;
        Ok((variant, VariantDe(ValueDe::child(self.value, self.depth))))
    }
}

struct VariantDe(ValueDe);

impl<'de> VariantAccess<'de> for VariantDe {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        de::Deserialize::deserialize(self.0)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.0)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.0.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_map(visitor)
    }
}

/// `IntoDeserializer` lets serde's helpers build a `ValueDe` where they need one.
impl<'de> IntoDeserializer<'de, DeError> for ValueDe {
    type Deserializer = ValueDe;
    fn into_deserializer(self) -> ValueDe {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::placeholder::ToValue;
    use bytes::Bytes;
    use serde::Deserialize;
    use std::collections::HashMap;

    fn tree(json: &str, attachments: &[Bytes]) -> Value {
        let mut de = serde_json::Deserializer::from_str(json);
        ToValue { attachments }.deserialize(&mut de).unwrap()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Kind {
        A,
        B(u8),
        C { x: i8 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct S {
        kinds: Vec<Kind>,
        map: HashMap<u32, String>,
        opt: Option<u8>,
        #[serde(with = "serde_bytes")]
        raw: Vec<u8>,
        data: Bytes,
    }

    #[test]
    fn deserializes_with_json_conventions() {
        let att = [Bytes::from_static(b"\x00\x01"), Bytes::from_static(b"z")];
        let v = tree(
            r#"{"kinds":["A",{"B":3},{"C":{"x":-1}}],"map":{"7":"seven"},"opt":null,
                "raw":{"_placeholder":true,"num":1},"data":{"_placeholder":true,"num":0}}"#,
            &att,
        );
        let s = S::deserialize(ValueDe::new(v)).unwrap();
        assert_eq!(
            s,
            S {
                kinds: vec![Kind::A, Kind::B(3), Kind::C { x: -1 }],
                map: [(7, "seven".to_owned())].into_iter().collect(),
                opt: None,
                raw: b"z".to_vec(),
                data: Bytes::from_static(b"\x00\x01"),
            }
        );
        let j = serde_json::Value::deserialize(ValueDe::new(tree(r#"{"a":[1,-2,0.5]}"#, &[])));
        assert_eq!(j.unwrap(), serde_json::json!({"a":[1,-2,0.5]}));
        let r = rmpv::Value::deserialize(ValueDe::new(Value::Binary(vec![1])));
        assert_eq!(r.unwrap(), Value::Binary(vec![1]));
    }

    #[test]
    fn deep_trees_are_refused() {
        let mut v = Value::Nil;
        for _ in 0..200 {
            v = Value::Array(vec![v]);
        }
        assert!(serde_json::Value::deserialize(ValueDe::new(v)).is_err());
    }

    #[test]
    fn type_errors_are_errors() {
        assert!(u8::deserialize(ValueDe::new(Value::from("x"))).is_err());
        assert!(Kind::deserialize(ValueDe::new(Value::from(1))).is_err());
        assert!(<(u8, u8)>::deserialize(ValueDe::new(tree("[1,2,3]", &[]))).is_err());
    }
}
