//! Why a socket left, as the server's `disconnecting` and `disconnect` handlers see it.

use super::*;
use crate::common::Frame;
use axum_socketio::{DisconnectReason, Socket};

fn sorted_rooms(socket: &Socket) -> Vec<String> {
    let mut r: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    r.sort();
    r
}

/// Every socket joins `room-1`; `disconnecting` logs `(reason, rooms)`, `disconnect` logs
/// `(reason, rooms)` too (empty by then); `kick` disconnects the socket from the server side.
async fn server(b: SocketIoBuilder) -> (Sio, Log) {
    let s = start(b).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.join("room-1");
            log.push("connect", socket.id());
            let lg = log.clone();
            socket.on_disconnecting(move |socket: Socket, reason: DisconnectReason| {
                let log = lg.clone();
                async move {
                    let mut rooms = sorted_rooms(&socket);
                    rooms.retain(|r| r != socket.id());
                    log.push(
                        "disconnecting",
                        (reason.as_str(), rooms, socket.rooms().len()),
                    );
                }
            });
            let lg = log.clone();
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = lg.clone();
                async move {
                    log.push(
                        "disconnect",
                        (reason.as_str(), sorted_rooms(&socket), socket.connected()),
                    );
                }
            });
            socket.on(
                "kick",
                |socket: Socket| async move { socket.disconnect(false) },
            );
        }
    });
    (s, log)
}

async fn expect_reason(log: &Log, reason: &str) {
    assert_eq!(
        log.one("disconnecting").await,
        json!([reason, ["room-1"], 2]),
        "disconnecting sees the rooms"
    );
    assert_eq!(
        log.one("disconnect").await,
        json!([reason, [], false]),
        "disconnect: rooms left"
    );
}

#[tokio::test]
async fn client_namespace_disconnect() {
    let (s, log) = server(builder()).await;
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.disconnect("a").await;
    assert_eq!(js.disconnect_reason("a").await, "io client disconnect");
    expect_reason(&log, "client namespace disconnect").await;
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn server_namespace_disconnect() {
    let (s, log) = server(builder()).await;
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["polling"]}))
        .await;
    js.emit("a", "kick", json!([])).await;
    assert_eq!(js.disconnect_reason("a").await, "io server disconnect");
    expect_reason(&log, "server namespace disconnect").await;
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn transport_close_when_the_client_process_dies() {
    let (s, log) = server(builder()).await;
    let js = {
        let mut js = Js::start(&s.url).await;
        js.connect("a", "/", json!({"transports": ["websocket"]}))
            .await;
        js
    };
    js.kill().await;
    expect_reason(&log, "transport close").await;
    s.assert_clean().await;
}

#[tokio::test]
async fn transport_close_when_the_client_closes_its_connection() {
    let (s, log) = server(builder()).await;
    let mut js = Js::start(&s.url).await;
    js.connect(
        "a",
        "/",
        json!({"transports": ["polling"], "reconnection": false}),
    )
    .await;
    // engine.close(): a polling client sends the close packet.
    js.call(json!({"cmd": "close_engine", "id": "a"})).await;
    expect_reason(&log, "transport close").await;
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn ping_timeout_when_the_client_stops_answering() {
    let (s, log) = server(fast_heartbeat()).await;
    let (mut ws, sid) = raw_connect(s.addr).await;
    log.one("connect").await;
    // Read the pings, never answer them.
    let mut pings = 0;
    loop {
        match ws.recv().await {
            Frame::Text(t) if t == "2" => pings += 1,
            Frame::Closed => break,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(pings, 1, "closed after the first unanswered ping");
    expect_reason(&log, "ping timeout").await;
    assert!(s.io.sockets().get_socket(&sid).is_none());
    s.assert_clean().await;
}

#[tokio::test]
async fn server_shutting_down() {
    let (s, log) = server(builder()).await;
    let mut js = Js::start(&s.url).await;
    js.connect(
        "a",
        "/",
        json!({"transports": ["websocket"], "reconnection": false}),
    )
    .await;
    let closed = tokio::spawn(s.io.closed());
    within("io.close()", s.io.close()).await;
    expect_reason(&log, "server shutting down").await;
    within("io.closed()", closed).await.unwrap();
    // Node's client sees its connection closed.
    assert_eq!(js.disconnect_reason("a").await, "transport close");
    s.assert_clean().await;
    js.exit().await;
}
