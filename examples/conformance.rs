//! The server the official protocol test suites expect: a raw Engine.IO echo server at
//! `/engine.io/` and a Socket.IO server at `/socket.io/`, with short heartbeats so the suites run
//! fast.
//!
//! Socket.IO handlers (namespace `/`; `/custom` emits `auth` too, other namespaces are refused):
//! on connection emit `auth` with the handshake's auth; `message` → `message-back` with the same
//! arguments; `message-with-ack` → ack with the same arguments; `join` (room) → join, ack;
//! `to-room` (room, …args) → `io.to(room).emit("to-room", …args)`; `broadcast` (…args) →
//! `socket.broadcast().emit("broadcast", …args)`; `count` → ack with the number of sockets
//! `fetch_sockets()` returns for `/`.
//!
//! `PORT` picks the port (default 3000; `0` for any free one). Prints
//! `listening on http://127.0.0.1:<port>` once it accepts connections. With `REDIS_URL` (and
//! `--features redis`) the server joins a Redis cluster: `@socket.io/redis-adapter` format, or
//! with `RECOVERY=1` the streams adapter (`@socket.io/redis-streams-adapter` format), so that
//! connection state recovery works across nodes.
//!
//! Knobs, off by default (the official suites run with the defaults), and free to combine:
//! `ALLOW_EIO3=1` accepts Engine.IO v3 clients (Socket.IO v2) on both endpoints;
//! `PARSER=msgpack` uses the msgpack parser (`socket.io-msgpack-parser`) on `/socket.io/`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_socketio::engine::{
    DisconnectReason, EngineHandler, EngineIoLayer, EngineSocket, Message,
};
use axum_socketio::protocol::MsgpackParser;
use axum_socketio::{Ack, Args, Data, Io, Socket, SocketIoLayer};
use tower_http::cors::CorsLayer;

/// Sends every message, text or binary, back to its sender.
struct Echo;

impl EngineHandler for Echo {
    type Connection = ();

    fn on_open(&self, _socket: &EngineSocket, _req: &http::request::Parts) {}

    fn on_message(&self, _conn: &(), socket: &EngineSocket, msg: Message) {
        socket.send(msg).ok();
    }

    fn on_close(&self, _conn: &(), _socket: &EngineSocket, _reason: DisconnectReason) {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let allow_eio3 = std::env::var("ALLOW_EIO3").is_ok_and(|v| v == "1" || v == "true");
    let msgpack = match std::env::var("PARSER").as_deref() {
        Ok("msgpack") => true,
        Ok("" | "default" | "json") | Err(_) => false,
        Ok(other) => {
            eprintln!("unknown PARSER {other:?} (use msgpack or default)");
            std::process::exit(2);
        }
    };

    let engine = EngineIoLayer::builder()
        .allow_eio3(allow_eio3)
        .path("/engine.io")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .cors(CorsLayer::very_permissive())
        .build(Echo);

    let mut sio = SocketIoLayer::builder().allow_eio3(allow_eio3);
    if msgpack {
        sio = sio.parser(MsgpackParser::new());
    }
    // RECOVERY=1 turns connection state recovery on (off by default: the protocol suites expect
    // a CONNECT reply with `sid` only).
    let recovery = std::env::var("RECOVERY").is_ok_and(|v| v == "1");
    if recovery {
        sio = sio.connection_state_recovery(Duration::from_secs(120), true);
    }
    // With REDIS_URL (and the `redis` feature), the server joins a Redis cluster: the pub/sub
    // adapter (`@socket.io/redis-adapter` format), or with RECOVERY=1 the streams adapter
    // (`@socket.io/redis-streams-adapter` format), whose sessions and stream let a client
    // recover on any node.
    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("REDIS_URL") {
        use axum_socketio::adapter::{RedisAdapter, RedisStreamsAdapter};
        let joined = match recovery {
            true => RedisStreamsAdapter::connect(&url)
                .await
                .map(|a| Box::new(a) as Box<dyn axum_socketio::adapter::AdapterFactory>),
            false => RedisAdapter::connect(&url)
                .await
                .map(|a| Box::new(a) as Box<dyn axum_socketio::adapter::AdapterFactory>),
        };
        match joined {
            Ok(adapter) => sio = sio.adapter(adapter),
            Err(e) => {
                eprintln!("REDIS_URL={url}: {e}");
                std::process::exit(1);
            }
        }
    }
    let sio = sio
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .connect_timeout(Duration::from_secs(1))
        .cors(CorsLayer::very_permissive())
        .build();
    let io = sio.io();
    io.on_connection(on_main_connection);
    io.of("/custom").on_connection(emit_auth);

    let app = Router::new().layer(engine).layer(sio);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("listening on http://127.0.0.1:{addr}");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await;
    if let Err(e) = served {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}

async fn emit_auth(socket: Socket) {
    socket.emit("auth", socket.handshake().auth()).ok();
}

async fn on_main_connection(socket: Socket) {
    emit_auth(socket.clone()).await;
    socket.on("message", |socket: Socket, args: Args| async move {
        socket.emit_args("message-back", args).ok();
    });
    socket.on("message-with-ack", |args: Args, ack: Ack| async move {
        ack.send_args(args).ok();
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: Ack| async move {
            socket.join(room);
            ack.send(&()).ok();
        },
    );
    socket.on("to-room", |io: Io, args: Args| async move {
        let Ok(mut items) = args.to_values() else {
            return;
        };
        if items.is_empty() {
            return;
        }
        let rest = items.split_off(1);
        let Some(room) = items[0].as_str().map(str::to_owned) else {
            return;
        };
        io.to(room).emit_args("to-room", Args::from_values(rest));
    });
    socket.on("broadcast", |socket: Socket, args: Args| async move {
        socket.broadcast().emit_args("broadcast", args);
    });
    socket.on("count", |io: Io, ack: Ack| async move {
        let count = io.fetch_sockets().await.map(|s| s.len()).unwrap_or(0);
        ack.send(&count).ok();
    });
}
