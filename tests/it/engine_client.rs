//! The npm `engine.io-client` (tests/js/eio.mjs) against a raw Engine.IO echo server.
//!
//! Each scenario checks its echoes itself and fails loudly on a mismatch; these tests assert what
//! it reports and that the server forgets the session once the client has closed it.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use axum_socketio::engine::EngineIoLayer;
use serde_json::json;

use crate::common::*;

/// An echo server with a short heartbeat, so the real client's pongs are exercised.
async fn echo_server() -> (SocketAddr, EngineIoLayer) {
    let layer = EngineIoLayer::builder()
        .ping_interval(ms(300))
        .ping_timeout(ms(200))
        .build(Echo);
    let app = Router::new()
        .route("/", get(|| async { "not the engine" }))
        .layer(layer.clone());
    (serve(app).await, layer)
}

async fn scenario(name: &str, args: serde_json::Value) -> (NodeOutput, EngineIoLayer) {
    let (addr, layer) = echo_server().await;
    let out = run_node(
        "eio.mjs",
        &[name, &format!("http://{addr}"), &args.to_string()],
    )
    .await;
    wait_until("the server forgets the closed session", || {
        layer.client_count() == 0
    })
    .await;
    (out, layer)
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_echo() {
    let (out, _) = scenario("polling", json!({})).await;
    assert_eq!(out.event("open")["transport"], "polling");
    let done = out.event("done");
    assert_eq!(done["transport"], "polling");
    assert_eq!(done["received"], 6);
    assert_eq!(out.event("close")["reason"], "forced close");
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_echo() {
    let (out, _) = scenario("websocket", json!({})).await;
    assert_eq!(out.event("open")["transport"], "websocket");
    let done = out.event("done");
    assert_eq!(done["transport"], "websocket");
    assert_eq!(done["received"], 6);
    assert_eq!(out.event("close")["reason"], "forced close");
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_keeps_message_order() {
    let (out, _) = scenario("upgrade", json!({})).await;
    let open = out.event("open");
    assert_eq!(open["transport"], "polling");
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(out.event("upgrading")["to"], "websocket");
    assert_eq!(out.event("upgrade")["transport"], "websocket");
    let done = out.event("done");
    assert_eq!(done["transport"], "websocket");
    assert_eq!(done["received"], done["sent"]);
    assert_eq!(done["received"], 18);
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_over_polling() {
    let (out, _) = scenario("binary", json!({ "transport": "polling" })).await;
    let kinds = &out.event("kinds")["kinds"];
    assert_eq!(
        kinds,
        &json!([
            "binary", "text", "binary", "binary", "binary", "binary", "binary"
        ])
    );
    let done = out.event("done");
    assert_eq!(done["transport"], "polling");
    assert_eq!(done["binaries"], 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_over_websocket() {
    let (out, _) = scenario("binary", json!({ "transport": "websocket" })).await;
    let kinds = &out.event("kinds")["kinds"];
    assert_eq!(
        kinds,
        &json!([
            "binary", "text", "binary", "binary", "binary", "binary", "binary"
        ])
    );
    let done = out.event("done");
    assert_eq!(done["transport"], "websocket");
    assert_eq!(done["binaries"], 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_messages_over_polling() {
    let (out, _) = scenario("large", json!({ "transport": "polling" })).await;
    let done = out.event("done");
    assert_eq!(done["transport"], "polling");
    assert_eq!(done["textLength"], 500_000);
    assert_eq!(done["binaryLength"], 500_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_messages_over_websocket() {
    let (out, _) = scenario("large", json!({ "transport": "websocket" })).await;
    let done = out.event("done");
    assert_eq!(done["transport"], "websocket");
    assert_eq!(done["textLength"], 500_000);
    assert_eq!(done["binaryLength"], 500_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn batched_posts_over_polling() {
    let (out, _) = scenario("batch", json!({ "count": 200 })).await;
    let done = out.event("done");
    assert_eq!(done["transport"], "polling");
    assert_eq!(done["received"], 200);
    // The client sent the 200 messages in a handful of POSTs, so the server parsed batches.
    assert!(done["posts"].as_u64().unwrap() < 10, "{done}");
}
