//! The Redis adapter against real parts: a real `redis-server` (started here on a free port,
//! killed on drop), real Node `socket.io` 4.8 servers with `@socket.io/redis-adapter` 8 and an
//! `@socket.io/redis-emitter` 5 (`tests/js/cluster-node.mjs`), and the npm `socket.io-client`
//! (`tests/js/sio.mjs`, through [`Js`]) on every server.
//!
//! Every node of a test runs with short timeouts, so the whole module runs in seconds.

mod latency;
mod mixed;
mod outage;
mod rust_only;
mod streams;

use std::collections::{BTreeSet, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_socketio::adapter::{RedisAdapter, RedisAdapterBuilder};
use axum_socketio::{Args, Data, Io, Socket};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use crate::common::{DEADLINE, js_dir, ms, wait_until};
use crate::socketio::{Js, Log, Sio, builder, start};

/// How long a node waits for the others' answers in these tests.
pub const REQUESTS_TIMEOUT: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------------------------
// redis-server

/// A `redis-server` of its own on a free port, without persistence; killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        // A port taken between the probe and redis-server's bind makes it exit: try another.
        for _ in 0..5 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let mut server = RedisServer { port, child: None };
            if server.spawn().await {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts redis-server on `self.port`; false when it exited (the port was taken).
    async fn spawn(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): run ./scripts/test once, it installs it")
            });
        let pid = child.id();
        self.child = Some(child);
        let start = tokio::time::Instant::now();
        loop {
            // The server on the port must be ours (its INFO names our child's pid), not another
            // test's that got the same port.
            if self.pid().await == Some(pid) {
                return true;
            }
            if let Some(child) = self.child.as_mut() {
                if !matches!(child.try_wait(), Ok(None)) {
                    self.child = None;
                    return false;
                }
            }
            assert!(
                start.elapsed() < DEADLINE,
                "redis-server did not start on port {}",
                self.port
            );
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// The `process_id` of the server on the port, if one answers.
    async fn pid(&self) -> Option<u32> {
        use tokio::io::AsyncReadExt as _;
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        tcp.write_all(b"INFO server\r\n").await.ok()?;
        let mut reply = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            loop {
                let n = tcp.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                reply.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&reply);
                if let Some(line) = text.lines().find(|l| l.starts_with("process_id:")) {
                    return line["process_id:".len()..].trim().parse().ok();
                }
            }
        };
        tokio::time::timeout(ms(500), read).await.ok()?
    }

    /// Kills the server (SIGKILL): every connection drops at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn().await,
            "redis-server did not restart on {}",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Rust nodes

/// A Rust server with the Redis adapter. Its handlers: on connection, join `auth.rooms` and set
/// `auth.data` as the socket's data (namespaces `/` and `/chat`); server-side events `sse`
/// (logged, answered with `{"from": <name>, "args": …}`) and `sse-silent` (logged, never
/// answered).
pub struct RustNode {
    pub sio: Sio,
    pub adapter: RedisAdapter,
    pub log: Log,
}

pub async fn rust_node(redis: &RedisServer, name: &str) -> RustNode {
    rust_node_with(redis, name, |b| b).await
}

pub async fn rust_node_with(
    redis: &RedisServer,
    name: &str,
    configure: impl FnOnce(RedisAdapterBuilder) -> RedisAdapterBuilder,
) -> RustNode {
    crate::common::init_tracing();
    let adapter = configure(
        RedisAdapter::builder()
            .url(redis.url())
            .requests_timeout(REQUESTS_TIMEOUT),
    )
    .connect()
    .await
    .expect("the Redis adapter connects");
    let sio = start(builder().adapter(adapter.clone())).await;
    let log = Log::new();
    for nsp in ["/", "/chat"] {
        let l = log.clone();
        sio.io
            .of(nsp)
            .on_connection(move |socket: Socket, Data(auth): Data<Value>| {
                let log = l.clone();
                async move {
                    if let Ok(rooms) = serde_json::from_value::<Vec<String>>(auth["rooms"].clone())
                    {
                        socket.join(rooms);
                    }
                    if !auth["data"].is_null() {
                        socket.set_data(&auth["data"]).ok();
                    }
                    log.push("connection", (socket.nsp(), socket.id()));
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
    RustNode { sio, adapter, log }
}

impl RustNode {
    pub fn io(&self) -> &Io {
        &self.sio.io
    }

    /// A socket.io-client driver connected to this node.
    pub async fn clients(&self) -> Js {
        Js::start(&self.sio.url).await
    }
}

/// Waits until the cluster has `n` servers, as `io`'s adapter counts them.
pub async fn wait_servers(io: &Io, n: usize) {
    let start = tokio::time::Instant::now();
    loop {
        if let Ok(got) = io.sockets().adapter().server_count().await {
            if got == n {
                return;
            }
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the cluster never had {n} servers"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

/// Arguments as JSON, binary as sio.mjs prints it (`{"$bin": base64}`).
pub fn args_json(args: &Args) -> Value {
    Value::Array(args.to_values().unwrap().iter().map(tree_json).collect())
}

fn tree_json(v: &rmpv::Value) -> Value {
    match v {
        rmpv::Value::Binary(b) => {
            json!({"$bin": base64::engine::general_purpose::STANDARD.encode(b)})
        }
        rmpv::Value::Array(items) => Value::Array(items.iter().map(tree_json).collect()),
        rmpv::Value::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or("?").to_owned(), tree_json(v)))
                .collect(),
        ),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

/// Connects client `id` of `js` (websocket only) with rooms and data.
pub async fn connect(js: &mut Js, id: &str, nsp: &str, rooms: &[&str]) -> String {
    let r = js
        .connect(
            id,
            nsp,
            json!({
                "transports": ["websocket"],
                "reconnection": false,
                "auth": {"rooms": rooms, "data": {"name": id}},
            }),
        )
        .await;
    r["sid"].as_str().unwrap().to_owned()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Node servers

/// A Node socket.io server with the Redis adapter (`tests/js/cluster-node.mjs`), driven by
/// commands; also drives an `@socket.io/redis-emitter`.
pub struct NodeServer {
    pub port: u16,
    pub url: String,
    /// Killed on drop.
    _child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    pending: VecDeque<Value>,
    stderr: Arc<Mutex<String>>,
    next_req: u64,
}

impl NodeServer {
    pub async fn start(redis: &RedisServer, opts: Value) -> NodeServer {
        let mut opts = opts;
        if opts.get("requestsTimeout").is_none() {
            opts["requestsTimeout"] = json!(REQUESTS_TIMEOUT.as_millis() as u64);
        }
        let dir = js_dir();
        assert!(
            dir.join("node_modules/@socket.io/redis-adapter").is_dir(),
            "tests/js/node_modules lacks @socket.io/redis-adapter: run ./scripts/test once"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("cluster-node.mjs"))
            .arg(redis.url())
            .arg(opts.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot run node");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let v = serde_json::from_str(&line).unwrap_or_else(
                    |e| json!({"event": "garbage", "line": line, "error": e.to_string()}),
                );
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut node = NodeServer {
            port: 0,
            url: String::new(),
            _child: child,
            stdin,
            lines,
            pending: VecDeque::new(),
            stderr,
            next_req: 0,
        };
        let listening = node
            .wait("the Node server listening", |l| l["event"] == "listening")
            .await;
        node.port = listening["port"].as_u64().unwrap() as u16;
        node.url = format!("http://127.0.0.1:{}", node.port);
        node
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The first line (already seen or coming) for which `pred` holds; consumes it.
    pub async fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).unwrap();
        }
        loop {
            let line = match tokio::time::timeout(DEADLINE, self.lines.recv()).await {
                Ok(Some(v)) => v,
                Ok(None) => {
                    tokio::time::sleep(ms(50)).await;
                    panic!(
                        "cluster-node.mjs ended while waiting for {what}\n--- stderr\n{}",
                        self.stderr()
                    )
                }
                Err(_) => panic!(
                    "timed out waiting for {what} from cluster-node.mjs\n--- seen\n{:#?}\n--- stderr\n{}",
                    self.pending,
                    self.stderr()
                ),
            };
            if pred(&line) {
                return line;
            }
            self.pending.push_back(line);
        }
    }

    /// Runs a command and returns its result.
    pub async fn call(&mut self, mut cmd: Value) -> Value {
        self.next_req += 1;
        let req = self.next_req;
        cmd["req"] = json!(req);
        let line = format!("{cmd}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| {
                panic!("cannot write to cluster-node.mjs ({e})\n{}", self.stderr())
            });
        self.stdin.flush().await.unwrap();
        let reply = self
            .wait(&format!("the answer to {cmd}"), |l| l["req"] == json!(req))
            .await;
        if let Some(fail) = reply.get("fail") {
            panic!(
                "cluster-node.mjs could not run {cmd}: {}",
                fail.as_str().unwrap_or("")
            );
        }
        reply["result"].clone()
    }

    /// Waits until the Node server counts `n` servers.
    pub async fn wait_servers(&mut self, n: u64) {
        let start = tokio::time::Instant::now();
        loop {
            if self.call(json!({"cmd": "server_count"})).await == json!(n) {
                return;
            }
            assert!(start.elapsed() < DEADLINE, "Node never counted {n} servers");
            tokio::time::sleep(ms(20)).await;
        }
    }

    /// The next server-side event `name` the Node server got.
    pub async fn server_side(&mut self, name: &str) -> Value {
        let l = self
            .wait(&format!("server-side event {name}"), |l| {
                l["event"] == "server_side" && l["name"] == name
            })
            .await;
        l["args"].clone()
    }

    /// A socket.io-client driver connected to this node.
    pub async fn clients(&self) -> Js {
        Js::start(&self.url).await
    }
}
