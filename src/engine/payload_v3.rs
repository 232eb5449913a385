//! Engine.IO v3 polling payloads (the legacy protocol of Socket.IO v2 clients), and JSONP.
//!
//! - Text payload: every packet is `<length>:<packet>`, the length counted in UTF-16 code units
//!   (JavaScript's `string.length`): `6:4hello2:4é`. A binary message is `b4<base64>`.
//! - Binary payload (XHR2, used when the client did not ask for `b64=1` and a binary message is
//!   due): every packet is `<0 text | 1 binary><length, one byte per decimal digit><0xFF><data>`.
//!   Text lengths count UTF-8 bytes there; binary data starts with its packet type as a byte
//!   (`4` for a message).
//! - JSONP (`j=<n>` on the handshake): a GET answers `___eio[<n>]("<payload as a JSON
//!   string>");`, a POST sends the payload as the `d` field of a form.
//!
//! Pure code: bytes in, packets out. Every malformed input is an error, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{Packet, PacketError, decode_text};
use super::socket::Frame;
use super::{Message, Utf8Bytes};

/// The type byte of a message in a binary packet (websocket frame or XHR2 payload).
pub(crate) const MESSAGE_TYPE: u8 = 4;

/// Node's limit on the digits of a length in a binary payload (the length of `Number.MAX_VALUE`).
const MAX_LENGTH_DIGITS: usize = 310;

/// Length of `s` in UTF-16 code units, as JavaScript counts it.
pub(crate) fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(char::len_utf16).sum()
}

/// Whether any frame is binary (then an XHR2 client gets the binary payload).
pub(crate) fn has_binary<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> bool {
    frames.into_iter().any(|f| matches!(f, Frame::Binary(_)))
}

/// Encodes frames as a v3 text payload (`<len>:<packet>`…), binary as `b4<base64>`. An empty list
/// is `0:`, as Node writes it.
pub(crate) fn encode_text<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> String {
    let mut out = String::new();
    for frame in frames {
        match frame {
            Frame::Text(t) => {
                out.push_str(&utf16_len(t.as_str()).to_string());
                out.push(':');
                out.push_str(t.as_str());
            }
            Frame::Binary(b) => {
                let encoded = STANDARD.encode(b);
                out.push_str(&(encoded.len() + 2).to_string());
                out.push_str(":b4");
                out.push_str(&encoded);
            }
        }
    }
    if out.is_empty() {
        out.push_str("0:");
    }
    out
}

/// Encodes frames as a v3 binary (XHR2) payload.
pub(crate) fn encode_binary<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    let mut out = BytesMut::new();
    for frame in frames {
        let (kind, len) = match frame {
            Frame::Text(t) => (0u8, t.len()),
            Frame::Binary(b) => (1u8, b.len() + 1),
        };
        out.put_u8(kind);
        out.extend(len.to_string().bytes().map(|d| d - b'0'));
        out.put_u8(0xff);
        match frame {
            Frame::Text(t) => out.extend_from_slice(t.as_bytes()),
            Frame::Binary(b) => {
                out.put_u8(MESSAGE_TYPE);
                out.extend_from_slice(b);
            }
        }
    }
    out.freeze()
}

/// A binary packet as v3 sends it (websocket frame, or one entry of a binary payload): its type as
/// the first byte, then the data.
pub(crate) fn decode_binary_packet(data: Bytes) -> Result<Packet, PacketError> {
    let Some(&kind) = data.first() else {
        return Err(PacketError);
    };
    with_type(kind, data.slice(1..))
}

/// A packet of type `kind` (a number 0..=6) carrying binary `data`: a binary message for type 4;
/// for the other types the data means nothing and is dropped, as Node does.
fn with_type(kind: u8, data: Bytes) -> Result<Packet, PacketError> {
    Ok(match kind {
        0 => Packet::Open,
        1 => Packet::Close,
        2 => Packet::Ping { probe: false },
        3 => Packet::Pong { probe: false },
        MESSAGE_TYPE => Packet::Message(Message::Binary(data)),
        5 => Packet::Upgrade,
        6 => Packet::Noop,
        _ => return Err(PacketError),
    })
}

/// One packet of a text payload: `b<type><base64>` or a text packet.
fn decode_text_packet(text: &str) -> Result<Packet, PacketError> {
    if let Some(rest) = text.strip_prefix('b') {
        let mut chars = rest.chars();
        let kind = chars
            .next()
            .and_then(|c| c.to_digit(10))
            .ok_or(PacketError)?;
        let data = STANDARD.decode(chars.as_str()).map_err(|_| PacketError)?;
        return with_type(kind as u8, data.into());
    }
    decode_text(Utf8Bytes::from(text))
}

/// Decodes a v3 text payload, lazily: the caller stops at the first error and keeps every packet
/// before it (Node hands those over too).
pub(crate) fn decode_text_payload(
    body: &str,
) -> impl Iterator<Item = Result<Packet, PacketError>> + '_ {
    let mut rest = body;
    let mut failed = body.is_empty();
    let mut reported = false;
    std::iter::from_fn(move || {
        loop {
            if failed {
                if reported {
                    return None;
                }
                reported = true;
                return Some(Err(PacketError));
            }
            if rest.is_empty() {
                return None;
            }
            let Some((digits, after)) = rest.split_once(':') else {
                failed = true;
                continue;
            };
            let Some(n) = parse_decimal(digits) else {
                failed = true;
                continue;
            };
            let Some(end) = utf16_offset(after, n) else {
                failed = true;
                continue;
            };
            let (packet, tail) = after.split_at(end);
            rest = tail;
            if packet.is_empty() {
                continue;
            }
            match decode_text_packet(packet) {
                Ok(p) => return Some(Ok(p)),
                Err(e) => {
                    failed = true;
                    reported = true;
                    return Some(Err(e));
                }
            }
        }
    })
}

/// Decimal digits (JavaScript's `Number(length)` compared back to the text, so no sign, no
/// spaces, no leading `+`).
fn parse_decimal(digits: &str) -> Option<usize> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The byte offset in `s` after `units` UTF-16 code units; `None` when `s` is shorter or the
/// count ends inside a surrogate pair.
fn utf16_offset(s: &str, units: usize) -> Option<usize> {
    if s.is_ascii() {
        return (units <= s.len()).then_some(units);
    }
    let mut counted = 0;
    for (i, c) in s.char_indices() {
        if counted == units {
            return Some(i);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(s.len())
}

/// Decodes a v3 binary (XHR2) payload. Every packet is checked before any is handed over, as
/// Node splits the whole payload first.
pub(crate) fn decode_binary_payload(body: Bytes) -> Result<Vec<Packet>, PacketError> {
    let mut packets = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let is_text = body[at] == 0;
        at += 1;
        let mut len: usize = 0;
        let mut digits = 0;
        loop {
            let &b = body.get(at).ok_or(PacketError)?;
            at += 1;
            if b == 0xff {
                break;
            }
            digits += 1;
            if b > 9 || digits > MAX_LENGTH_DIGITS {
                return Err(PacketError);
            }
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(b)))
                .ok_or(PacketError)?;
        }
        if digits == 0 {
            return Err(PacketError);
        }
        let end = at.checked_add(len).ok_or(PacketError)?;
        if end > body.len() {
            return Err(PacketError);
        }
        let data = body.slice(at..end);
        at = end;
        let packet = if is_text {
            let text = Utf8Bytes::try_from(data).map_err(|_| PacketError)?;
            decode_text_packet(text.as_str())?
        } else {
            decode_binary_packet(data)?
        };
        packets.push(packet);
    }
    Ok(packets)
}

/// A binary message as a v3 websocket frame: the type byte, then the data.
pub(crate) fn binary_frame(data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 1);
    out.put_u8(MESSAGE_TYPE);
    out.extend_from_slice(data);
    out.freeze()
}

/// The digits of a JSONP callback index (Node keeps only the digits of `j`).
pub(crate) fn jsonp_index(j: &str) -> Box<str> {
    j.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .into()
}

/// Wraps a text payload for JSONP: `___eio[<index>]("<payload>");`. The payload is written as a
/// JSON string, with U+2028 and U+2029 escaped so that it is valid JavaScript.
pub(crate) fn jsonp_wrap(index: &str, payload: &str) -> String {
    let json = serde_json::to_string(payload).unwrap_or_else(|_| "\"\"".into());
    let json = json
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("___eio[{index}]({json});")
}

/// The payload of a JSONP POST: the `d` field of the form, with the client's newline escapes
/// undone (`\n` is a newline, `\\n` a backslash and `n`). `None` when there is no `d` field.
pub(crate) fn jsonp_unwrap(body: &str) -> Option<String> {
    let raw = body
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| form_decode(k) == "d")
        .map(|(_, v)| form_decode(v))?;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("\\\\n") {
            out.push_str("\\n");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else {
            out.push('\\');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; bad escapes are
/// kept as they are, invalid UTF-8 becomes U+FFFD (as Node's `querystring` does).
pub(crate) fn form_decode(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Frame {
        Frame::Text(Utf8Bytes::from(s))
    }

    fn decode_all(body: &str) -> Result<Vec<Packet>, PacketError> {
        decode_text_payload(body).collect()
    }

    fn msg(s: &str) -> Packet {
        Packet::Message(Message::Text(Utf8Bytes::from(s)))
    }

    #[test]
    fn text_payload_counts_utf16_units() {
        let frames = [text("4hello"), text("4é"), text("4😀"), text("2")];
        assert_eq!(encode_text(frames.iter()), "6:4hello2:4é3:4😀1:2");
        assert_eq!(encode_text([].iter()), "0:");
        assert_eq!(
            decode_all("6:4hello2:4é3:4😀1:2"),
            Ok(vec![
                msg("hello"),
                msg("é"),
                msg("😀"),
                Packet::Ping { probe: false }
            ])
        );
    }

    #[test]
    fn text_payload_binary_is_base64() {
        let frames = [Frame::Binary(Bytes::from_static(&[1, 2, 3, 255]))];
        let body = encode_text(frames.iter());
        assert_eq!(body, "10:b4AQID/w==");
        assert_eq!(
            decode_all(&body),
            Ok(vec![Packet::Message(Message::Binary(Bytes::from_static(
                &[1, 2, 3, 255]
            )))])
        );
    }

    #[test]
    fn bad_text_payloads() {
        for bad in [
            "", "6:4hell", "x:4a", "-1:4", "2:4a1", "4a", "2:9a", "5:b4!!!", "1:",
        ] {
            let all: Vec<_> = decode_text_payload(bad).collect();
            assert!(all.last().is_some_and(|r| r.is_err()), "{bad:?}: {all:?}");
        }
        // A surrogate pair cannot be cut in half.
        assert!(decode_all("2:4😀").is_err());
        // Empty packets are skipped, and packets before an error are kept.
        assert_eq!(decode_all("0:2:4a"), Ok(vec![msg("a")]));
        let mut partial = decode_text_payload("2:4a9:zz");
        assert_eq!(partial.next(), Some(Ok(msg("a"))));
        assert_eq!(partial.next(), Some(Err(PacketError)));
        assert_eq!(partial.next(), None);
    }

    #[test]
    fn binary_payload_round_trip() {
        let frames = [
            text("4héllo"),
            Frame::Binary(Bytes::from_static(&[0, 1, 2])),
            text("3"),
        ];
        let body = encode_binary(frames.iter());
        let mut want = vec![0, 7, 255];
        want.extend_from_slice("4héllo".as_bytes());
        want.extend_from_slice(&[1, 4, 255, 4, 0, 1, 2]);
        want.extend_from_slice(&[0, 1, 255, b'3']);
        assert_eq!(&body[..], &want[..]);
        assert_eq!(
            decode_binary_payload(body),
            Ok(vec![
                msg("héllo"),
                Packet::Message(Message::Binary(Bytes::from_static(&[0, 1, 2]))),
                Packet::Pong { probe: false },
            ])
        );
    }

    #[test]
    fn binary_payload_lengths_with_many_digits() {
        let big = Bytes::from(vec![7u8; 1234]);
        let body = encode_binary([Frame::Binary(big.clone())].iter());
        assert_eq!(&body[..6], &[1, 1, 2, 3, 5, 255]);
        assert_eq!(
            decode_binary_payload(body),
            Ok(vec![Packet::Message(Message::Binary(big))])
        );
    }

    #[test]
    fn bad_binary_payloads() {
        for bad in [
            &[0u8][..],
            &[0, 1][..],
            &[0, 255, b'4'][..],
            &[0, 12, 255, b'4'][..],
            &[0, 5, 255, b'4'][..],
            &[1, 1, 255, 9][..],
            &[1, 1, 255][..],
            &[0, 2, 255, 0xff, 0xfe][..],
        ] {
            assert!(
                decode_binary_payload(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
        let too_long = [&[1u8][..], &[9u8; 400][..], &[255][..]].concat();
        assert!(decode_binary_payload(Bytes::from(too_long)).is_err());
        assert_eq!(decode_binary_payload(Bytes::new()), Ok(vec![]));
    }

    #[test]
    fn websocket_binary_frames_carry_the_type() {
        assert_eq!(&binary_frame(&[9, 8])[..], &[4, 9, 8]);
        assert_eq!(
            decode_binary_packet(Bytes::from_static(&[4, 9, 8])),
            Ok(Packet::Message(Message::Binary(Bytes::from_static(&[
                9, 8
            ]))))
        );
        assert!(decode_binary_packet(Bytes::new()).is_err());
        assert!(decode_binary_packet(Bytes::from_static(&[7])).is_err());
    }

    #[test]
    fn jsonp() {
        assert_eq!(&*jsonp_index("1x2"), "12");
        assert_eq!(
            jsonp_wrap("0", "6:4a\"b\n\u{2028}"),
            "___eio[0](\"6:4a\\\"b\\n\\u2028\");"
        );
        assert_eq!(jsonp_unwrap("d=5%3A4a%5Cnb"), Some("5:4a\nb".into()));
        assert_eq!(jsonp_unwrap("d=4%3A4%5C%5Cn"), Some("4:4\\n".into()));
        assert_eq!(jsonp_unwrap("x=1&d=2:4+"), Some("2:4 ".into()));
        assert_eq!(jsonp_unwrap("x=1"), None);
        assert_eq!(form_decode("%zz%41"), "%zzA");
    }
}
