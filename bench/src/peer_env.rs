//! What every server program of `bench/` takes from its environment, as
//! `examples/bench_server.rs` does: `PORT` (default 3000) and `WORKERS` tokio worker threads
//! (default 1). Included by each `src/bin/*` program with `#[path]`.

/// `PORT`, default 3000.
pub fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

/// A multi-thread runtime with `WORKERS` worker threads (default 1).
pub fn runtime() -> tokio::runtime::Runtime {
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Binds 127.0.0.1:`port`, or says why and exits.
pub async fn bind(port: u16) -> tokio::net::TcpListener {
    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    }
}
