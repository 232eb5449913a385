//! `Io` as an axum extractor in plain HTTP routes; `State<T>` from the builder and
//! `Extension<T>` from the handshake request (an axum middleware in front inserts it).

use axum::Json;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::routing::{get, post};

use super::*;
use crate::common::http;
use axum_socketio::{Ack, Data, Extension, Io, Socket, State};

#[derive(serde::Deserialize)]
struct Notify {
    room: Option<String>,
    data: Value,
}

#[tokio::test]
async fn io_in_an_http_route_emits_to_clients() {
    let layer = builder().build();
    let io = layer.io();
    io.on_connection(|socket: Socket, Data(auth): Data<Value>| async move {
        if auth.get("vip") == Some(&json!(true)) {
            socket.join("vip");
        }
    });
    let app = Router::new()
        .route(
            "/notify",
            post(|io: Io, Json(n): Json<Notify>| async move {
                let op = match n.room {
                    Some(room) => io.to(room),
                    None => io.local(),
                };
                op.emit("notice", &n.data).unwrap();
                Json(io.sockets().sockets().len())
            }),
        )
        .route("/plain", get(|| async { "plain route" }))
        .layer(layer);
    let s = start_app(io, app).await;

    let mut js = Js::start(&s.url).await;
    js.connect(
        "vip",
        "/",
        json!({"auth": {"vip": true}, "transports": ["websocket"]}),
    )
    .await;
    js.connect("other", "/", json!({"transports": ["polling"]}))
        .await;

    let post = |body: Value| {
        let url = format!("{}/notify", s.url);
        async move {
            let r = http()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()
        }
    };
    assert_eq!(
        within("POST /notify", post(json!({"data": {"n": 1}}))).await,
        2
    );
    assert_eq!(js.event("vip", "notice").await, json!([{"n": 1}]));
    assert_eq!(js.event("other", "notice").await, json!([{"n": 1}]));

    within(
        "POST /notify",
        post(json!({"room": "vip", "data": "only vip"})),
    )
    .await;
    within("POST /notify", post(json!({"data": "sync"}))).await;
    assert_eq!(js.event("vip", "notice").await, json!(["only vip"]));
    assert_eq!(js.event("vip", "notice").await, json!(["sync"]));
    assert_eq!(js.event("other", "notice").await, json!(["sync"]));
    assert!(js.events("other", "notice").is_empty());

    // Other routes still answer next to the Socket.IO layer.
    let r = within("GET /plain", http().get(format!("{}/plain", s.url)).send())
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "plain route");

    js.exit().await;
    s.assert_clean().await;
}

#[derive(Clone, Debug)]
struct AppState {
    greeting: String,
}

#[derive(Clone, Debug)]
struct User(String);

#[derive(Clone, Debug)]
struct NotThere;

/// What an authentication layer would do: turn a header into a request extension.
async fn user_from_header(mut req: Request, next: Next) -> axum::response::Response {
    let user = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(|v| User(v.to_owned()));
    if let Some(user) = user {
        req.extensions_mut().insert(user);
    }
    next.run(req).await
}

#[tokio::test]
async fn state_and_extension_extractors() {
    let layer = builder()
        .with_state(AppState {
            greeting: "hello".into(),
        })
        .with_state(7u32)
        .build();
    let io = layer.io();
    io.on_connection(
        |socket: Socket, State(st): State<AppState>, Extension(user): Extension<User>| async move {
            socket.emit("hello", &(st.greeting, user.0)).unwrap();
        },
    );
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "whoami",
            |Extension(user): Extension<User>, State(n): State<u32>, ack: Ack| async move {
                ack.send(&(user.0, n)).unwrap();
            },
        );
        socket.on(
            "state-only",
            |State(st): State<AppState>, ack: Ack| async move {
                ack.send(&st.greeting).unwrap();
            },
        );
        // Never runs: the handshake has no such extension.
        socket.on(
            "needs-missing",
            |Extension(_x): Extension<NotThere>, ack: Ack| async move {
                ack.send(&"impossible").unwrap();
            },
        );
        // Never runs: the builder got no such state.
        socket.on(
            "needs-missing-state",
            |State(_x): State<String>, ack: Ack| async move {
                ack.send(&"impossible").unwrap();
            },
        );
    });
    // The middleware is outside the Socket.IO layer, so the handshake request has the extension.
    let app = Router::new().layer(layer).layer(from_fn(user_from_header));
    let s = start_app(io, app).await;

    let mut js = Js::start(&s.url).await;
    js.connect(
        "alice",
        "/",
        json!({"extraHeaders": {"x-user": "alice"}, "transports": ["polling"]}),
    )
    .await;
    js.connect(
        "bob",
        "/",
        json!({"extraHeaders": {"x-user": "bob"}, "transports": ["websocket"]}),
    )
    .await;
    assert_eq!(js.event("alice", "hello").await, json!(["hello", "alice"]));
    assert_eq!(js.event("bob", "hello").await, json!(["hello", "bob"]));
    assert_eq!(
        js.emit_ack("alice", "whoami", json!([])).await,
        json!(["alice", 7])
    );
    assert_eq!(
        js.emit_ack("bob", "whoami", json!([])).await,
        json!(["bob", 7])
    );

    for ev in ["needs-missing", "needs-missing-state"] {
        let r = js
            .call(
                json!({"cmd": "emit", "id": "alice", "name": ev, "ack": "timeout", "timeout": 200}),
            )
            .await;
        assert_eq!(r, json!({"error": "operation has timed out"}), "{ev}");
    }

    // Without the header: handlers that need the user do not run, the others do.
    js.connect("anon", "/", json!({"transports": ["websocket"]}))
        .await;
    assert_eq!(
        js.emit_ack("anon", "state-only", json!([])).await,
        json!(["hello"])
    );
    let r = js
        .call(json!({"cmd": "emit", "id": "anon", "name": "whoami", "ack": "timeout", "timeout": 200}))
        .await;
    assert_eq!(r, json!({"error": "operation has timed out"}));
    assert!(js.events("anon", "hello").is_empty());
    assert_eq!(js.state("anon").await["connected"], true);

    js.exit().await;
    s.assert_clean().await;
}
