//! Server API items a Node user relies on: the standalone server (`new Server(port)`), `conn`
//! events, `io.emitWithAck`, reserved server-side event names.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_socketio::{EmitError, Socket, SocketIoLayer};
use serde_json::json;

use crate::common::{wait_until, within};
use crate::socketio::{Js, builder, start};

#[tokio::test]
async fn standalone_server_serves_socketio_answers_404_elsewhere_and_ends_on_close() {
    let layer = SocketIoLayer::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .build();
    let io = layer.io();
    io.on_connection(|socket: Socket| async move {
        socket.emit("hello", &"standalone").unwrap();
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn({
        let io = io.clone();
        async move { io.serve(listener).await }
    });

    let other = reqwest::get(format!("http://{addr}/elsewhere"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    let url = format!("http://{addr}");
    let mut js = Js::start(&url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    assert_eq!(js.event("a", "hello").await, json!(["standalone"]));
    assert_eq!(io.client_count(), 1);

    io.close().await;
    let ended = within("the standalone server ends after close()", server).await;
    assert!(ended.unwrap().is_ok());
    wait_until("every connection closed", || io.client_count() == 0).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is released"
    );
    js.exit().await;
}

#[tokio::test]
async fn conn_events_report_upgrade_and_close_with_reason() {
    let s = start(builder()).await;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = log.clone();
        async move {
            let up = log.clone();
            socket.conn().on_upgrade(move |t| {
                up.lock().unwrap().push(format!("upgrade {t}"));
            });
            let closed = log.clone();
            socket.conn().on_close(move |reason, description| {
                assert!(!description.is_empty());
                closed.lock().unwrap().push(format!("close {reason}"));
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    // Default transports: polling first, then the upgrade.
    js.connect("a", "/", json!({})).await;
    wait_until("the upgrade event", || {
        seen.lock()
            .unwrap()
            .contains(&"upgrade websocket".to_owned())
    })
    .await;
    js.exit().await;
    wait_until("the close event", || seen.lock().unwrap().len() == 2).await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "upgrade websocket".to_owned(),
            "close transport close".to_owned()
        ]
    );
    s.assert_clean().await;
}

#[tokio::test]
async fn io_emit_with_ack_waits_for_every_client_without_a_timeout() {
    let s = start(builder()).await;
    let mut js = Js::start(&s.url).await;
    for id in ["a", "b", "c"] {
        js.connect(id, "/", json!({"transports": ["websocket"]}))
            .await;
        js.answer(id, "question", json!([format!("answer from {id}")]))
            .await;
    }
    wait_until("three sockets", || s.count() == 3).await;
    let mut answers: Vec<String> = s.io.emit_with_ack("question", &()).await.unwrap();
    answers.sort();
    assert_eq!(
        answers,
        vec!["answer from a", "answer from b", "answer from c"]
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn server_side_emit_refuses_node_reserved_names() {
    let s = start(builder()).await;
    for name in ["connect", "connection", "new_namespace"] {
        assert!(matches!(
            s.io.server_side_emit(name, &1),
            Err(EmitError::Reserved(n)) if n == name
        ));
    }
    // On a single node a server-side emit with ack reaches no one: no answers, no error.
    let answers =
        s.io.server_side_emit_with_ack("hello", &1, Duration::from_millis(100))
            .await
            .unwrap();
    assert!(answers.is_empty());
    assert!(s.io.server_side_emit("hello", &1).is_ok());
}

#[tokio::test]
async fn catch_all_and_event_handlers_share_one_ack_and_the_first_answer_wins() {
    use axum_socketio::{Ack, AckSendError};
    let s = start(builder()).await;
    let results = Arc::new(Mutex::new(Vec::<String>::new()));
    let r = results.clone();
    s.io.on_connection(move |socket: Socket| {
        let r = r.clone();
        async move {
            let any = r.clone();
            socket.on_any(move |ack: Ack| {
                let any = any.clone();
                async move {
                    assert!(ack.requested(), "a catch-all handler sees the ack too");
                    any.lock().unwrap().push("any saw the ack".into());
                }
            });
            let first = r.clone();
            socket.on("q", move |ack: Ack| {
                let first = first.clone();
                async move {
                    ack.send(&"first").unwrap();
                    first.lock().unwrap().push("first answered".into());
                }
            });
            let second = r.clone();
            socket.on("q", move |ack: Ack| {
                let second = second.clone();
                async move {
                    let e = ack.send(&"second").unwrap_err();
                    assert!(matches!(e, AckSendError::AlreadySent));
                    second.lock().unwrap().push("second refused".into());
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    assert_eq!(js.emit_ack("a", "q", json!([])).await, json!(["first"]));
    wait_until("all three handlers ran", || {
        results.lock().unwrap().len() == 3
    })
    .await;
    assert_eq!(
        *results.lock().unwrap(),
        vec!["any saw the ack", "first answered", "second refused"]
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn a_broadcast_ack_of_the_wrong_shape_counts_as_an_answer_and_fails_the_call() {
    let s = start(builder()).await;
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    js.connect("b", "/", json!({"transports": ["websocket"]}))
        .await;
    js.answer("a", "q", json!([true])).await;
    js.answer("b", "q", json!(["not a bool"])).await;
    wait_until("two sockets", || s.count() == 2).await;
    let r = within(
        "the broadcast ack ends without a timeout",
        s.io.emit_with_ack::<_, bool>("q", &()),
    )
    .await;
    let err = r.unwrap_err();
    assert_eq!(err.responses, vec![true]);
    assert!(
        matches!(err.error, axum_socketio::AckError::Data(_)),
        "{err}"
    );
    js.exit().await;
    s.assert_clean().await;
}

/// Sets its flag when dropped: tells whether the server that holds it as state was freed.
#[derive(Clone)]
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 2 {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn a_closed_server_is_freed_once_its_handles_are_dropped() {
    let freed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let layer = SocketIoLayer::builder()
        .with_state(DropFlag(freed.clone()))
        .build();
    let io = layer.io();
    io.of("/admin");
    io.on_connection(|socket: Socket| async move {
        socket.join("room");
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn({
        let io = io.clone();
        async move { io.serve(listener).await }
    });
    let mut js = Js::start(&format!("http://{addr}")).await;
    js.connect("a", "/", json!({"transports": ["websocket"]}))
        .await;
    io.close().await;
    within("the server ends", server).await.unwrap().unwrap();
    js.exit().await;
    drop(io);
    drop(layer);
    wait_until("the server's state is dropped", || {
        freed.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
}
