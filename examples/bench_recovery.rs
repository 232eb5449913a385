//! The server of the `recovery` benchmark (`bench/src/recovery.rs`, issue 7): what a stored
//! session and a stored packet cost with connection state recovery on. Its own example so that
//! `examples/bench_server.rs`, the server of every other scenario, stays as it is.
//!
//! - `setup` (room, name) + ack → join `room`, `data = {"name": name}`, ack
//! - `echo` (v) → `socket.emit("echo", v)` (stored: the client gets an offset)
//! - `bcast` (v) → `io.to("bench").emit("msg", v)` (stored whether or not anyone is in "bench")
//! - `count` + ack → ack(connected Engine.IO clients)
//! - `gc` + ack → ack(null) (Node's peer, `bench/node/recovery.js`, collects garbage first and
//!   acks its V8 heap in use)
//!
//! `PORT` (default 3000), `WORKERS` tokio worker threads (default 1). Recovery is on with a
//! 10-minute window and skip_middlewares, unless `RECOVERY=0` (the control: same load, nothing
//! kept). With `REDIS_URL` (feature `redis`), the Redis streams adapter keeps sessions and
//! packets in Redis, its stream capped at `REDIS_MAX_LEN` entries (default 1 000 000, so that a
//! run's entries all stay). Ping 25 s / 20 s, default outbox bound (a restore's missed packets do
//! not count toward it). Exits cleanly on SIGTERM or Ctrl-C.

use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use axum_socketio::{Ack, Args, Data, Io, Socket, SocketIoLayer};

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
    let mut builder = SocketIoLayer::builder();
    if std::env::var("RECOVERY").map_or(true, |v| v != "0") {
        builder = builder.connection_state_recovery(Duration::from_secs(600), true);
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        builder = with_redis(builder, &url).await;
    }
    let layer = builder.build();
    let io = layer.io();
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "setup",
            |socket: Socket, Data((room, name)): Data<(String, String)>, ack: Ack| async move {
                socket.join(room);
                socket.set_data(&serde_json::json!({ "name": name })).ok();
                ack.send(&()).ok();
            },
        );
        socket.on("echo", |socket: Socket, args: Args| async move {
            socket.emit_args("echo", args).ok();
        });
        socket.on("bcast", |io: Io, args: Args| async move {
            io.to("bench").emit_args("msg", args);
        });
        socket.on("count", |io: Io, ack: Ack| async move {
            ack.send(&io.client_count()).ok();
        });
        socket.on("gc", |ack: Ack| async move {
            ack.send(&()).ok();
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

#[cfg(feature = "redis")]
async fn with_redis(
    builder: axum_socketio::SocketIoBuilder,
    url: &str,
) -> axum_socketio::SocketIoBuilder {
    let max_len = std::env::var("REDIS_MAX_LEN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    match axum_socketio::adapter::RedisStreamsAdapter::builder()
        .url(url)
        .max_len(max_len)
        .connect()
        .await
    {
        Ok(adapter) => builder.adapter(adapter),
        Err(e) => {
            eprintln!("REDIS_URL={url}: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "redis"))]
async fn with_redis(
    _builder: axum_socketio::SocketIoBuilder,
    url: &str,
) -> axum_socketio::SocketIoBuilder {
    eprintln!("REDIS_URL={url}: built without the `redis` feature");
    std::process::exit(1);
}
