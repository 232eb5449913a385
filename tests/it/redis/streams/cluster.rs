//! Two Rust nodes on the streams adapter: every cluster operation between them.

use std::collections::BTreeSet;

use axum_socketio::adapter::AdapterError;

use super::*;
use crate::socketio::bin;

#[tokio::test]
async fn two_rust_nodes_on_one_stream() {
    let redis = RedisServer::start().await;
    let a = streams_node(&redis, "A", None).await;
    let b = streams_node(&redis, "B", None).await;
    wait_servers(a.io(), 2).await;
    wait_servers(b.io(), 2).await;
    for io in [a.io(), b.io()] {
        assert_eq!(io.sockets().adapter().server_count().await.unwrap(), 2);
    }
    assert!(a.adapter.is_connected());
    assert_eq!(a.adapter.stream_name(), "socket.io");
    let mut ajs = a.clients().await;
    let mut bjs = b.clients().await;
    let a1 = connect(&mut ajs, "a1", "/", &["x"]).await;
    let b1 = connect(&mut bjs, "b1", "/", &["x"]).await;
    let b2 = connect(&mut bjs, "b2", "/", &["y"]).await;

    // Broadcasts: everyone (binary), a room, a room but one socket, everyone but a room.
    a.io()
        .emit("hi", &("all", Bytes::from_static(&[0, 255])))
        .unwrap();
    let want = json!(["all", bin(&[0, 255])]);
    assert_eq!(ajs.event("a1", "hi").await, want);
    assert_eq!(bjs.event("b1", "hi").await, want);
    assert_eq!(bjs.event("b2", "hi").await, want);
    b.io().to("x").emit("x", &1).unwrap();
    b.io()
        .to("x")
        .except(b1.as_str())
        .emit("x-but-b1", &2)
        .unwrap();
    a.io().except("x").emit("not-x", &3).unwrap();
    assert_eq!(ajs.event("a1", "x").await, json!([1]));
    assert_eq!(bjs.event("b1", "x").await, json!([1]));
    assert_eq!(ajs.event("a1", "x-but-b1").await, json!([2]));
    assert_eq!(bjs.event("b2", "not-x").await, json!([3]));
    // A marker from each node, after the rest: nothing else went anywhere.
    a.io().emit("end", &()).unwrap();
    b.io().emit("end", &()).unwrap();
    for _ in 0..2 {
        ajs.event("a1", "end").await;
        bjs.event("b1", "end").await;
        bjs.event("b2", "end").await;
    }
    assert!(bjs.events("b2", "x").is_empty());
    assert!(bjs.events("b1", "x-but-b1").is_empty());
    assert!(ajs.events("a1", "not-x").is_empty());
    assert!(bjs.events("b1", "not-x").is_empty());

    // Broadcast with acks, counted across nodes, from either.
    ajs.answer("a1", "poll", json!(["a1"])).await;
    bjs.answer("b1", "poll", json!(["b1"])).await;
    bjs.answer("b2", "poll", json!(["b2"])).await;
    let mut got = b
        .io()
        .timeout(Duration::from_secs(2))
        .emit_with_ack::<_, String>("poll", &())
        .await
        .unwrap();
    got.sort();
    assert_eq!(got, ["a1", "b1", "b2"]);
    let mut got = a
        .io()
        .to("x")
        .timeout(Duration::from_secs(2))
        .emit_with_ack::<_, String>("poll", &())
        .await
        .unwrap();
    got.sort();
    assert_eq!(got, ["a1", "b1"]);

    // fetch_sockets both ways, with data, rooms and handshake.
    for io in [a.io(), b.io()] {
        let all = io.fetch_sockets().await.unwrap();
        let ids: BTreeSet<String> = all.iter().map(|s| s.id().to_owned()).collect();
        assert_eq!(ids, set(&[&a1, &b1, &b2]));
    }
    let in_x = a
        .io()
        .in_("x")
        .except(a1.as_str())
        .fetch_sockets()
        .await
        .unwrap();
    assert_eq!(in_x.len(), 1);
    assert_eq!(in_x[0].id(), b1);
    assert_eq!(in_x[0].data::<Value>().unwrap(), json!({"name": "b1"}));
    let rooms: BTreeSet<String> = in_x[0].rooms().iter().map(|r| r.to_string()).collect();
    assert_eq!(rooms, set(&["x", &b1]));
    assert_eq!(in_x[0].handshake().auth()["rooms"], json!(["x"]));

    // A remote socket: emit to it from the other node.
    in_x[0].emit("to-you", &"b1").unwrap();
    assert_eq!(bjs.event("b1", "to-you").await, json!(["b1"]));

    // sockets_join / sockets_leave across.
    a.io().in_("x").sockets_join("z");
    wait_until("b1 in z", || {
        b.io()
            .sockets()
            .get_socket(&b1)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "z"))
    })
    .await;
    let rooms = b.io().sockets().adapter().all_rooms().await.unwrap();
    for r in ["x", "y", "z", a1.as_str(), b1.as_str(), b2.as_str()] {
        assert!(rooms.contains(r), "{r} missing from {rooms:?}");
    }
    b.io().in_("z").sockets_leave("x");
    wait_until("a1 left x", || {
        a.io()
            .sockets()
            .get_socket(&a1)
            .is_some_and(|s| !s.rooms().iter().any(|r| &**r == "x"))
    })
    .await;

    // Server-side emit, with and without an ack, both ways.
    a.io()
        .server_side_emit("sse-silent", &("no ack", 1))
        .unwrap();
    assert_eq!(b.log.one("sse-silent").await, json!(["no ack", 1]));
    let answers = a
        .io()
        .server_side_emit_with_ack("sse", &1, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        answers
            .iter()
            .map(|x| x.deserialize::<Value>().unwrap())
            .collect::<Vec<_>>(),
        [json!({"from": "B", "args": [1]})]
    );
    let answers = b
        .io()
        .server_side_emit_with_ack("sse", &2, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        answers
            .iter()
            .map(|x| x.deserialize::<Value>().unwrap())
            .collect::<Vec<_>>(),
        [json!({"from": "A", "args": [2]})]
    );
    assert_eq!(a.log.all("sse"), [json!([2])]);
    assert_eq!(b.log.all("sse"), [json!([1])]);
    assert!(
        a.log.all("sse-silent").is_empty(),
        "the sender never gets its own"
    );
    // Nobody answers: the timeout with what came (nothing).
    let err = b
        .io()
        .server_side_emit_with_ack("sse-silent", &(), ms(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Timeout { answered: 0, expected: 1, responses } if responses.is_empty()),
        "{err:?}"
    );

    // disconnect_sockets across.
    b.io().in_("z").disconnect_sockets(false);
    assert_eq!(ajs.disconnect_reason("a1").await, "io server disconnect");
    assert_eq!(bjs.disconnect_reason("b1").await, "io server disconnect");
    wait_until("a1 gone", || a.sio.count() == 0).await;
    assert_eq!(b.sio.count(), 1);
    ajs.exit().await;
    bjs.exit().await;
    a.sio.assert_clean().await;
    b.sio.assert_clean().await;
}

#[tokio::test]
async fn server_count_follows_nodes_coming_and_going() {
    let redis = RedisServer::start().await;
    let a = streams_node(&redis, "A", None).await;
    wait_servers(a.io(), 1).await;
    let b = streams_node(&redis, "B", None).await;
    wait_servers(a.io(), 2).await;
    let c = streams_node(&redis, "C", None).await;
    wait_servers(b.io(), 3).await;
    c.io().close().await;
    drop(c);
    wait_servers(a.io(), 2).await;
    // A request now waits for one answer only, and gets it.
    let answers = a
        .io()
        .server_side_emit_with_ack("sse", &(), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
}
