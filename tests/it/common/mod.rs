//! Helpers shared by the integration tests: serve an app on a real port, drive the npm clients
//! in `tests/js`, and speak raw Engine.IO over HTTP (reqwest) and websocket (tokio-tungstenite).
//!
//! Everything that waits has a generous deadline and panics when it passes, so a bug turns into
//! a failed test, never a hung suite. No helper asserts how long something took.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum_socketio::engine::{DisconnectReason, EngineHandler, EngineSocket, Message, Transport};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// How long any single wait may last before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Logs to the test's captured output; `RUST_LOG=axum_socketio=debug cargo test -- --nocapture`.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .init();
    });
}

/// Serves `app` on 127.0.0.1 (a free port) in a spawned task, with `ConnectInfo<SocketAddr>`.
pub async fn serve(app: Router) -> SocketAddr {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Polls `cond` every 10 ms until it holds; fails the test after [`DEADLINE`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(ms(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Node clients

/// What a `tests/js` script printed: one JSON value per stdout line.
#[derive(Debug)]
pub struct NodeOutput {
    pub lines: Vec<Value>,
    pub stderr: String,
}

impl NodeOutput {
    /// Every line whose `"event"` is `name`.
    pub fn events(&self, name: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["event"] == name).collect()
    }

    /// The one line whose `"event"` is `name`; fails the test when there is not exactly one.
    pub fn event(&self, name: &str) -> &Value {
        let found = self.events(name);
        assert_eq!(
            found.len(),
            1,
            "expected one {name:?} event in {:#?}",
            self.lines
        );
        found[0]
    }
}

pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("js")
}

/// Runs `node tests/js/<script> <args…>` (cwd `tests/js`), fails the test with its stderr if it
/// exits non-zero or runs longer than 20 s, and returns the JSON lines it printed.
pub async fn run_node(script: &str, args: &[&str]) -> NodeOutput {
    let dir = js_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "tests/js/node_modules is missing: run ./scripts/test once (or `npm ci` in tests/js)"
    );
    let child = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let out = match tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await {
        Ok(out) => out.expect("node failed"),
        Err(_) => panic!("node {script} {args:?} ran longer than 20 s"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "node {script} {args:?} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let lines = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    NodeOutput { lines, stderr }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Sends every message back to its sender.
pub struct Echo;

impl EngineHandler for Echo {
    type Connection = ();
    fn on_open(&self, _socket: &EngineSocket, _req: &http::request::Parts) {}
    fn on_message(&self, _conn: &(), socket: &EngineSocket, msg: Message) {
        socket.send(msg).ok();
    }
    fn on_close(&self, _conn: &(), _socket: &EngineSocket, _reason: DisconnectReason) {}
}

/// What the handshake request looked like to `on_open`.
#[derive(Debug, Clone)]
pub struct OpenInfo {
    pub uri: String,
    pub headers: http::HeaderMap,
    pub remote: Option<SocketAddr>,
    pub transport: Transport,
}

#[derive(Default)]
struct RecorderState {
    opens: Vec<(String, OpenInfo)>,
    sockets: HashMap<String, EngineSocket>,
    messages: Vec<(String, Message)>,
    closes: Vec<(String, String)>,
}

/// A handler that records every call (and echoes messages back when built with `echo`), so a
/// test can look at what the application saw and act on a session through its [`EngineSocket`].
#[derive(Clone, Default)]
pub struct Recorder {
    echo: bool,
    state: Arc<Mutex<RecorderState>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn echo() -> Self {
        Recorder {
            echo: true,
            ..Self::default()
        }
    }

    pub fn opened(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .opens
            .iter()
            .map(|(sid, _)| sid.clone())
            .collect()
    }

    pub fn open_info(&self, sid: &str) -> OpenInfo {
        let st = self.state.lock().unwrap();
        st.opens
            .iter()
            .find(|(s, _)| s == sid)
            .map(|(_, i)| i.clone())
            .unwrap_or_else(|| panic!("no session {sid} was opened"))
    }

    pub fn socket(&self, sid: &str) -> EngineSocket {
        self.state
            .lock()
            .unwrap()
            .sockets
            .get(sid)
            .cloned()
            .unwrap_or_else(|| panic!("no session {sid} was opened"))
    }

    /// The messages `sid` sent, in order.
    pub fn messages(&self, sid: &str) -> Vec<Message> {
        let st = self.state.lock().unwrap();
        st.messages
            .iter()
            .filter(|(s, _)| s == sid)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Waits until `sid` has sent `n` messages and returns them.
    pub async fn wait_messages(&self, sid: &str, n: usize) -> Vec<Message> {
        wait_until(&format!("{n} messages from {sid}"), || {
            self.messages(sid).len() >= n
        })
        .await;
        self.messages(sid)
    }

    /// The reasons `on_close` was called with for `sid` (at most one, if all is well).
    pub fn close_reasons(&self, sid: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.closes
            .iter()
            .filter(|(s, _)| s == sid)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Waits until `sid` is closed and returns the reason (Node's string).
    pub async fn wait_closed(&self, sid: &str) -> String {
        wait_until(&format!("session {sid} closed"), || {
            !self.close_reasons(sid).is_empty()
        })
        .await;
        let reasons = self.close_reasons(sid);
        assert_eq!(
            reasons.len(),
            1,
            "on_close called more than once for {sid}: {reasons:?}"
        );
        reasons[0].clone()
    }

    pub fn is_closed(&self, sid: &str) -> bool {
        !self.close_reasons(sid).is_empty()
    }
}

impl EngineHandler for Recorder {
    type Connection = String;

    fn on_open(&self, socket: &EngineSocket, req: &http::request::Parts) -> String {
        let info = OpenInfo {
            uri: req.uri.to_string(),
            headers: req.headers.clone(),
            remote: req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
            transport: socket.transport(),
        };
        let sid = socket.id().to_owned();
        let mut st = self.state.lock().unwrap();
        st.opens.push((sid.clone(), info));
        st.sockets.insert(sid.clone(), socket.clone());
        sid
    }

    fn on_message(&self, conn: &String, socket: &EngineSocket, msg: Message) {
        self.state
            .lock()
            .unwrap()
            .messages
            .push((conn.clone(), msg.clone()));
        if self.echo {
            socket.send(msg).ok();
        }
    }

    fn on_close(&self, conn: &String, _socket: &EngineSocket, reason: DisconnectReason) {
        self.state
            .lock()
            .unwrap()
            .closes
            .push((conn.clone(), reason.to_string()));
    }
}

pub fn text(s: &str) -> Message {
    Message::Text(s.to_owned().into())
}

pub fn binary(b: &[u8]) -> Message {
    Message::Binary(bytes::Bytes::copy_from_slice(b))
}

// ---------------------------------------------------------------------------------------------
// Raw Engine.IO over HTTP long-polling

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// `http://<addr><path>/?EIO=4&<query>`.
pub fn eio_url(addr: SocketAddr, path: &str, query: &str) -> String {
    format!("http://{addr}{path}/?EIO=4&{query}")
}

/// `transport=polling&sid=<sid>`.
pub fn polling_query(sid: &str) -> String {
    format!("transport=polling&sid={sid}")
}

/// A whole response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The body split into Engine.IO packets (`\x1e`-separated).
    pub fn packets(&self) -> Vec<String> {
        packets(&self.body)
    }

    /// Asserts an Engine.IO error answer: `status`, `application/json`, `{"code","message"}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64, message: &str) {
        assert_eq!(self.status.as_u16(), status, "status of {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "content-type of {self:?}"
        );
        assert_eq!(
            self.json(),
            serde_json::json!({ "code": code, "message": message }),
            "body of {self:?}"
        );
    }
}

pub fn packets(body: &str) -> Vec<String> {
    body.split('\x1e').map(str::to_owned).collect()
}

pub async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = within("a response body", resp.text()).await.unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn get(url: &str) -> Reply {
    read(
        within(&format!("GET {url}"), http().get(url).send())
            .await
            .unwrap(),
    )
    .await
}

pub async fn post_to(url: &str, body: impl Into<reqwest::Body>) -> Reply {
    read(
        within(&format!("POST {url}"), http().post(url).body(body).send())
            .await
            .unwrap(),
    )
    .await
}

/// A polling handshake on `path`: checks the answer is an open packet and returns the sid and
/// the open packet's JSON (other packets of the same body, if any, are left out).
pub async fn eio_handshake(addr: SocketAddr, path: &str) -> (String, Value) {
    let reply = get(&eio_url(addr, path, "transport=polling")).await;
    open_from(&reply)
}

#[track_caller]
pub fn open_from(reply: &Reply) -> (String, Value) {
    assert_eq!(reply.status, StatusCode::OK, "handshake answer {reply:?}");
    let first = &reply.packets()[0];
    assert!(
        first.starts_with('0'),
        "handshake body is not an open packet: {reply:?}"
    );
    let json: Value = serde_json::from_str(&first[1..]).unwrap();
    let sid = json["sid"]
        .as_str()
        .expect("no sid in the open packet")
        .to_owned();
    (sid, json)
}

/// One long-polling GET for `sid`.
pub async fn poll(addr: SocketAddr, path: &str, sid: &str) -> (StatusCode, String) {
    let r = get(&eio_url(addr, path, &polling_query(sid))).await;
    (r.status, r.body)
}

/// One POST of `body` for `sid`.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    sid: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String) {
    let r = post_to(&eio_url(addr, path, &polling_query(sid)), body).await;
    (r.status, r.body)
}

/// A polling client for one session, speaking raw Engine.IO.
pub struct Polling {
    pub addr: SocketAddr,
    pub path: String,
    pub sid: String,
    pub open: Value,
}

impl Polling {
    pub async fn handshake(addr: SocketAddr, path: &str) -> Self {
        let (sid, open) = eio_handshake(addr, path).await;
        Polling {
            addr,
            path: path.to_owned(),
            sid,
            open,
        }
    }

    pub fn url(&self) -> String {
        eio_url(self.addr, &self.path, &polling_query(&self.sid))
    }

    pub async fn get(&self) -> Reply {
        get(&self.url()).await
    }

    /// A GET that must succeed; its packets.
    pub async fn get_packets(&self) -> Vec<String> {
        let r = self.get().await;
        assert_eq!(r.status, StatusCode::OK, "poll answer {r:?}");
        r.packets()
    }

    pub async fn post(&self, body: impl Into<reqwest::Body>) -> Reply {
        post_to(&self.url(), body).await
    }

    /// A POST that must be answered `200 ok`.
    pub async fn post_ok(&self, body: impl Into<reqwest::Body>) {
        let r = self.post(body).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, "ok"),
            "POST answer {r:?}"
        );
    }

    /// Polls until `n` non-heartbeat, non-noop packets arrived, answering pings with pongs.
    pub async fn recv(&self, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        while got.len() < n {
            for p in self.get_packets().await {
                match p.as_str() {
                    "2" => self.post_ok("3").await,
                    "6" => {}
                    _ => got.push(p),
                }
            }
        }
        got
    }
}

// ---------------------------------------------------------------------------------------------
// Raw Engine.IO over websocket

/// A frame as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame, or the end of the connection.
    Closed,
}

pub struct Ws {
    pub stream: WebSocketStream<TcpStream>,
}

/// Opens a websocket to `ws://<addr><path>/?EIO=4&transport=websocket<extra>` (`extra` is
/// appended as is, e.g. `&sid=…`).
pub async fn ws_connect(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> Result<Ws, tungstenite::Error> {
    let url = format!("ws://{addr}{path}/?EIO=4&transport=websocket{extra}");
    ws_connect_url(addr, &url).await
}

pub async fn ws_connect_url(addr: SocketAddr, url: &str) -> Result<Ws, tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (stream, _resp) = within(
        "websocket handshake",
        tokio_tungstenite::client_async(url, tcp),
    )
    .await?;
    Ok(Ws { stream })
}

/// The HTTP status a refused websocket handshake got.
#[track_caller]
pub fn refused_status(res: Result<Ws, tungstenite::Error>) -> u16 {
    match res {
        Ok(_) => panic!("the websocket handshake was accepted"),
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("the websocket handshake failed without an HTTP answer: {e}"),
    }
}

impl Ws {
    /// A websocket-only session: connects without a sid and reads the open packet.
    pub async fn open(addr: SocketAddr, path: &str) -> (Ws, String, Value) {
        let mut ws = ws_connect(addr, path, "")
            .await
            .expect("websocket handshake refused");
        let first = ws.recv_text().await;
        assert!(
            first.starts_with('0'),
            "first websocket frame is not an open packet: {first:?}"
        );
        let json: Value = serde_json::from_str(&first[1..]).unwrap();
        let sid = json["sid"].as_str().unwrap().to_owned();
        (ws, sid, json)
    }

    pub async fn send_text(&mut self, s: &str) {
        self.stream.send(WsMessage::text(s)).await.unwrap();
    }

    pub async fn send_binary(&mut self, b: &[u8]) {
        self.stream
            .send(WsMessage::binary(b.to_vec()))
            .await
            .unwrap();
    }

    /// The next text, binary or close frame (websocket-level pings are answered by tungstenite).
    pub async fn recv(&mut self) -> Frame {
        loop {
            match within("a websocket frame", self.stream.next()).await {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return Frame::Closed,
                Some(Ok(WsMessage::Text(t))) => return Frame::Text(t.as_str().to_owned()),
                Some(Ok(WsMessage::Binary(b))) => return Frame::Binary(b.to_vec()),
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Frame::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame that is not an Engine.IO ping (`2`, answered with `3`) nor a noop.
    pub async fn recv_data(&mut self) -> Frame {
        loop {
            match self.recv().await {
                Frame::Text(t) if t == "2" => self.send_text("3").await,
                Frame::Text(t) if t == "6" => {}
                f => return f,
            }
        }
    }

    /// Reads until the server closes the connection; fails on any data frame but pings/noops.
    pub async fn expect_closed(&mut self) {
        loop {
            match self.recv().await {
                Frame::Closed => return,
                Frame::Text(t) if t == "2" || t == "6" => {}
                f => panic!("expected the websocket to be closed, got {f:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        self.stream.close(None).await.ok();
        // Drain until the server's close frame or the end of the stream.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(DEADLINE, self.stream.next()).await {}
    }
}
