//! socket.io-client's automatic reconnection, as the server drops it: it comes back after a
//! transport close, not after "io server disconnect".

use super::*;
use axum_socketio::{DisconnectReason, Socket};

async fn server() -> (Sio, Log) {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("connect", socket.id());
            let lg = log.clone();
            socket.on_disconnect(move |reason: DisconnectReason| {
                let log = lg.clone();
                async move { log.push("disconnect", reason.as_str()) }
            });
            socket.on("drop-connection", |socket: Socket| async move {
                socket.conn().close();
            });
            socket.on("disconnect-close", |socket: Socket| async move {
                socket.disconnect(true);
            });
        }
    });
    (s, log)
}

async fn reconnects_after_the_server_closes_the_connection(transport: &str) {
    let (s, log) = server().await;
    let mut js = Js::start(&s.url).await;
    let first = js
        .connect("a", "/", json!({"transports": [transport]}))
        .await;
    js.emit("a", "drop-connection", json!([])).await;
    assert_eq!(js.disconnect_reason("a").await, "transport close");
    assert_eq!(log.one("disconnect").await, "forced close");
    js.wait("a reconnect attempt", |l| {
        l["id"] == "a" && l["event"] == "reconnect_attempt"
    })
    .await;
    let again = js
        .wait("a's second connect", |l| {
            l["id"] == "a" && l["event"] == "connect"
        })
        .await;
    js.wait("the reconnect event", |l| {
        l["id"] == "a" && l["event"] == "reconnect"
    })
    .await;
    assert_ne!(again["sid"], first["sid"], "a new socket (no recovery)");
    let connects = log.wait("connect", 2).await;
    assert_eq!(connects[1], again["sid"]);
    assert_eq!(s.count(), 1);
    assert_eq!(s.io.client_count(), 1);
    assert_eq!(js.state("a").await["connected"], true);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn reconnects_after_transport_close_over_websocket() {
    reconnects_after_the_server_closes_the_connection("websocket").await;
}

#[tokio::test]
async fn reconnects_after_transport_close_over_polling() {
    reconnects_after_the_server_closes_the_connection("polling").await;
}

#[tokio::test]
async fn no_reconnection_after_io_server_disconnect() {
    let (s, log) = server().await;
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.emit("a", "disconnect-close", json!([])).await;
    assert_eq!(js.disconnect_reason("a").await, "io server disconnect");
    assert_eq!(log.one("disconnect").await, "server namespace disconnect");
    s.assert_clean().await;
    let st = js.state("a").await;
    assert_eq!(
        (&st["connected"], &st["active"]),
        (&json!(false), &json!(false)),
        "{st}"
    );
    // Several reconnection delays (50-100 ms) later, still nothing.
    tokio::time::sleep(ms(400)).await;
    let attempts = js
        .take(|l| l["id"] == "a" && (l["event"] == "reconnect_attempt" || l["event"] == "connect"));
    assert!(attempts.is_empty(), "the client came back: {attempts:?}");
    assert_eq!(log.all("connect").len(), 1);
    js.exit().await;
}
