//! The Redis streams adapter ([`RedisStreamsAdapter`], wire-compatible with Node's
//! `@socket.io/redis-streams-adapter` 0.3) against a real `redis-server`: Rust nodes alone
//! (`cluster`), a client that drops from one node and recovers on another (`recovery`), and Rust
//! and Node nodes on one stream (`mixed`).
//!
//! To make one client come back to another node, the client only knows a [`Proxy`] (a load
//! balancer in miniature) whose target the test switches.

mod cluster;
mod mixed;
mod recovery;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum_socketio::adapter::RedisStreamsAdapter;
use axum_socketio::adapter::redis::redis;
use base64::Engine as _;
use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use super::*;

// ---------------------------------------------------------------------------------------------
// Rust nodes on the streams adapter

/// A Rust server with the streams adapter. Its handlers, on `/` and `/chat`: a fresh socket joins
/// `auth.rooms` and gets `auth.data` as its data; a recovered one is left as it came back. Every
/// connection is logged as `connection` `{nsp, id, recovered, rooms (without its own), data}`.
/// Server-side events `sse` (logged, answered with `{"from": <name>, "args": …}`) and
/// `sse-silent` (logged, never answered).
pub struct StreamsNode {
    pub sio: Sio,
    pub adapter: RedisStreamsAdapter,
    pub log: Log,
}

/// A streams node; `recovery`: connection state recovery with this window (skip middlewares).
pub async fn streams_node(
    redis: &RedisServer,
    name: &str,
    recovery: Option<Duration>,
) -> StreamsNode {
    crate::common::init_tracing();
    let adapter = RedisStreamsAdapter::builder()
        .url(&redis.url())
        .requests_timeout(REQUESTS_TIMEOUT)
        // Short blocking reads: a reader never sits long on a dead connection in these tests.
        .block_time(ms(500))
        .connect()
        .await
        .expect("the Redis streams adapter connects");
    let mut b = builder().adapter(adapter.clone());
    if let Some(window) = recovery {
        b = b.connection_state_recovery(window, true);
    }
    let sio = start(b).await;
    let log = Log::new();
    for nsp in ["/", "/chat"] {
        let l = log.clone();
        sio.io
            .of(nsp)
            .on_connection(move |socket: Socket, Data(auth): Data<Value>| {
                let log = l.clone();
                async move {
                    if !socket.recovered() {
                        if let Ok(rooms) =
                            serde_json::from_value::<Vec<String>>(auth["rooms"].clone())
                        {
                            socket.join(rooms);
                        }
                        if !auth["data"].is_null() {
                            socket.set_data(&auth["data"]).ok();
                        }
                    }
                    log.push("connection", describe(&socket));
                }
            });
    }
    let (l, who) = (log.clone(), name.to_owned());
    sio.io.on_server_side_emit("sse", move |args: Args| {
        let args = args_json(&args);
        l.push("sse", &args);
        Args::from_serialize(&json!({"from": who, "args": args})).ok()
    });
    let l = log.clone();
    sio.io.on_server_side_emit("sse-silent", move |args: Args| {
        l.push("sse-silent", args_json(&args));
        None
    });
    StreamsNode { sio, adapter, log }
}

/// `{nsp, id, recovered, rooms, data}` with the rooms sorted and without the socket's own.
pub fn describe(socket: &Socket) -> Value {
    let mut rooms: Vec<String> = socket
        .rooms()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r != socket.id())
        .collect();
    rooms.sort();
    json!({
        "nsp": socket.nsp(),
        "id": socket.id(),
        "recovered": socket.recovered(),
        "rooms": rooms,
        "data": socket.data::<Value>(),
    })
}

impl StreamsNode {
    pub fn io(&self) -> &Io {
        &self.sio.io
    }

    /// A socket.io-client driver connected to this node.
    pub async fn clients(&self) -> Js {
        Js::start(&self.sio.url).await
    }
}

/// Options for a Node node on the streams adapter, with recovery (ms) or not.
pub fn node_streams_opts(name: &str, recovery_ms: Option<u64>) -> Value {
    let mut o = json!({"adapter": "streams", "name": name});
    if let Some(ms) = recovery_ms {
        o["recovery"] = json!(ms);
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Either kind of node

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rust,
    Node,
}

/// A Rust or a Node node on the streams adapter, driven the same way.
pub enum Side {
    Rust {
        node: StreamsNode,
        /// How many `connection` log entries were consumed.
        seen: usize,
    },
    Node(Box<NodeServer>),
}

/// An argument for [`Side::emit`]: JSON, or bytes (binary on the wire).
#[derive(Debug, Clone)]
pub enum Arg {
    Json(Value),
    Bin(Vec<u8>),
}

impl Arg {
    /// As sio.mjs prints it.
    pub fn printed(&self) -> Value {
        match self {
            Arg::Json(v) => v.clone(),
            Arg::Bin(b) => crate::socketio::bin(b),
        }
    }
}

impl Side {
    /// A node of `kind` on the streams adapter, with recovery (window) or not.
    pub async fn start(
        redis: &RedisServer,
        kind: Kind,
        name: &str,
        recovery: Option<Duration>,
    ) -> Side {
        match kind {
            Kind::Rust => Side::Rust {
                node: streams_node(redis, name, recovery).await,
                seen: 0,
            },
            Kind::Node => Side::Node(Box::new(
                NodeServer::start(
                    redis,
                    node_streams_opts(name, recovery.map(|d| d.as_millis() as u64)),
                )
                .await,
            )),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Side::Rust { node, .. } => node.sio.addr,
            Side::Node(n) => node_addr(n),
        }
    }

    /// The Rust node's `Io` (panics for a Node node).
    pub fn rust_io(&self) -> Io {
        match self {
            Side::Rust { node, .. } => node.io().clone(),
            Side::Node(_) => panic!("not a Rust node"),
        }
    }

    /// Waits until this node counts `n` servers.
    pub async fn wait_servers(&mut self, n: usize) {
        match self {
            Side::Rust { node, .. } => wait_servers(node.io(), n).await,
            Side::Node(node) => node.wait_servers(n as u64).await,
        }
    }

    /// Broadcasts `event` with one argument to `to` (everyone when empty) except `except`.
    pub async fn emit(&mut self, to: &[&str], except: &[&str], event: &str, arg: &Arg) {
        match self {
            Side::Rust { node, .. } => {
                let op = node.io().to(to.to_vec()).except(except.to_vec());
                match arg {
                    Arg::Json(v) => op.emit(event, v).unwrap(),
                    Arg::Bin(b) => op.emit(event, &Bytes::from(b.clone())).unwrap(),
                }
            }
            Side::Node(node) => {
                node.call(json!({
                    "cmd": "emit", "to": to, "except": except, "event": event,
                    "args": [arg.printed()],
                }))
                .await;
            }
        }
    }

    /// The ids of this node's sockets on `/`.
    pub async fn local_sockets(&mut self) -> Vec<String> {
        match self {
            Side::Rust { node, .. } => node
                .io()
                .sockets()
                .sockets()
                .iter()
                .map(|s| s.id().to_owned())
                .collect(),
            Side::Node(node) => {
                serde_json::from_value(node.call(json!({"cmd": "local_sockets"})).await).unwrap()
            }
        }
    }

    /// Waits until this node has no socket on `/`.
    pub async fn wait_no_socket(&mut self) {
        let start = tokio::time::Instant::now();
        loop {
            let left = self.local_sockets().await;
            if left.is_empty() {
                return;
            }
            assert!(start.elapsed() < DEADLINE, "sockets left: {left:?}");
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// The next connection this node saw: `{nsp, id, recovered, rooms, data}` (rooms sorted,
    /// without the socket's own).
    pub async fn next_connection(&mut self) -> Value {
        match self {
            Side::Rust { node, seen } => {
                *seen += 1;
                node.log.wait("connection", *seen).await[*seen - 1].clone()
            }
            Side::Node(node) => {
                let l = node
                    .wait("a connection", |l| l["event"] == "connection")
                    .await;
                let mut rooms: Vec<String> = serde_json::from_value(l["rooms"].clone()).unwrap();
                rooms.sort();
                json!({
                    "nsp": l["nsp"], "id": l["sid"], "recovered": l["recovered"],
                    "rooms": rooms, "data": l["data"],
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A switchable TCP proxy

/// A TCP proxy on a free port forwarding every connection to its current target. Switching the
/// target (or to none: connections are then accepted and closed at once) kills every live
/// connection, as a load balancer whose backend went away would.
pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
    accept: AbortHandle,
}

struct ProxyState {
    target: Option<SocketAddr>,
    live: Vec<AbortHandle>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            target: Some(target),
            live: Vec::new(),
        }));
        let st = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // The lock is held until the connection is registered: a switch either sees it
                // (and kills it) or comes before it (and it goes to the new target).
                let mut s = st.lock().unwrap();
                let Some(target) = s.target else {
                    drop(inbound);
                    continue;
                };
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                s.live.retain(|t| !t.is_finished());
                s.live.push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            url: format!("http://{addr}"),
            state,
            accept,
        }
    }

    /// Kills every live connection; new ones go to `target` (or are closed at once).
    pub fn switch_to(&self, target: Option<SocketAddr>) {
        let mut s = self.state.lock().unwrap();
        s.target = target;
        for t in s.live.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.switch_to(None);
        self.accept.abort();
    }
}

/// The address of a Node node.
pub fn node_addr(node: &NodeServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], node.port))
}

// ---------------------------------------------------------------------------------------------
// Looking into Redis

/// A connection of the test's own to the Redis server, to look at the stream and the sessions
/// as a user would with redis-cli.
pub struct Inspect {
    conn: redis::aio::MultiplexedConnection,
}

impl Inspect {
    pub async fn new(server: &RedisServer) -> Inspect {
        let client = redis::Client::open(server.url()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        Inspect { conn }
    }

    pub async fn xlen(&mut self, stream: &str) -> usize {
        redis::cmd("XLEN")
            .arg(stream)
            .query_async(&mut self.conn)
            .await
            .unwrap()
    }

    /// The keys of the stored sessions (`sio:session:*`).
    pub async fn session_keys(&mut self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("sio:session:*")
            .query_async(&mut self.conn)
            .await
            .unwrap();
        keys.sort();
        keys
    }

    /// Waits until exactly one session is stored and returns it decoded (base64 msgpack, as
    /// Node stores it): `{sid, pid, rooms, data}`.
    pub async fn one_session(&mut self) -> Value {
        let start = tokio::time::Instant::now();
        loop {
            let keys = self.session_keys().await;
            assert!(keys.len() <= 1, "more than one session stored: {keys:?}");
            if let Some(key) = keys.first() {
                let raw: Option<String> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut self.conn)
                    .await
                    .unwrap();
                if let Some(raw) = raw {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(raw.as_bytes())
                        .unwrap_or_else(|e| panic!("session {key} is not base64 ({e}): {raw}"));
                    let v = rmpv::decode::read_value(&mut &bytes[..])
                        .unwrap_or_else(|e| panic!("session {key} is not msgpack ({e})"));
                    let v = tree_json(&v);
                    assert_eq!(
                        key.strip_prefix("sio:session:"),
                        v["pid"].as_str(),
                        "the key names the pid"
                    );
                    return v;
                }
            }
            assert!(start.elapsed() < DEADLINE, "no session was ever stored");
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// Waits until no session is stored.
    pub async fn wait_no_session(&mut self) {
        let start = tokio::time::Instant::now();
        loop {
            let keys = self.session_keys().await;
            if keys.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "sessions still stored: {keys:?}"
            );
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// Runs `emit` and waits until the stream `socket.io` has one more entry: emits from
    /// different nodes then land in the stream in the order the test made them.
    pub async fn appended(&mut self, emit: impl AsyncFnOnce()) {
        let before = self.xlen("socket.io").await;
        emit().await;
        let start = tokio::time::Instant::now();
        while self.xlen("socket.io").await <= before {
            assert!(
                start.elapsed() < DEADLINE,
                "the emit never reached the stream"
            );
            tokio::time::sleep(ms(5)).await;
        }
    }
}

/// Events as the client printed them, with the offset (the trailing stream id) split off:
/// `(name, args without the offset, offset)`.
pub fn split_offsets(events: &[Value], name: &str) -> Vec<(Value, String)> {
    events
        .iter()
        .map(|args| {
            let mut args = args.as_array().unwrap().clone();
            let offset = args
                .pop()
                .and_then(|o| o.as_str().map(str::to_owned))
                .unwrap_or_else(|| panic!("{name} without an offset: {args:?}"));
            assert!(
                is_stream_id(&offset),
                "the offset of {name} {args:?} is not a stream entry id: {offset:?}"
            );
            (Value::Array(args), offset)
        })
        .collect()
}

/// `<ms>-<seq>`, as Redis names stream entries (and Node's adapter checks offsets).
pub fn is_stream_id(s: &str) -> bool {
    let mut parts = s.split('-');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Orders stream ids.
pub fn stream_id_key(s: &str) -> (u64, u64) {
    let (a, b) = s.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}
