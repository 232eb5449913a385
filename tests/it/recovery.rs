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
