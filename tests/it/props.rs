//! Property tests of the Socket.IO default parser, through the public API only
//! (`axum_socketio::protocol`): encode/decode round trips, and no panic on any input.
//!
//! Case counts are bounded so CI stays fast; `PROPTEST_CASES=100000 cargo test --test it props`
//! runs a long campaign (docs/reliability.md records one). Failures are not persisted to files.

use axum_socketio::protocol::{
    Args, DecodeState, DefaultParser, Encoded, EncodedFrame, EventName, MsgpackParser, Packet,
    PacketData, ParseError, Parser, RESERVED_EVENTS, Utf8Bytes,
};
use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rmpv::Value as Mp;
use serde_json::Value as Json;

/// Cases per property: `PROPTEST_CASES` when set (long runs), else `default`.
fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Floats whose shortest decimal form has at most 15 significant digits: k / 2^m with small m.
/// serde_json's default float parser is exact for those only (see `floats_parse_exactly`).
fn float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..4).prop_map(|(k, m)| f64::from(k) / f64::from(1u32 << m))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        any::<String>(),
        Just("_placeholder".to_owned()),
        Just("num".to_owned()),
    ]
}

/// A msgpack tree as `Args` holds it: JSON-representable, binary anywhere.
fn mp_value() -> impl Strategy<Value = Mp> {
    let leaf = prop_oneof![
        Just(Mp::Nil),
        any::<bool>().prop_map(Mp::Boolean),
        any::<u64>().prop_map(Mp::from),
        any::<i64>().prop_map(Mp::from),
        float().prop_map(Mp::F64),
        any::<String>().prop_map(Mp::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Mp::Binary),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Mp::Array),
            proptest::collection::btree_map(key(), inner, 0..6).prop_map(|m| {
                Mp::Map(
                    m.into_iter()
                        .map(|(k, v)| not_a_placeholder(k, v))
                        .collect(),
                )
            }),
        ]
    })
}

/// `{"_placeholder":true,"num":N}` in a packet with binary IS an attachment reference on the
/// wire (in Node too): a user object of that shape cannot travel as an object, so the generator
/// makes none.
fn not_a_placeholder(k: String, v: Mp) -> (Mp, Mp) {
    let v = match v {
        Mp::Boolean(true) if k == "_placeholder" => Mp::Boolean(false),
        v => v,
    };
    (Mp::from(k), v)
}

/// A JSON value (for CONNECT auth and CONNECT_ERROR data).
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        float().prop_map(Json::from),
        any::<String>().prop_map(Json::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Json> {
    proptest::collection::btree_map(key(), json_value(), 0..5)
        .prop_map(|m| Json::Object(m.into_iter().collect()))
}

fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("/".to_owned()),
        2 => "/[a-zA-Z0-9_/.-]{1,12}",
        1 => "/[^,]{1,8}",
    ]
}

fn event_name() -> impl Strategy<Value = EventName> {
    prop_oneof![
        3 => any::<String>()
            .prop_filter("reserved", |s| !RESERVED_EVENTS.contains(&s.as_str()))
            .prop_map(EventName::from),
        1 => any::<i64>().prop_map(EventName::from_number),
    ]
}

/// Every kind of packet a server writes or a client sends.
fn packet() -> impl Strategy<Value = Packet> {
    let args = || proptest::collection::vec(mp_value(), 0..5).prop_map(Args::from_values);
    prop_oneof![
        (nsp(), proptest::option::of(json_object())).prop_map(|(n, auth)| Packet::connect(n, auth)),
        nsp().prop_map(Packet::disconnect),
        (
            nsp(),
            event_name(),
            args(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(n, name, args, id)| {
                let p = Packet::event(n, name, args);
                match id {
                    Some(id) => p.with_id(id),
                    None => p,
                }
            }),
        (nsp(), any::<u64>(), args()).prop_map(|(n, id, args)| Packet::ack(n, id, args)),
        (nsp(), any::<String>(), proptest::option::of(json_value()))
            .prop_map(|(n, m, d)| Packet::connect_error(n, &m, d)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Feeds an encoded packet back to the decoder, as the engine would hand it over.
fn decode_encoded(parser: &DefaultParser, enc: &Encoded) -> Result<Packet, ParseError> {
    let mut state = DecodeState::new();
    let EncodedFrame::Text(text) = &enc.first else {
        panic!("the default parser writes text first frames");
    };
    let body = text
        .as_str()
        .strip_prefix('4')
        .expect("engine message type");
    let mut out = parser.decode_text(&mut state, Utf8Bytes::from(body.to_owned()))?;
    assert_eq!(
        out.is_none(),
        !enc.attachments.is_empty(),
        "a packet waits for attachments exactly when it has some"
    );
    for (i, att) in enc.attachments.iter().enumerate() {
        assert!(out.is_none(), "packet complete after {i} attachments");
        out = parser.decode_binary(&mut state, att.clone())?;
    }
    assert!(!state.is_reconstructing());
    Ok(out.expect("a complete packet"))
}

fn same_encoding(a: &Encoded, b: &Encoded) -> bool {
    a.text() == b.text() && a.attachments == b.attachments
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

/// encode → decode → encode is a fixed point, and the arguments come back equal (binary in
/// place of each placeholder, in depth-first order).
#[test]
fn packets_round_trip() {
    let parser = DefaultParser::new();
    run(1000, packet(), |p| {
        let enc = parser.encode(&p);
        let too_many = enc.attachments.len() > DefaultParser::DEFAULT_MAX_ATTACHMENTS;
        let decoded = decode_encoded(&parser, &enc);
        if too_many {
            // More than maxAttachments: Node's decoder refuses it, so do we.
            prop_assert!(
                matches!(decoded, Err(ParseError::TooManyAttachments { .. })),
                "{decoded:?}"
            );
            return Ok(());
        }
        let decoded = decoded.map_err(|e| TestCaseError::fail(format!("{e} for {:?}", enc)))?;
        prop_assert_eq!(decoded.nsp.as_str(), p.nsp.as_str());
        prop_assert_eq!(decoded.id, p.id);
        prop_assert_eq!(decoded.packet_type(), p.packet_type());
        let again = parser.encode(&decoded);
        prop_assert!(
            same_encoding(&enc, &again),
            "{:?} re-encoded as {:?}",
            enc,
            again
        );
        match (&p.data, &decoded.data) {
            (PacketData::Event { name: a, args: x }, PacketData::Event { name: b, args: y }) => {
                prop_assert_eq!(a.as_str(), b.as_str());
                prop_assert_eq!(a.is_numeric(), b.is_numeric());
                prop_assert_eq!(x.to_values().unwrap(), y.to_values().unwrap());
            }
            (PacketData::Ack(x), PacketData::Ack(y)) => {
                prop_assert_eq!(x.to_values().unwrap(), y.to_values().unwrap());
            }
            (PacketData::Connect(a), PacketData::Connect(b)) => prop_assert_eq!(a, b),
            (PacketData::ConnectError(a), PacketData::ConnectError(b)) => prop_assert_eq!(a, b),
            (PacketData::Disconnect, PacketData::Disconnect) => {}
            (a, b) => prop_assert!(false, "{a:?} came back as {b:?}"),
        }
        Ok(())
    });
}

/// `Args::from_serialize` then `deserialize` gives the value back (tuple rule, binary included).
#[test]
fn args_round_trip_through_serde() {
    type T = (String, i64, Option<bool>, Vec<u32>, serde_bytes::ByteBuf);
    let strategy = (
        any::<String>(),
        any::<i64>(),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(any::<u32>(), 0..8),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(serde_bytes::ByteBuf::from),
    );
    let parser = DefaultParser::new();
    run(500, strategy, |v: T| {
        let args = Args::from_serialize(&v).unwrap();
        prop_assert_eq!(args.len(), 5);
        prop_assert_eq!(&args.deserialize::<T>().unwrap(), &v);
        // Through the wire too.
        let p = Packet::event("/", "e", args);
        let decoded = decode_encoded(&parser, &parser.encode(&p)).unwrap();
        let args = decoded.args().unwrap();
        prop_assert_eq!(&args.deserialize::<T>().unwrap(), &v);
        Ok(())
    });
}

/// Any JSON value is one argument and comes back equal. (As a 1-tuple: a bare `Value::Null`
/// serializes as unit, which the tuple rule reads as "no argument".)
#[test]
fn json_arguments_round_trip() {
    let parser = DefaultParser::new();
    run(500, json_value(), |v| {
        let args = Args::from_serialize(&(&v,)).unwrap();
        prop_assert_eq!(args.len(), 1);
        let p = Packet::event("/x", "e", args).with_id(7);
        let decoded = decode_encoded(&parser, &parser.encode(&p)).unwrap();
        let back: Json = decoded.args().unwrap().deserialize().unwrap();
        prop_assert_eq!(back, v);
        Ok(())
    });
}

/// A client's float arrives as the same f64 when a handler reads it (JSON.parse is exact; the
/// Rust side uses ryu to write, so only reading can be off).
#[test]
fn floats_parse_exactly() {
    let parser = DefaultParser::new();
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    run(1000, finite, |f| {
        let text = format!(r#"2["e",{}]"#, serde_json::to_string(&f).unwrap());
        let p = parser
            .decode_text(&mut DecodeState::new(), Utf8Bytes::from(text))
            .unwrap()
            .unwrap();
        let (back,): (f64,) = p.args().unwrap().deserialize().unwrap();
        prop_assert_eq!(back.to_bits(), f.to_bits());
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// No panic on any input

/// Text that looks like a packet: a type, maybe an attachment count, a namespace, an ack id,
/// then JSON-ish fragments. Reaches far deeper than uniformly random strings.
fn packet_like() -> impl Strategy<Value = String> {
    let head = "[0-9]{0,2}(-|[0-9]{0,22}-)?(/[a-z,/]{0,6},?)?[0-9]{0,22}";
    let fragment = prop_oneof![
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just(r#""_placeholder""#.to_owned()),
        Just(r#""num""#.to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just(r#""x""#.to_owned()),
        Just(r#""connect""#.to_owned()),
        Just(r#""\u00e9\ud83d\ude00""#.to_owned()),
        Just(r#""\ud800""#.to_owned()),
        "-?[0-9]{1,30}(\\.[0-9]{0,5})?(e[+-]?[0-9]{1,4})?",
        any::<char>().prop_map(String::from),
    ];
    (head, proptest::collection::vec(fragment, 0..24))
        .prop_map(|(h, f)| format!("{h}{}", f.concat()))
}

/// What a hostile client may send on one connection: text (any UTF-8) and binary messages, in
/// any order, all through one decoder state.
#[derive(Debug, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

fn messages() -> impl Strategy<Value = Vec<Msg>> {
    let msg = prop_oneof![
        3 => packet_like().prop_map(Msg::Text),
        1 => any::<String>().prop_map(Msg::Text),
        2 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Msg::Binary),
    ];
    proptest::collection::vec(msg, 1..12)
}

#[test]
fn decoder_never_panics() {
    let parser = DefaultParser::new();
    let small = DefaultParser::with_max_attachments(2);
    run(1000, messages(), |msgs| {
        for parser in [&parser, &small] {
            let mut state = DecodeState::new();
            for m in &msgs {
                let r = match m {
                    Msg::Text(t) => parser.decode_text(&mut state, Utf8Bytes::from(t.clone())),
                    Msg::Binary(b) => parser.decode_binary(&mut state, Bytes::from(b.clone())),
                };
                match r {
                    Ok(Some(p)) => check_decoded(parser, &p)?,
                    Ok(None) => prop_assert!(state.is_reconstructing()),
                    // The connection would close here; a fresh one starts clean.
                    Err(_) => state.reset(),
                }
            }
        }
        Ok(())
    });
}

/// What a decoded packet promises, whatever the input was.
fn check_decoded(parser: &DefaultParser, p: &Packet) -> Result<(), TestCaseError> {
    prop_assert!(!p.nsp.as_str().contains(','), "nsp {:?}", p.nsp);
    if let PacketData::Event { name, .. } = &p.data {
        prop_assert!(!name.is_reserved(), "reserved name {name:?} accepted");
    }
    if let Some(args) = p.args() {
        // Reading the arguments in any way must not panic either.
        let _ = args.to_values();
        let _ = args.deserialize::<Json>();
        let _ = args.deserialize::<(Option<String>, Option<i64>, Option<Vec<Json>>)>();
        let _ = format!("{args:?}");
    }
    // Whatever was accepted can be written back, and reads back the same.
    let enc = parser.encode(p);
    if enc.attachments.len() <= parser.max_attachments() {
        let again = decode_encoded(parser, &enc)
            .map_err(|e| TestCaseError::fail(format!("accepted {p:?}, its encoding fails: {e}")))?;
        prop_assert!(same_encoding(&enc, &parser.encode(&again)));
    }
    Ok(())
}

/// Truncating a valid encoding anywhere (on a character boundary) never panics, and dropping a
/// byte of JSON never makes a packet with different arguments silently.
#[test]
fn truncated_packets_never_panic() {
    let parser = DefaultParser::new();
    run(400, (packet(), any::<prop::sample::Index>()), |(p, at)| {
        let enc = parser.encode(&p);
        let text = enc.text().unwrap()[1..].to_owned();
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut state = DecodeState::new();
        let _ = parser.decode_text(&mut state, Utf8Bytes::from(text[..cut].to_owned()));
        Ok(())
    });
}

/// Deep nesting, huge numbers and long strings are refused or accepted, never a crash.
#[test]
fn extreme_shapes_never_panic() {
    let parser = DefaultParser::new();
    let shapes = (1usize..20_000, 0usize..6);
    run(300, shapes, |(n, kind)| {
        let body = match kind {
            0 => format!(r#"2["x",{}{}]"#, "[".repeat(n), "]".repeat(n)),
            1 => format!("0{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n)),
            2 => format!(r#"2["x",{}]"#, "9".repeat(n)),
            3 => format!(r#"2{}["x"]"#, "9".repeat(n.min(400))),
            4 => format!(r#"5{}-["x"]"#, "9".repeat(n.min(400))),
            _ => format!(
                r#"51-["x",{}{{"_placeholder":true,"num":0}}{}]"#,
                "[".repeat(n),
                "]".repeat(n)
            ),
        };
        let mut state = DecodeState::new();
        if let Ok(Some(p)) = parser.decode_text(&mut state, Utf8Bytes::from(body)) {
            check_decoded(&parser, &p)?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// The msgpack parser

/// Packets written by the msgpack parser read back the same (one binary message each).
#[test]
fn msgpack_packets_round_trip() {
    let parser = MsgpackParser::new();
    run(500, packet(), |p| {
        let enc = parser.encode(&p);
        prop_assert!(enc.attachments.is_empty());
        let EncodedFrame::Binary(bytes) = &enc.first else {
            return Err(TestCaseError::fail("msgpack writes binary messages"));
        };
        let decoded = parser
            .decode_binary(&mut DecodeState::new(), bytes.clone())
            .map_err(|e| TestCaseError::fail(format!("{e} for {p:?}")))?
            .ok_or_else(|| TestCaseError::fail("incomplete"))?;
        prop_assert_eq!(decoded.nsp.as_str(), p.nsp.as_str());
        prop_assert_eq!(decoded.id, p.id);
        prop_assert_eq!(decoded.packet_type(), p.packet_type());
        let EncodedFrame::Binary(again) = parser.encode(&decoded).first else {
            return Err(TestCaseError::fail("msgpack writes binary messages"));
        };
        prop_assert_eq!(bytes, &again);
        if let (Some(a), Some(b)) = (p.args(), decoded.args()) {
            let a: Vec<Mp> = a.to_values().unwrap().into_iter().map(js_number).collect();
            prop_assert_eq!(a, b.to_values().unwrap());
        }
        Ok(())
    });
}

/// What a JavaScript peer sees: an integral float is an integer (the msgpack writer, like
/// notepack, writes it as one).
fn js_number(v: Mp) -> Mp {
    match v {
        Mp::F64(f) if f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f) => {
            Mp::from(f as u64)
        }
        Mp::F64(f) if f.fract() == 0.0 && (-9_007_199_254_740_992.0..0.0).contains(&f) => {
            Mp::from(f as i64)
        }
        Mp::Array(items) => Mp::Array(items.into_iter().map(js_number).collect()),
        Mp::Map(entries) => Mp::Map(
            entries
                .into_iter()
                .map(|(k, v)| (js_number(k), js_number(v)))
                .collect(),
        ),
        v => v,
    }
}

/// Any bytes: a packet or an error, never a panic; text is always refused.
#[test]
fn msgpack_decoder_never_panics() {
    let parser = MsgpackParser::new();
    let input = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        // A valid packet with bytes flipped, cut or appended.
        (packet(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(p, at, b)| {
            let EncodedFrame::Binary(bytes) = MsgpackParser::new().encode(&p).first else {
                unreachable!()
            };
            let mut v = bytes.to_vec();
            let i = at.index(v.len().max(1));
            match b % 3 {
                0 if i < v.len() => v[i] ^= b | 1,
                1 => v.truncate(i),
                _ => v.push(b),
            }
            v
        }),
    ];
    run(1000, input, |bytes| {
        let mut state = DecodeState::new();
        if let Ok(Some(p)) = parser.decode_binary(&mut state, Bytes::from(bytes)) {
            if let Some(args) = p.args() {
                let _ = args.to_values();
                let _ = args.deserialize::<Json>();
            }
            let _ = parser.encode(&p);
        }
        prop_assert!(
            parser
                .decode_text(&mut state, Utf8Bytes::from_static("2[\"x\"]"))
                .is_err()
        );
        Ok(())
    });
}
