//! The npm `socket.io-client@2` (Engine.IO v3, Socket.IO protocol v4) against a server with
//! `allow_eio3`: over polling, websocket and the upgrade; events, acks both ways, binary,
//! namespaces with their auth in the query, refusals as ERROR packets.

use super::*;
use crate::socketio::bin;
use crate::socketio::builder;

/// Events, acks both ways and binary both ways with one v2 client on `transports`; returns the
/// transport the client ended on.
async fn round_trip(transports: &[&str], wait_upgrade: bool) -> String {
    let (s, log) = app(builder().allow_eio3(true)).await;
    let mut js = v2_client(&s.url, transports).await;
    let r = js
        .connect("a", "/", json!({ "waitUpgrade": wait_upgrade }))
        .await;
    // The socket id on `/` is the Engine.IO session id, the same on both sides.
    let connected = log.one("connected").await;
    assert_eq!(connected["eio"], 3);
    assert_eq!(connected["id"], r["sid"]);
    assert_eq!(connected["auth"], json!({}));

    // Events with every kind of JSON value and binary, relayed untouched.
    let args = json!(["héllo 😀", 42, 1.5, null, true, { "k": [1, { "b": bin(&[0, 1, 255]) }] }, bin(&[9; 300])]);
    js.emit("a", "echo", args.clone()).await;
    assert_eq!(js.event("a", "echo-back").await, args);

    // Client → server ack.
    let got = js.emit_ack("a", "ack", json!(["x", bin(&[7, 8])])).await;
    assert_eq!(got, json!(["x", bin(&[7, 8])]));

    // Binary from the server, nested and at the top.
    js.emit("a", "bin", json!([])).await;
    let all = server_bytes();
    assert_eq!(
        js.event("a", "bin-back").await,
        json!([{ "data": bin(&all), "list": [bin(&[1, 2, 3])] }, bin(&all)])
    );

    // Server → client ack.
    js.answer("a", "question", json!(["answer", bin(&[5])]))
        .await;
    js.emit("a", "ask", json!([3])).await;
    assert_eq!(js.event("a", "question").await, json!([3, "$ack"]));
    let answer = log.one("answer").await;
    assert_eq!(answer, json!(["answer", [5]]));

    let transport = js.state("a").await["transport"]
        .as_str()
        .unwrap()
        .to_owned();
    js.disconnect("a").await;
    s.assert_clean().await;
    js.exit().await;
    transport
}

#[tokio::test]
async fn v2_client_over_polling() {
    assert_eq!(round_trip(&["polling"], false).await, "polling");
}

#[tokio::test]
async fn v2_client_over_websocket() {
    assert_eq!(round_trip(&["websocket"], false).await, "websocket");
}

#[tokio::test]
async fn v2_client_upgrades_from_polling_to_websocket() {
    assert_eq!(
        round_trip(&["polling", "websocket"], true).await,
        "websocket"
    );
}

#[tokio::test]
async fn v2_namespaces_take_their_auth_from_the_query() {
    let (s, log) = app(builder().allow_eio3(true)).await;
    let mut js = v2_client(&s.url, &["websocket"]).await;
    // `/` first: a v2 client waits for the server's `0` on `/` and sends no CONNECT for it, and
    // the server sends that `0` once, when the session opens.
    let root = js.connect("root", "/", json!({ "manager": "m" })).await;
    assert_eq!(log.one("connected").await["id"], root["sid"]);
    let r = js
        .connect(
            "admin",
            "/admin",
            json!({ "manager": "m", "auth": { "token": "abc", "lang": "fr" } }),
        )
        .await;
    let sid = r["sid"].as_str().unwrap().to_owned();
    let welcome = js.event("admin", "welcome").await;
    assert_eq!(welcome[0]["id"], sid);
    assert_eq!(welcome[0]["auth"], json!({ "token": "abc", "lang": "fr" }));
    // `/admin#<engine sid>`, the id the v2 client computes too.
    assert_eq!(sid, format!("/admin#{}", root["sid"].as_str().unwrap()));

    // Both namespaces work side by side on the one connection.
    js.emit("root", "echo", json!([1])).await;
    assert_eq!(js.event("root", "echo-back").await, json!([1]));
    assert_eq!(s.io.client_count(), 1);

    js.disconnect("admin").await;
    js.disconnect("root").await;
    s.assert_clean().await;
    js.exit().await;
}

#[tokio::test]
async fn v2_refusals_are_error_packets() {
    let (s, _log) = app(builder().allow_eio3(true)).await;
    for transports in [&["polling"][..], &["websocket"][..]] {
        let mut js = v2_client(&s.url, transports).await;
        let r = js
            .try_connect("bad", "/admin", json!({ "auth": { "token": "nope" } }))
            .await;
        assert_eq!(
            r,
            json!({ "connected": false, "message": "Not authorized", "data": "Not authorized" })
        );
        let r = js.try_connect("none", "/nowhere", json!({})).await;
        assert_eq!(r["connected"], false);
        assert_eq!(r["message"], "Invalid namespace");
        js.exit().await;
    }
    s.assert_clean().await;
}

#[tokio::test]
async fn v2_middleware_data_is_the_error_payload() {
    let (s, _log) = app(builder().allow_eio3(true)).await;
    s.io.of("/data")
        .use_middleware(|_socket: Socket| async move {
            Err(ConnectError::new("refused").with_data(json!({ "retry": 5 })))
        });
    let mut js = v2_client(&s.url, &["websocket"]).await;
    let r = js.try_connect("a", "/data", json!({})).await;
    assert_eq!(r["connected"], false);
    assert_eq!(r["data"], json!({ "retry": 5 }));
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn v2_client_sees_the_server_disconnect() {
    let (s, log) = app(builder().allow_eio3(true)).await;
    let mut js = v2_client(&s.url, &["polling"]).await;
    js.connect("a", "/", json!({})).await;
    let id = log.one("connected").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.io.sockets()
        .get_socket(&id)
        .expect("the socket")
        .disconnect(false);
    assert_eq!(js.disconnect_reason("a").await, "io server disconnect");
    s.assert_clean().await;
    js.exit().await;
}

#[tokio::test]
async fn v2_clients_are_refused_without_allow_eio3() {
    let (s, log) = app(builder()).await;
    let mut js = v2_client(&s.url, &["polling"]).await;
    let r = js.try_connect("a", "/", json!({})).await;
    assert_eq!(r["connected"], false, "{r}");
    assert!(log.all("connected").is_empty());
    assert_eq!(s.io.client_count(), 0);
    js.exit().await;
}
