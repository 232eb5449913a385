//! Binary placeholders: validating them in received JSON, and resolving them into msgpack trees.
//!
//! A binary packet's JSON stands for each attachment with Node's placeholder object
//! `{"_placeholder":true,"num":N}`. The decoder checks them in one streaming pass (no tree); a
//! handler asking for typed values gets a tree with the placeholders replaced by the bytes.

use std::fmt;

use bytes::Bytes;
use rmpv::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Summary of one JSON value for placeholder handling, shared by the validator and the converter
/// so both agree on what a placeholder is (Node's rule: an object whose `_placeholder` is `true`;
/// its `num` must then be an attachment index; the last duplicate key wins, as in `JSON.parse`).
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    /// The value is the literal `true`.
    is_true: bool,
    /// The value is a number: its integral, non-negative value if it has one.
    index: Option<Option<u64>>,
    /// Somewhere inside, a placeholder points nowhere.
    bad: bool,
}

fn float_index(f: f64) -> Option<u64> {
    // Integral and within the range where f64 counts exactly.
    if f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0 {
        Some(f as u64)
    } else {
        None
    }
}

/// Checks that every placeholder in a JSON value points to one of `count` attachments.
///
/// Streams over the JSON without building anything; serde_json's recursion limit bounds it.
pub(crate) fn check_placeholders(json: &str, count: usize) -> Result<bool, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let summary = Check { count }.deserialize(&mut de)?;
    de.end()?;
    Ok(!summary.bad)
}

#[derive(Clone, Copy)]
struct Check {
    count: usize,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = Summary;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Summary, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = Summary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Summary, E> {
        Ok(Summary {
            is_true: v,
            ..Summary::default()
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Summary, E> {
        Ok(Summary {
            index: Some(Some(v)),
            ..Summary::default()
        })
    }
    fn visit_i64<E>(self, v: i64) -> Result<Summary, E> {
        Ok(Summary {
            index: Some(u64::try_from(v).ok()),
            ..Summary::default()
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Summary, E> {
        Ok(Summary {
            index: Some(float_index(v)),
            ..Summary::default()
        })
    }
    fn visit_str<E>(self, _: &str) -> Result<Summary, E> {
        Ok(Summary::default())
    }
    fn visit_unit<E>(self) -> Result<Summary, E> {
        Ok(Summary::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Summary, A::Error> {
        let mut bad = false;
        while let Some(item) = seq.next_element_seed(self)? {
            bad |= item.bad;
        }
        Ok(Summary {
            bad,
            ..Summary::default()
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Summary, A::Error> {
        let mut bad = false;
        let mut placeholder = false;
        let mut index = None;
        while let Some(key) = map.next_key::<KeyKind>()? {
            let value = map.next_value_seed(self)?;
            bad |= value.bad;
            match key {
                KeyKind::Placeholder => placeholder = value.is_true,
                KeyKind::Num => index = value.index.flatten(),
                KeyKind::Other => {}
            }
        }
        if placeholder {
            // Node does not look inside a placeholder, so neither do we.
            bad = index.is_none_or(|i| i >= self.count as u64);
        }
        Ok(Summary {
            bad,
            ..Summary::default()
        })
    }
}

/// The object keys that matter for placeholders, read without allocating.
enum KeyKind {
    Placeholder,
    Num,
    Other,
}

impl<'de> de::Deserialize<'de> for KeyKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyKind, E> {
                Ok(match v {
                    "_placeholder" => KeyKind::Placeholder,
                    "num" => KeyKind::Num,
                    _ => KeyKind::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Converts JSON into a msgpack tree, replacing placeholders by their attachment.
///
/// With no attachments, placeholder-looking objects stay objects (a plain EVENT is never
/// reconstructed, in Node either). A placeholder pointing nowhere also stays an object; the decoder
/// has rejected those already, so that only happens for values built by hand.
#[derive(Clone, Copy)]
pub(crate) struct ToValue<'a> {
    pub(crate) attachments: &'a [Bytes],
}

impl<'de> DeserializeSeed<'de> for ToValue<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            entries.push((Value::from(key), value));
        }
        if self.attachments.is_empty() {
            return Ok(Value::Map(entries));
        }
        match placeholder_target(&entries, self.attachments) {
            Some(data) => Ok(Value::Binary(data.to_vec())),
            None => Ok(Value::Map(entries)),
        }
    }
}

/// The attachment a converted object stands for, if it is a valid placeholder.
fn placeholder_target<'b>(
    entries: &[(Value, Value)],
    attachments: &'b [Bytes],
) -> Option<&'b Bytes> {
    let last = |name: &str| {
        entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    if !matches!(last("_placeholder"), Some(Value::Boolean(true))) {
        return None;
    }
    let index = match last("num")? {
        Value::Integer(n) => n.as_u64()?,
        Value::F64(f) => float_index(*f)?,
        _ => return None,
    };
    attachments.get(usize::try_from(index).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(json: &str, attachments: &[Bytes]) -> Value {
        let mut de = serde_json::Deserializer::from_str(json);
        ToValue { attachments }.deserialize(&mut de).unwrap()
    }

    #[test]
    fn placeholders_are_checked() {
        let ok = [
            r#"[1,{"_placeholder":true,"num":0}]"#,
            r#"{"a":{"_placeholder":true,"num":1}}"#,
            r#"{"num":1.0,"_placeholder":true}"#,
            r#"{"_placeholder":false,"num":9}"#,
            r#"{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}"#,
            r#"{"_placeholder":true,"_placeholder":1,"num":9}"#,
            r#"["_placeholder",true]"#,
        ];
        for json in ok {
            assert!(check_placeholders(json, 2).unwrap(), "{json}");
        }
        let bad = [
            r#"[{"_placeholder":true,"num":2}]"#,
            r#"[{"_placeholder":true}]"#,
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":0.5}]"#,
            r#"[{"_placeholder":true,"num":"0"}]"#,
            r#"{"a":[[{"_placeholder":true,"num":7}]]}"#,
            r#"{"_placeholder":[{"_placeholder":true,"num":7}]}"#,
            r#"{"_placeholder":true,"num":0,"num":5}"#,
        ];
        for json in bad {
            assert!(!check_placeholders(json, 2).unwrap(), "{json}");
        }
        assert!(check_placeholders("[1] x", 2).is_err());
    }

    #[test]
    fn conversion_replaces_placeholders() {
        let att = [Bytes::from_static(b"ab")];
        let v = tree(
            r#"{"k":[{"_placeholder":true,"num":0}],"n":1.5,"s":"x"}"#,
            &att,
        );
        assert_eq!(
            v,
            Value::Map(vec![
                (
                    "k".into(),
                    Value::Array(vec![Value::Binary(b"ab".to_vec())])
                ),
                ("n".into(), Value::F64(1.5)),
                ("s".into(), "x".into()),
            ])
        );
        // Without attachments nothing is reconstructed.
        let v = tree(r#"{"_placeholder":true,"num":0}"#, &[]);
        assert!(matches!(v, Value::Map(_)));
    }
}
