//! Rust nodes alone on one Redis: every cluster operation between them, both response channels,
//! and the timeouts with their partial results.

use std::collections::BTreeSet;

use axum_socketio::adapter::AdapterError;
use bytes::Bytes;

use super::*;
use crate::socketio::bin;

#[tokio::test]
async fn two_rust_nodes() {
    let redis = RedisServer::start().await;
    let a = rust_node(&redis, "A").await;
    // B has its requests answered on its own response channel.
    let b = rust_node_with(&redis, "B", |o| {
        o.publish_on_specific_response_channel(true)
    })
    .await;
    wait_servers(a.io(), 2).await;
    wait_servers(b.io(), 2).await;
    let mut ajs = a.clients().await;
    let mut bjs = b.clients().await;
    let a1 = connect(&mut ajs, "a1", "/", &["x"]).await;
    let b1 = connect(&mut bjs, "b1", "/", &["x"]).await;
    let b2 = connect(&mut bjs, "b2", "/", &[]).await;

    // Broadcasts, rooms, binary.
    a.io()
        .emit("hi", &("all", Bytes::from_static(&[0, 255])))
        .unwrap();
    let want = json!(["all", bin(&[0, 255])]);
    assert_eq!(ajs.event("a1", "hi").await, want);
    assert_eq!(bjs.event("b1", "hi").await, want);
    assert_eq!(bjs.event("b2", "hi").await, want);
    b.io().to("x").emit("x", &1).unwrap();
    assert_eq!(ajs.event("a1", "x").await, json!([1]));
    assert_eq!(bjs.event("b1", "x").await, json!([1]));
    b.io().emit("end", &()).unwrap();
    bjs.event("b2", "end").await;
    assert!(bjs.events("b2", "x").is_empty());

    // Acks from both nodes, asked from B.
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

    // fetch_sockets both ways (B's answers come on its own channel).
    for io in [a.io(), b.io()] {
        let all = io.fetch_sockets().await.unwrap();
        let ids: BTreeSet<String> = all.iter().map(|s| s.id().to_owned()).collect();
        assert_eq!(ids, set(&[&a1, &b1, &b2]));
    }
    let remote_a1 = b.io().in_("x").fetch_sockets().await.unwrap();
    let remote_a1 = remote_a1.iter().find(|s| s.id() == a1).unwrap();
    assert_eq!(remote_a1.data::<Value>().unwrap(), json!({"name": "a1"}));
    assert_eq!(remote_a1.handshake().auth()["rooms"], json!(["x"]));

    // Rooms across.
    a.io().in_("x").sockets_join("y");
    wait_until("b1 in y", || {
        b.io()
            .sockets()
            .get_socket(&b1)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "y"))
    })
    .await;
    let rooms = b.io().sockets().adapter().all_rooms().await.unwrap();
    for r in ["x", "y", a1.as_str(), b1.as_str(), b2.as_str()] {
        assert!(rooms.contains(r), "{r} missing from {rooms:?}");
    }

    // Server-side emit with ack, both ways.
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
        answers[0].deserialize::<Value>().unwrap(),
        json!({"from": "A", "args": [2]})
    );
    assert_eq!(a.log.all("sse"), [json!([2])]);
    assert_eq!(b.log.all("sse"), [json!([1])]);

    // Disconnect across.
    a.io().in_("y").disconnect_sockets(false);
    assert_eq!(ajs.disconnect_reason("a1").await, "io server disconnect");
    assert_eq!(bjs.disconnect_reason("b1").await, "io server disconnect");
    assert!(a.adapter.publications() > 0);
    assert_eq!(a.adapter.failed_publications(), 0);
}

#[tokio::test]
async fn timeouts_give_partial_results() {
    let redis = RedisServer::start().await;
    let a = rust_node(&redis, "A").await;
    let b = rust_node(&redis, "B").await;
    let c = rust_node(&redis, "C").await;
    wait_servers(a.io(), 3).await;
    b.io()
        .on_server_side_emit("maybe", |_| Args::from_serialize("from B").ok());
    c.io().on_server_side_emit("maybe", |_| None);
    let err = a
        .io()
        .server_side_emit_with_ack("maybe", &(), Duration::from_millis(400))
        .await
        .unwrap_err();
    let AdapterError::Timeout {
        answered,
        expected,
        responses,
    } = &err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!((*answered, *expected), (1, 2));
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].deserialize::<String>().unwrap(), "from B");
    assert!(err.to_string().contains("timeout reached"), "{err}");

    // A subscriber that never answers counts as a server: fetch and all rooms fail at the
    // requests timeout.
    let client = axum_socketio::adapter::redis::redis::Client::open(redis.url()).unwrap();
    let mut mute = client.get_async_pubsub().await.unwrap();
    mute.subscribe("socket.io-request#/#").await.unwrap();
    wait_servers(a.io(), 4).await;
    let started = tokio::time::Instant::now();
    let err = a.io().fetch_sockets().await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Timeout {
                answered: 3,
                expected: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= REQUESTS_TIMEOUT && waited < REQUESTS_TIMEOUT * 2,
        "{waited:?}"
    );
    let err = b.io().sockets().adapter().all_rooms().await.unwrap_err();
    assert!(matches!(err, AdapterError::Timeout { .. }), "{err:?}");
    drop(mute);
    wait_servers(a.io(), 3).await;
    assert!(a.io().fetch_sockets().await.unwrap().is_empty());
}
