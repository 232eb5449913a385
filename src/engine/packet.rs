//! Engine.IO v4 packets: the type digit, text and binary messages, and the `\x1e`-separated
//! polling payload.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};

use super::socket::Frame;
use super::{Message, Utf8Bytes};

/// The separator of packets in a polling payload (ASCII record separator).
pub(crate) const SEPARATOR: u8 = 0x1e;

/// A packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    Open,
    Close,
    Ping { probe: bool },
    Pong { probe: bool },
    Message(Message),
    Upgrade,
    Noop,
}

/// The client sent something that is not an Engine.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid engine.io packet")]
pub(crate) struct PacketError;

/// Decodes one text packet (`4hello`, `2probe`, …). The message payload is a zero-copy slice.
pub(crate) fn decode_text(text: Utf8Bytes) -> Result<Packet, PacketError> {
    let bytes = text.as_bytes();
    let Some(&kind) = bytes.first() else {
        return Err(PacketError);
    };
    let rest = &bytes[1..];
    let packet = match kind {
        b'0' => Packet::Open,
        b'1' => Packet::Close,
        b'2' => Packet::Ping {
            probe: is_probe(rest)?,
        },
        b'3' => Packet::Pong {
            probe: is_probe(rest)?,
        },
        b'4' => {
            let payload: Bytes = Bytes::from(text).slice(1..);
            // SAFETY: the first byte is the ASCII digit '4', so the rest is still valid UTF-8.
            let payload = unsafe { Utf8Bytes::from_bytes_unchecked(payload) };
            Packet::Message(Message::Text(payload))
        }
        b'5' => Packet::Upgrade,
        b'6' => Packet::Noop,
        // A binary message as base64 text, as Node's parser also reads it on websocket.
        b'b' => {
            let data = STANDARD.decode(rest).map_err(|_| PacketError)?;
            Packet::Message(Message::Binary(data.into()))
        }
        _ => return Err(PacketError),
    };
    Ok(packet)
}

fn is_probe(rest: &[u8]) -> Result<bool, PacketError> {
    match rest {
        b"" => Ok(false),
        b"probe" => Ok(true),
        // Node accepts any data on a ping/pong; only "probe" means something.
        _ => Ok(false),
    }
}

/// Decodes a polling request body into its packets, lazily: a caller stops at the first error
/// and still has every packet before it.
pub(crate) fn decode_payload(body: Bytes) -> Payload {
    Payload { body, start: 0 }
}

/// The packets of a v4 polling body (see [`decode_payload`]).
pub(crate) struct Payload {
    body: Bytes,
    start: usize,
}

impl Iterator for Payload {
    type Item = Result<Packet, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        let len = self.body.len();
        if self.start > len {
            return None;
        }
        let start = self.start;
        let end = self.body[start..]
            .iter()
            .position(|&b| b == SEPARATOR)
            .map_or(len, |p| start + p);
        self.start = end + 1;
        // The whole body is one packet, the usual case: no slicing.
        let segment = if start == 0 && end == len {
            std::mem::take(&mut self.body)
        } else {
            self.body.slice(start..end)
        };
        Some(decode_segment(segment))
    }
}

fn decode_segment(segment: Bytes) -> Result<Packet, PacketError> {
    let text = Utf8Bytes::try_from(segment).map_err(|_| PacketError)?;
    decode_text(text)
}

/// Appends frames to a polling response body, `\x1e`-separated, binary as `b` + base64.
pub(crate) fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    let mut frames = frames.into_iter().peekable();
    // One text frame, what most polling responses carry: its bytes are the body, uncopied.
    if let Some(Frame::Text(t)) = frames.peek() {
        let one = t.clone();
        frames.next();
        if frames.peek().is_none() {
            return Bytes::from(one);
        }
        let mut out = BytesMut::new();
        out.extend_from_slice(one.as_bytes());
        write_frames(&mut out, frames, true);
        return out.freeze();
    }
    let mut out = BytesMut::new();
    write_frames(&mut out, frames, false);
    out.freeze()
}

fn write_frames<'a>(out: &mut BytesMut, frames: impl Iterator<Item = &'a Frame>, after: bool) {
    for (i, frame) in frames.enumerate() {
        let i = i + usize::from(after);
        if i > 0 {
            out.extend_from_slice(&[SEPARATOR]);
        }
        match frame {
            Frame::Text(t) => out.extend_from_slice(t.as_bytes()),
            Frame::Binary(b) => {
                out.extend_from_slice(b"b");
                let start = out.len();
                out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
                let written = STANDARD
                    .encode_slice(b, &mut out[start..])
                    .unwrap_or_default();
                out.truncate(start + written);
            }
        }
    }
}

/// The text frame of a message packet: `4` + the text.
pub(crate) fn message_frame(msg: Message) -> Frame {
    match msg {
        Message::Text(t) => {
            let mut s = String::with_capacity(t.len() + 1);
            s.push('4');
            s.push_str(t.as_str());
            Frame::Text(s.into())
        }
        Message::Binary(b) => Frame::Binary(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s)
    }

    #[test]
    fn decodes_every_packet_type() {
        assert_eq!(decode_text(text("0")), Ok(Packet::Open));
        assert_eq!(decode_text(text("1")), Ok(Packet::Close));
        assert_eq!(decode_text(text("2")), Ok(Packet::Ping { probe: false }));
        assert_eq!(
            decode_text(text("2probe")),
            Ok(Packet::Ping { probe: true })
        );
        assert_eq!(
            decode_text(text("3probe")),
            Ok(Packet::Pong { probe: true })
        );
        assert_eq!(
            decode_text(text("4héllo")),
            Ok(Packet::Message(Message::Text(text("héllo"))))
        );
        assert_eq!(decode_text(text("5")), Ok(Packet::Upgrade));
        assert_eq!(decode_text(text("6")), Ok(Packet::Noop));
        assert_eq!(decode_text(text("")), Err(PacketError));
        assert_eq!(decode_text(text("7")), Err(PacketError));
        assert_eq!(decode_text(text("x4")), Err(PacketError));
    }

    #[test]
    fn payload_round_trip_with_binary() {
        let frames = [
            Frame::Text(text("4hello")),
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 255])),
            Frame::Text(text("2")),
        ];
        let body = encode_payload(frames.iter());
        assert_eq!(&body[..], b"4hello\x1ebAQID/w==\x1e2");
        let packets: Vec<_> = decode_payload(body).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Message(Message::Text(text("hello"))),
                Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 255]))),
                Packet::Ping { probe: false },
            ]
        );
    }

    #[test]
    fn bad_payloads_are_errors() {
        let bad = |b: &'static [u8]| decode_payload(Bytes::from_static(b)).any(|p| p.is_err());
        assert!(bad(b""));
        assert!(bad(b"4a\x1e"));
        assert!(bad(b"b!!!"));
        assert!(bad(b"4\xff\xfe"));
        assert!(bad(b"9"));
        let mut partial = decode_payload(Bytes::from_static(b"4a\x1ezzz"));
        assert!(partial.next().is_some_and(|p| p.is_ok()));
        assert!(partial.next().is_some_and(|p| p.is_err()));
    }
}
