//! Dynamic namespaces: parents from a regex or a function, their children, and the cleanup of
//! empty children.

use super::*;
use axum_socketio::{ConnectError, Namespace, Socket};

fn record_new_namespaces(s: &Sio, log: &Log) {
    let l = log.clone();
    s.io.on_new_namespace(move |ns: &Namespace| l.push("new", ns.name()));
}

#[tokio::test]
async fn regex_parent_creates_children() {
    let s = start(builder()).await;
    let log = Log::new();
    record_new_namespaces(&s, &log);
    let parent =
        s.io.of_regex(regex::Regex::new(r"^/workspace-\d+$").unwrap());
    let l = log.clone();
    parent.use_middleware(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push("middleware", socket.nsp());
            if socket.handshake().auth().get("deny").is_some() {
                return Err(ConnectError::new("denied by the parent"));
            }
            Ok(())
        }
    });
    parent.on_connection(|socket: Socket| async move {
        socket.emit("welcome", &socket.nsp()).unwrap();
    });
    s.io.of("/static");

    let mut js = Js::start(&s.url).await;
    let opts = json!({"manager": "m", "transports": ["websocket"]});
    js.connect("w1", "/workspace-1", opts.clone()).await;
    assert_eq!(js.event("w1", "welcome").await, json!(["/workspace-1"]));
    js.connect("w22", "/workspace-22", opts.clone()).await;
    assert_eq!(js.event("w22", "welcome").await, json!(["/workspace-22"]));
    assert_eq!(
        log.wait("new", 3).await,
        ["/static", "/workspace-1", "/workspace-22"]
    );
    assert_eq!(
        log.wait("middleware", 2).await,
        ["/workspace-1", "/workspace-22"]
    );
    let mut children: Vec<String> = parent
        .children()
        .iter()
        .map(|n| n.name().to_owned())
        .collect();
    children.sort();
    assert_eq!(children, ["/workspace-1", "/workspace-22"]);
    assert_eq!(s.io.client_count(), 1);

    // The parent's emit reaches every child.
    parent.emit("to-all", &"hi").unwrap();
    assert_eq!(js.event("w1", "to-all").await, json!(["hi"]));
    assert_eq!(js.event("w22", "to-all").await, json!(["hi"]));

    // Names the regex refuses are unknown namespaces.
    let r = js.try_connect("bad", "/workspace-x", opts.clone()).await;
    assert_eq!(
        r,
        json!({"connected": false, "message": "Invalid namespace", "data": null})
    );
    // The parent's middleware applies to children.
    let r = js
        .try_connect("denied", "/workspace-3", json!({"auth": {"deny": true}}))
        .await;
    assert_eq!(r["message"], "denied by the parent");
    assert!(s.io.get_namespace("/workspace-x").is_none());
    // The refused connection does not join, so its child stays empty.
    assert!(
        s.io.get_namespace("/workspace-3")
            .is_none_or(|n| n.sockets().is_empty())
    );

    // Without cleanup (the default) an empty child stays.
    js.disconnect("w1").await;
    wait_until("w1 gone", || {
        s.io.of("/workspace-22").sockets().len() == 1
            && s.io
                .get_namespace("/workspace-1")
                .is_some_and(|n| n.sockets().is_empty())
    })
    .await;
    assert!(s.io.get_namespace("/workspace-1").is_some());
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn function_parent_sees_name_and_auth() {
    let s = start(builder()).await;
    let parent = s.io.of_fn(|name: &str, auth: &Value| {
        name.starts_with("/tenant-") && auth.get("key") == Some(&json!("k"))
    });
    parent.on_connection(|socket: Socket| async move {
        socket.emit("welcome", &socket.nsp()).unwrap();
    });
    let mut js = Js::start(&s.url).await;
    let r = js.try_connect("no-key", "/tenant-a", json!({})).await;
    assert_eq!(r["message"], "Invalid namespace");
    let r = js
        .try_connect("wrong-name", "/other", json!({"auth": {"key": "k"}}))
        .await;
    assert_eq!(r["message"], "Invalid namespace");
    js.connect("ok", "/tenant-a", json!({"auth": {"key": "k"}}))
        .await;
    assert_eq!(js.event("ok", "welcome").await, json!(["/tenant-a"]));
    assert_eq!(parent.children().len(), 1);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn empty_children_are_removed_with_cleanup() {
    let s = start(builder().cleanup_empty_child_namespaces(true)).await;
    let log = Log::new();
    record_new_namespaces(&s, &log);
    let parent = s.io.of_regex(regex::Regex::new(r"^/room-\w+$").unwrap());
    parent.on_connection(|socket: Socket| async move {
        socket.join("inside");
        socket.emit("welcome", &socket.nsp()).unwrap();
    });
    let mut js = Js::start(&s.url).await;
    js.connect("a", "/room-x", json!({"manager": "m"})).await;
    js.connect("b", "/room-x", json!({})).await;
    js.connect("c", "/room-y", json!({"manager": "m"})).await;
    assert_eq!(log.wait("new", 2).await, ["/room-x", "/room-y"]);

    // One of two sockets leaves: the child stays.
    js.disconnect("a").await;
    wait_until("a gone", || {
        s.io.get_namespace("/room-x")
            .is_some_and(|n| n.sockets().len() == 1)
    })
    .await;
    // The last one leaves: the child is removed, from the server and from its parent.
    js.disconnect("b").await;
    wait_until("/room-x removed", || {
        s.io.get_namespace("/room-x").is_none()
    })
    .await;
    let children: Vec<String> = parent
        .children()
        .iter()
        .map(|n| n.name().to_owned())
        .collect();
    assert_eq!(children, ["/room-y"]);
    assert!(s.io.get_namespace("/room-y").is_some());

    // Coming back creates a fresh child.
    js.connect("a2", "/room-x", json!({})).await;
    assert_eq!(js.event("a2", "welcome").await, json!(["/room-x"]));
    assert_eq!(log.wait("new", 3).await[2], "/room-x");
    js.exit().await;
    s.assert_clean().await;
    // Every child emptied: all removed.
    wait_until("every child removed", || parent.children().is_empty()).await;
    assert!(s.io.get_namespace("/room-x").is_none() && s.io.get_namespace("/room-y").is_none());
}
