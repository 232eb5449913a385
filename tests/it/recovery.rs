//! Connection state recovery with the npm socket.io-client: a client that drops for a moment
//! gets the same socket id, rooms and data back, and every event it missed, once and in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_socketio::{DisconnectReason, Io, Socket};
use serde_json::{Value, json};

use crate::common::run_node;
use crate::socketio::{builder, start};

/// Event names and arguments with the offsets (a trailing string on every stored event) removed.
fn without_offsets(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.as_array().unwrap().clone();
            if e.len() > 1 && e.last().is_some_and(|v| v.is_string()) {
                e.pop();
            }
            Value::Array(e)
        })
        .collect()
}

async fn recovery_server(window: Duration) -> (crate::socketio::Sio, Arc<Mutex<Vec<String>>>) {
    let s = start(builder().connection_state_recovery(window, true)).await;
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let r = reasons.clone();
    s.io.use_middleware(|socket: Socket| async move {
        // Skipped for a restored socket (skip_middlewares = true).
        socket
            .set_data(&json!({"seen_by_middleware": true}))
            .unwrap();
        Ok(())
    });
    s.io.on_connection(move |socket: Socket, io: Io| {
        let r = r.clone();
        async move {
            if socket.recovered() {
                let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.retain(|room| room != socket.id());
                socket
                    .emit(
                        "done",
                        &json!({
                            "recovered": true,
                            "id": socket.id(),
                            "rooms": rooms,
                            "data": socket.data::<Value>(),
                        }),
                    )
                    .unwrap();
                return;
            }
            socket.join("r");
            socket.set_data(&json!({"name": "alice"})).unwrap();
            socket.emit("ready", &()).unwrap();
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let r = r.clone();
                let io = io.clone();
                async move {
                    r.lock().unwrap().push(reason.to_string());
                    // The client is away: to its own room, to a room it is in, to everyone,
                    // and one it must not get (except its room).
                    io.to(socket.id()).emit("m", &1).unwrap();
                    io.to("r").emit("m", &2).unwrap();
                    io.emit("m", &3).unwrap();
                    io.except("r").emit("not-for-you", &4).unwrap();
                    io.to("r").emit("m", &5).unwrap();
                }
            });
        }
    });
    (s, reasons)
}

#[tokio::test]
async fn a_dropped_client_gets_every_missed_event_once_in_order_with_its_id_rooms_and_data() {
    let (s, reasons) = recovery_server(Duration::from_secs(30)).await;
    let out = run_node("recovery.mjs", &[&s.url, "800"]).await;
    let connects = out.events("connect");
    assert_eq!(connects.len(), 2, "{:?}", out.lines);
    assert_eq!(connects[0]["recovered"], false);
    assert_eq!(connects[1]["recovered"], true, "the client sees recovered");
    assert_eq!(connects[0]["id"], connects[1]["id"], "same socket id");
    let done = out.event("done");
    let events = without_offsets(&done["events"]);
    assert_eq!(
        events,
        vec![
            json!(["ready"]),
            json!(["m", 1]),
            json!(["m", 2]),
            json!(["m", 3]),
            json!(["m", 5]),
            json!(["done", {
                "recovered": true,
                "id": connects[0]["id"],
                "rooms": ["r"],
                "data": {"name": "alice"},
            }]),
        ]
    );
    assert_eq!(*reasons.lock().unwrap(), vec!["transport close".to_owned()]);
    s.assert_clean().await;
}

#[tokio::test]
async fn after_the_window_the_client_gets_a_fresh_socket_without_error() {
    let (s, _reasons) = recovery_server(Duration::from_millis(200)).await;
    // Come back after the window has closed: a fresh socket, no error, the middleware runs.
    let out = run_node("recovery.mjs", &[&s.url, "1000"]).await;
    let connects = out.events("connect");
    assert_eq!(connects.len(), 2, "{:?}", out.lines);
    assert_eq!(connects[1]["recovered"], false);
    assert_ne!(connects[0]["id"], connects[1]["id"]);
    s.assert_clean().await;
}

// ---------------------------------------------------------------------------------------------
// Reasons that are not recoverable

/// A server with recovery on (30 s window) whose first socket joins room "r" and gets data; a
/// socket that asks (`bye`) is disconnected by the server (`socket.disconnect(false)`). When a
/// socket leaves, events go to its id, its room and everyone (what a restored socket would get
/// replayed), then `stored` is logged. Every connection is logged with `recovered`, rooms, data.
async fn not_recoverable_server() -> (crate::socketio::Sio, crate::socketio::Log) {
    use crate::socketio::Log;
    let s = start(builder().connection_state_recovery(Duration::from_secs(30), true)).await;
    let log = Log::new();
    let l = log.clone();
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    s.io.on_connection(move |socket: Socket, io: Io| {
        let log = l.clone();
        let first = first.clone();
        async move {
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                socket.join("r");
                socket.set_data(&json!({"name": "alice"})).unwrap();
            }
            let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            rooms.retain(|room| room != socket.id());
            log.push(
                "connect",
                json!({
                    "id": socket.id(),
                    "recovered": socket.recovered(),
                    "rooms": rooms,
                    "data": socket.data::<Value>(),
                }),
            );
            socket.on("bye", |socket: Socket| async move {
                socket.disconnect(false);
            });
            let lg = log.clone();
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = lg.clone();
                let io = io.clone();
                async move {
                    io.to(socket.id()).emit("m", &1).unwrap();
                    io.to("r").emit("m", &2).unwrap();
                    io.emit("m", &3).unwrap();
                    log.push("disconnect", reason.as_str());
                }
            });
            socket.emit("ready", &()).unwrap();
        }
    });
    (s, log)
}

/// After the first socket left for a reason that is not recoverable (`leave` makes it leave and
/// gives the reason the client saw), `connect_again`: the client offers its pid and offset, the
/// server gives a fresh socket, without error and without replaying anything.
async fn a_fresh_socket_after(
    leave: impl AsyncFnOnce(&mut crate::socketio::Js) -> String,
    client_reason: &str,
    server_reason: &str,
) {
    use crate::socketio::Js;
    let (s, log) = not_recoverable_server().await;
    let mut js = Js::start(&s.url).await;
    let first = js
        .connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.event("a", "ready").await;
    assert_eq!(js.state("a").await["recovered"], false);
    assert_eq!(leave(&mut js).await, client_reason);
    assert_eq!(log.one("disconnect").await, server_reason);

    let again = js.call(json!({"cmd": "connect_again", "id": "a"})).await;
    assert_eq!(again["connected"], true, "{again}");
    assert_ne!(again["sid"], first["sid"], "a new socket id");
    let connect = js
        .wait("a's second connect", |l| {
            l["id"] == "a" && l["event"] == "connect"
        })
        .await;
    assert_eq!(
        connect["recovered"], false,
        "the client sees a fresh socket"
    );
    assert!(js.take(|l| l["event"] == "connect_error").is_empty());

    let connects = log.wait("connect", 2).await;
    assert_eq!(connects[0]["recovered"], false);
    assert_eq!(
        connects[1],
        json!({"id": again["sid"], "recovered": false, "rooms": [], "data": null}),
        "the server sees a fresh socket: no rooms, no data carried over"
    );
    // "ready" is emitted by the handler, after anything a restore would have replayed.
    js.event("a", "ready").await;
    assert_eq!(js.events("a", "m"), Vec::<Value>::new(), "nothing replayed");
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn io_client_disconnect_then_connect_gives_a_fresh_socket() {
    a_fresh_socket_after(
        async |js| {
            js.disconnect("a").await;
            js.disconnect_reason("a").await
        },
        "io client disconnect",
        "client namespace disconnect",
    )
    .await;
}

#[tokio::test]
async fn io_server_disconnect_then_connect_gives_a_fresh_socket() {
    a_fresh_socket_after(
        async |js| {
            js.emit("a", "bye", json!([])).await;
            let reason = js.disconnect_reason("a").await;
            // socket.io-client does not come back by itself after "io server disconnect".
            assert_eq!(js.state("a").await["active"], false);
            reason
        },
        "io server disconnect",
        "server namespace disconnect",
    )
    .await;
}
