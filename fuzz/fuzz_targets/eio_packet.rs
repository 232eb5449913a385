//! The Engine.IO v4 packet decoders: one text packet (a websocket frame) and the `\x1e`-separated
//! polling payload (a POST body), fed arbitrary bytes; plus the payload round trip.
//!
//! The decoder is private to the crate, so this target compiles the crate's own
//! `src/engine/packet.rs` (through `#[path]`) next to the two small types it uses: the code
//! fuzzed is the code shipped.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

// `packet.rs` imports `super::socket::Frame` and `super::{Message, Utf8Bytes}`: the crate root
// stands in for the engine module.
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

use packet::{Packet, decode_payload, decode_text, encode_payload};
use socket::Frame;

#[derive(Debug, Arbitrary)]
enum Out {
    Text(String),
    Binary(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    // 1. A POST body: every packet up to the first bad one, never a panic.
    let body = Bytes::copy_from_slice(data);
    for packet in decode_payload(body) {
        match packet {
            Ok(Packet::Message(Message::Text(t))) => assert!(!t.as_bytes().contains(&0x1e)),
            Ok(_) => {}
            Err(_) => break,
        }
    }

    // 2. A websocket text frame.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(Packet::Message(Message::Text(t))) = decode_text(Utf8Bytes::from(s.to_owned())) {
            assert_eq!(t.as_str(), &s[1..]);
        }
    }

    // 3. What the server writes on polling reads back the same.
    let mut u = Unstructured::new(data);
    let Ok(outs) = Vec::<Out>::arbitrary(&mut u) else {
        return;
    };
    let frames: Vec<Frame> = outs
        .iter()
        .map(|o| match o {
            // Server text never holds a raw \x1e: JSON escapes it.
            Out::Text(t) => Frame::Text(Utf8Bytes::from(format!("4{}", t.replace('\x1e', "")))),
            Out::Binary(b) => Frame::Binary(Bytes::copy_from_slice(b)),
        })
        .collect();
    if frames.is_empty() {
        return;
    }
    let body = encode_payload(frames.iter());
    let back: Vec<Packet> = decode_payload(body)
        .collect::<Result<_, _>>()
        .expect("an encoded payload decodes");
    assert_eq!(back.len(), frames.len());
    for (p, f) in back.iter().zip(&frames) {
        match (p, f) {
            (Packet::Message(Message::Text(a)), Frame::Text(b)) => {
                assert_eq!(a.as_str(), &b.as_str()[1..])
            }
            (Packet::Message(Message::Binary(a)), Frame::Binary(b)) => assert_eq!(a, b),
            other => panic!("round trip changed a packet: {other:?}"),
        }
    }
});
