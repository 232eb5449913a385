//! The socketioxide peer of the benchmarks: axum + socketioxide (latest from crates.io) serving
//! the same four handlers as examples/bench_server, frame for frame:
//!
//! - `echo` (v) → `socket.emit("echo", v)`
//! - `ack` (v) → ack(v)
//! - `join` → join room "bench"
//! - `bcast` (v) → `io.to("bench").emit("msg", v)`
//!
//! `PORT` (default 3000), `WORKERS` tokio worker threads (default 1). Ping 25 s / 20 s, both
//! transports, its defaults otherwise. Exits on SIGTERM or Ctrl-C.

#[path = "../peer_env.rs"]
mod peer_env;

use std::time::Duration;

use axum::serve::ListenerExt;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

fn main() {
    let port = peer_env::port();
    let rt = peer_env::runtime();
    rt.block_on(serve(port));
}

async fn serve(port: u16) {
    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(20))
        .build_layer();
    io.ns("/", async |s: SocketRef| {
        s.on("echo", async |s: SocketRef, Data::<Value>(v)| {
            s.emit("echo", &v).ok();
        });
        s.on("ack", async |Data::<Value>(v), ack: AckSender| {
            ack.send(&v).ok();
        });
        s.on("join", async |s: SocketRef| {
            s.join("bench");
        });
        s.on("bcast", async |io: SocketIo, Data::<Value>(v)| {
            io.to("bench").emit("msg", &v).await.ok();
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = peer_env::bind(port).await;
    println!("listening on http://127.0.0.1:{port}");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    // On a signal, leave at once: dropping the runtime ends every connection.
    tokio::select! {
        // TCP_NODELAY on every connection, as the other peers have it (Node's default).
        r = axum::serve(listener.tap_io(|tcp| { let _ = tcp.set_nodelay(true); }), app) => {
            if let Err(e) = r {
                eprintln!("server error: {e}");
            }
        }
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
