//! socket.io-client over each transport: polling only, websocket only, polling then upgrade.

use super::*;
use axum_socketio::{Ack, Data, Socket};

/// On connection: log the transport, greet. `hello` → `hello-back` with the same value and an
/// ack with the transport the server sees now.
async fn server() -> (Sio, Log) {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("connect-transport", socket.conn().transport().as_str());
            socket.emit("welcome", &socket.id()).unwrap();
            socket.on(
                "hello",
                |socket: Socket, Data(v): Data<Value>, ack: Ack| async move {
                    socket.emit("hello-back", &v).unwrap();
                    let conn = socket.conn();
                    ack.send(&(conn.transport().as_str(), conn.upgraded()))
                        .unwrap();
                },
            );
        }
    });
    (s, log)
}

async fn exchange(js: &mut Js, id: &str, sid: &str) -> Value {
    assert_eq!(js.event(id, "welcome").await, json!([sid]));
    let payload = json!({"text": "é漢🎉", "n": [1, 2.5, null, true]});
    let ack = js.emit_ack(id, "hello", json!([payload])).await;
    assert_eq!(js.event(id, "hello-back").await, json!([payload]));
    ack
}

#[tokio::test]
async fn polling_only() {
    let (s, log) = server().await;
    let mut js = Js::start(&s.url).await;
    let c = js
        .connect("a", "/", json!({"transports": ["polling"]}))
        .await;
    assert_eq!(c["transport"], "polling");
    let sid = c["sid"].as_str().unwrap().to_owned();
    assert_eq!(log.one("connect-transport").await, "polling");
    assert_eq!(
        exchange(&mut js, "a", &sid).await,
        json!(["polling", false])
    );
    assert_eq!(s.io.sockets().get_socket(&sid).unwrap().id(), sid);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn websocket_only() {
    let (s, log) = server().await;
    let mut js = Js::start(&s.url).await;
    let c = js
        .connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    assert_eq!(c["transport"], "websocket");
    let sid = c["sid"].as_str().unwrap().to_owned();
    assert_eq!(log.one("connect-transport").await, "websocket");
    assert_eq!(
        exchange(&mut js, "a", &sid).await,
        json!(["websocket", false])
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn polling_then_upgrade() {
    let (s, log) = server().await;
    let mut js = Js::start(&s.url).await;
    let c = js
        .connect(
            "a",
            "/",
            json!({"transports": ["polling", "websocket"], "waitUpgrade": true}),
        )
        .await;
    assert_eq!(c["transport"], "websocket");
    js.wait("the upgrade event", |l| {
        l["id"] == "a" && l["event"] == "upgrade" && l["transport"] == "websocket"
    })
    .await;
    let sid = c["sid"].as_str().unwrap().to_owned();
    // The socket connected over polling, before the upgrade.
    assert_eq!(log.one("connect-transport").await, "polling");
    assert_eq!(
        exchange(&mut js, "a", &sid).await,
        json!(["websocket", true])
    );
    let socket = s.io.sockets().get_socket(&sid).unwrap();
    assert_eq!(socket.conn().transport().as_str(), "websocket");
    assert!(socket.conn().upgraded());
    js.exit().await;
    s.assert_clean().await;
}
