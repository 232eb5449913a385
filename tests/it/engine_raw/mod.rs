//! Engine.IO v4 on the wire, request by request, against what the Node server answers
//! (shared/reference/protocol.md, "Engine.IO v4"). Raw HTTP with reqwest, raw websockets with
//! tokio-tungstenite; a [`Recorder`] handler shows what the application saw.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as get_route, post as post_route};
use axum_socketio::engine::{EngineIoBuilder, EngineIoLayer, Transport};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower_http::cors::CorsLayer;

pub(crate) use crate::common::*;

pub(crate) const P: &str = "/engine.io";

/// Heartbeat far away: for tests about something else.
fn quiet() -> EngineIoBuilder {
    EngineIoLayer::builder()
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20))
}

/// A short heartbeat: for tests about it.
fn fast() -> EngineIoBuilder {
    EngineIoLayer::builder()
        .ping_interval(ms(300))
        .ping_timeout(ms(200))
}

struct Server {
    addr: SocketAddr,
    layer: EngineIoLayer,
    rec: Recorder,
}

impl Server {
    async fn gone(&self) {
        wait_until("client_count() is back to 0", || {
            self.layer.client_count() == 0
        })
        .await;
    }

    fn count(&self) -> usize {
        self.layer.client_count()
    }

    fn url(&self, query: &str) -> String {
        format!("http://{}{P}/?{query}", self.addr)
    }
}

/// An echoing, recording engine around a router with a `/hello` route.
async fn start(builder: EngineIoBuilder) -> Server {
    let rec = Recorder::echo();
    let layer = builder.build(rec.clone());
    let app = Router::new()
        .route("/hello", get_route(|| async { "hello" }))
        .layer(layer.clone());
    Server {
        addr: serve(app).await,
        layer,
        rec,
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The data packets (not pings nor noops) of a series of replies.
fn data_packets(packets: &[String]) -> Vec<String> {
    packets
        .iter()
        .filter(|p| *p != "6" && *p != "2")
        .cloned()
        .collect()
}

mod errors;
mod handshake;
mod heartbeat;
mod options;
mod polling;
mod router;
mod upgrade;
mod websocket;
