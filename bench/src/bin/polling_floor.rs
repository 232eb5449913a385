//! The polling floor of the benchmarks: the least any Socket.IO server that is an axum layer can
//! spend on HTTP long-polling. It is wired as the two Rust peers are (`Router::new().layer(..)`
//! served by `axum::serve`, TCP_NODELAY), so hyper and axum cost it what they cost them, and it
//! does nothing else: a static open packet (only the sid varies), a POSTed `40` answered with
//! `40{"sid":…}`, `42["echo",…]` queued byte for byte without parsing, any other packet ignored,
//! a GET answering what is queued (`\x1e`-joined) or held until something is; the websocket
//! upgrade of a session with `2probe` → `3probe`, a noop `6` releasing the pending GET, `5`, and
//! echo on the websocket (read buffer 4 KiB, write buffer 0, as the ceiling). No heartbeat, no timeouts, no validation, no Socket.IO layer.
//!
//! It is not a Socket.IO server: it is the yardstick for the polling scenarios, as the raw
//! websocket ceiling is for the websocket ones. `PORT` (default 3000), `WORKERS` tokio worker
//! threads (default 1), as examples/bench_server.

#[path = "../peer_env.rs"]
mod peer_env;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

#[derive(Default)]
struct Session {
    /// Packets waiting for a GET, already joined with `\x1e`.
    queue: Vec<u8>,
    /// The websocket took over: a pending GET answers a noop.
    upgrading: bool,
    ready: Arc<Notify>,
}

#[derive(Clone, Default)]
struct Floor {
    sessions: Arc<Mutex<HashMap<u64, Session>>>,
    ids: Arc<AtomicU64>,
}

impl Floor {
    fn push(&self, sid: u64, packet: &[u8]) {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(&sid) {
            if !s.queue.is_empty() {
                s.queue.push(0x1e);
            }
            s.queue.extend_from_slice(packet);
            s.ready.notify_one();
        }
    }

    /// What a GET answers now, or what to wait on.
    fn take(&self, sid: u64) -> Result<Vec<u8>, Option<Arc<Notify>>> {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = map.get_mut(&sid) else {
            return Err(None);
        };
        if s.upgrading {
            return Ok(b"6".to_vec());
        }
        if s.queue.is_empty() {
            Err(Some(s.ready.clone()))
        } else {
            Ok(std::mem::take(&mut s.queue))
        }
    }

    async fn handle(self, req: Request<Body>) -> Response<Body> {
        let query = req.uri().query().unwrap_or("");
        let sid = param(query, "sid").and_then(|s| s.parse::<u64>().ok());
        let websocket = param(query, "transport") == Some("websocket");
        match (req.method(), sid, websocket) {
            (&Method::GET, None, false) => {
                let sid = self.ids.fetch_add(1, Ordering::Relaxed);
                self.sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(sid, Session::default());
                text(format!(
                    "0{{\"sid\":\"{sid}\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\
                     \"pingTimeout\":20000,\"maxPayload\":1000000}}"
                ))
            }
            (&Method::GET, Some(sid), false) => loop {
                match self.take(sid) {
                    Ok(body) => return text(body),
                    Err(Some(ready)) => ready.notified().await,
                    Err(None) => return status(StatusCode::BAD_REQUEST),
                }
            },
            (&Method::POST, Some(sid), false) => {
                let Ok(body) = axum::body::to_bytes(req.into_body(), 1_000_000).await else {
                    return status(StatusCode::BAD_REQUEST);
                };
                for packet in body.split(|&b| b == 0x1e) {
                    if packet == b"40" {
                        self.push(sid, format!("40{{\"sid\":\"s{sid}\"}}").as_bytes());
                    } else if packet.starts_with(b"42") {
                        self.push(sid, packet);
                    }
                }
                let mut res = Response::new(Body::from("ok"));
                res.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                res
            }
            (&Method::GET, Some(sid), true) => self.upgrade(sid, req),
            _ => status(StatusCode::BAD_REQUEST),
        }
    }

    fn upgrade(self, sid: u64, mut req: Request<Body>) -> Response<Body> {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
            return status(StatusCode::BAD_REQUEST);
        };
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            // The ceiling's buffers: read 4 KiB, write 0.
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let mut ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                match t.as_str() {
                    "2probe" => {
                        if ws.send(Message::text("3probe")).await.is_err() {
                            break;
                        }
                        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(s) = map.get_mut(&sid) {
                            s.upgrading = true;
                            s.ready.notify_one();
                        }
                    }
                    "5" => {}
                    t if t.starts_with("42") => {
                        let sent = ws.send(Message::Text(t.into())).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&sid);
        });
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        res
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn text(body: impl Into<Body>) -> Response<Body> {
    let mut res = Response::new(body.into());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn status(code: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = code;
    res
}

/// The layer: `/socket.io/` to the floor, anything else to the app.
#[derive(Clone)]
struct FloorLayer(Floor);

impl<S> tower::Layer<S> for FloorLayer {
    type Service = FloorService<S>;
    fn layer(&self, inner: S) -> FloorService<S> {
        FloorService {
            floor: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
struct FloorService<S> {
    floor: Floor,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<Request<Body>> for FloorService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.uri().path() == "/socket.io/" {
            let floor = self.floor.clone();
            Box::pin(async move { Ok(floor.handle(req).await) })
        } else {
            Box::pin(self.inner.call(req))
        }
    }
}

fn main() {
    let port = peer_env::port();
    let rt = peer_env::runtime();
    rt.block_on(async move {
        let app = axum::Router::new().layer(FloorLayer(Floor::default()));
        let listener = peer_env::bind(port).await;
        println!("listening on http://127.0.0.1:{port}");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        // TCP_NODELAY on every connection, as the other peers have it.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::select! {
            r = axum::serve(listener, app) => {
                if let Err(e) = r {
                    eprintln!("server error: {e}");
                }
            }
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
}
