//! socket.io-client 4 with the npm `socket.io-msgpack-parser` against a server with
//! [`MsgpackParser`]: events, acks both ways, binary, namespaces, broadcasts, rooms.

use axum_socketio::protocol::MsgpackParser;

use super::*;
use crate::socketio::bin;
use crate::socketio::builder;

async fn events_acks_binary(transports: &[&str]) {
    let (s, log) = app(builder().parser(MsgpackParser::new())).await;
    let mut js = v4_client(&s.url, "msgpack", transports).await;
    let r = js
        .connect("a", "/", json!({ "auth": { "user": "ana" } }))
        .await;
    let connected = log.one("connected").await;
    assert_eq!(connected["id"], r["sid"]);
    assert_eq!(connected["eio"], 4);
    assert_eq!(connected["auth"], json!({ "user": "ana" }));

    let args = json!(["héllo 😀", 42, -7, 1.5, null, false, { "k": [1, { "b": bin(&[0, 255]) }] }, bin(&[3; 1000])]);
    js.emit("a", "echo", args.clone()).await;
    assert_eq!(js.event("a", "echo-back").await, args);

    let got = js.emit_ack("a", "ack", json!([bin(&[1]), "two", 3])).await;
    assert_eq!(got, json!([bin(&[1]), "two", 3]));

    js.emit("a", "bin", json!([])).await;
    let all = server_bytes();
    assert_eq!(
        js.event("a", "bin-back").await,
        json!([{ "data": bin(&all), "list": [bin(&[1, 2, 3])] }, bin(&all)])
    );

    js.answer("a", "question", json!(["answer", bin(&[5, 6])]))
        .await;
    js.emit("a", "ask", json!([9])).await;
    assert_eq!(js.event("a", "question").await, json!([9, "$ack"]));
    assert_eq!(log.one("answer").await, json!(["answer", [5, 6]]));

    // Namespaces: auth in the CONNECT packet, refusals as CONNECT_ERROR.
    js.connect("admin", "/admin", json!({ "auth": { "token": "abc" } }))
        .await;
    let welcome = js.event("admin", "welcome").await;
    assert_eq!(welcome[0]["auth"], json!({ "token": "abc" }));
    let r = js
        .try_connect("bad", "/admin", json!({ "auth": { "token": "x" } }))
        .await;
    assert_eq!(r["connected"], false);
    assert_eq!(r["message"], "Not authorized");

    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn msgpack_over_websocket() {
    events_acks_binary(&["websocket"]).await;
}

#[tokio::test]
async fn msgpack_over_polling() {
    events_acks_binary(&["polling"]).await;
}

#[tokio::test]
async fn msgpack_over_the_upgrade() {
    events_acks_binary(&["polling", "websocket"]).await;
}

#[tokio::test]
async fn msgpack_broadcasts_and_rooms() {
    let (s, _log) = app(builder().parser(MsgpackParser::new())).await;
    let mut js = v4_client(&s.url, "msgpack", &["websocket"]).await;
    for id in ["a", "b", "c"] {
        js.connect(id, "/", json!({})).await;
    }
    let mut poll = v4_client(&s.url, "msgpack", &["polling"]).await;
    poll.connect("d", "/", json!({})).await;

    for id in ["a", "b"] {
        js.emit_ack(id, "join", json!(["room1"])).await;
    }
    poll.emit_ack("d", "join", json!(["room1"])).await;
    js.emit(
        "c",
        "to-room",
        json!(["room1", { "n": 1, "b": bin(&[1, 2]) }]),
    )
    .await;
    for id in ["a", "b"] {
        assert_eq!(
            js.event(id, "room-msg").await,
            json!([{ "n": 1, "b": bin(&[1, 2]) }])
        );
    }
    assert_eq!(
        poll.event("d", "room-msg").await,
        json!([{ "n": 1, "b": bin(&[1, 2]) }])
    );

    // A broadcast to everyone, binary included, reaches every client once.
    js.emit("a", "shout", json!(["all", bin(&[0; 64])])).await;
    for id in ["a", "b", "c"] {
        assert_eq!(js.event(id, "shouted").await, json!(["all", bin(&[0; 64])]));
    }
    assert_eq!(
        poll.event("d", "shouted").await,
        json!(["all", bin(&[0; 64])])
    );
    // c is not in room1: it got nothing else.
    assert!(js.events("c", "room-msg").is_empty());

    js.exit().await;
    poll.exit().await;
    s.assert_clean().await;
}
