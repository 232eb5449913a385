//! Tests of the default parser: wire examples, every decoder rule, attachments, round trips.

use super::*;
use serde::{Deserialize, Serialize};

fn parser() -> DefaultParser {
    DefaultParser::new()
}

/// Decodes a packet that needs no attachments.
fn decode(text: &str) -> Result<Packet, ParseError> {
    let mut state = DecodeState::new();
    let packet = parser().decode_text(&mut state, Utf8Bytes::from(text))?;
    assert!(!state.is_reconstructing(), "{text} waits for attachments");
    Ok(packet.expect("complete packet"))
}

/// Decodes a packet followed by its attachments.
fn decode_bin(text: &str, attachments: &[&[u8]]) -> Result<Packet, ParseError> {
    let mut state = DecodeState::new();
    let p = parser();
    let mut out = p.decode_text(&mut state, Utf8Bytes::from(text))?;
    for (i, a) in attachments.iter().enumerate() {
        assert!(out.is_none(), "complete before attachment {i}");
        out = p.decode_binary(&mut state, Bytes::copy_from_slice(a))?;
    }
    assert!(!state.is_reconstructing());
    Ok(out.expect("complete packet"))
}

fn encode_text(packet: &Packet) -> String {
    let encoded = parser().encode(packet);
    encoded.text().expect("text frame").to_owned()
}

/// Decodes `text`, encodes the packet again and checks the very same text comes out (with the
/// Engine.IO `4` in front).
fn round_trip(text: &str) -> Packet {
    let packet = decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(encode_text(&packet), format!("4{text}"));
    packet
}

fn event(packet: &Packet) -> (&str, &Args) {
    match &packet.data {
        PacketData::Event { name, args } => (name.as_str(), args),
        other => panic!("not an event: {other:?}"),
    }
}

// ---- the examples of the protocol notes ------------------------------------------------------

#[test]
fn example_connect_main() {
    let p = round_trip("0");
    assert_eq!(p.nsp, "/");
    assert!(matches!(p.data, PacketData::Connect(None)));
}

#[test]
fn example_connect_with_auth() {
    let p = round_trip(r#"0/admin,{"token":"1"}"#);
    assert_eq!(p.nsp, "/admin");
    match &p.data {
        PacketData::Connect(Some(auth)) => assert_eq!(auth["token"], "1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn example_event() {
    let p = round_trip(r#"2["foo"]"#);
    let (name, args) = event(&p);
    assert_eq!(name, "foo");
    assert!(args.is_empty());
    assert_eq!(p.id, None);
}

#[test]
fn example_event_with_nsp_and_id() {
    let p = round_trip(r#"2/admin,13["bar"]"#);
    assert_eq!((p.nsp.as_str(), p.id), ("/admin", Some(13)));
    assert_eq!(event(&p).0, "bar");
}

#[test]
fn example_ack() {
    let p = round_trip(r#"3/admin,13["bar"]"#);
    assert_eq!(p.id, Some(13));
    match &p.data {
        PacketData::Ack(args) => assert_eq!(args.deserialize::<String>().unwrap(), "bar"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn example_disconnect() {
    let p = round_trip("1/admin,");
    assert_eq!(p.nsp, "/admin");
    assert!(matches!(p.data, PacketData::Disconnect));
}

#[test]
fn example_binary_event() {
    let text = r#"51-["baz",{"_placeholder":true,"num":0}]"#;
    let p = decode_bin(text, &[b"\x01\x02\x03"]).unwrap();
    let (name, args) = event(&p);
    assert_eq!(name, "baz");
    assert!(args.has_binary());
    assert_eq!(
        args.deserialize::<Bytes>().unwrap(),
        Bytes::from_static(b"\x01\x02\x03")
    );
    let encoded = parser().encode(&p);
    assert_eq!(encoded.text(), Some(&*format!("4{text}")));
    assert_eq!(
        encoded.attachments,
        vec![Bytes::from_static(b"\x01\x02\x03")]
    );
}

#[test]
fn example_connect_error() {
    let p = round_trip(r#"4{"message":"Invalid namespace"}"#);
    assert!(matches!(p.data, PacketData::ConnectError(_)));
    let built = Packet::connect_error("/", "Invalid namespace", None);
    assert_eq!(encode_text(&built), r#"44{"message":"Invalid namespace"}"#);
}

#[test]
fn example_connect_reply() {
    round_trip(r#"0{"sid":"abc"}"#);
    assert_eq!(
        encode_text(&Packet::connect_reply("/", "abc", None)),
        r#"40{"sid":"abc"}"#
    );
    assert_eq!(
        encode_text(&Packet::connect_reply("/a", "abc", Some("p"))),
        r#"40/a,{"sid":"abc","pid":"p"}"#
    );
}

// ---- decoder rules: accepted ------------------------------------------------------------------

#[test]
fn accepts() {
    let good: &[&str] = &[
        "0",
        "0/custom",
        "0/custom,",
        r#"0{"a":{"b":[1,null]}}"#,
        "0/a,{}",
        "1",
        "1/admin,",
        "1/admin",
        r#"2["foo",1,{"a":2},[3],"x",null,true,-1.5e3]"#,
        r#"2[1,"a"]"#,
        r#"2[""]"#,
        r#"2["disconnected"]"#,
        r#"2["newListenerX"]"#,
        r#"2 ["foo" , 1 ] "#,
        r#"213["x"]"#,
        r#"2/nsp,0["x"]"#,
        r#"218446744073709551615["x"]"#,
        r#"2/a?b=c,["x"]"#,
        r#"2/é,["ü",{"ключ":"значение"}]"#,
        r#"2["x",{"_placeholder":true,"num":5}]"#,
        r#"3/admin,13["bar"]"#,
        "313[]",
        "313",
        r#"3[[],{}]"#,
        r#"4"error""#,
        r#"4{"message":"x","data":{"a":1}}"#,
    ];
    for text in good {
        decode(text).unwrap_or_else(|e| panic!("{text:?} rejected: {e}"));
    }
}

#[test]
fn namespace_ends_at_comma_or_end() {
    assert_eq!(decode("0/custom").unwrap().nsp, "/custom");
    assert_eq!(decode("0/custom,").unwrap().nsp, "/custom");
    assert_eq!(decode(r#"2/a?b=c,["x"]"#).unwrap().nsp, "/a?b=c");
    assert_eq!(decode(r#"2["x"]"#).unwrap().nsp, "/");
    // Without a comma the rest is namespace, so no payload follows.
    assert!(decode(r#"2/admin["x"]"#).is_err());
    assert_eq!(encode_text(&decode("0/custom").unwrap()), "40/custom,");
}

#[test]
fn ack_ids() {
    assert_eq!(decode(r#"213["x"]"#).unwrap().id, Some(13));
    assert_eq!(decode(r#"20["x"]"#).unwrap().id, Some(0));
    assert_eq!(decode(r#"2007["x"]"#).unwrap().id, Some(7));
    assert_eq!(
        decode(r#"218446744073709551615["x"]"#).unwrap().id,
        Some(u64::MAX)
    );
    assert_eq!(
        decode(r#"218446744073709551616["x"]"#).unwrap_err(),
        ParseError::InvalidAckId
    );
    assert_eq!(
        decode("399999999999999999999999999999[]").unwrap_err(),
        ParseError::InvalidAckId
    );
    let p = Packet::ack("/", u64::MAX, Args::new());
    assert_eq!(encode_text(&p), "4318446744073709551615[]");
    assert_eq!(
        decode("318446744073709551615[]").unwrap().id,
        Some(u64::MAX)
    );
}

#[test]
fn ack_without_payload_has_no_arguments() {
    match decode("313").unwrap().data {
        PacketData::Ack(args) => assert!(args.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn event_names() {
    assert_eq!(event(&decode(r#"2["a\u0062\"c"]"#).unwrap()).0, "ab\"c");
    assert_eq!(event(&decode(r#"2[""]"#).unwrap()).0, "");
    let p = decode(r#"2[42,"x"]"#).unwrap();
    match &p.data {
        PacketData::Event { name, args } => {
            assert!(name.is_numeric());
            assert_eq!(name.as_str(), "42");
            assert_eq!(args.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(event(&decode("2[-7]").unwrap()).0, "-7");
    assert_eq!(event(&decode("2[2.0]").unwrap()).0, "2");
    assert_eq!(event(&decode("2[1.5]").unwrap()).0, "1.5");
    // A numeric name is written back as a number.
    assert_eq!(
        encode_text(&decode(r#"2[42,"x"]"#).unwrap()),
        r#"42[42,"x"]"#
    );
    // Escapes are re-encoded canonically.
    assert_eq!(
        encode_text(&decode(r#"2["\u0061"]"#).unwrap()),
        r#"42["a"]"#
    );
}

// ---- decoder rules: rejected ------------------------------------------------------------------

#[test]
fn rejects() {
    use ParseError as E;
    type Check = fn(&ParseError) -> bool;
    let bad: &[(&str, Check)] = &[
        ("", |e| *e == E::Empty),
        ("7", |e| *e == E::UnknownType('7')),
        ("9[]", |e| *e == E::UnknownType('9')),
        ("a", |e| *e == E::UnknownType('a')),
        ("é", |e| *e == E::UnknownType('é')),
        (r#"{"a":1}"#, |e| *e == E::UnknownType('{')),
        ("0[]", |e| matches!(e, E::InvalidPayload(_))),
        (r#"0"x""#, |e| matches!(e, E::InvalidPayload(_))),
        ("0null", |e| matches!(e, E::InvalidPayload(_))),
        ("0/admin,null", |e| matches!(e, E::InvalidPayload(_))),
        ("0{", |e| matches!(e, E::InvalidPayload(_))),
        ("0{}x", |e| matches!(e, E::InvalidPayload(_))),
        ("0,{}", |e| matches!(e, E::InvalidPayload(_))),
        ("1{}", |e| matches!(e, E::InvalidPayload(_))),
        ("1/admin,{}", |e| matches!(e, E::InvalidPayload(_))),
        ("1 ", |e| matches!(e, E::InvalidPayload(_))),
        ("2", |e| matches!(e, E::InvalidPayload(_))),
        ("2/admin,", |e| matches!(e, E::InvalidPayload(_))),
        ("213", |e| matches!(e, E::InvalidPayload(_))),
        ("2[]", |e| matches!(e, E::InvalidPayload(_))),
        ("2{}", |e| matches!(e, E::InvalidPayload(_))),
        (r#"2"foo""#, |e| matches!(e, E::InvalidPayload(_))),
        ("2[null]", |e| matches!(e, E::InvalidPayload(_))),
        ("2[true]", |e| matches!(e, E::InvalidPayload(_))),
        ("2[{}]", |e| matches!(e, E::InvalidPayload(_))),
        (r#"2[["foo"]]"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo"]x"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo"]]"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo",]"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo""#, |e| matches!(e, E::InvalidPayload(_))),
        ("2['foo']", |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo",NaN]"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["foo",undefined]"#, |e| {
            matches!(e, E::InvalidPayload(_))
        }),
        (r#"2["foo",01]"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2["fo\x"]"#, |e| matches!(e, E::InvalidPayload(_))),
        ("2[\"fo\no\"]", |e| matches!(e, E::InvalidPayload(_))),
        ("2[1e400]", |e| matches!(e, E::InvalidPayload(_))),
        (r#"2/admin,13"#, |e| matches!(e, E::InvalidPayload(_))),
        (r#"2-1["a"]"#, |e| matches!(e, E::InvalidPayload(_))),
        ("3{}", |e| matches!(e, E::InvalidPayload(_))),
        (r#"3"x""#, |e| matches!(e, E::InvalidPayload(_))),
        ("3[", |e| matches!(e, E::InvalidPayload(_))),
        ("4", |e| matches!(e, E::InvalidPayload(_))),
        ("4[1]", |e| matches!(e, E::InvalidPayload(_))),
        ("45", |e| matches!(e, E::InvalidPayload(_))),
        ("4null", |e| matches!(e, E::InvalidPayload(_))),
        (r#"5["a"]"#, |e| *e == E::IllegalAttachments),
        (r#"5-["a"]"#, |e| *e == E::IllegalAttachments),
        (r#"50-["a"]"#, |e| *e == E::IllegalAttachments),
        (r#"5a-["a"]"#, |e| *e == E::IllegalAttachments),
        (r#"5 1-["a"]"#, |e| *e == E::IllegalAttachments),
        ("61", |e| *e == E::IllegalAttachments),
        (r#"511-["a"]"#, |e| {
            *e == E::TooManyAttachments { count: 11, max: 10 }
        }),
        (r#"599999999999999999999999-["a"]"#, |e| {
            matches!(e, E::TooManyAttachments { .. })
        }),
        (r#"51-["a",{"_placeholder":true,"num":1}]"#, |e| {
            *e == E::IllegalAttachments
        }),
        (r#"51-["a",{"_placeholder":true,"num":-1}]"#, |e| {
            *e == E::IllegalAttachments
        }),
        (r#"51-["a",{"_placeholder":true}]"#, |e| {
            *e == E::IllegalAttachments
        }),
        (r#"51-["a",{"x":[{"_placeholder":true,"num":"0"}]}]"#, |e| {
            *e == E::IllegalAttachments
        }),
        (r#"51-["connect",{"_placeholder":true,"num":0}]"#, |e| {
            matches!(e, E::InvalidPayload(_))
        }),
        ("51-[]", |e| matches!(e, E::InvalidPayload(_))),
        ("61-{}", |e| matches!(e, E::InvalidPayload(_))),
        ("61-", |e| matches!(e, E::InvalidPayload(_))),
    ];
    for (text, check) in bad {
        let mut state = DecodeState::new();
        match parser().decode_text(&mut state, Utf8Bytes::from(*text)) {
            Err(e) => assert!(check(&e), "{text:?}: unexpected error {e:?}"),
            Ok(p) => panic!("{text:?} accepted: {p:?}"),
        }
    }
    assert!(bad.len() >= 40);
}

#[test]
fn reserved_event_names_are_rejected() {
    for name in RESERVED_EVENTS {
        let text = format!(r#"2["{name}",1]"#);
        assert!(
            matches!(decode(&text), Err(ParseError::InvalidPayload(_))),
            "{text}"
        );
        // Also when escaped.
        let escaped: String = name
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        assert!(decode(&format!(r#"2["{escaped}"]"#)).is_err());
    }
}

#[test]
fn attachment_limit_is_a_parameter() {
    let p = DefaultParser::with_max_attachments(1);
    let mut state = DecodeState::new();
    assert_eq!(
        p.decode_text(&mut state, Utf8Bytes::from_static(r#"52-["a"]"#))
            .unwrap_err(),
        ParseError::TooManyAttachments { count: 2, max: 1 }
    );
    let mut placeholders = Vec::new();
    for i in 0..10 {
        placeholders.push(format!(r#"{{"_placeholder":true,"num":{i}}}"#));
    }
    let text = format!(r#"510-["a",{}]"#, placeholders.join(","));
    let atts: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i]).collect();
    let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
    let packet = decode_bin(&text, &refs).unwrap();
    let got: Vec<Bytes> = event(&packet)
        .1
        .deserialize::<(
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
            Bytes,
        )>()
        .map(|t| vec![t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9])
        .unwrap();
    assert_eq!(got, atts);
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 100_000;
    let text = format!(r#"2["x",{}{}]"#, "[".repeat(depth), "]".repeat(depth));
    // Plain events are validated iteratively, then deserializing hits the recursion limit.
    let packet = decode(&text).unwrap();
    assert!(event(&packet).1.deserialize::<serde_json::Value>().is_err());
    let text = format!("0{}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    assert!(matches!(decode(&text), Err(ParseError::InvalidPayload(_))));
    let text = format!(r#"51-["x",{}{}]"#, "[".repeat(depth), "]".repeat(depth));
    assert!(decode_bin(&text, &[b""]).is_err());
}

// ---- binary reconstruction --------------------------------------------------------------------

#[test]
fn attachments_are_reconstructed_in_order() {
    let text = r#"62-/admin,7[{"_placeholder":true,"num":1},{"k":{"_placeholder":true,"num":0}}]"#;
    let p = decode_bin(text, &[b"first", b"second"]).unwrap();
    assert_eq!((p.nsp.as_str(), p.id), ("/admin", Some(7)));
    #[derive(Deserialize)]
    struct K {
        k: Bytes,
    }
    let PacketData::Ack(args) = &p.data else {
        panic!("{p:?}")
    };
    let (a, b): (Bytes, K) = args.deserialize().unwrap();
    assert_eq!((&a[..], &b.k[..]), (&b"second"[..], &b"first"[..]));
    assert_eq!(p.packet_type(), PacketType::BinaryAck);
    let encoded = parser().encode(&p);
    assert_eq!(encoded.text(), Some(&*format!("4{text}")));
    assert_eq!(encoded.attachments, vec![&b"first"[..], &b"second"[..]]);
}

#[test]
fn binary_packet_without_placeholders_still_takes_its_attachments() {
    let p = decode_bin(r#"51-["a",1]"#, &[b"x"]).unwrap();
    assert_eq!(event(&p).1.deserialize::<i32>().unwrap(), 1);
}

#[test]
fn state_machine() {
    let p = parser();
    let mut state = DecodeState::new();
    assert_eq!(
        p.decode_binary(&mut state, Bytes::from_static(b"x"))
            .unwrap_err(),
        ParseError::UnexpectedBinary
    );
    let text = Utf8Bytes::from_static(
        r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    assert!(p.decode_text(&mut state, text.clone()).unwrap().is_none());
    assert!(state.is_reconstructing());
    assert_eq!(
        p.decode_text(&mut state, Utf8Bytes::from_static(r#"2["b"]"#))
            .unwrap_err(),
        ParseError::UnexpectedText
    );
    assert!(
        p.decode_binary(&mut state, Bytes::from_static(b"1"))
            .unwrap()
            .is_none()
    );
    let done = p
        .decode_binary(&mut state, Bytes::from_static(b"2"))
        .unwrap();
    assert!(done.is_some());
    assert!(!state.is_reconstructing());
    // Back to text; a stray binary is an error again.
    assert!(
        p.decode_text(&mut state, Utf8Bytes::from_static(r#"2["b"]"#))
            .unwrap()
            .is_some()
    );
    assert!(p.decode_binary(&mut state, Bytes::new()).is_err());
    assert!(p.decode_text(&mut state, text).unwrap().is_none());
    state.reset();
    assert!(!state.is_reconstructing());
}

// ---- re-encoding received arguments -----------------------------------------------------------

#[test]
fn received_args_are_re_encoded_byte_for_byte() {
    let p = decode(r#"2/chat,5["message",{"b":1,"a":[1, 2]},  "x" ,1.50,null]"#).unwrap();
    let (_, args) = event(&p);
    assert_eq!(args.len(), 4);
    let relay = Packet::event("/", "message-back", args.clone());
    assert_eq!(
        encode_text(&relay),
        r#"42["message-back",{"b":1,"a":[1, 2]},  "x" ,1.50,null]"#
    );
    let ack = Packet::ack("/chat", 9, args.clone());
    assert_eq!(
        encode_text(&ack),
        r#"43/chat,9[{"b":1,"a":[1, 2]},  "x" ,1.50,null]"#
    );
    // None, one, many.
    let none = decode(r#"2["e"]"#).unwrap();
    assert_eq!(
        encode_text(&Packet::event("/", "f", event(&none).1.clone())),
        r#"42["f"]"#
    );
    let one = decode(r#"3["only"]"#).unwrap();
    let PacketData::Ack(args) = one.data else {
        panic!()
    };
    assert_eq!(
        encode_text(&Packet::event("/", "f", args)),
        r#"42["f","only"]"#
    );
}

#[test]
fn received_binary_args_are_re_encoded() {
    let text = r#"51-["up",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]"#;
    let p = decode_bin(text, &[b"\xff\x00"]).unwrap();
    let relay = Packet::event("/room", "down", event(&p).1.clone()).with_id(3);
    let encoded = parser().encode(&relay);
    assert_eq!(
        encoded.text(),
        Some(r#"451-/room,3["down",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]"#)
    );
    assert_eq!(encoded.attachments, vec![&b"\xff\x00"[..]]);
}

// ---- encode → decode round trips --------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, PartialEq, Clone)]
struct File {
    name: String,
    data: Bytes,
}

/// Encodes a packet, then decodes the frames as a client's would arrive.
fn through_the_wire(packet: &Packet) -> Packet {
    let encoded = parser().encode(packet);
    let text = encoded.text().expect("text frame");
    let text = text.strip_prefix('4').expect("engine message type");
    let atts: Vec<&[u8]> = encoded.attachments.iter().map(|b| &b[..]).collect();
    decode_bin(text, &atts).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn built_packets_round_trip() {
    let files = vec![
        File {
            name: "a".into(),
            data: Bytes::from_static(b"\x00\x01"),
        },
        File {
            name: "b".into(),
            data: Bytes::from_static(b""),
        },
    ];
    let args = Args::from_serialize(&(files.clone(), "tail", 5)).unwrap();
    let packet = Packet::event("/files", "upload", args).with_id(42);
    assert_eq!(packet.packet_type(), PacketType::BinaryEvent);
    assert_eq!(
        encode_text(&packet),
        r#"452-/files,42["upload",[{"name":"a","data":{"_placeholder":true,"num":0}},{"name":"b","data":{"_placeholder":true,"num":1}}],"tail",5]"#
    );
    let back = through_the_wire(&packet);
    assert_eq!((back.nsp.as_str(), back.id), ("/files", Some(42)));
    let (name, args) = event(&back);
    assert_eq!(name, "upload");
    let got: (Vec<File>, String, u8) = args.deserialize().unwrap();
    assert_eq!(got, (files, "tail".to_owned(), 5));

    for packet in [
        Packet::connect("/", None),
        Packet::connect("/x", Some(serde_json::json!({"token": "t", "n": [1, 2]}))),
        Packet::connect_reply("/", "sid", Some("pid")),
        Packet::connect_error("/x", "nope", Some(serde_json::json!({"code": 1}))),
        Packet::disconnect("/x"),
        Packet::event("/", "e", Args::from_serialize(&()).unwrap()),
        Packet::event(
            "/",
            EventName::from_number(5),
            Args::from_serialize(&1).unwrap(),
        ),
        Packet::ack(
            "/",
            0,
            Args::from_serialize(&("a", [1, 2], None::<u8>)).unwrap(),
        ),
        Packet::ack(
            "/n",
            1,
            Args::from_serialize(&Bytes::from_static(b"z")).unwrap(),
        ),
    ] {
        let first = encode_text(&packet);
        let again = encode_text(&through_the_wire(&packet));
        assert_eq!(first, again);
    }
}

#[test]
fn encoding_keeps_key_order_and_is_compact() {
    let value = serde_json::json!({"3": [true], "b": 1, "a": {"z": null, "y": 2.5}});
    let packet = Packet::event("/", "k", Args::from_serialize(&value).unwrap());
    assert_eq!(
        encode_text(&packet),
        r#"42["k",{"3":[true],"b":1,"a":{"z":null,"y":2.5}}]"#
    );
}

#[test]
fn names_are_escaped_on_encode() {
    let packet = Packet::event("/", "quote\"and\\", Args::new());
    assert_eq!(encode_text(&packet), r#"42["quote\"and\\"]"#);
    let back = through_the_wire(&packet);
    assert_eq!(event(&back).0, "quote\"and\\");
}

#[test]
fn values_args_are_encoded_with_placeholders() {
    let args = Args::from_values(vec![
        rmpv::Value::from("a"),
        rmpv::Value::Map(vec![("bin".into(), rmpv::Value::Binary(vec![1, 2]))]),
    ]);
    let packet = Packet::event("/", "v", args);
    let encoded = parser().encode(&packet);
    assert_eq!(
        encoded.text(),
        Some(r#"451-["v","a",{"bin":{"_placeholder":true,"num":0}}]"#)
    );
    assert_eq!(encoded.attachments, vec![&[1u8, 2][..]]);
    let plain = Packet::ack("/", 1, Args::from_values(vec![rmpv::Value::from(1)]));
    assert_eq!(encode_text(&plain), "431[1]");
}
