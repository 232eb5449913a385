//! The Socket.IO server end to end: real TCP, real clients (the npm `socket.io-client` driven
//! through `tests/js/sio.mjs`, python-socketio through `tests/py/`, and raw websockets for what a
//! well-behaved client never sends).
//!
//! Helpers here: [`start`] serves a layer on a free port; [`Js`] drives one Node process holding
//! any number of socket.io clients; [`Log`] records what server handlers saw; [`Sio::assert_clean`]
//! checks that nothing is left behind once every client is gone.

#![allow(dead_code)]

mod acks;
mod auth;
mod bad_input;
mod binary;
mod broadcast_acks;
mod disconnect;
mod dynamic_namespaces;
mod extractors;
mod handlers;
mod load;
mod namespaces;
mod python;
mod reconnection;
mod remote;
mod rooms;
mod transports;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum_socketio::{Io, SocketIoBuilder, SocketIoLayer};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use crate::common::{DEADLINE, Ws, js_dir, ms, serve, wait_until, within};

// ---------------------------------------------------------------------------------------------
// Server

/// The builder every test starts from: a ping every 300 ms (so heartbeats interleave with the
/// traffic of every test), a 1 s connect timeout. The ping timeout is 1 s rather than 200 ms:
/// socket.io-client closes its connection when no ping came within interval + timeout, and on a
/// loaded 2-core CI machine 500 ms is not always enough. Tests of the ping timeout itself use
/// [`fast_heartbeat`].
pub fn builder() -> SocketIoBuilder {
    SocketIoLayer::builder()
        .ping_interval(ms(300))
        .ping_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
}

/// [`builder`] with a 200 ms ping timeout.
pub fn fast_heartbeat() -> SocketIoBuilder {
    builder().ping_timeout(ms(200))
}

/// A Socket.IO server on a free port.
pub struct Sio {
    pub io: Io,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub url: String,
}

/// Serves `Router::new().layer(layer)`.
pub async fn start(b: SocketIoBuilder) -> Sio {
    let layer = b.build();
    let io = layer.io();
    start_app(io, Router::new().layer(layer)).await
}

/// Serves `app` (which must contain the layer `io` comes from).
pub async fn start_app(io: Io, app: Router) -> Sio {
    let addr = serve(app).await;
    Sio {
        io,
        addr,
        url: format!("http://{addr}"),
    }
}

impl Sio {
    /// Waits until no connection, no socket and no room is left on any namespace; fails with
    /// what is left otherwise.
    pub async fn assert_clean(&self) {
        let start = tokio::time::Instant::now();
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            if start.elapsed() > DEADLINE {
                panic!("the server still holds: {left:#?}");
            }
            tokio::time::sleep(ms(10)).await;
        }
    }

    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        let clients = self.io.client_count();
        if clients != 0 {
            left.push(format!("{clients} engine connections"));
        }
        for ns in self.io.namespaces() {
            let sockets = ns.sockets();
            if !sockets.is_empty() {
                left.push(format!("{} sockets on {}", sockets.len(), ns.name()));
            }
            let rooms = ns.adapter().local_rooms();
            if !rooms.is_empty() {
                left.push(format!("rooms {rooms:?} on {}", ns.name()));
            }
        }
        left
    }

    /// The number of sockets of `/`.
    pub fn count(&self) -> usize {
        self.io.sockets().sockets().len()
    }
}

// ---------------------------------------------------------------------------------------------
// What the server saw

/// A record of what server handlers saw: `(what, value)` pairs in the order they happened.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(String, Value)>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, what: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap();
        self.0.lock().unwrap().push((what.to_owned(), value));
    }

    /// Every value recorded under `what`, in order.
    pub fn all(&self, what: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(w, _)| w == what)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Waits until `n` values were recorded under `what`, and returns them all.
    pub async fn wait(&self, what: &str, n: usize) -> Vec<Value> {
        wait_until(&format!("{n} {what:?} in the server log"), || {
            self.all(what).len() >= n
        })
        .await;
        self.all(what)
    }

    /// Waits for the first value recorded under `what`.
    pub async fn one(&self, what: &str) -> Value {
        self.wait(what, 1).await.remove(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The npm socket.io-client, through tests/js/sio.mjs

/// One Node process running `tests/js/sio.mjs`: any number of socket.io clients, driven by
/// commands, reporting what they observe.
pub struct Js {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    pending: VecDeque<Value>,
    stderr: Arc<Mutex<String>>,
    next_req: u64,
}

impl Js {
    /// Starts the driver against `url`, with default Manager options `opts` (merged into every
    /// client's options).
    pub async fn start(url: &str) -> Js {
        Self::start_with(url, json!({})).await
    }

    pub async fn start_with(url: &str, opts: Value) -> Js {
        Self::start_script("sio.mjs", url, json!({ "opts": opts, "timeoutMs": 30000 })).await
    }

    /// Starts another driver of `tests/js` that speaks the same line protocol (`compat.mjs`),
    /// with `args` as its JSON argument.
    pub async fn start_script(script: &str, url: &str, args: Value) -> Js {
        let dir = js_dir();
        assert!(
            dir.join("node_modules").is_dir(),
            "tests/js/node_modules is missing: run ./scripts/test once (or `npm ci` in tests/js)"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join(script))
            .arg(url)
            .arg(args.to_string())
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
                let v: Value = serde_json::from_str(&line).unwrap_or_else(
                    |e| json!({ "event": "garbage", "line": line, "error": e.to_string() }),
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
        Js {
            child,
            stdin,
            lines,
            pending: VecDeque::new(),
            stderr,
            next_req: 0,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next line from the driver, waiting at most [`DEADLINE`].
    async fn read_line(&mut self, what: &str) -> Value {
        match tokio::time::timeout(DEADLINE, self.lines.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                // Give stderr a moment to be collected.
                tokio::time::sleep(ms(50)).await;
                panic!(
                    "sio.mjs ended while waiting for {what}\n--- seen\n{:#?}\n--- stderr\n{}",
                    self.pending,
                    self.stderr()
                )
            }
            Err(_) => panic!(
                "timed out waiting for {what} from sio.mjs\n--- seen, not consumed\n{:#?}\n--- stderr\n{}",
                self.pending,
                self.stderr()
            ),
        }
    }

    /// Sends a command and returns its `result`; fails the test when the driver could not run it.
    pub async fn call(&mut self, cmd: Value) -> Value {
        let req = self.send(cmd).await;
        self.reply(req).await
    }

    /// Sends a command without waiting for its answer; returns its number for
    /// [`reply`](Self::reply).
    pub async fn send(&mut self, mut cmd: Value) -> u64 {
        self.next_req += 1;
        let req = self.next_req;
        cmd["req"] = json!(req);
        let line = format!("{cmd}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("cannot write to sio.mjs ({e})\n{}", self.stderr()));
        self.stdin.flush().await.unwrap();
        req
    }

    /// The `result` of command `req`.
    pub async fn reply(&mut self, req: u64) -> Value {
        let reply = self
            .wait(&format!("the answer to command {req}"), |l| {
                l["req"] == json!(req)
            })
            .await;
        if let Some(fail) = reply.get("fail") {
            panic!(
                "sio.mjs could not run command {req}: {}",
                fail.as_str().unwrap_or("")
            );
        }
        reply["result"].clone()
    }

    /// The first line (seen before and not consumed yet, or coming) for which `pred` holds;
    /// consumes it.
    pub async fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).unwrap();
        }
        loop {
            let line = self.read_line(what).await;
            if pred(&line) {
                return line;
            }
            self.pending.push_back(line);
        }
    }

    /// Reads whatever the driver has printed so far without waiting.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.pending.push_back(line);
        }
    }

    /// Consumes every line seen so far for which `pred` holds.
    pub fn take(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.drain();
        let (taken, kept): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|l| pred(l));
        self.pending = kept.into();
        taken
    }

    /// Connects client `id` to `ns` with these options (Manager options, plus `auth`,
    /// `manager`, `waitUpgrade`); fails the test unless it connects. Returns
    /// `{connected, sid, transport}`.
    pub async fn connect(&mut self, id: &str, ns: &str, opts: Value) -> Value {
        let r = self.try_connect(id, ns, opts).await;
        assert_eq!(
            r["connected"], true,
            "client {id} did not connect to {ns}: {r}"
        );
        self.wait(&format!("{id}'s connect event"), |l| {
            l["id"] == id && l["event"] == "connect"
        })
        .await;
        r
    }

    /// Like [`connect`](Self::connect), but returns a refusal (`{connected: false, message,
    /// data}`) instead of failing.
    pub async fn try_connect(&mut self, id: &str, ns: &str, opts: Value) -> Value {
        let mut cmd = json!({ "cmd": "connect", "id": id, "ns": ns });
        let mut client_opts = serde_json::Map::new();
        for (k, v) in opts.as_object().cloned().unwrap_or_default() {
            match k.as_str() {
                "auth" | "manager" | "waitUpgrade" | "wait" => {
                    cmd[k] = v;
                }
                _ => {
                    client_opts.insert(k, v);
                }
            }
        }
        cmd["opts"] = Value::Object(client_opts);
        self.call(cmd).await
    }

    /// Emits without an ack.
    pub async fn emit(&mut self, id: &str, name: &str, args: Value) {
        self.call(json!({ "cmd": "emit", "id": id, "name": name, "args": args }))
            .await;
    }

    /// Emits with an ack callback and returns the ack's arguments.
    pub async fn emit_ack(&mut self, id: &str, name: &str, args: Value) -> Value {
        let r = self
            .call(json!({ "cmd": "emit", "id": id, "name": name, "args": args, "ack": "callback" }))
            .await;
        r["args"].clone()
    }

    /// Makes client `id` answer the server's acks for `name` with `reply` (an argument list).
    pub async fn answer(&mut self, id: &str, name: &str, reply: Value) {
        self.call(json!({ "cmd": "answer", "id": id, "name": name, "reply": reply }))
            .await;
    }

    /// Waits for server event `name` on client `id` and returns its arguments.
    pub async fn event(&mut self, id: &str, name: &str) -> Value {
        let l = self
            .wait(&format!("event {name:?} on client {id}"), |l| {
                l["id"] == id && l["event"] == "event" && l["name"] == name
            })
            .await;
        l["args"].clone()
    }

    /// Every server event `name` client `id` got so far (consumed).
    pub fn events(&mut self, id: &str, name: &str) -> Vec<Value> {
        self.take(|l| l["id"] == id && l["event"] == "event" && l["name"] == name)
            .into_iter()
            .map(|l| l["args"].clone())
            .collect()
    }

    /// Waits for client `id`'s next disconnect and returns the reason the client gives.
    pub async fn disconnect_reason(&mut self, id: &str) -> String {
        let l = self
            .wait(&format!("client {id} disconnecting"), |l| {
                l["id"] == id && l["event"] == "disconnect"
            })
            .await;
        l["reason"].as_str().unwrap().to_owned()
    }

    pub async fn disconnect(&mut self, id: &str) {
        self.call(json!({ "cmd": "disconnect", "id": id })).await;
    }

    pub async fn state(&mut self, id: &str) -> Value {
        self.call(json!({ "cmd": "state", "id": id })).await
    }

    /// Ends the driver cleanly (every client disconnects) and checks it exited 0.
    pub async fn exit(mut self) {
        self.call(json!({ "cmd": "exit" })).await;
        let status = within("sio.mjs to exit", self.child.wait()).await.unwrap();
        assert!(
            status.success(),
            "sio.mjs exited with {status}\n{}",
            self.stderr()
        );
    }

    /// Kills the Node process: its connections drop without a goodbye.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Raw Socket.IO over a websocket

/// A raw websocket-only Engine.IO session at `/socket.io/`, with the Socket.IO CONNECT to `/`
/// done: returns the socket and the socket id the server gave.
pub async fn raw_connect(addr: SocketAddr) -> (Ws, String) {
    let (mut ws, _, _) = Ws::open(addr, "/socket.io").await;
    ws.send_text("40").await;
    let reply = ws.recv_data().await;
    let crate::common::Frame::Text(t) = reply else {
        panic!("expected the CONNECT reply, got {reply:?}");
    };
    assert!(
        t.starts_with("40{"),
        "expected the CONNECT reply, got {t:?}"
    );
    let v: Value = serde_json::from_str(&t[2..]).unwrap();
    (ws, v["sid"].as_str().unwrap().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Values

/// Binary as sio.mjs prints and reads it: `{"$bin": "<base64>"}`.
pub fn bin(bytes: &[u8]) -> Value {
    json!({ "$bin": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// A Uint8Array for sio.mjs commands.
pub fn u8a(bytes: &[u8]) -> Value {
    json!({ "$u8": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// An ArrayBuffer for sio.mjs commands.
pub fn array_buffer(bytes: &[u8]) -> Value {
    json!({ "$ab": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// Every byte value, then a few more.
pub fn sample_bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Runs a command with a deadline, returning its exit status, stdout and stderr.
pub async fn run_process(
    mut cmd: tokio::process::Command,
    what: &str,
    limit: Duration,
) -> (std::process::ExitStatus, String, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("{what} ran longer than {limit:?}"),
    };
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
