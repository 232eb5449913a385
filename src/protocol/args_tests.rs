//! Tests of [`Args`]: the tuple rule both ways, binary both ways, conversions.

use super::*;
use crate::protocol::{DecodeState, DefaultParser, PacketData, Parser};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The arguments of a received ACK `3[<items>]`.
fn ack_args(items: &str) -> Args {
    let text = format!("3[{items}]");
    let packet = DefaultParser::new()
        .decode_text(&mut DecodeState::new(), Utf8Bytes::from(text))
        .unwrap()
        .unwrap();
    match packet.data {
        PacketData::Ack(args) => args,
        other => panic!("{other:?}"),
    }
}

/// The arguments of a received EVENT `2["ev",<items>]` (the name must be skipped).
fn event_args(items: &str) -> Args {
    let text = if items.is_empty() {
        r#"2["ev"]"#.to_owned()
    } else {
        format!(r#"2["ev",{items}]"#)
    };
    let packet = DefaultParser::new()
        .decode_text(&mut DecodeState::new(), Utf8Bytes::from(text))
        .unwrap()
        .unwrap();
    match packet.data {
        PacketData::Event { args, .. } => args,
        other => panic!("{other:?}"),
    }
}

/// The same arguments in every representation: received ack, received event, msgpack trees.
fn all_forms(items: &str) -> Vec<Args> {
    let ack = ack_args(items);
    let values = Args::from_values(ack.to_values().unwrap());
    vec![ack, event_args(items), values]
}

fn items_text(args: &Args) -> String {
    let mut buf = Vec::new();
    args.write_items(&mut buf, &mut Vec::new());
    String::from_utf8(buf).unwrap()
}

#[test]
fn empty() {
    let args = Args::new();
    assert!(args.is_empty() && !args.has_binary());
    assert_eq!(args.len(), 0);
    assert_eq!(items_text(&args), "");
    assert_eq!(args.deserialize::<()>(), Ok(()));
    assert_eq!(args.deserialize::<Option<u8>>(), Ok(None));
    assert_eq!(args.to_values().unwrap(), vec![]);
    assert_eq!(format!("{:?}", Args::default()), "Args([])");
}

// ---- serializing: the tuple rule ----------------------------------------------------------------

#[test]
fn serialize_tuple_rule() {
    let cases: Vec<(Args, usize, &str)> = vec![
        (Args::from_serialize(&()).unwrap(), 0, ""),
        (Args::from_serialize(&("a", 1)).unwrap(), 2, r#""a",1"#),
        (Args::from_serialize(&vec![1, 2]).unwrap(), 1, "[1,2]"),
        (Args::from_serialize(&"s").unwrap(), 1, r#""s""#),
        (Args::from_serialize(&1.5).unwrap(), 1, "1.5"),
        (
            Args::from_serialize(&(json!({"k": 1}),)).unwrap(),
            1,
            r#"{"k":1}"#,
        ),
        (Args::from_serialize(&json!([1, 2])).unwrap(), 1, "[1,2]"),
        (Args::from_serialize(&None::<u8>).unwrap(), 1, "null"),
        (Args::from_serialize(&(1, (2, 3))).unwrap(), 2, "1,[2,3]"),
    ];
    for (args, len, text) in cases {
        assert_eq!(args.len(), len, "{text}");
        assert_eq!(items_text(&args), text);
    }
}

// ---- deserializing: the tuple rule --------------------------------------------------------------

#[test]
fn deserialize_tuples_read_positionally() {
    for args in all_forms(r#""a",1,true"#) {
        assert_eq!(
            args.deserialize::<(String, i32, bool)>(),
            Ok(("a".into(), 1, true))
        );
        // Extra arguments are ignored.
        assert_eq!(args.deserialize::<(String, i32)>(), Ok(("a".into(), 1)));
        assert_eq!(args.deserialize::<(String,)>(), Ok(("a".into(),)));
        // A non-tuple reads the first argument.
        assert_eq!(args.deserialize::<String>(), Ok("a".into()));
        assert_eq!(args.deserialize::<serde_json::Value>(), Ok(json!("a")));
        // `()` reads nothing.
        assert_eq!(args.deserialize::<()>(), Ok(()));
        assert!(args.deserialize::<serde::de::IgnoredAny>().is_ok());
    }
}

#[test]
fn deserialize_missing_arguments() {
    for args in all_forms(r#""a""#) {
        assert_eq!(
            args.deserialize::<(String, Option<u8>, Option<String>)>(),
            Ok(("a".into(), None, None))
        );
        assert_eq!(
            args.deserialize::<(String, u8)>(),
            Err(ArgsError::Missing { index: 1 })
        );
        assert_eq!(
            args.deserialize::<(String, Option<u8>, u8)>(),
            Err(ArgsError::Missing { index: 2 })
        );
    }
    for args in all_forms("") {
        assert_eq!(
            args.deserialize::<String>(),
            Err(ArgsError::Missing { index: 0 })
        );
        assert_eq!(args.deserialize::<Option<String>>(), Ok(None));
        assert_eq!(args.deserialize::<(Option<u8>,)>(), Ok((None,)));
        assert_eq!(args.deserialize::<()>(), Ok(()));
        assert_eq!(
            args.deserialize::<serde_json::Value>(),
            Err(ArgsError::Missing { index: 0 })
        );
    }
    assert_eq!(
        ArgsError::Missing { index: 1 }.to_string(),
        "missing argument at index 1"
    );
}

#[test]
fn deserialize_invalid_arguments_name_their_index() {
    for args in all_forms(r#""a","b""#) {
        match args.deserialize::<(String, u8)>() {
            Err(ArgsError::Invalid { index: 1, message }) => {
                assert!(message.contains("invalid type"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            args.deserialize::<u8>(),
            Err(ArgsError::Invalid { index: 0, .. })
        ));
    }
}

#[test]
fn deserialize_single_values() {
    for args in all_forms("[1,2],3") {
        assert_eq!(args.deserialize::<Vec<i32>>(), Ok(vec![1, 2]));
        assert_eq!(args.deserialize::<(Vec<i32>, u64)>(), Ok((vec![1, 2], 3)));
        // serde models fixed-size arrays as tuples: positional.
        assert_eq!(args.deserialize::<[u64; 2]>().ok(), None);
        assert_eq!(args.deserialize::<([i32; 2], u64)>(), Ok(([1, 2], 3)));
    }
    for args in all_forms(r#"null,{"x":1}"#) {
        assert_eq!(args.deserialize::<Option<u8>>(), Ok(None));
        assert_eq!(args.deserialize::<()>(), Ok(()));
        #[derive(Debug, Deserialize, PartialEq)]
        struct X {
            x: u8,
        }
        assert_eq!(
            args.deserialize::<(Option<X>, Option<X>)>(),
            Ok((None, Some(X { x: 1 })))
        );
    }
}

#[test]
fn deserialize_structs_and_enums() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Text,
        Image { w: u32 },
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Msg {
        kind: Kind,
        tags: std::collections::HashMap<u32, String>,
    }
    for args in all_forms(r#"{"kind":{"image":{"w":3}},"tags":{"1":"a"}},"text""#) {
        let (msg, kind): (Msg, Kind) = args.deserialize().unwrap();
        assert_eq!(msg.kind, Kind::Image { w: 3 });
        assert_eq!(msg.tags.get(&1).map(String::as_str), Some("a"));
        assert_eq!(kind, Kind::Text);
    }
}

#[test]
fn round_trip_through_from_serialize() {
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct P {
        a: String,
        b: Vec<Option<i64>>,
    }
    let p = P {
        a: "x".into(),
        b: vec![Some(-1), None],
    };
    let args = Args::from_serialize(&(&p, 7u8)).unwrap();
    assert_eq!(args.deserialize::<(P, u8)>(), Ok((p, 7)));
}

// ---- binary -------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, PartialEq, Clone)]
struct Chunk {
    id: u32,
    data: Bytes,
    #[serde(with = "serde_bytes")]
    extra: Vec<u8>,
}

#[test]
fn binary_nested_both_ways() {
    let chunks = vec![
        Chunk {
            id: 1,
            data: Bytes::from_static(b"one"),
            extra: vec![9],
        },
        Chunk {
            id: 2,
            data: Bytes::from_static(b"two"),
            extra: vec![],
        },
    ];
    let raw = serde_bytes::ByteBuf::from(vec![7u8, 7]);
    let args = Args::from_serialize(&(&chunks, &raw)).unwrap();
    assert!(args.has_binary());
    assert_eq!(args.len(), 2);
    assert_eq!(
        items_text(&args),
        r#"[{"id":1,"data":{"_placeholder":true,"num":0},"extra":{"_placeholder":true,"num":1}},{"id":2,"data":{"_placeholder":true,"num":2},"extra":{"_placeholder":true,"num":3}}],{"_placeholder":true,"num":4}"#
    );
    let (got, got_raw): (Vec<Chunk>, serde_bytes::ByteBuf) = args.deserialize().unwrap();
    assert_eq!(got, chunks);
    assert_eq!(got_raw, raw);
    // Into a tree, and back.
    let values = args.to_values().unwrap();
    assert_eq!(values[1], rmpv::Value::Binary(vec![7, 7]));
    let again = Args::from_values(values);
    assert!(again.has_binary());
    assert_eq!(again.deserialize::<(Vec<Chunk>,)>(), Ok((chunks,)));
    // rmpv::Value keeps binary; serde_json::Value cannot hold it.
    assert_eq!(
        args.deserialize::<(rmpv::Value, rmpv::Value)>().unwrap().1,
        rmpv::Value::Binary(vec![7, 7])
    );
    assert!(
        args.deserialize::<(serde_json::Value, serde_json::Value)>()
            .is_err()
    );
    assert!(format!("{args:?}").ends_with("attachments: [3, 1, 3, 0, 2])"));
}

#[test]
fn plain_vec_u8_is_an_array_not_binary() {
    let args = Args::from_serialize(&vec![1u8, 2]).unwrap();
    assert!(!args.has_binary());
    assert_eq!(items_text(&args), "[1,2]");
}

// ---- push and conversions -----------------------------------------------------------------------

#[test]
fn push_appends_one_argument() {
    let mut args = event_args(r#""a",{"b":1}"#);
    args.push("offset-1").unwrap();
    assert_eq!(args.len(), 3);
    assert_eq!(items_text(&args), r#""a",{"b":1},"offset-1""#);
    let mut empty = Args::new();
    empty.push(&(1, 2)).unwrap();
    assert_eq!((empty.len(), items_text(&empty).as_str()), (1, "[1,2]"));
    // Binary numbering continues after existing attachments.
    let mut bin = Args::from_serialize(&Bytes::from_static(b"a")).unwrap();
    bin.push(&Bytes::from_static(b"b")).unwrap();
    assert_eq!(
        items_text(&bin),
        r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#
    );
    assert_eq!(
        bin.deserialize::<(Bytes, Bytes)>(),
        Ok((Bytes::from_static(b"a"), Bytes::from_static(b"b")))
    );
    let mut values = Args::from_values(vec![rmpv::Value::from(1)]);
    values.push(&Bytes::from_static(b"z")).unwrap();
    assert!(values.has_binary());
    assert_eq!(
        values.deserialize::<(u8, Bytes)>(),
        Ok((1, Bytes::from_static(b"z")))
    );
}

#[test]
fn to_values_skips_the_event_name() {
    let args = event_args(r#"1,"s",[true,null],{"f":1.5}"#);
    assert_eq!(
        args.to_values().unwrap(),
        vec![
            rmpv::Value::from(1),
            rmpv::Value::from("s"),
            rmpv::Value::Array(vec![true.into(), rmpv::Value::Nil]),
            rmpv::Value::Map(vec![("f".into(), rmpv::Value::F64(1.5))]),
        ]
    );
    let from: Args = vec![rmpv::Value::from(2)].into();
    assert_eq!(from.deserialize::<u8>(), Ok(2));
    assert_eq!(items_text(&from), "2");
}

#[test]
fn clones_share_the_text() {
    let args = event_args(r#""big""#);
    let copy = args.clone();
    match (&args.repr, &copy.repr) {
        (Repr::Json(a), Repr::Json(b)) => assert_eq!(a.text.as_ptr(), b.text.as_ptr()),
        _ => panic!("expected JSON text"),
    }
}

#[test]
fn a_null_value_is_one_argument_and_unit_is_none() {
    assert_eq!(
        Args::from_serialize(&serde_json::Value::Null)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(Args::from_serialize(&()).unwrap().len(), 0);
    assert_eq!(Args::from_serialize(&None::<u8>).unwrap().len(), 1);
}
