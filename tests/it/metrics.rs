//! `Io::metrics`: what an app exposes on a `/stats` route, checked against real clients.

use std::time::Duration;

use axum_socketio::{Ack, Args, Data, Socket};
use serde_json::{Value, json};

use crate::socketio::{Js, builder, start};

#[tokio::test]
async fn metrics_count_clients_messages_and_timeouts() {
    let s = start(builder()).await;
    s.io.on_connection(|socket: Socket| async move {
        socket.join("room-a");
        socket.on("echo", |socket: Socket, args: Args| async move {
            socket.emit_args("echo", args).unwrap();
        });
        socket.on("silent", |socket: Socket| async move {
            let r = socket
                .timeout(Duration::from_millis(50))
                .emit_with_ack::<_, Value>("never-answered", &())
                .await;
            assert!(r.is_err());
            socket.emit("timed-out", &()).unwrap();
        });
        socket.on(
            "bcast",
            |socket: Socket, Data(v): Data<Value>, ack: Ack| async move {
                socket.io().to("room-a").emit("b", &v).unwrap();
                ack.send(&()).unwrap();
            },
        );
    });
    let before = s.io.metrics();
    assert_eq!(before.clients_websocket + before.clients_polling, 0);
    assert_eq!(before.messages_in, 0);

    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.connect("b", "/", json!({"transports": ["polling"]}))
        .await;

    js.emit("a", "echo", json!(["hi"])).await;
    assert_eq!(js.event("a", "echo").await, json!(["hi"]));
    js.emit_ack("b", "bcast", json!([1])).await;
    assert_eq!(js.event("a", "b").await, json!([1]));
    assert_eq!(js.event("b", "b").await, json!([1]));
    js.emit("a", "silent", json!([])).await;
    assert_eq!(js.event("a", "timed-out").await, json!([]));

    let m = s.io.metrics();
    assert_eq!(m.clients_websocket, 1, "{m:?}");
    assert_eq!(m.clients_polling, 1, "{m:?}");
    assert_eq!(m.sockets.get("/"), Some(&2), "{m:?}");
    // room-a plus each socket's own room.
    assert_eq!(m.rooms.get("/"), Some(&3), "{m:?}");
    // In: 2 CONNECTs, echo, bcast, silent, and the client's ack-less events; at least these.
    assert!(m.messages_in >= 5, "{m:?}");
    assert!(m.bytes_in > m.messages_in, "{m:?}");
    // Out: 2 CONNECT replies, echo, the broadcast to two sockets, its ack, the unanswered
    // event, timed-out.
    assert!(m.messages_out >= 8, "{m:?}");
    assert!(m.bytes_out > m.messages_out, "{m:?}");
    assert_eq!(m.acks_timed_out, 1, "{m:?}");
    assert_eq!(m.outbox_full, 0, "{m:?}");

    let json = serde_json::to_value(&m).unwrap();
    for key in [
        "clients_polling",
        "clients_websocket",
        "sockets",
        "rooms",
        "messages_in",
        "bytes_in",
        "messages_out",
        "bytes_out",
        "volatile_dropped",
        "outbox_full",
        "acks_timed_out",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    js.exit().await;
    s.assert_clean().await;
}
