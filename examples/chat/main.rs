//! A chat in the browser: pick a name, join a room, talk. Run it with
//!
//! ```sh
//! npm install --prefix examples/chat && cargo run --example chat
//! ```
//!
//! then open <http://localhost:3000> in two tabs. The npm install brings the `socket.io-client`
//! browser bundle, which the server serves at `/socket.io/socket.io.js` (`serve_client`).
//! `PORT` picks another port (`PORT=0`: any free one), `RUST_LOG` the log level (default
//! `info`). `/stats` shows a snapshot of the server as JSON.

mod app;

use std::net::SocketAddr;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let client_dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/chat/node_modules/socket.io-client"
    );
    let (router, io) = app::app(client_dir);

    let port = match std::env::var("PORT") {
        Ok(p) => p.parse::<u16>().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("PORT={p}: {e}"))
        })?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");

    // Ctrl-C closes the Socket.IO server (every client hears "server shutting down"), which
    // ends the HTTP server gracefully.
    let closer = io.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            closer.close().await;
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(io.closed())
    .await
}
