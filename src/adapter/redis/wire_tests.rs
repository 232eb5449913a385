use rmpv::Value;

use super::*;

#[test]
fn channel_names_match_node() {
    let ch = Channels::new("socket.io", "/", "abc");
    assert_eq!(ch.broadcast, "socket.io#/#");
    assert_eq!(ch.pattern, "socket.io#/#*");
    assert_eq!(ch.request, "socket.io-request#/#");
    assert_eq!(ch.response, "socket.io-response#/#");
    assert_eq!(ch.specific_response, "socket.io-response#/#abc#");
    let one = BroadcastOptions {
        rooms: vec!["room1".into()],
        ..Default::default()
    };
    assert_eq!(ch.for_broadcast(&one), "socket.io#/#room1#");
    let two = BroadcastOptions {
        rooms: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    assert_eq!(ch.for_broadcast(&two), "socket.io#/#");
    assert_eq!(ch.room_of("socket.io#/#room1#"), Ok(Some("room1")));
    assert_eq!(ch.room_of("socket.io#/#"), Ok(None));
    assert_eq!(ch.room_of("socket.io#/chat#"), Err(()));
    assert_eq!(
        ch.for_response(Some("xyz"), true),
        "socket.io-response#/#xyz#"
    );
    assert_eq!(ch.for_response(Some("xyz"), false), "socket.io-response#/#");
}

/// The example of the reference, byte for byte: `io.to("room1").emit("r","x")`.
#[test]
fn broadcast_bytes_match_node() {
    let packet = Packet::event("/", "r", Args::from_serialize("x").unwrap());
    let opts = BroadcastOptions {
        rooms: vec!["room1".into()],
        ..Default::default()
    };
    let msg = Value::Array(vec![
        Value::from("Gasm6-"),
        packet_value(&packet).unwrap(),
        opts_value(&opts, true),
    ]);
    let mut want = vec![0x93, 0xa6];
    want.extend_from_slice(b"Gasm6-");
    want.extend_from_slice(&[0x83, 0xa4]);
    want.extend_from_slice(b"type");
    want.push(0x02);
    want.push(0xa4);
    want.extend_from_slice(b"data");
    want.extend_from_slice(&[0x92, 0xa1, b'r', 0xa1, b'x', 0xa3]);
    want.extend_from_slice(b"nsp");
    want.extend_from_slice(&[0xa1, b'/', 0x83, 0xa5]);
    want.extend_from_slice(b"rooms");
    want.extend_from_slice(&[0x91, 0xa5]);
    want.extend_from_slice(b"room1");
    want.push(0xa6);
    want.extend_from_slice(b"except");
    want.extend_from_slice(&[0x90, 0xa5]);
    want.extend_from_slice(b"flags");
    want.push(0x80);
    assert_eq!(encode_msgpack(&msg), want);
    // And back.
    let back = decode_msgpack(&want).unwrap();
    let Value::Array(items) = back else {
        panic!("not an array")
    };
    let p = packet_from(&items[1], "/").unwrap();
    let PacketData::Event { name, args } = &p.data else {
        panic!("not an event")
    };
    assert_eq!(name.as_str(), "r");
    assert_eq!(args.deserialize::<String>().unwrap(), "x");
    assert!(packet_from(&items[1], "/chat").is_none());
    let o = opts_from(items.get(2));
    assert_eq!(o.rooms, vec![Room::from("room1")]);
}

#[test]
fn notepack_extensions() {
    // undefined in a map is dropped, in an array it is nil.
    let bytes = [0x82, 0xa1, b'a', 0xd4, 0, 0, 0xa1, b'b', 0x91, 0xd4, 0, 0];
    let v = decode_msgpack(&bytes).unwrap();
    assert_eq!(
        v,
        Value::Map(vec![(Value::from("b"), Value::Array(vec![Value::Nil]))])
    );
    // An ArrayBuffer (ext 8, type 0) is binary.
    let v = decode_msgpack(&[0xc7, 3, 0, 1, 2, 3]).unwrap();
    assert_eq!(v, Value::Binary(vec![1, 2, 3]));
    // A Date is its ISO string: 2021-01-01T00:00:00.000Z = 1609459200000 ms.
    let ms: i64 = 1_609_459_200_000;
    let mut bytes = vec![0xd7, 0];
    bytes.extend_from_slice(&((ms >> 32) as i32).to_be_bytes());
    bytes.extend_from_slice(&(ms as u32).to_be_bytes());
    assert_eq!(
        decode_msgpack(&bytes).unwrap(),
        Value::from("2021-01-01T00:00:00.000Z")
    );
    // Integers of every width, floats.
    assert_eq!(decode_msgpack(&[0xd0, 0x80]).unwrap(), Value::from(-128));
    assert_eq!(decode_msgpack(&[0xcd, 1, 0]).unwrap(), Value::from(256));
    assert_eq!(decode_msgpack(&[0xff]).unwrap(), Value::from(-1));
    let mut f = vec![0xcb];
    f.extend_from_slice(&1.5f64.to_be_bytes());
    assert_eq!(decode_msgpack(&f).unwrap(), Value::F64(1.5));
}

#[test]
fn bad_msgpack_is_an_error_not_a_panic() {
    for bytes in [
        &[0x92, 0x01][..],
        &[0xdd, 0xff, 0xff, 0xff, 0xff],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
        &[0xc6, 0xff, 0xff, 0xff, 0xff],
        &[0xc1],
        &[0x01, 0x02],
        &[],
    ] {
        assert!(decode_msgpack(bytes).is_err(), "{bytes:?}");
    }
    let deep = vec![0x91; 10_000];
    assert!(decode_msgpack(&deep).is_err());
}

#[test]
fn binary_crosses_as_bin_and_buffer_json() {
    let packet = Packet::event(
        "/",
        "bin",
        Args::from_serialize(&(bytes::Bytes::from_static(&[1, 2, 3]), 4)).unwrap(),
    );
    let v = packet_value(&packet).unwrap();
    let data = get(&v, "data").unwrap();
    assert_eq!(
        data,
        &Value::Array(vec![
            Value::from("bin"),
            Value::Binary(vec![1, 2, 3]),
            Value::from(4)
        ])
    );
    let back = packet_from(&v, "/").unwrap();
    assert!(back.args().unwrap().has_binary());
    assert_eq!(
        value_to_json(&Value::Binary(vec![1, 2])),
        serde_json::json!({"type": "Buffer", "data": [1, 2]})
    );
}

#[test]
fn messages_are_json_or_msgpack_by_first_byte() {
    let v = decode_message(br#"{"type":1,"requestId":"abc","uid":"u"}"#).unwrap();
    assert_eq!(get_u64(&v, "type"), Some(1));
    assert_eq!(get_str(&v, "requestId"), Some("abc"));
    let m = encode_msgpack(&map(vec![
        ("type", Value::from(9)),
        ("requestId", Value::from("x")),
    ]));
    let v = decode_message(&m).unwrap();
    assert_eq!(get_u64(&v, "type"), Some(9));
    assert!(decode_message(b"{not json").is_err());
}

#[test]
fn opts_with_flags() {
    let opts = BroadcastOptions {
        rooms: vec![],
        except: vec!["a".into(), "a".into()],
        flags: BroadcastFlags {
            volatile: true,
            compress: true,
            local: true,
            timeout: Some(std::time::Duration::from_millis(1500)),
        },
    };
    let v = opts_value(&opts, true);
    assert_eq!(
        value_to_json(&v),
        serde_json::json!({"rooms": [], "except": ["a"], "flags": {"volatile": true, "timeout": 1500}})
    );
    let back = opts_from(Some(&v));
    assert!(back.flags.volatile && back.flags.compress && !back.flags.local);
    let uncompressed = BroadcastOptions {
        flags: BroadcastFlags {
            compress: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let v = opts_value(&uncompressed, true);
    assert_eq!(
        value_to_json(&v)["flags"],
        serde_json::json!({"compress": false})
    );
    assert!(!opts_from(Some(&v)).flags.compress);
    assert_eq!(
        back.flags.timeout,
        Some(std::time::Duration::from_millis(1500))
    );
    // Numeric rooms, as Node allows them.
    let v = json_to_value(&serde_json::json!({"rooms": [1, "b"], "except": []}));
    assert_eq!(
        opts_from(Some(&v)).rooms,
        vec![Room::from("1"), Room::from("b")]
    );
}

#[test]
fn random_ids() {
    let a = random_id(10);
    assert_eq!(a.len(), 10);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, random_id(10));
}
