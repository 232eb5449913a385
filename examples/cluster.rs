//! Several Socket.IO nodes sharing one Redis: a message sent to any node reaches the clients of
//! every node. Start Redis (`redis-server`), then
//!
//! ```sh
//! npm install --prefix examples/chat   # the socket.io-client bundle the page loads
//! cargo run --example cluster --features redis
//! ```
//!
//! and open <http://localhost:3000> and <http://localhost:3001> side by side: what is typed in
//! one shows in both. Each node is a separate server with its own Redis connections, as if on
//! separate machines; Node servers with `@socket.io/redis-adapter` can join the same cluster.
//!
//! `NODES` sets how many nodes (default 2), `PORT` the first port (default 3000; the others
//! follow), `REDIS_URL` the Redis server (default `redis://127.0.0.1:6379/`). `GET /cluster` on
//! any node shows what the cluster looks like from there.

use std::net::SocketAddr;

use axum::Json;
use axum::response::Html;
use axum::routing::get;
use axum::{Router, extract::State};
use axum_socketio::adapter::RedisAdapter;
use axum_socketio::{Args, Data, Io, Socket, SocketIoLayer};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>axum-socketio cluster</title>
<style>body{font:16px system-ui;margin:2em auto;max-width:40em}li small{color:#888}</style>
<h1>Node <span id="node"></span></h1>
<form id="f"><input id="m" autocomplete="off" autofocus placeholder="say something"> <button>Send</button></form>
<ul id="log"></ul>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  const log = (html) => { const li = document.createElement("li"); li.innerHTML = html; document.getElementById("log").prepend(li); };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
  socket.on("welcome", (w) => { document.getElementById("node").textContent = w.node; log(`connected to node ${w.node}, ${w.servers} node(s) in the cluster`); });
  socket.on("said", (m) => log(`${esc(m.text)} <small>from ${esc(m.from)} on node ${m.node}</small>`));
  document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const m = document.getElementById("m"); if (m.value) socket.emit("say", m.value); m.value = ""; };
</script>
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let nodes: u16 = std::env::var("NODES").map_or(Ok(2), |n| n.parse())?;
    let first: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());

    let mut servers = Vec::new();
    for i in 0..nodes {
        let port = first + i;
        // One adapter per node: each has its own connections, as separate machines would.
        let adapter = RedisAdapter::connect(&redis_url).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        tracing::info!("node {port}: http://localhost:{port}");
        servers.push(tokio::spawn(node(port, adapter, listener)));
    }
    for s in servers {
        s.await??;
    }
    Ok(())
}

async fn node(
    port: u16,
    adapter: RedisAdapter,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let layer = SocketIoLayer::builder()
        .adapter(adapter)
        .client_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/chat/node_modules/socket.io-client"
        ))
        .build();
    let io = layer.io();

    io.on_connection(move |socket: Socket, io: Io| async move {
        let servers = io.sockets().adapter().server_count().await.unwrap_or(1);
        socket
            .emit("welcome", &json!({"node": port, "servers": servers}))
            .ok();
        socket.on(
            "say",
            move |socket: Socket, io: Io, Data(text): Data<String>| async move {
                // Reaches the clients of every node.
                io.emit(
                    "said",
                    &json!({"node": port, "from": socket.id(), "text": text}),
                )
                .ok();
            },
        );
    });

    // Nodes greet each other when they start, and answer who asks.
    io.on_server_side_emit("hello", move |args: Args| {
        tracing::info!(node = port, from = ?args, "another node says hello");
        Args::from_serialize(&port).ok()
    });
    if let Ok(answers) = io
        .server_side_emit_with_ack("hello", &port, std::time::Duration::from_secs(2))
        .await
    {
        tracing::info!(
            node = port,
            others = answers.len(),
            "the other nodes answered"
        );
    }

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/cluster", get(cluster))
        .with_state(port)
        .layer(layer);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The cluster as this node sees it: nodes, sockets everywhere, rooms everywhere.
async fn cluster(State(port): State<u16>, io: Io) -> Json<Value> {
    let main = io.sockets();
    let adapter = main.adapter();
    let servers = adapter.server_count().await.map_err(|e| e.to_string());
    let sockets = io.fetch_sockets().await.map_err(|e| e.to_string());
    let rooms = adapter.all_rooms().await.map_err(|e| e.to_string());
    Json(json!({
        "node": port,
        "servers": servers.ok(),
        "sockets": sockets.ok().map(|s| s.iter().map(|s| s.id().to_owned()).collect::<Vec<_>>()),
        "rooms": rooms.ok().map(|r| r.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
    }))
}
