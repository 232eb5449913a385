//! The server the benchmarks run: `/socket.io/` with four handlers, frame for frame the same as
//! the other peers of `bench/`:
//!
//! - `echo` (v) → `socket.emit("echo", v)`
//! - `ack` (v) → ack(v)
//! - `join` → join room "bench"
//! - `bcast` (v) → `io.to("bench").emit("msg", v)`
//!
//! `PORT` (default 3000), `WORKERS` tokio worker threads (default 1). Ping 25 s / 20 s, no
//! compression, no recovery. Exits cleanly on SIGTERM or Ctrl-C.

use axum::Router;
use axum::serve::ListenerExt;
use axum_socketio::{Ack, Args, Io, Socket, SocketIoLayer};

fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(serve(port));
}

async fn serve(port: u16) {
    let layer = SocketIoLayer::new();
    let io = layer.io();
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |socket: Socket, args: Args| async move {
            socket.emit_args("echo", args).ok();
        });
        socket.on("ack", |args: Args, ack: Ack| async move {
            ack.send_args(args).ok();
        });
        socket.on("join", |socket: Socket| async move {
            socket.join("bench");
        });
        socket.on("bcast", |io: Io, args: Args| async move {
            io.to("bench").emit_args("msg", args);
        });
    });
    let app = Router::new().layer(layer);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("listening on http://127.0.0.1:{bound}");
    let shutdown = async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        io.close().await;
    };
    // TCP_NODELAY on every connection, as the other peers of bench/ have it (Node's default).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
    }
}
