//! The msgpack parser (`axum_socketio::protocol::MsgpackParser`, the npm
//! `socket.io-msgpack-parser`): every message is one msgpack map. Arbitrary bytes must decode or
//! fail cleanly; whatever decodes re-encodes to bytes that decode to the same packet.
#![no_main]

use axum_socketio::protocol::{DecodeState, EncodedFrame, MsgpackParser, Parser, Utf8Bytes};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parser = MsgpackParser::new();
    let mut state = DecodeState::new();
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(
            parser
                .decode_text(&mut state, Utf8Bytes::from(s.to_owned()))
                .is_err()
        );
    }
    let Ok(Some(p)) = parser.decode_binary(&mut state, Bytes::copy_from_slice(data)) else {
        return;
    };
    if let Some(args) = p.args() {
        let _ = args.to_values();
        let _ = args.deserialize::<(Option<String>, Option<f64>, Option<serde_json::Value>)>();
    }
    let enc = parser.encode(&p);
    assert!(enc.attachments.is_empty());
    let EncodedFrame::Binary(first) = &enc.first else {
        panic!("msgpack writes binary")
    };
    let again = parser
        .decode_binary(&mut state, first.clone())
        .expect("a re-encoded packet decodes")
        .expect("complete");
    let EncodedFrame::Binary(second) = parser.encode(&again).first else {
        panic!()
    };
    assert_eq!(first, &second, "{p:?} vs {again:?}");
});
