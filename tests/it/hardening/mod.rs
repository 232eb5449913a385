//! Hardening (issue 9): hostile input on both transports and both layers, slow consumers,
//! abandoned sessions, churn and shutdown under load. Every check counts (messages, sessions,
//! sockets, rooms); none measures time. Timeouts in these servers are short so that what is
//! reclaimed by a timeout is reclaimed quickly.

mod abandoned;
mod churn;
mod matrix;
mod shutdown;
mod slow_consumer;

use std::net::SocketAddr;
use std::time::Duration;

use axum_socketio::{Ack, Args, DisconnectReason, Io, Socket, SocketIoBuilder, SocketIoLayer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{DEADLINE, Frame, Ws, ms};
use crate::socketio::{Log, Sio, raw_connect, start};

/// The largest message or body the hardening servers accept.
pub const LIMIT: usize = 10_000;

/// Short timeouts, small limits.
pub fn strict() -> SocketIoBuilder {
    SocketIoLayer::builder()
        .serve_client(false)
        .ping_interval(ms(300))
        .ping_timeout(ms(200))
        .upgrade_timeout(ms(500))
        .connect_timeout(ms(800))
        .max_http_buffer_size(LIMIT)
        .max_buffered_packets(64)
}

/// A server with the handlers every hardening test uses: `ping` answers `pong` by ack, `echo`
/// sends its arguments back, every socket joins `room-x`, and disconnects are logged as
/// `(socket id, reason)`.
pub async fn server(b: SocketIoBuilder) -> (Sio, Log) {
    let s = start(b).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.join("room-x");
            socket.on("ping", |ack: Ack| async move {
                ack.send(&"pong").ok();
            });
            socket.on("echo", |socket: Socket, args: Args| async move {
                socket.emit_args("echo", args).ok();
            });
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = log.clone();
                async move { log.push("disconnect", (socket.id(), reason.as_str())) }
            });
        }
    });
    (s, log)
}

/// An event with an ack on an open raw websocket connection; other frames before the answer are
/// skipped (at most 10 000 of them), Engine.IO pings answered. Never panics: a closed connection
/// is an error.
pub async fn ping(ws: &mut Ws) -> Result<(), String> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    if ws
        .stream
        .send(WsMessage::text(r#"4299["ping"]"#))
        .await
        .is_err()
    {
        return Err("the connection is closed".into());
    }
    for _ in 0..10_000 {
        match ws.recv().await {
            Frame::Text(t) if t == r#"4399["pong"]"# => return Ok(()),
            Frame::Text(t) if t == "2" => {
                let _ = ws.stream.send(WsMessage::text("3")).await;
            }
            Frame::Closed => return Err("the connection closed".into()),
            _ => {}
        }
    }
    Err("no answer to the ping".into())
}

/// A well-behaved client on a new connection: connects, gets an ack, leaves.
pub async fn healthy(addr: SocketAddr) -> Result<(), String> {
    let (mut ws, _) = raw_connect(addr).await;
    ping(&mut ws)
        .await
        .map_err(|e| format!("a well-behaved client failed: {e}"))?;
    ws.close().await;
    Ok(())
}

/// What the server still holds: connections, sockets and rooms of every namespace.
pub fn leftovers(io: &Io) -> Vec<String> {
    let mut left = Vec::new();
    let clients = io.client_count();
    if clients != 0 {
        left.push(format!("{clients} engine connections"));
    }
    for ns in io.namespaces() {
        let sockets = ns.sockets().len();
        if sockets != 0 {
            left.push(format!("{sockets} sockets on {}", ns.name()));
        }
        let rooms = ns.adapter().local_rooms();
        if !rooms.is_empty() {
            left.push(format!("{} rooms on {}", rooms.len(), ns.name()));
        }
    }
    left
}

/// Waits until the server holds nothing (bounded by [`DEADLINE`]).
pub async fn until_clean(io: &Io) -> Result<(), String> {
    let start = tokio::time::Instant::now();
    loop {
        let left = leftovers(io);
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            return Err(format!("left behind: {left:?}"));
        }
        tokio::time::sleep(ms(10)).await;
    }
}

/// A raw HTTP/1.1 exchange: writes `head` (request line and headers, CRLF-separated, without
/// the final blank line) and `body`, returns the status and the response text. For requests
/// reqwest will not send (control characters in headers, a Content-Length that lies).
pub async fn raw_http(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = head.replace('\n', "\r\n").into_bytes();
    req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    req.extend_from_slice(body);
    tcp.write_all(&req).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if status_and_body_complete(&buf) {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let _ = read;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether a response with a Content-Length has arrived whole.
fn status_and_body_complete(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let len = text[..end]
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(usize::MAX);
    buf.len() >= end + 4 + len
}
