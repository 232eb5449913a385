//! The client's `auth`, and connect middlewares refusing connections.

use super::*;
use axum_socketio::{ConnectError, Data, Socket};

#[derive(Debug, serde::Deserialize, Serialize)]
struct Creds {
    token: String,
    n: i64,
}

#[tokio::test]
async fn auth_reaches_the_connection_handler_and_the_handshake() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket, Data(auth): Data<Value>| {
        let log = l.clone();
        async move {
            log.push("data", &auth);
            log.push("handshake", socket.handshake().auth());
            log.push("query", socket.handshake().query().get("room"));
            socket.emit("auth", &auth).unwrap();
        }
    });
    // A typed `Data<T>` reads the same object.
    let l = log.clone();
    s.io.of("/typed")
        .on_connection(move |Data(c): Data<Creds>| {
            let log = l.clone();
            async move { log.push("typed", c) }
        });

    let mut js = Js::start(&s.url).await;
    let auth = json!({"token": "abc", "n": 1, "nested": {"é": [true]}});
    js.connect(
        "a",
        "/",
        json!({"auth": auth, "query": {"room": "r1"}, "transports": ["websocket"]}),
    )
    .await;
    assert_eq!(log.one("data").await, auth);
    assert_eq!(log.one("handshake").await, auth);
    assert_eq!(log.one("query").await, "r1");
    assert_eq!(js.event("a", "auth").await, json!([auth]));

    // No auth at all: an empty object, as in Node.
    js.connect("b", "/", json!({"transports": ["polling"]}))
        .await;
    assert_eq!(log.wait("data", 2).await[1], json!({}));
    assert_eq!(js.event("b", "auth").await, json!([{}]));

    js.connect("t", "/typed", json!({"auth": {"token": "x", "n": 7}}))
        .await;
    assert_eq!(log.one("typed").await, json!({"token": "x", "n": 7}));

    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn middleware_refuses_with_message_and_data() {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.use_middleware(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("middleware-1", socket.handshake().auth());
            if socket.handshake().auth().get("token") == Some(&json!("secret")) {
                socket.set_data(&json!({"user": "alice"})).unwrap();
                Ok(())
            } else {
                Err(ConnectError::new("not authorized").with_data(json!({"code": 401})))
            }
        }
    });
    // Runs only when the first one let the socket through.
    let l = log.clone();
    s.io.use_middleware(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("middleware-2", socket.id());
            Ok(())
        }
    });
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("connected", socket.data::<Value>());
            socket.emit("hi", &()).unwrap();
        }
    });

    let mut js = Js::start(&s.url).await;
    let refused = js
        .try_connect("bad", "/", json!({"auth": {"token": "wrong"}}))
        .await;
    assert_eq!(
        refused,
        json!({"connected": false, "message": "not authorized", "data": {"code": 401}})
    );
    assert_eq!(log.one("middleware-1").await, json!({"token": "wrong"}));
    assert!(log.all("middleware-2").is_empty());
    assert!(log.all("connected").is_empty());
    assert_eq!(s.count(), 0);
    // A refused socket is not active: the client does not retry by itself.
    let st = js.state("bad").await;
    assert_eq!(
        (st["connected"].clone(), st["active"].clone()),
        (json!(false), json!(false))
    );

    let ok = js
        .try_connect("good", "/", json!({"auth": {"token": "secret"}}))
        .await;
    assert_eq!(ok["connected"], true, "{ok}");
    js.event("good", "hi").await;
    assert_eq!(log.one("middleware-2").await, ok["sid"]);
    assert_eq!(log.one("connected").await, json!({"user": "alice"}));
    assert_eq!(s.count(), 1);

    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn middleware_on_one_namespace_only() {
    let s = start(builder()).await;
    s.io.of("/admin")
        .use_middleware(|socket: Socket| async move {
            match socket.handshake().auth().get("role") {
                Some(r) if r == "admin" => Ok(()),
                _ => Err(ConnectError::new("admins only").with_data(json!({"need": "admin"}))),
            }
        });
    s.io.on_connection(|socket: Socket| async move { socket.emit("in", &socket.nsp()).unwrap() });
    s.io.of("/admin")
        .on_connection(|socket: Socket| async move { socket.emit("in", &socket.nsp()).unwrap() });

    let mut js = Js::start(&s.url).await;
    // Same connection: `/` lets anyone in, `/admin` refuses, and the connection stays up.
    js.connect("root", "/", json!({"manager": "m"})).await;
    assert_eq!(js.event("root", "in").await, json!(["/"]));
    let refused = js
        .try_connect("admin", "/admin", json!({"manager": "m"}))
        .await;
    assert_eq!(
        refused,
        json!({"connected": false, "message": "admins only", "data": {"need": "admin"}})
    );
    assert!(s.io.of("/admin").sockets().is_empty());
    assert_eq!(s.io.client_count(), 1);
    assert_eq!(js.state("root").await["connected"], true);

    // The Manager keeps one socket per namespace: the same socket retries with another auth.
    let ok = js
        .call(json!({"cmd": "connect_again", "id": "admin", "auth": {"role": "admin"}}))
        .await;
    assert_eq!(ok["connected"], true, "{ok}");
    assert_eq!(js.event("admin", "in").await, json!(["/admin"]));
    assert_eq!(s.io.of("/admin").sockets().len(), 1);
    assert_eq!(s.io.client_count(), 1);

    js.exit().await;
    s.assert_clean().await;
}

/// A connection that goes away while a middleware is still deciding leaves nothing behind, and
/// the connection handler never runs for it.
#[tokio::test]
async fn connection_closed_during_a_slow_middleware() {
    let s = start(builder()).await;
    let log = Log::new();
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let (l, g) = (log.clone(), gate.clone());
    s.io.use_middleware(move |socket: Socket| {
        let (log, gate) = (l.clone(), g.clone());
        async move {
            log.push("middleware-start", socket.id());
            gate.notified().await;
            log.push("middleware-done", socket.id());
            Ok(())
        }
    });
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.join("joined");
            log.push("connected", socket.id());
        }
    });
    let (mut ws, _, _) = crate::common::Ws::open(s.addr, "/socket.io").await;
    ws.send_text("40").await;
    log.one("middleware-start").await;
    ws.close().await;
    wait_until("the connection closed", || s.io.client_count() == 0).await;
    gate.notify_waiters();
    log.one("middleware-done").await;
    // The middleware said yes, but the connection is gone: nothing may be added.
    tokio::task::yield_now().await;
    s.assert_clean().await;
    assert!(
        log.all("connected").is_empty(),
        "{:?}",
        log.all("connected")
    );
}
