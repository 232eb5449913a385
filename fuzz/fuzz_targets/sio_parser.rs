//! The Socket.IO default parser (`axum_socketio::protocol::DefaultParser`), fed any sequence of
//! text and binary messages through one connection's decode state. Whatever it accepts must
//! re-encode and decode to the same bytes, and reading its arguments must not panic.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use axum_socketio::protocol::{
    DecodeState, DefaultParser, EncodedFrame, Packet, Parser, Utf8Bytes,
};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

/// Fragments that steer the fuzzer towards the interesting parts of the grammar.
const PREFIXES: &[&str] = &[
    "0",
    "0/admin,",
    "1",
    "2",
    "2[\"e\",",
    "21[\"e\"",
    "3",
    "31[",
    "4",
    "5",
    "51-",
    "52-[\"e\",",
    "51-[\"e\",{\"_placeholder\":true,\"num\":0}]",
    "6",
    "61-",
    "61-[",
    "2/a,9",
    "510-",
];

#[derive(Debug, Arbitrary)]
enum Msg {
    Text(String),
    Prefixed(u8, String),
    Binary(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let max = u.int_in_range(0..=12usize).unwrap_or(10);
    let parser = DefaultParser::with_max_attachments(max);
    let Ok(msgs) = Vec::<Msg>::arbitrary(&mut u) else {
        return;
    };
    let mut state = DecodeState::new();
    for m in msgs {
        let r = match m {
            Msg::Text(t) => parser.decode_text(&mut state, Utf8Bytes::from(t)),
            Msg::Prefixed(i, t) => {
                let p = PREFIXES[usize::from(i) % PREFIXES.len()];
                parser.decode_text(&mut state, Utf8Bytes::from(format!("{p}{t}")))
            }
            Msg::Binary(b) => parser.decode_binary(&mut state, Bytes::from(b)),
        };
        match r {
            Ok(Some(p)) => check(&parser, &p),
            Ok(None) => assert!(state.is_reconstructing()),
            Err(_) => state.reset(),
        }
    }
});

fn check(parser: &DefaultParser, p: &Packet) {
    assert!(!p.nsp.as_str().contains(','));
    if let Some(args) = p.args() {
        let _ = args.to_values();
        let _ = args.deserialize::<serde_json::Value>();
        let _ = args.deserialize::<(Option<String>, Option<f64>, Option<Vec<u8>>)>();
    }
    let enc = parser.encode(p);
    if enc.attachments.len() > parser.max_attachments() {
        return;
    }
    let EncodedFrame::Text(text) = &enc.first else {
        panic!("binary first frame")
    };
    let mut state = DecodeState::new();
    let body = Utf8Bytes::from(text.as_str()[1..].to_owned());
    let mut out = parser
        .decode_text(&mut state, body)
        .expect("re-encoded packet decodes");
    for a in &enc.attachments {
        out = parser
            .decode_binary(&mut state, a.clone())
            .expect("attachment");
    }
    let again = out.expect("complete packet");
    let enc2 = parser.encode(&again);
    assert_eq!(enc.text(), enc2.text());
    assert_eq!(enc.attachments, enc2.attachments);
}
