//! The default Socket.IO parser: JSON text packets, binary as separate attachments.
//!
//! Wire format `<type>[<attachments>-][<nsp>,][<ackId>][JSON]`, the namespace left out when it is
//! `/`; each attachment of a BINARY_EVENT / BINARY_ACK follows as its own binary message.

use bytes::Bytes;
use serde::de::{SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;
use std::io::Write;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::args::Args;
use super::error::ParseError;
use super::json_scan::{self, Scan};
use super::packet::{EventName, Packet, PacketData, PacketType, RESERVED_EVENTS, ROOT_NSP};
use super::placeholder::check_placeholders;
use super::ser::write_json_str;
use super::{Encoded, EncodedFrame, Parser};

/// The default parser (Node's `socket.io-parser`): JSON text, binary as attachments.
///
/// Stateless and cheap to share; the per-connection part lives in [`DecodeState`].
#[derive(Debug, Clone)]
pub struct DefaultParser {
    max_attachments: usize,
}

impl DefaultParser {
    /// Node's `maxAttachments` default.
    pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

    /// A parser with Node's defaults.
    pub const fn new() -> DefaultParser {
        DefaultParser {
            max_attachments: Self::DEFAULT_MAX_ATTACHMENTS,
        }
    }

    /// A parser accepting up to `max` attachments per packet (Node's `maxAttachments`); a packet
    /// announcing more is a parse error, so a client cannot make the server buffer without bound.
    pub const fn with_max_attachments(max: usize) -> DefaultParser {
        DefaultParser {
            max_attachments: max,
        }
    }

    /// The attachment limit.
    pub fn max_attachments(&self) -> usize {
        self.max_attachments
    }
}

impl Default for DefaultParser {
    fn default() -> Self {
        DefaultParser::new()
    }
}

/// Per-connection decoding state: a binary packet waiting for its attachments.
///
/// One pointer wide and allocation-free while idle, so connections that never send binary pay
/// nothing for it.
#[derive(Debug, Default)]
pub struct DecodeState {
    pending: Option<Box<Pending>>,
}

#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl DecodeState {
    /// An idle state.
    pub const fn new() -> DecodeState {
        DecodeState { pending: None }
    }

    /// Whether a binary packet is waiting for attachments (a text message now is an error).
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a partial packet, e.g. when the connection closes.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

impl Parser for DefaultParser {
    fn decode_text(
        &self,
        state: &mut DecodeState,
        text: Utf8Bytes,
    ) -> Result<Option<Packet>, ParseError> {
        if state.pending.is_some() {
            return Err(ParseError::UnexpectedText);
        }
        let (packet, expected) = self.decode_packet(text)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        state.pending = Some(Box::new(Pending {
            packet,
            expected,
            attachments: Vec::with_capacity(expected),
        }));
        Ok(None)
    }

    fn decode_binary(
        &self,
        state: &mut DecodeState,
        data: Bytes,
    ) -> Result<Option<Packet>, ParseError> {
        let Some(pending) = state.pending.as_mut() else {
            return Err(ParseError::UnexpectedBinary);
        };
        pending.attachments.push(data);
        if pending.attachments.len() < pending.expected {
            return Ok(None);
        }
        let Some(pending) = state.pending.take() else {
            return Err(ParseError::UnexpectedBinary);
        };
        let Pending {
            mut packet,
            attachments,
            ..
        } = *pending;
        if let PacketData::Event { args, .. } | PacketData::Ack(args) = &mut packet.data {
            args.set_attachments(attachments);
        }
        Ok(Some(packet))
    }

    fn encode(&self, packet: &Packet) -> Encoded {
        encode(packet)
    }
}

impl DefaultParser {
    /// Decodes one text message (without the Engine.IO `4`); returns the packet and how many
    /// attachments must follow.
    fn decode_packet(&self, text: Utf8Bytes) -> Result<(Packet, usize), ParseError> {
        let s = text.as_str();
        let b = s.as_bytes();
        let first = *b.first().ok_or(ParseError::Empty)?;
        let ty = PacketType::from_digit(first)
            .ok_or_else(|| ParseError::UnknownType(s.chars().next().unwrap_or('?')))?;
        let mut i = 1;

        let mut expected = 0;
        if matches!(ty, PacketType::BinaryEvent | PacketType::BinaryAck) {
            let start = i;
            while b.get(i).is_some_and(|c| *c != b'-') {
                i += 1;
            }
            if i >= b.len() {
                return Err(ParseError::IllegalAttachments);
            }
            let n = parse_count(&b[start..i]).ok_or(ParseError::IllegalAttachments)?;
            if n == 0 {
                return Err(ParseError::IllegalAttachments);
            }
            if n > self.max_attachments {
                return Err(ParseError::TooManyAttachments {
                    count: n,
                    max: self.max_attachments,
                });
            }
            expected = n;
            i += 1;
        }

        let nsp = if b.get(i) == Some(&b'/') {
            let start = i;
            let end = b[i..]
                .iter()
                .position(|c| *c == b',')
                .map_or(b.len(), |p| i + p);
            i = (end + 1).min(b.len());
            slice_utf8(&text, start, end)?
        } else {
            ROOT_NSP
        };

        let id = if b.get(i).is_some_and(u8::is_ascii_digit) {
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            Some(parse_id(&b[start..i]).ok_or(ParseError::InvalidAckId)?)
        } else {
            None
        };

        let payload = slice_utf8(&text, i, b.len())?;
        let data = match ty {
            PacketType::Connect => match payload.is_empty() {
                true => PacketData::Connect(None),
                false => match parse_value(&payload)? {
                    v @ Value::Object(_) => PacketData::Connect(Some(v)),
                    _ => return Err(ParseError::payload("CONNECT payload must be an object")),
                },
            },
            PacketType::Disconnect => match payload.is_empty() {
                true => PacketData::Disconnect,
                false => return Err(ParseError::payload("DISCONNECT takes no payload")),
            },
            PacketType::ConnectError => match parse_value(&payload)? {
                v @ (Value::Object(_) | Value::String(_)) => PacketData::ConnectError(v),
                _ => {
                    return Err(ParseError::payload(
                        "CONNECT_ERROR payload must be a string or an object",
                    ));
                }
            },
            PacketType::Event | PacketType::BinaryEvent => {
                let scan = scan_array(&payload, 1)?;
                let Some(name) = scan.first else {
                    return Err(ParseError::payload("EVENT needs an event name"));
                };
                let name = event_name(&payload, name)?;
                let (count, items) = (scan.count, scan.items);
                let args = Args::from_received(payload, 1, count - 1, items);
                PacketData::Event { name, args }
            }
            // Node accepts an ACK without payload (no arguments); so do we.
            PacketType::Ack if payload.is_empty() => PacketData::Ack(Args::new()),
            PacketType::Ack | PacketType::BinaryAck => {
                let scan = scan_array(&payload, 0)?;
                let (count, items) = (scan.count, scan.items);
                PacketData::Ack(Args::from_received(payload, 0, count, items))
            }
        };

        if expected > 0 {
            match check_placeholders(s.get(i..).unwrap_or(""), expected) {
                Ok(true) => {}
                Ok(false) => return Err(ParseError::IllegalAttachments),
                Err(e) => return Err(ParseError::payload(e)),
            }
        }

        Ok((Packet { nsp, id, data }, expected))
    }
}

/// Attachment count: ASCII digits; saturates so a huge count is "too many", not a wrap.
fn parse_count(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0usize, |n, d| {
        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    }))
}

/// Acknowledgement id: ASCII digits that must fit in a u64.
fn parse_id(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.checked_sub(b'0')?))
    })
}

/// A sub-slice of `text` sharing its buffer, without re-validating UTF-8.
fn slice_utf8(text: &Utf8Bytes, start: usize, end: usize) -> Result<Utf8Bytes, ParseError> {
    let s = text.as_str();
    if start > end || end > s.len() || !s.is_char_boundary(start) || !s.is_char_boundary(end) {
        return Err(ParseError::payload("packet split inside a character"));
    }
    let bytes = Bytes::from(text.clone()).slice(start..end);
    // SAFETY: `bytes` is `s[start..end]`: a sub-slice of a valid UTF-8 string whose both ends are
    // character boundaries (checked above), hence valid UTF-8 itself.
    Ok(unsafe { Utf8Bytes::from_bytes_unchecked(bytes) })
}

fn parse_value(payload: &str) -> Result<Value, ParseError> {
    serde_json::from_str(payload).map_err(ParseError::payload)
}

/// Validates a JSON array and locates its items in one pass, building nothing: the byte
/// scanner first, serde_json when it is not sure (which also makes every error serde_json's).
fn scan_array(payload: &str, skip: usize) -> Result<Scan<'_>, ParseError> {
    if let Some(scan) = json_scan::scan_array(payload, skip) {
        return Ok(scan);
    }
    scan_array_serde(payload, skip)
}

/// The same scan with serde_json: each item is parsed as a borrowed `RawValue`, whose position
/// in `payload` gives the byte offsets.
pub(super) fn scan_array_serde(payload: &str, skip: usize) -> Result<Scan<'_>, ParseError> {
    let mut de = serde_json::Deserializer::from_str(payload);
    let scan = serde::Deserializer::deserialize_seq(
        &mut de,
        ScanVisitor {
            base: payload.as_ptr() as usize,
            len: payload.len(),
            skip,
        },
    )
    .map_err(ParseError::payload)?;
    de.end().map_err(ParseError::payload)?;
    Ok(scan)
}

struct ScanVisitor {
    base: usize,
    len: usize,
    skip: usize,
}

impl ScanVisitor {
    fn offset(&self, raw: &RawValue) -> Option<(usize, usize)> {
        let start = (raw.get().as_ptr() as usize).checked_sub(self.base)?;
        let end = start.checked_add(raw.get().len())?;
        (end <= self.len).then_some((start, end))
    }
}

impl<'de> Visitor<'de> for ScanVisitor {
    type Value = Scan<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scan<'de>, A::Error> {
        let mut scan = Scan {
            first: None,
            count: 0,
            items: (0, 0),
        };
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let Some((start, end)) = self.offset(raw) else {
                return Err(serde::de::Error::custom("item outside the payload"));
            };
            if scan.count == 0 {
                scan.first = Some(raw.get());
                scan.items = (end, end);
            }
            if scan.count == self.skip {
                scan.items.0 = start;
            }
            if scan.count >= self.skip {
                scan.items.1 = end;
            }
            scan.count += 1;
        }
        Ok(scan)
    }
}

/// The event name from the first array item: a string that is not reserved, or a number.
fn event_name(payload: &Utf8Bytes, r: &str) -> Result<EventName, ParseError> {
    let start = (r.as_ptr() as usize).wrapping_sub(payload.as_ptr() as usize);
    match r.as_bytes().first() {
        Some(b'"') => {
            let name = if r.contains('\\') {
                Utf8Bytes::from(serde_json::from_str::<String>(r).map_err(ParseError::payload)?)
            } else {
                // No escapes: the name is the text between the quotes, shared with the message.
                slice_utf8(payload, start + 1, start + r.len().saturating_sub(1).max(1))?
            };
            if RESERVED_EVENTS.contains(&name.as_str()) {
                return Err(ParseError::payload(format_args!(
                    "reserved event name {:?}",
                    name.as_str()
                )));
            }
            Ok(EventName::new(name))
        }
        Some(b'-' | b'0'..=b'9') => {
            let n: serde_json::Number = serde_json::from_str(r).map_err(ParseError::payload)?;
            let text = if let Some(u) = n.as_u64() {
                u.to_string()
            } else if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                match n.as_f64() {
                    // Integral values print without a fraction, as in JavaScript (`2.0` is "2").
                    Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                        format!("{}", f as i64)
                    }
                    // Anything else keeps its text: stable when written back and read again.
                    _ => r.to_owned(),
                }
            };
            Ok(EventName::numeric_unchecked(Utf8Bytes::from(text)))
        }
        _ => Err(ParseError::payload(
            "event name must be a string or a number",
        )),
    }
}

/// Encodes a packet as the Engine.IO message text (leading `4` included) plus attachments.
pub(crate) fn encode(packet: &Packet) -> Encoded {
    let nsp = match packet.nsp.as_str() {
        "/" | "" => "",
        nsp => nsp,
    };
    let args_hint = packet.args().map_or(0, Args::json_len_hint);
    let name_hint = match &packet.data {
        PacketData::Event { name, .. } => name.len() + 3,
        _ => 0,
    };
    let capacity = 4 + nsp.len() + 20 + args_hint + name_hint + 2;

    let mut attachments = Vec::new();
    let binary = packet.args().is_some_and(Args::has_binary);
    let mut buf = Vec::with_capacity(capacity + if binary { 4 } else { 0 });
    buf.push(b'4');
    if binary {
        // The attachment count comes first on the wire but is only known once the payload is
        // written: write the payload aside.
        let mut payload = Vec::with_capacity(args_hint + name_hint + 2);
        attachments.reserve(packet.args().map_or(0, Args::attachment_count_hint));
        write_payload(&mut payload, packet, &mut attachments);
        let ty = match (&packet.data, attachments.is_empty()) {
            (PacketData::Event { .. }, false) => PacketType::BinaryEvent,
            (PacketData::Event { .. }, true) => PacketType::Event,
            (_, false) => PacketType::BinaryAck,
            (_, true) => PacketType::Ack,
        };
        buf.push(ty.as_digit());
        if !attachments.is_empty() {
            let _ = write!(buf, "{}-", attachments.len());
        }
        write_header(&mut buf, nsp, packet.id);
        buf.extend_from_slice(&payload);
    } else {
        buf.push(packet.packet_type().as_digit());
        write_header(&mut buf, nsp, packet.id);
        write_payload(&mut buf, packet, &mut attachments);
    }

    let text = match String::from_utf8(buf) {
        Ok(text) => text,
        // Every piece written is UTF-8; never panic if that were wrong.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Encoded {
        first: EncodedFrame::Text(Utf8Bytes::from(text)),
        attachments,
    }
}

fn write_header(buf: &mut Vec<u8>, nsp: &str, id: Option<u64>) {
    if !nsp.is_empty() {
        buf.extend_from_slice(nsp.as_bytes());
        buf.push(b',');
    }
    if let Some(id) = id {
        let _ = write!(buf, "{id}");
    }
}

fn write_payload(buf: &mut Vec<u8>, packet: &Packet, attachments: &mut Vec<Bytes>) {
    match &packet.data {
        PacketData::Connect(None) | PacketData::Disconnect => {}
        PacketData::Connect(Some(value)) | PacketData::ConnectError(value) => {
            // A `serde_json::Value` always serializes, and a Vec never fails to grow.
            let _ = serde_json::to_writer(&mut *buf, value);
        }
        PacketData::Event { name, args } => {
            buf.push(b'[');
            if name.is_numeric() {
                buf.extend_from_slice(name.as_str().as_bytes());
            } else {
                write_json_str(buf, name.as_str());
            }
            if !args.is_empty() {
                buf.push(b',');
                args.write_items(buf, attachments);
            }
            buf.push(b']');
        }
        PacketData::Ack(args) => {
            buf.push(b'[');
            args.write_items(buf, attachments);
            buf.push(b']');
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
