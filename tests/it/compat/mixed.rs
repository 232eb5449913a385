//! One server, v2 and v4 clients at once: one broadcast reaches both, each in its own framing
//! (Engine.IO v3 payloads and type-byte binary frames for v2, v4 framing for the others).

use super::*;
use crate::socketio::bin;
use crate::socketio::builder;

#[tokio::test]
async fn one_broadcast_reaches_v2_and_v4_clients() {
    let (s, log) = app(builder().allow_eio3(true)).await;
    let mut old_ws = v2_client(&s.url, &["websocket"]).await;
    let mut old_poll = v2_client(&s.url, &["polling"]).await;
    let mut new_ws = v4_client(&s.url, "default", &["websocket"]).await;
    let mut new_poll = v4_client(&s.url, "default", &["polling"]).await;
    old_ws.connect("a", "/", json!({})).await;
    old_poll.connect("b", "/", json!({})).await;
    new_ws.connect("c", "/", json!({})).await;
    new_poll.connect("d", "/", json!({})).await;
    let protocols: Vec<Value> = log
        .wait("connected", 4)
        .await
        .iter()
        .map(|c| c["eio"].clone())
        .collect();
    assert_eq!(protocols.iter().filter(|p| **p == 3).count(), 2);
    assert_eq!(protocols.iter().filter(|p| **p == 4).count(), 2);

    // One emit from the server, text and binary, to every socket.
    let news = (
        "extra! extra! é😀",
        json!({ "n": 1 }),
        Bytes::from_static(&[4, 0, 255, 0x1e, b':']),
    );
    s.io.emit("news", &news).unwrap();
    let want = json!(["extra! extra! é😀", { "n": 1 }, bin(&[4, 0, 255, 0x1e, b':'])]);
    assert_eq!(old_ws.event("a", "news").await, want);
    assert_eq!(old_poll.event("b", "news").await, want);
    assert_eq!(new_ws.event("c", "news").await, want);
    assert_eq!(new_poll.event("d", "news").await, want);

    // A broadcast started by a v2 client, to a room holding both kinds.
    old_poll.emit_ack("b", "join", json!(["mix"])).await;
    new_ws.emit_ack("c", "join", json!(["mix"])).await;
    old_ws
        .emit("a", "to-room", json!(["mix", { "hi": bin(&[7]) }]))
        .await;
    assert_eq!(
        old_poll.event("b", "room-msg").await,
        json!([{ "hi": bin(&[7]) }])
    );
    assert_eq!(
        new_ws.event("c", "room-msg").await,
        json!([{ "hi": bin(&[7]) }])
    );

    old_ws.exit().await;
    old_poll.exit().await;
    new_ws.exit().await;
    new_poll.exit().await;
    s.assert_clean().await;
}
