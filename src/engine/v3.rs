//! Engine.IO v3 (Socket.IO v2 clients, accepted with `allow_eio3`), and the body formats of
//! polling sessions.
//!
//! What differs from v4, and where it is handled:
//! - polling bodies: length-prefixed text payloads, the XHR2 binary payload, `b64=1`
//!   ([`payload_v3`](super::payload_v3)), written and read here;
//! - JSONP polling (`j=` on the handshake), for either protocol, as Node;
//! - the heartbeat runs the other way: the client pings, the server answers `3` and closes the
//!   session when no ping came for `ping_interval + ping_timeout`; no server pings;
//! - binary websocket frames start with the packet type byte `4` (see the websocket transport).
//!
//! The handshake (`0{"sid",…}`) is the same JSON as v4's, `maxPayload` included, as Node sends it
//! to both.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Context;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};

use super::compress::{Compressed, may_compress, maybe_compress};
use super::config::EngineConfig;
use super::packet::{Packet, PacketError, Payload, decode_payload, encode_payload};
use super::payload_v3;
use super::server::{Engine, Session};
use super::socket::{EngineSocket, Frame, SessionOwner, Shared};
use super::{DisconnectReason, EngineHandler, Utf8Bytes};

/// The pong the server answers a v3 client's ping with.
const PONG: Frame = Frame::Text(Utf8Bytes::from_static("3"));

/// How a polling session's bodies are written and read, fixed by its handshake request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PollingFormat {
    /// The client asked for binary as base64 (`b64=…`): never the binary payload (v3).
    pub(crate) b64: bool,
    /// JSONP polling: the digits of the callback index (`j=…`).
    pub(crate) jsonp: Option<Box<str>>,
}

impl PollingFormat {
    /// The format a handshake query asks for.
    pub(crate) fn from_query(b64: bool, j: Option<&str>) -> Self {
        PollingFormat {
            b64,
            jsonp: j.map(payload_v3::jsonp_index),
        }
    }
}

/// The body of a polling response carrying `frames`, and its content type.
fn encode<'a, I>(protocol: u8, format: &PollingFormat, frames: I) -> (Bytes, &'static str)
where
    I: IntoIterator<Item = &'a Frame> + Clone,
{
    const TEXT: &str = "text/plain; charset=UTF-8";
    if let Some(index) = &format.jsonp {
        let payload = if protocol == 3 {
            payload_v3::encode_text(frames)
        } else {
            // The v4 payload is text: binary travels as `b<base64>`.
            String::from_utf8_lossy(&encode_payload(frames)).into_owned()
        };
        return (payload_v3::jsonp_wrap(index, &payload).into(), TEXT);
    }
    if protocol != 3 {
        return (encode_payload(frames), TEXT);
    }
    if !format.b64 && payload_v3::has_binary(frames.clone()) {
        return (
            payload_v3::encode_binary(frames),
            "application/octet-stream",
        );
    }
    (payload_v3::encode_text(frames).into(), TEXT)
}

/// A `200` polling response carrying `frames` in the session's format, compressed when the
/// options, the packets (`compress`) and the request's `Accept-Encoding` allow it.
pub(crate) async fn polling_response<'a, I>(
    config: &EngineConfig,
    shared: &Shared,
    request: &HeaderMap,
    frames: I,
    compress: bool,
) -> Response<Body>
where
    I: IntoIterator<Item = &'a Frame> + Clone,
{
    let (body, content_type) = encode(shared.protocol(), &shared.format, frames);
    // Most bodies are under the threshold: that is decided without an await point, and the
    // compressing path is boxed, so that the future of every polling request (itself boxed,
    // per request) stays small.
    let out = if may_compress(config.http_compression, compress, body.len()) {
        Box::pin(maybe_compress(
            config.http_compression,
            compress,
            request,
            body,
        ))
        .await
    } else {
        Compressed::plain(body)
    };
    let mut res = Response::new(Body::empty());
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.set_headers(headers);
    *res.body_mut() = Body::from(out.body);
    res
}

/// The packets of a POST body, in the session's format. A trailing `Err` means the rest of the
/// body does not parse (the caller closes the session after handing over what came before).
pub(crate) fn decode_post(shared: &Shared, binary: bool, body: Bytes) -> PostPackets {
    let protocol = shared.protocol();
    if protocol != 3 && shared.format.jsonp.is_none() {
        return PostPackets::V4(decode_payload(body));
    }
    let list = |packets: Vec<Result<Packet, PacketError>>| PostPackets::List(packets.into_iter());
    if binary {
        // Only v3 gets here with a binary body (the transport refuses it on v4).
        return match payload_v3::decode_binary_payload(body) {
            Ok(packets) => list(packets.into_iter().map(Ok).collect()),
            Err(e) => list(vec![Err(e)]),
        };
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return list(vec![Err(PacketError)]);
    };
    let text = match shared.format.jsonp {
        Some(_) => match payload_v3::jsonp_unwrap(text) {
            Some(payload) => payload,
            // Node ignores a JSONP POST without a `d` field.
            None => return list(Vec::new()),
        },
        None => text.to_owned(),
    };
    if protocol == 3 {
        list(decode_text_until_error(&text))
    } else {
        list(decode_payload(Bytes::from(text)).collect())
    }
}

/// The packets of a POST: a v4 body decoded as it is read (the common case, with no
/// allocation), or a list decoded at once.
pub(crate) enum PostPackets {
    V4(Payload),
    List(std::vec::IntoIter<Result<Packet, PacketError>>),
}

impl Iterator for PostPackets {
    type Item = Result<Packet, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            PostPackets::V4(p) => p.next(),
            PostPackets::List(l) => l.next(),
        }
    }
}

fn decode_text_until_error(text: &str) -> Vec<Result<Packet, PacketError>> {
    let mut out = Vec::new();
    for p in payload_v3::decode_text_payload(text) {
        let failed = p.is_err();
        out.push(p);
        if failed {
            break;
        }
    }
    out
}

/// A v3 client pinged: the heartbeat goes on, and the server answers `3`.
pub(crate) fn on_client_ping(socket: &EngineSocket) {
    socket.shared.on_pong();
    let _ = socket.send_frame(PONG);
}

/// Whether a ping arrived since the last call (the flag is re-armed).
fn took_ping(shared: &Shared) -> bool {
    !shared.awaiting_pong.swap(true, Ordering::AcqRel)
}

/// The v3 heartbeat of a websocket connection, polled by its task: `true` once no ping came for
/// `window` (`ping_interval + ping_timeout`).
pub(crate) fn ws_heartbeat_expired(
    shared: &Shared,
    mut deadline: Pin<&mut tokio::time::Sleep>,
    window: std::time::Duration,
    cx: &mut Context<'_>,
) -> bool {
    if took_ping(shared) {
        deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + window);
    }
    deadline.poll(cx).is_ready()
}

/// The v3 heartbeat of a session while it is on polling: no server pings; the session closes
/// with "ping timeout" when the client sent no ping for `ping_interval + ping_timeout`. Ends
/// when the session closes or moves to websocket (whose task then runs the heartbeat).
pub(crate) fn spawn_heartbeat<H: EngineHandler>(engine: Arc<Engine<H>>, session: Arc<Session<H>>) {
    let window = engine.config.ping_interval + engine.config.ping_timeout;
    let mut deadline = tokio::time::Instant::now() + window;
    session
        .socket
        .shared
        .awaiting_pong
        .store(true, Ordering::Release);
    tokio::spawn(async move {
        let shared = &session.socket.shared;
        loop {
            let pinged = || !shared.awaiting_pong.load(Ordering::Acquire);
            if !super::polling::wait_until(&session, deadline, pinged).await {
                return;
            }
            if took_ping(shared) || shared.lock().upgrading {
                deadline = tokio::time::Instant::now() + window;
                continue;
            }
            tracing::debug!(
                sid = shared.id(),
                "ping timeout (no ping from the v3 client)"
            );
            engine.close_session(shared.id(), DisconnectReason::PingTimeout);
            return;
        }
    });
}

/// A session handle with no engine behind it, for unit tests of the layers above.
#[cfg(test)]
pub(crate) fn test_socket(id: &str, protocol: u8) -> EngineSocket {
    struct NoEngine;
    impl SessionOwner for NoEngine {
        fn close_session(&self, _id: &str, _reason: DisconnectReason) {}
    }
    let owner: std::sync::Weak<dyn SessionOwner> = std::sync::Weak::<NoEngine>::new();
    EngineSocket::new(
        id.to_owned(),
        protocol,
        PollingFormat::default(),
        super::Transport::Polling,
        16,
        owner,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<Frame> {
        vec![
            Frame::Text(Utf8Bytes::from_static("4é")),
            Frame::Binary(Bytes::from_static(&[1, 2])),
        ]
    }

    #[test]
    fn formats() {
        let v3 = PollingFormat::default();
        let (body, ty) = encode(3, &v3, &frames());
        assert_eq!(ty, "application/octet-stream");
        assert_eq!(&body[..], b"\x00\x03\xff4\xc3\xa9\x01\x03\xff\x04\x01\x02");

        let b64 = PollingFormat::from_query(true, None);
        let (body, ty) = encode(3, &b64, &frames());
        assert_eq!(ty, "text/plain; charset=UTF-8");
        assert_eq!(&body[..], "2:4é6:b4AQI=".as_bytes());

        let text_only = [Frame::Text(Utf8Bytes::from_static("2"))];
        assert_eq!(&encode(3, &v3, &text_only).0[..], b"1:2");

        let (body, _) = encode(4, &v3, &frames());
        assert_eq!(&body[..], "4é\x1ebAQI=".as_bytes());

        let jsonp = PollingFormat::from_query(true, Some("3"));
        assert_eq!(
            &encode(3, &jsonp, &frames()).0[..],
            "___eio[3](\"2:4é6:b4AQI=\");".as_bytes()
        );
        assert_eq!(
            &encode(4, &jsonp, &frames()).0[..],
            "___eio[3](\"4é\\u001ebAQI=\");".as_bytes()
        );
    }
}
