//! HTTP compression of polling responses (`http_compression`, on by default): gzip or deflate as
//! `Accept-Encoding` asks, from 1024 bytes on, with `Content-Encoding` and `Vary`; raw below the
//! threshold, when the client accepts neither, when every packet was sent with
//! `compress(false)`, and when the option is off.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use axum_socketio::engine::HttpCompression;
use axum_socketio::{Socket, SocketIoLayer};
use http::HeaderMap;
use reqwest::StatusCode;

use super::*;
use crate::common::http;

/// A server whose `big` (n, compress) emits a string of `n` bytes back with that compress flag,
/// and `big-all` (n, compress) broadcasts it; no heartbeat traffic in the way.
async fn server(b: SocketIoBuilder) -> Sio {
    let s = start(
        b.ping_interval(Duration::from_secs(30))
            .ping_timeout(Duration::from_secs(30)),
    )
    .await;
    s.io.on_connection(|socket: Socket| async move {
        socket.on(
            "big",
            |socket: Socket, Data((n, compress)): Data<(usize, bool)>| async move {
                socket
                    .compress(compress)
                    .emit("big", &"x".repeat(n))
                    .unwrap();
            },
        );
        socket.on(
            "big-all",
            |io: Io, Data((n, compress)): Data<(usize, bool)>| async move {
                io.compress(compress).emit("big", &"x".repeat(n)).unwrap();
            },
        );
    });
    s
}

fn plain() -> SocketIoBuilder {
    SocketIoLayer::builder()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The body, decoded as its `Content-Encoding` says.
    fn decoded(&self) -> String {
        let mut out = String::new();
        match self.header("content-encoding") {
            None => return String::from_utf8(self.body.clone()).unwrap(),
            Some("gzip") => flate2::read::GzDecoder::new(&self.body[..])
                .read_to_string(&mut out)
                .unwrap(),
            Some("deflate") => flate2::read::ZlibDecoder::new(&self.body[..])
                .read_to_string(&mut out)
                .unwrap(),
            Some(other) => panic!("unexpected content-encoding {other}"),
        };
        out
    }
}

/// A raw Engine.IO v4 polling session with the Socket.IO CONNECT to `/` done.
struct Session {
    addr: SocketAddr,
    sid: String,
}

impl Session {
    async fn open(addr: SocketAddr) -> Session {
        let r = fetch(
            &format!("http://{addr}/socket.io/?EIO=4&transport=polling"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        // The handshake is far below the threshold: sent as it is.
        assert_eq!(r.header("content-encoding"), None);
        let open: Value = serde_json::from_str(&r.decoded()[1..]).unwrap();
        let s = Session {
            addr,
            sid: open["sid"].as_str().unwrap().to_owned(),
        };
        s.post("40").await;
        let reply = s.get(None).await.decoded();
        assert!(reply.starts_with("40{\"sid\""), "{reply}");
        s
    }

    fn url(&self) -> String {
        format!(
            "http://{}/socket.io/?EIO=4&transport=polling&sid={}",
            self.addr, self.sid
        )
    }

    async fn post(&self, body: &str) {
        let r = http()
            .post(self.url())
            .header("accept-encoding", "gzip, deflate")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers().get("content-encoding"), None);
        assert_eq!(r.text().await.unwrap(), "ok");
    }

    async fn get(&self, accept: Option<&str>) -> Reply {
        fetch(&self.url(), accept).await
    }

    /// Asks for `big` with `n` bytes and reads the GET that carries it.
    async fn big(&self, n: usize, compress: bool, accept: Option<&str>) -> Reply {
        self.post(&format!(r#"42["big",{n},{compress}]"#)).await;
        let r = self.get(accept).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.decoded(), format!(r#"42["big","{}"]"#, "x".repeat(n)));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
        assert_eq!(
            r.header("content-length")
                .map(|l| l.parse::<usize>().unwrap()),
            Some(r.body.len())
        );
        r
    }
}

async fn fetch(url: &str, accept: Option<&str>) -> Reply {
    let mut req = http().get(url);
    if let Some(accept) = accept {
        req = req.header("accept-encoding", accept);
    }
    let r = crate::common::within("a polling GET", req.send())
        .await
        .unwrap();
    Reply {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn gzip_above_the_threshold_raw_below() {
    let s = server(plain()).await;
    let c = Session::open(s.addr).await;

    let r = c.big(5000, true, Some("gzip, deflate, br")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        r.body.len() < 200,
        "5 KB of x compress well: {}",
        r.body.len()
    );

    let r = c.big(10, true, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);

    // The threshold counts the whole body, Engine.IO framing included: 1024 bytes is enough.
    let framing = r#"42["big",""]"#.len();
    let r = c.big(1024 - framing, true, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = c.big(1023 - framing, true, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test]
async fn deflate_when_the_client_prefers_it() {
    let s = server(plain()).await;
    let c = Session::open(s.addr).await;
    let r = c.big(3000, true, Some("deflate")).await;
    assert_eq!(r.header("content-encoding"), Some("deflate"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = c.big(3000, true, Some("gzip;q=0.5, deflate;q=0.8")).await;
    assert_eq!(r.header("content-encoding"), Some("deflate"));
}

#[tokio::test]
async fn raw_when_the_client_accepts_no_coding() {
    let s = server(plain()).await;
    let c = Session::open(s.addr).await;
    for accept in [None, Some("identity"), Some("br"), Some("gzip;q=0")] {
        let r = c.big(3000, true, accept).await;
        assert_eq!(r.header("content-encoding"), None, "{accept:?}");
        // The answer would have differed with another Accept-Encoding.
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept:?}");
    }
}

#[tokio::test]
async fn compress_false_is_honoured() {
    let s = server(plain()).await;
    let c = Session::open(s.addr).await;
    let r = c.big(3000, false, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);

    c.post(r#"42["big-all",3000,false]"#).await;
    let r = c.get(Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.decoded(), format!(r#"42["big","{}"]"#, "x".repeat(3000)));

    c.post(r#"42["big-all",3000,true]"#).await;
    let r = c.get(Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.decoded(), format!(r#"42["big","{}"]"#, "x".repeat(3000)));
}

#[tokio::test]
async fn off_and_custom_threshold() {
    let s = server(plain().http_compression(false)).await;
    let c = Session::open(s.addr).await;
    let r = c.big(5000, true, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);

    let s = server(plain().http_compression_options(HttpCompression::with_threshold(16).level(9)))
        .await;
    let c = Session::open(s.addr).await;
    let r = c.big(20, true, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}
