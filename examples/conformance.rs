//! The server the official protocol test suites expect: a raw Engine.IO echo server at
//! `/engine.io/`, with short heartbeats so the suites run fast.
//!
//! `PORT` picks the port (default 3000; `0` for any free one). Prints
//! `listening on http://127.0.0.1:<port>` once it accepts connections.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_socketio::engine::{DisconnectReason, EngineHandler, EngineIoLayer, EngineSocket, Message};
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
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let engine = EngineIoLayer::builder()
        .path("/engine.io")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(1_000_000)
        .cors(CorsLayer::very_permissive())
        .build(Echo);

    let app = Router::new().layer(engine);
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
