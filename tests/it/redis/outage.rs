//! Redis killed and restarted mid-test: local delivery goes on, cluster calls fail at once with
//! a clear error, and everything works again once Redis is back.

use axum_socketio::AckError;
use axum_socketio::adapter::AdapterError;

use super::*;

#[tokio::test]
async fn redis_killed_and_restarted() {
    let mut redis = RedisServer::start().await;
    let a = rust_node(&redis, "A").await;
    let b = rust_node(&redis, "B").await;
    let mut node = NodeServer::start(&redis, json!({})).await;
    wait_servers(a.io(), 3).await;
    let mut ajs = a.clients().await;
    let mut bjs = b.clients().await;
    let mut njs = node.clients().await;
    let a1 = connect(&mut ajs, "a1", "/", &[]).await;
    connect(&mut bjs, "b1", "/", &[]).await;
    connect(&mut njs, "n1", "/", &[]).await;
    a.io().emit("before", &()).unwrap();
    for (js, c) in [(&mut ajs, "a1"), (&mut bjs, "b1"), (&mut njs, "n1")] {
        js.event(c, "before").await;
    }

    redis.kill();
    wait_until("A notices", || !a.adapter.is_connected()).await;

    // Local delivery goes on.
    a.io().emit("during", &1).unwrap();
    assert_eq!(ajs.event("a1", "during").await, json!([1]));
    assert!(a.adapter.failed_publications() > 0);

    // Calls that need the other nodes fail at once, and say why.
    let started = tokio::time::Instant::now();
    let err = a.io().fetch_sockets().await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("Redis"), "{err}");
    let err = a.io().sockets().adapter().server_count().await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable(_)), "{err:?}");
    let err = a.io().sockets().adapter().all_rooms().await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable(_)), "{err:?}");
    let err = a
        .io()
        .server_side_emit_with_ack("sse", &(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable(_)), "{err:?}");
    ajs.answer("a1", "poll", json!(["a1"])).await;
    let err = a
        .io()
        .timeout(Duration::from_secs(5))
        .emit_with_ack::<_, String>("poll", &())
        .await
        .unwrap_err();
    assert!(matches!(err.error, AckError::Adapter(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "cluster calls took {:?} to fail",
        started.elapsed()
    );
    // Joins still apply to this node's sockets.
    a.io().sockets_join("during-outage");
    wait_until("a1 joined", || {
        a.io()
            .sockets()
            .get_socket(&a1)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "during-outage"))
    })
    .await;

    redis.restart().await;
    wait_until("A reconnects", || a.adapter.is_connected()).await;
    wait_until("B reconnects", || b.adapter.is_connected()).await;
    wait_servers(a.io(), 3).await;

    a.io().emit("after", "A").unwrap();
    for (js, c) in [(&mut ajs, "a1"), (&mut bjs, "b1"), (&mut njs, "n1")] {
        assert_eq!(js.event(c, "after").await, json!(["A"]));
    }
    node.call(json!({"cmd": "emit", "event": "after", "args": ["node"]}))
        .await;
    for (js, c) in [(&mut ajs, "a1"), (&mut bjs, "b1"), (&mut njs, "n1")] {
        assert_eq!(js.event(c, "after").await, json!(["node"]));
    }
    assert_eq!(a.io().fetch_sockets().await.unwrap().len(), 3);
    // The broadcast sent during the outage never reached the other nodes.
    assert!(bjs.events("b1", "during").is_empty());
}
