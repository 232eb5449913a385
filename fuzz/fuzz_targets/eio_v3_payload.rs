//! The Engine.IO v3 (legacy) payload decoders: the length-prefixed text payload (lengths in
//! UTF-16 units), the XHR2 binary payload, a binary packet as a websocket frame, and JSONP
//! bodies; plus the round trip of what the server writes.
//!
//! Like `eio_packet`, compiles the crate's own private `src/engine/packet.rs` and
//! `src/engine/payload_v3.rs` through `#[path]`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

// The two files import `super::socket::Frame`, `super::packet::…` and
// `super::{Message, Utf8Bytes}`: the crate root stands in for the engine module.
pub(crate) use axum_socketio::engine::{Message, Utf8Bytes};

mod socket {
    /// The engine's outgoing frame, as `src/engine/socket.rs` defines it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Frame {
        Text(super::Utf8Bytes),
        Binary(bytes::Bytes),
    }
}

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../src/engine/packet.rs"]
mod packet;

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../src/engine/payload_v3.rs"]
mod payload_v3;

use packet::Packet;
use payload_v3::{
    decode_binary_packet, decode_binary_payload, decode_text_payload, encode_binary, encode_text,
    form_decode, jsonp_unwrap,
};
use socket::Frame;

#[derive(Debug, Arbitrary)]
enum Out {
    Text(String),
    Binary(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = decode_binary_payload(bytes.clone());
    let _ = decode_binary_packet(bytes);
    if let Ok(s) = std::str::from_utf8(data) {
        for p in decode_text_payload(s) {
            if p.is_err() {
                break;
            }
        }
        let _ = form_decode(s);
        if let Some(body) = jsonp_unwrap(s) {
            for p in decode_text_payload(&body) {
                if p.is_err() {
                    break;
                }
            }
        }
    }

    // What the server writes reads back the same, in both payload kinds.
    let mut u = Unstructured::new(data);
    let Ok(outs) = Vec::<Out>::arbitrary(&mut u) else {
        return;
    };
    if outs.is_empty() {
        return;
    }
    let frames: Vec<Frame> = outs
        .iter()
        .map(|o| match o {
            Out::Text(t) => Frame::Text(Utf8Bytes::from(format!("4{t}"))),
            Out::Binary(b) => Frame::Binary(Bytes::copy_from_slice(b)),
        })
        .collect();
    let text = encode_text(frames.iter());
    let back: Vec<Packet> = decode_text_payload(&text)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|_| panic!("a v3 text payload the server wrote does not decode: {text:?}"));
    same(&back, &frames);
    let binary = encode_binary(frames.iter());
    let back = decode_binary_payload(binary).expect("a v3 binary payload the server wrote decodes");
    same(&back, &frames);
});

fn same(back: &[Packet], frames: &[Frame]) {
    assert_eq!(back.len(), frames.len(), "{back:?} vs {frames:?}");
    for (p, f) in back.iter().zip(frames) {
        match (p, f) {
            (Packet::Message(Message::Text(a)), Frame::Text(b)) => {
                assert_eq!(a.as_str(), &b.as_str()[1..])
            }
            (Packet::Message(Message::Binary(a)), Frame::Binary(b)) => assert_eq!(a, b),
            other => panic!("round trip changed a packet: {other:?}"),
        }
    }
}
