//! Handlers: a panicking handler does not break its socket; events of one socket start in
//! arrival order; a handler waiting on something does not hold back later events.

use std::sync::Arc;

use super::*;
use axum_socketio::{Ack, Data, Socket};
use tokio::sync::Notify;

#[tokio::test]
async fn a_panicking_handler_does_not_break_the_socket() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.on("boom-now", |Data(x): Data<i64>| async move {
                if x >= 0 {
                    panic!("boom before any await (expected by the test)");
                }
            });
            socket.on("boom-later", |Data(x): Data<i64>| async move {
                tokio::time::sleep(ms(5)).await;
                if x >= 0 {
                    panic!("boom after an await (expected by the test)");
                }
            });
            socket.on("boom-with-ack", |_ack: Ack| async move {
                panic!("boom holding the ack (expected by the test)");
            });
            socket.on("ok", move |socket: Socket, Data(x): Data<i64>, ack: Ack| {
                let log = log.clone();
                async move {
                    log.push("ok", x);
                    ack.send(&(x, socket.id())).unwrap();
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    let c = js
        .connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    let sid = c["sid"].clone();
    js.emit("a", "boom-now", json!([1])).await;
    assert_eq!(js.emit_ack("a", "ok", json!([1])).await, json!([1, sid]));
    js.emit("a", "boom-later", json!([2])).await;
    assert_eq!(js.emit_ack("a", "ok", json!([2])).await, json!([2, sid]));
    // The dropped ack is simply never answered.
    let r = js
        .call(json!({"cmd": "emit", "id": "a", "name": "boom-with-ack", "ack": "timeout", "timeout": 200}))
        .await;
    assert_eq!(r, json!({"error": "operation has timed out"}));
    // Several panics in a row, then more events: all still handled, in order.
    for i in 0..5 {
        js.emit("a", "boom-now", json!([i])).await;
        js.emit("a", "boom-later", json!([i])).await;
        js.emit("a", "ok", json!([10 + i])).await;
    }
    assert_eq!(js.emit_ack("a", "ok", json!([99])).await, json!([99, sid]));
    assert_eq!(
        log.wait("ok", 8).await,
        [1, 2, 10, 11, 12, 13, 14, 99].map(|x| json!(x))
    );
    assert_eq!(js.state("a").await["connected"], true);
    assert_eq!(s.count(), 1);
    assert!(
        s.io.sockets()
            .get_socket(sid.as_str().unwrap())
            .unwrap()
            .connected()
    );
    js.exit().await;
    s.assert_clean().await;
}

/// The handler of event `i` logs `start i`, sleeps a pseudo-random 0-4 ms, logs `end i`.
#[tokio::test]
async fn events_of_one_socket_start_in_arrival_order() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            let transport = socket.conn().transport().as_str();
            socket.on("n", move |Data(i): Data<u64>| {
                let log = log.clone();
                async move {
                    log.push(&format!("start-{transport}"), i);
                    tokio::time::sleep(ms(i * 7919 % 5)).await;
                    log.push(&format!("end-{transport}"), i);
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    // Over polling, many events arrive in one POST; over websocket, one frame each.
    js.connect("p", "/", json!({"transports": ["polling"]}))
        .await;
    js.connect("w", "/", json!({"transports": ["websocket"]}))
        .await;
    for id in ["p", "w"] {
        js.call(json!({"cmd": "emit_many", "id": id, "name": "n", "from": 0, "to": 100}))
            .await;
    }
    let want: Vec<Value> = (0..100).map(|i| json!(i)).collect();
    for transport in ["polling", "websocket"] {
        let starts = log.wait(&format!("start-{transport}"), 100).await;
        assert_eq!(starts, want, "{transport}: handlers started out of order");
        let mut ends = log.wait(&format!("end-{transport}"), 100).await;
        ends.sort_by_key(|v| v.as_u64());
        assert_eq!(ends, want, "{transport}: every handler finished");
    }
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn a_waiting_handler_does_not_hold_back_later_events() {
    let s = start(builder()).await;
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    s.io.on_connection(move |socket: Socket| {
        let gate = g.clone();
        async move {
            let g = gate.clone();
            // Waits until a later event of the same socket opens the gate.
            socket.on("wait-for-gate", move |ack: Ack| {
                let gate = g.clone();
                async move {
                    gate.notified().await;
                    ack.send(&"gate opened").unwrap();
                }
            });
            socket.on("open-gate", move |ack: Ack| {
                let gate = gate.clone();
                async move {
                    gate.notify_waiters();
                    ack.send(&"opened").unwrap();
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    // The first handler waits for the gate; the second event opens it. Were the socket's
    // handlers run one after the other, the second would never run.
    let waiting = js
        .send(json!({"cmd": "emit", "id": "a", "name": "wait-for-gate", "ack": "callback"}))
        .await;
    assert_eq!(
        js.emit_ack("a", "open-gate", json!([])).await,
        json!(["opened"])
    );
    assert_eq!(js.reply(waiting).await, json!({"args": ["gate opened"]}));
    js.exit().await;
    s.assert_clean().await;
}
