//! Acknowledgements between one client and the server, both ways, and their timeouts.

use super::*;
use axum_socketio::{Ack, AckError, AckSendError, Data, Socket};

#[tokio::test]
async fn client_callback_answered_by_the_server() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.on(
                "sum",
                |Data((a, b)): Data<(i64, i64)>, ack: Ack| async move {
                    ack.send(&(a + b)).unwrap();
                },
            );
            socket.on("pair", |ack: Ack| async move {
                ack.send(&("two", json!({"args": [1, 2]}))).unwrap();
            });
            socket.on("nothing", |ack: Ack| async move { ack.send(&()).unwrap() });
            // An answer after an await still reaches the client.
            socket.on("slow", |Data(x): Data<String>, ack: Ack| async move {
                tokio::time::sleep(ms(20)).await;
                ack.send(&x).unwrap();
            });
            // The client asked for no ack: sending says so and sends nothing.
            socket.on("no-ack", move |socket: Socket, ack: Ack| {
                let log = log.clone();
                async move {
                    log.push("requested", ack.requested());
                    let r = ack.send(&1);
                    log.push(
                        "not-requested",
                        matches!(r, Err(AckSendError::NotRequested)),
                    );
                    socket.emit("after-no-ack", &()).unwrap();
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    assert_eq!(js.emit_ack("a", "sum", json!([2, 3])).await, json!([5]));
    assert_eq!(
        js.emit_ack("a", "pair", json!([])).await,
        json!(["two", {"args": [1, 2]}])
    );
    assert_eq!(js.emit_ack("a", "nothing", json!([])).await, json!([]));
    assert_eq!(js.emit_ack("a", "slow", json!(["zz"])).await, json!(["zz"]));
    js.emit("a", "no-ack", json!([])).await;
    js.event("a", "after-no-ack").await;
    assert_eq!(log.one("requested").await, false);
    assert_eq!(log.one("not-requested").await, true);
    js.exit().await;
    s.assert_clean().await;
}

#[derive(serde::Deserialize)]
struct Nested {
    b: serde_bytes::ByteBuf,
}

#[tokio::test]
async fn server_emit_with_ack_answered_by_the_client() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.on("ask", move |socket: Socket, Data(q): Data<String>| {
                let log = log.clone();
                async move {
                    let r = socket
                        .timeout(Duration::from_secs(2))
                        .emit_with_ack::<_, (String, i64)>("question", &q)
                        .await;
                    log.push("answer", r.map_err(|e| e.to_string()).unwrap());
                    // Without a timeout too.
                    let r = socket.emit_with_ack::<_, Value>("question2", &()).await;
                    log.push("answer2", r.map_err(|e| e.to_string()).unwrap());
                    // A binary answer (a BINARY_ACK from the client).
                    let r = socket
                        .timeout(Duration::from_secs(2))
                        .emit_with_ack::<_, (bytes::Bytes, Nested)>("question3", &())
                        .await;
                    let (b, n) = r.map_err(|e| e.to_string()).unwrap();
                    log.push("answer3", (b.to_vec(), n.b.to_vec()));
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["polling"]}))
        .await;
    js.answer("a", "question", json!(["forty-two", 42])).await;
    js.answer("a", "question2", json!([{"ok": true}])).await;
    js.answer(
        "a",
        "question3",
        json!([bin(&[0, 1, 255]), {"b": u8a(&[7])}]),
    )
    .await;
    js.emit("a", "ask", json!(["meaning?"])).await;
    assert_eq!(log.one("answer").await, json!(["forty-two", 42]));
    assert_eq!(log.one("answer2").await, json!({"ok": true}));
    assert_eq!(log.one("answer3").await, json!([[0, 1, 255], [7]]));
    // The client saw the question with an ack callback.
    assert_eq!(js.event("a", "question").await, json!(["meaning?", "$ack"]));
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn server_ack_times_out_when_the_client_does_not_answer() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            let r = socket
                .timeout(ms(200))
                .emit_with_ack::<_, Value>("ignored", &1)
                .await;
            match r {
                Err(e @ AckError::Timeout) => log.push("error", e.to_string()),
                other => log.push("unexpected", format!("{other:?}")),
            }
            // The socket is still usable afterwards.
            socket.emit("still-there", &()).unwrap();
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    // The client gets the event (with a callback it never calls).
    assert_eq!(js.event("a", "ignored").await, json!([1, "$ack"]));
    assert_eq!(log.one("error").await, "operation has timed out");
    assert!(
        log.all("unexpected").is_empty(),
        "{:?}",
        log.all("unexpected")
    );
    js.event("a", "still-there").await;
    assert_eq!(js.state("a").await["connected"], true);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn server_ack_fails_when_the_client_disconnects_first() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.emit("bye-soon", &()).unwrap();
            let r = socket.emit_with_ack::<_, Value>("never", &()).await;
            log.push("result", matches!(r, Err(AckError::Disconnected)));
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.event("a", "never").await;
    js.disconnect("a").await;
    assert_eq!(log.one("result").await, true);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn client_emit_with_ack_times_out_against_a_silent_server() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            // Takes the ack and drops it without answering.
            socket.on("silent", move |ack: Ack| {
                let log = log.clone();
                async move { log.push("silent-requested", ack.requested()) }
            });
            socket.on("echo", |Data(x): Data<Value>, ack: Ack| async move {
                ack.send(&x).unwrap();
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    let r = js
        .call(json!({"cmd": "emit", "id": "a", "name": "silent", "ack": "withAck", "timeout": 200}))
        .await;
    assert_eq!(r, json!({"error": "operation has timed out"}));
    assert_eq!(log.one("silent-requested").await, true);
    // The callback form with a timeout too.
    let r = js
        .call(json!({"cmd": "emit", "id": "a", "name": "silent", "ack": "timeout", "timeout": 200}))
        .await;
    assert_eq!(r, json!({"error": "operation has timed out"}));
    // And an answered emitWithAck resolves with the first argument.
    let r = js
        .call(json!({"cmd": "emit", "id": "a", "name": "echo", "args": [[1, "x"]], "ack": "withAck", "timeout": 2000}))
        .await;
    assert_eq!(r, json!({"args": [[1, "x"]]}));
    assert_eq!(js.state("a").await["connected"], true);
    js.exit().await;
    s.assert_clean().await;
}
