//! Scenario `recovery` (issue 7): what connection state recovery keeps, in bytes: per stored
//! session and per stored packet.
//!
//! Not a [`Scenario`](crate::Scenario) of the main loop: it starts servers of its own (with
//! recovery on, off, or on the Redis streams adapter) and a `redis-server`, and reads Redis'
//! `used_memory` as well as the server's RSS. Servers: `examples/bench_recovery.rs` (ours) and
//! `bench/node/recovery.js` (Node socket.io, in-memory recovery), the same handlers frame for
//! frame.
//!
//! - **sessions**: in batches of a fixed size, clients connect over websocket, `setup` (join a
//!   room, set `data = {"name": …}`, ack), then drop their TCP connection without a close frame
//!   (the server sees a transport close: recoverable, so it keeps the session). Once the server
//!   counts only the control connection again, the next batch goes. At each step (1k, 5k, 10k
//!   sessions kept) the control connection asks for a `gc` (Node collects garbage and acks its
//!   V8 heap in use; ours only acks) and the harness reads the server's RSS once it settles, and
//!   Redis' `used_memory`. At most 100 clients live at a time: the memory of the live
//!   connections is the same at every step, so the slope between steps is what the kept
//!   sessions cost. At the end a session is restored (`40{"pid","offset"}` gets its old sid
//!   back), or the run counts as broken.
//! - **packets**: a witness joins "bench", gets one broadcast (its offset) and drops; then the
//!   control connection sends `bcast` with a 32 B string (`io.to("bench").emit("msg", v)`: stored,
//!   delivered to no one) up to each step of packets kept (1k, 5k, 10k: within the memory
//!   adapter's 10 000), RSS and `used_memory` read as above. At the end the witness is restored
//!   and must get every broadcast it missed.
//! - **control**: the same load with recovery off (ours and Node): the slope of what is not kept.
//!
//! Every step has a timeout; a run stops at its first error and records it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::eio::{self, STEP};
use crate::peers::{Peer, Programs};
use crate::scenarios::{Ctx, payload};
use crate::sys::{self, within};
use crate::ws::Ws;

/// The name `--only` knows it by.
pub const NAME: &str = "recovery";

/// Clients connecting (then dropping) at a time in the sessions runs.
const PARALLEL: usize = 100;

/// The memory adapter keeps at most this many packets per namespace (`MAX_STORED_PACKETS`).
const OURS_MAX_STORED: usize = 10_000;

/// A server configuration measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setup {
    /// ours, in-memory adapter, recovery on
    OursMemory,
    /// ours, recovery off: the control
    OursOff,
    /// ours, `RedisStreamsAdapter`, recovery on
    OursRedis,
    /// Node socket.io 4.8, in-memory adapter, `connectionStateRecovery` on
    Node,
    /// Node, recovery off: the control
    NodeOff,
}

impl Setup {
    const ALL: [Setup; 5] = [
        Setup::OursMemory,
        Setup::OursOff,
        Setup::OursRedis,
        Setup::Node,
        Setup::NodeOff,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Setup::OursMemory => "axum-socketio (ours), memory adapter",
            Setup::OursOff => "ours, recovery off (control)",
            Setup::OursRedis => "ours, Redis streams adapter",
            Setup::Node => "Node socket.io, in-memory",
            Setup::NodeOff => "Node, recovery off (control)",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setup::OursMemory => "ours-memory",
            Setup::OursOff => "ours-off",
            Setup::OursRedis => "ours-redis",
            Setup::Node => "node",
            Setup::NodeOff => "node-off",
        }
    }

    fn peer(self) -> Peer {
        match self {
            Setup::OursMemory | Setup::OursOff | Setup::OursRedis => Peer::Ours,
            Setup::Node | Setup::NodeOff => Peer::Node,
        }
    }

    fn recovery(self) -> bool {
        !matches!(self, Setup::OursOff | Setup::NodeOff)
    }

    /// The control of a setup (same server, recovery off).
    fn control(self) -> Option<Setup> {
        match self {
            Setup::OursMemory => Some(Setup::OursOff),
            Setup::Node => Some(Setup::NodeOff),
            _ => None,
        }
    }
}

/// What is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    Sessions,
    Packets,
}

impl What {
    fn item(self) -> &'static str {
        match self {
            What::Sessions => "session",
            What::Packets => "packet",
        }
    }

    fn name(self) -> &'static str {
        match self {
            What::Sessions => "sessions",
            What::Packets => "packets",
        }
    }
}

/// One reading: `n` items kept, the server's RSS, Redis' `used_memory` (Redis setups).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Point {
    pub n: u64,
    pub rss_kib: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_bytes: Option<u64>,
    /// Node: the V8 heap in use after a full collection (`process.memoryUsage().heapUsed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_bytes: Option<u64>,
}

/// One repetition of one setup and kind: its readings, the first at the start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub setup: Setup,
    pub what: What,
    pub points: Vec<Point>,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub secs: f64,
}

struct Plan {
    sessions: Vec<usize>,
    packets: Vec<usize>,
    /// Clients connected (then dropped) at a time.
    batch: usize,
    reps: usize,
}

fn plan(quick: bool, reps: usize) -> Plan {
    if quick {
        Plan {
            sessions: vec![20, 50],
            packets: vec![20, 50],
            batch: 10,
            reps: 1,
        }
    } else {
        Plan {
            sessions: vec![1000, 5000, 10000],
            packets: vec![1000, 5000, 10000],
            batch: 500,
            reps,
        }
    }
}

/// Runs every setup the peers allow (ours: memory, control, Redis when `redis-server` is
/// installed; Node: in-memory and control), `reps` times each, setups interleaved.
pub async fn run(
    ctx: &Ctx,
    quick: bool,
    reps: usize,
    pinned: bool,
    progs: &Programs,
    peers: &[Peer],
    started: Instant,
) -> Vec<Run> {
    let plan = plan(quick, reps);
    let ours = std::env::var_os("SIO_BENCH_RECOVERY")
        .map(PathBuf::from)
        .unwrap_or_else(|| progs.ours.with_file_name("bench_recovery"));
    let have_redis = crate::which("redis-server");
    let mut setups = Vec::new();
    for s in Setup::ALL {
        if !peers.contains(&s.peer()) {
            continue;
        }
        let missing = match s.peer() {
            Peer::Ours if !ours.is_file() => Some(format!("{} is not built", ours.display())),
            Peer::Node if !progs.available(Peer::Node) => Some("node_modules missing".into()),
            _ if s == Setup::OursRedis && !have_redis => Some("redis-server not found".into()),
            _ => None,
        };
        match missing {
            Some(why) => eprintln!("recovery: {} left out ({why})", s.name()),
            None => setups.push(s),
        }
    }
    let mut out = Vec::new();
    for rep in 0..plan.reps {
        for what in [What::Sessions, What::Packets] {
            // A quick run leaves the controls out (they only run the same code with recovery off).
            for &setup in setups.iter().filter(|s| !quick || s.recovery()) {
                let t = Instant::now();
                let mut r = match one(ctx, &plan, pinned, progs, &ours, setup, what).await {
                    Ok(r) => r,
                    Err(e) => Run {
                        setup,
                        what,
                        points: Vec::new(),
                        errors: 1,
                        note: Some(e.to_string()),
                        secs: 0.0,
                    },
                };
                r.secs = t.elapsed().as_secs_f64();
                eprintln!(
                    "[{:>6.1}s] {:<17} {:<12} {:<8} rep {}: {}  ({:.1}s)",
                    started.elapsed().as_secs_f64(),
                    NAME,
                    setup.name(),
                    what.name(),
                    rep + 1,
                    one_line(&r),
                    r.secs
                );
                out.push(r);
            }
        }
    }
    out
}

fn one_line(r: &Run) -> String {
    let pts: Vec<String> = r
        .points
        .iter()
        .map(|p| {
            let mut s = format!("{}:{:.1}MiB", p.n, p.rss_kib as f64 / 1024.0);
            if let Some(b) = p.redis_bytes {
                s.push_str(&format!("/redis {:.2}MiB", b as f64 / 1048576.0));
            }
            s
        })
        .collect();
    let mut s = format!("rss {}", pts.join(" "));
    for (m, label) in [
        (Metric::Rss, ""),
        (Metric::Redis, "redis "),
        (Metric::Heap, "v8 heap "),
    ] {
        if let Some(v) = slope(r, m) {
            s.push_str(&format!("  {label}{v:.0} B/item"));
        }
    }
    if r.errors > 0 {
        s.push_str(&format!(
            "  ERRORS {} ({})",
            r.errors,
            r.note.clone().unwrap_or_default()
        ));
    }
    s
}

/// The runs that saw an error or did not reach their last step (`bench/run --quick` fails on
/// any).
pub fn broken(runs: &[Run]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.errors > 0 || r.points.len() < 3)
        .map(|r| {
            format!(
                "{NAME} {} {}: {} readings, errors={} {}",
                r.setup.name(),
                r.what.name(),
                r.points.len(),
                r.errors,
                r.note.clone().unwrap_or_default()
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// one run

struct Env<'a> {
    ctx: &'a Ctx,
    server: Proc,
    port: u16,
    redis: Option<(Proc, Resp)>,
    ctl: Ws,
    /// the next ack id of the control connection
    id: u64,
}

async fn one(
    ctx: &Ctx,
    plan: &Plan,
    pinned: bool,
    progs: &Programs,
    ours: &Path,
    setup: Setup,
    what: What,
) -> io::Result<Run> {
    let redis = if setup == Setup::OursRedis {
        let port = free_port()?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&progs.log_dir);
        let p = Proc::spawn(cmd, &progs.log_dir, &format!("redis-{port}"))?;
        let conn = within(STEP, "redis-server start", async {
            let t = Instant::now();
            loop {
                if let Ok(mut c) = Resp::connect(port).await
                    && c.cmd(&["PING"]).await.is_ok()
                {
                    return Ok(c);
                }
                if t.elapsed() > STEP / 2 {
                    return Err(io::Error::other("redis-server does not answer"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await?;
        Some((p, conn, port))
    } else {
        None
    };
    let port = free_port()?;
    let mut cmd = match setup.peer() {
        Peer::Node => {
            let mut c = Command::new("node");
            c.arg("--expose-gc").arg(progs.node_dir.join("recovery.js"));
            c
        }
        _ => Command::new(ours),
    };
    if pinned {
        let prog = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
        cmd = Command::new("taskset");
        cmd.arg("-c")
            .arg(ctx.server_core.to_string())
            .arg(prog)
            .args(args);
    }
    cmd.env("PORT", port.to_string())
        .env("WORKERS", "1")
        .env("NODE_ENV", "production")
        .env("RECOVERY", if setup.recovery() { "1" } else { "0" })
        .env_remove("RUST_LOG")
        .env_remove("REDIS_URL");
    if let Some((_, _, rport)) = &redis {
        cmd.env("REDIS_URL", format!("redis://127.0.0.1:{rport}/"));
    }
    let server = Proc::spawn(
        cmd,
        &progs.log_dir,
        &format!("recovery-{}-{port}", setup.name()),
    )?;
    within(Duration::from_secs(20), "server start", async {
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    })
    .await?;
    let (ctl, _) = connect(port, 0, None).await?;
    let mut env = Env {
        ctx,
        server,
        port,
        redis: redis.map(|(p, c, _)| (p, c)),
        ctl,
        id: 0,
    };
    let mut run = Run {
        setup,
        what,
        points: Vec::new(),
        errors: 0,
        note: None,
        secs: 0.0,
    };
    let r = match what {
        What::Sessions => sessions(&mut env, plan, setup, &mut run.points).await,
        What::Packets => packets(&mut env, plan, setup, &mut run.points).await,
    };
    if let Err(e) = r {
        run.errors += 1;
        run.note = Some(e.to_string());
    }
    drop(env);
    Ok(run)
}

impl Env<'_> {
    /// `42<id>["event",args…]` on the control connection, and the ack's arguments.
    async fn call(&mut self, event: &str, args: &str) -> io::Result<Value> {
        self.id += 1;
        call(&mut self.ctl, self.id, event, args).await
    }

    /// Until the server counts only the control connection (the dropped ones are gone).
    async fn wait_alone(&mut self) -> io::Result<()> {
        let t = Instant::now();
        loop {
            let v = self.call("count", "").await?;
            if v.get(0).and_then(Value::as_u64) == Some(1) {
                return Ok(());
            }
            if t.elapsed() > STEP {
                return Err(io::Error::other(format!(
                    "the server still counts {v} connections"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Until `redis_count` (DBSIZE or XLEN) reaches `want`.
    async fn wait_redis(&mut self, what: What, want: u64) -> io::Result<()> {
        let Some((_, r)) = &mut self.redis else {
            return Ok(());
        };
        let t = Instant::now();
        loop {
            let have = match what {
                What::Sessions => r.int(&["DBSIZE"]).await?,
                What::Packets => r.int(&["XLEN", "socket.io"]).await?,
            };
            if have >= want {
                return Ok(());
            }
            if t.elapsed() > STEP {
                return Err(io::Error::other(format!(
                    "Redis holds {have} {}, not {want}",
                    what.name()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// After a `gc`: the server's RSS once it settles, and Redis' `used_memory`.
    async fn point(&mut self, n: u64) -> io::Result<Point> {
        let heap_bytes = self.call("gc", "").await?.get(0).and_then(Value::as_u64);
        let rss_kib = settled_rss(self.server.pid, self.ctx.settle).await;
        let redis_bytes = match &mut self.redis {
            Some((_, r)) => Some(r.used_memory().await?),
            None => None,
        };
        Ok(Point {
            n,
            rss_kib,
            redis_bytes,
            heap_bytes,
        })
    }
}

async fn sessions(
    env: &mut Env<'_>,
    plan: &Plan,
    setup: Setup,
    points: &mut Vec<Point>,
) -> io::Result<()> {
    let keys0 = match &mut env.redis {
        Some((_, r)) => r.int(&["DBSIZE"]).await?,
        None => 0,
    };
    points.push(env.point(0).await?);
    let mut have = 0usize;
    let mut first: Option<(String, String)> = None;
    for &target in &plan.sessions {
        while have < target {
            let b = plan.batch.min(target - have);
            let mut set = JoinSet::new();
            let mut next = have;
            loop {
                // At most PARALLEL clients live at a time.
                while next < have + b && set.len() < PARALLEL {
                    let (port, i) = (env.port, next);
                    set.spawn_local(async move {
                        let (mut ws, reply) = connect(port, i + 1, None).await?;
                        call(&mut ws, 1, "setup", &format!(",\"r\",\"user{i}\"")).await?;
                        // Dropped without a close frame: the server reads EOF (transport close).
                        drop(ws);
                        Ok::<_, io::Error>((i, reply))
                    });
                    next += 1;
                }
                let Some(r) = set.join_next().await else {
                    break;
                };
                let (i, reply) = r.map_err(io::Error::other)??;
                if i == 0 {
                    let s = |k: &str| reply.get(k).and_then(Value::as_str).map(str::to_owned);
                    first = s("sid").zip(s("pid").or_else(|| Some(String::new())));
                }
            }
            have += b;
            env.wait_alone().await?;
            if setup == Setup::OursRedis {
                env.wait_redis(What::Sessions, keys0 + have as u64).await?;
            }
        }
        points.push(env.point(have as u64).await?);
    }
    // One of them comes back: same sid, or nothing was kept.
    if setup.recovery() {
        let (sid, pid) = first.ok_or_else(|| io::Error::other("no first session"))?;
        // Any offset the server still knows will do: an echo gives one.
        let offset = echo_offset(env).await?;
        let auth = json!({ "pid": pid, "offset": offset }).to_string();
        let (_ws, reply) = connect(env.port, 0, Some(&auth)).await?;
        if reply.get("sid").and_then(Value::as_str) != Some(&sid) {
            return Err(io::Error::other(format!(
                "session {sid} not restored: {reply}"
            )));
        }
    }
    Ok(())
}

async fn echo_offset(env: &mut Env<'_>) -> io::Result<String> {
    env.ctl.send_text(b"42[\"echo\",\"o\"]").await?;
    within(STEP, "echo with offset", async {
        loop {
            let m = eio::recv_text(&mut env.ctl).await?;
            if let Some(v) = event(&m, "echo") {
                return last_string(&v);
            }
        }
    })
    .await
}

async fn packets(
    env: &mut Env<'_>,
    plan: &Plan,
    setup: Setup,
    points: &mut Vec<Point>,
) -> io::Result<()> {
    let v = payload(32, "p");
    let bcast = format!("42[\"bcast\",{v}]");
    let entries0 = match &mut env.redis {
        Some((_, r)) => r.int(&["XLEN", "socket.io"]).await?,
        None => 0,
    };
    // The witness: in "bench", gets one broadcast (and its offset), drops.
    let (mut w, reply) = connect(env.port, 1, None).await?;
    call(&mut w, 1, "setup", ",\"bench\",\"witness\"").await?;
    env.ctl.send_text(bcast.as_bytes()).await?;
    let offset = within(STEP, "the witness's broadcast", async {
        loop {
            let m = eio::recv_text(&mut w).await?;
            if let Some(v) = event(&m, "msg") {
                return Ok(last_string(&v).unwrap_or_default());
            }
        }
    })
    .await?;
    drop(w);
    env.wait_alone().await?;
    let mut kept = 1usize;
    env.wait_redis(What::Packets, entries0 + 1).await?;
    points.push(env.point(kept as u64).await?);
    for &target in &plan.packets {
        while kept < target {
            let b = 500.min(target - kept);
            for _ in 0..b {
                env.ctl.w.queue_text(bcast.as_bytes());
            }
            env.ctl.w.flush_batch().await?;
            kept += b;
            // Paced by a round trip on the same connection.
            env.call("count", "").await?;
        }
        env.wait_redis(What::Packets, entries0 + kept as u64)
            .await?;
        points.push(env.point(kept as u64).await?);
    }
    // The witness comes back and gets every broadcast it missed.
    if setup.recovery() {
        let sid = reply.get("sid").and_then(Value::as_str).unwrap_or("");
        let pid = reply.get("pid").and_then(Value::as_str).unwrap_or("");
        let auth = json!({ "pid": pid, "offset": offset }).to_string();
        let expected = match setup {
            Setup::OursMemory => kept.min(OURS_MAX_STORED) - 1,
            _ => kept - 1,
        };
        let (got, reply) = restore_counting(env.port, &auth, expected).await?;
        if reply.get("sid").and_then(Value::as_str) != Some(sid) || got != expected {
            return Err(io::Error::other(format!(
                "witness {sid}: {got} of {expected} missed packets, reply {reply}"
            )));
        }
    }
    Ok(())
}

/// Connects with `auth` and counts the `msg` events that come with the CONNECT reply (ours
/// sends the missed packets before it, Node after), until `expected` or a quiet second.
async fn restore_counting(port: u16, auth: &str, expected: usize) -> io::Result<(usize, Value)> {
    let mut ws = open(port, 0).await?;
    ws.send_text(format!("40{auth}").as_bytes()).await?;
    let mut got = 0usize;
    let mut reply = None;
    let deadline = Instant::now() + STEP * 3;
    while Instant::now() < deadline && (reply.is_none() || got < expected) {
        let m = match tokio::time::timeout(Duration::from_secs(1), eio::recv_text(&mut ws)).await {
            Ok(m) => m?,
            Err(_) if reply.is_some() => break,
            Err(_) => continue,
        };
        if m.starts_with(b"42[\"msg\"") {
            got += 1;
        } else if let Some(r) = connect_reply(&m)? {
            reply = Some(r);
        }
    }
    Ok((got, reply.unwrap_or(Value::Null)))
}

// ---------------------------------------------------------------------------------------------
// clients

/// A websocket with its open packet read.
async fn open(port: u16, i: usize) -> io::Result<Ws> {
    let stream = within(
        STEP,
        "tcp connect",
        sys::tcp_connect(sys::source_ip(i), port),
    )
    .await?;
    let mut ws = within(
        STEP,
        "ws upgrade",
        Ws::upgrade(stream, &eio::host(port), eio::WS_PATH, i as u32),
    )
    .await?;
    let open = within(STEP, "open packet", eio::recv_text(&mut ws)).await?;
    if !open.starts_with(b"0") {
        return Err(io::Error::other("first message is not an open packet"));
    }
    Ok(ws)
}

/// `40` (or `40{auth}`) → the CONNECT reply's object (`sid`, and `pid` with recovery).
async fn connect(port: u16, i: usize, auth: Option<&str>) -> io::Result<(Ws, Value)> {
    let mut ws = open(port, i).await?;
    ws.send_text(format!("40{}", auth.unwrap_or("")).as_bytes())
        .await?;
    let reply = within(STEP, "CONNECT answer", async {
        loop {
            let m = eio::recv_text(&mut ws).await?;
            if let Some(v) = connect_reply(&m)? {
                return Ok(v);
            }
        }
    })
    .await?;
    Ok((ws, reply))
}

fn connect_reply(m: &[u8]) -> io::Result<Option<Value>> {
    if m.starts_with(b"44") {
        return Err(io::Error::other(format!(
            "connect_error: {}",
            String::from_utf8_lossy(m)
        )));
    }
    match m.strip_prefix(b"40") {
        Some(json) => Ok(Some(serde_json::from_slice(json).unwrap_or(Value::Null))),
        None => Ok(None),
    }
}

/// `42<id>["event"<args>]` (args with their leading comma) and the ack's arguments.
async fn call(ws: &mut Ws, id: u64, event: &str, args: &str) -> io::Result<Value> {
    ws.send_text(format!("42{id}[\"{event}\"{args}]").as_bytes())
        .await?;
    let prefix = format!("43{id}[");
    within(STEP, "ack", async {
        loop {
            let m = eio::recv_text(ws).await?;
            if m.starts_with(prefix.as_bytes()) {
                return serde_json::from_slice(&m[prefix.len() - 1..]).map_err(io::Error::other);
            }
        }
    })
    .await
}

/// The arguments of `42["name",…]`, the name included.
fn event(m: &[u8], name: &str) -> Option<Value> {
    let json = m.strip_prefix(b"42")?;
    let v: Value = serde_json::from_slice(json).ok()?;
    (v.get(0)?.as_str()? == name).then_some(v)
}

fn last_string(v: &Value) -> io::Result<String> {
    v.as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("no offset in {v}")))
}

/// RSS once it stops moving by more than 0.5 % over `settle / 4` (at most `settle` × 2), as the
/// idle scenario reads it.
async fn settled_rss(pid: u32, settle: Duration) -> u64 {
    let rss = || sys::rss_kib(pid).unwrap_or(0);
    tokio::time::sleep(settle / 2).await;
    let mut last = rss();
    let deadline = Instant::now() + settle * 2;
    while Instant::now() < deadline {
        tokio::time::sleep(settle / 4).await;
        let now = rss();
        if now.abs_diff(last) * 200 <= last {
            return now;
        }
        last = now;
    }
    last
}

// ---------------------------------------------------------------------------------------------
// processes and Redis

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process, stopped (SIGTERM, then SIGKILL after 5 s) when dropped, killed with the
/// harness.
struct Proc {
    pid: u32,
    child: Child,
}

impl Proc {
    fn spawn(mut cmd: Command, log_dir: &Path, name: &str) -> io::Result<Proc> {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(log_dir)?;
        let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl in the child between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        Ok(Proc {
            pid: child.id(),
            child,
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            sys::kill(self.pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A Redis connection speaking just enough RESP for INFO, DBSIZE and XLEN.
struct Resp {
    r: BufReader<TcpStream>,
}

impl Resp {
    async fn connect(port: u16) -> io::Result<Resp> {
        Ok(Resp {
            r: BufReader::new(TcpStream::connect(("127.0.0.1", port)).await?),
        })
    }

    /// One command; the reply as bytes (bulk, simple) or its integer as text.
    async fn cmd(&mut self, args: &[&str]) -> io::Result<Vec<u8>> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        within(STEP, "redis", async {
            self.r.get_mut().write_all(req.as_bytes()).await?;
            let mut line = String::new();
            self.r.read_line(&mut line).await?;
            let line = line.trim_end();
            match line.split_at_checked(1) {
                Some(("+" | ":", v)) => Ok(v.as_bytes().to_vec()),
                Some(("$", n)) => {
                    let n: usize = n.parse().map_err(|_| io::Error::other("bad bulk length"))?;
                    let mut body = vec![0; n + 2];
                    self.r.read_exact(&mut body).await?;
                    body.truncate(n);
                    Ok(body)
                }
                _ => Err(io::Error::other(format!("redis: {line}"))),
            }
        })
        .await
    }

    async fn int(&mut self, args: &[&str]) -> io::Result<u64> {
        let v = self.cmd(args).await?;
        String::from_utf8_lossy(&v)
            .parse()
            .map_err(|_| io::Error::other("redis: not an integer"))
    }

    async fn used_memory(&mut self) -> io::Result<u64> {
        let info = self.cmd(&["INFO", "memory"]).await?;
        String::from_utf8_lossy(&info)
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other("no used_memory in INFO"))
    }
}

// ---------------------------------------------------------------------------------------------
// report

#[derive(Clone, Copy)]
enum Metric {
    /// the server's RSS
    Rss,
    /// Redis' `used_memory`
    Redis,
    /// Node's V8 heap in use after a full collection
    Heap,
}

impl Metric {
    fn bytes(self, p: &Point) -> Option<f64> {
        match self {
            Metric::Rss => Some(p.rss_kib as f64 * 1024.0),
            Metric::Redis => p.redis_bytes.map(|b| b as f64),
            Metric::Heap => p.heap_bytes.map(|b| b as f64),
        }
    }
}

/// Bytes per item between the first step and the last (the start excluded).
fn slope(r: &Run, m: Metric) -> Option<f64> {
    let a = r.points.get(1)?;
    let b = r.points.last()?;
    if b.n <= a.n {
        return None;
    }
    Some((m.bytes(b)? - m.bytes(a)?) / (b.n - a.n) as f64)
}

fn median(v: impl Iterator<Item = f64>) -> Option<f64> {
    crate::report::median(v)
}

/// The section of docs/benchmarks.md; nothing without recovery runs.
pub fn render(w: &mut String, runs: &[Run]) {
    use std::fmt::Write;
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## 6. Connection state recovery: memory per stored session and per stored packet\n"
    );
    let _ = writeln!(
        w,
        "Issue 7. Servers with `connection_state_recovery(10 min, true)`: `examples/bench_recovery.rs` \
         (ours; `RedisStreamsAdapter` with `REDIS_URL`) and `bench/node/recovery.js` (Node socket.io, \
         in-memory, started with `--expose-gc`); Redis is a `redis-server --save '' --appendonly no` \
         the harness starts on a free port. **Sessions**: in batches (500 in a full run, at most 100 clients live at a time), \
         clients connect over websocket, join a room, set `data = {{\"name\": …}}`, then drop their TCP connection \
         without a close frame (a recoverable transport close), so that the server keeps their \
         session. **Packets**: `io.to(\"bench\").emit(\"msg\", v)` with v a 32 B string, stored and \
         delivered to no one. Before each reading the server is asked for a `gc` (Node collects \
         garbage and reports its V8 heap in use; ours has none to collect), then its RSS is read \
         once it settles, and Redis' `used_memory`. Bytes per item are the slope between the first and the last step; the \
         control is the same load with recovery off (what is left of the connections that came \
         and went), and *net* is the slope less the control's. Each run ends with a restore that \
         must succeed (the first session gets its sid back; the packets' witness gets every \
         broadcast it missed). For the Redis adapter, the state is in Redis: the server's RSS \
         only shows that the process does not keep it too. Median of the repetitions.\n"
    );
    for what in [What::Sessions, What::Packets] {
        let of: Vec<&Run> = runs.iter().filter(|r| r.what == what).collect();
        if of.is_empty() {
            continue;
        }
        let mut steps: Vec<u64> = of
            .iter()
            .flat_map(|r| r.points.iter().skip(1).map(|p| p.n))
            .collect();
        steps.sort();
        steps.dedup();
        let _ = writeln!(
            w,
            "### Per stored {}\n",
            if what == What::Sessions {
                "session"
            } else {
                "packet (32 B string)"
            }
        );
        let _ = write!(w, "| server |");
        for s in &steps {
            let _ = write!(w, " RSS at {} |", kn(*s));
        }
        let _ = writeln!(
            w,
            " **B per {} (RSS)** | RSS, net of control | B per {} (Redis `used_memory`) | B per {} (V8 heap after GC) | V8 heap, net of control | |",
            what.item(),
            if what == What::Sessions {
                "session key"
            } else {
                "stream entry"
            },
            what.item(),
        );
        let _ = writeln!(w, "|{}", "---|".repeat(steps.len() + 7));
        let med_slope = |setup: Setup, m: Metric| {
            median(
                of.iter()
                    .filter(|r| r.setup == setup && r.errors == 0)
                    .filter_map(|r| slope(r, m)),
            )
        };
        let net = |setup: Setup, m: Metric| {
            let c = setup.control()?;
            Some(med_slope(setup, m)? - med_slope(c, m)?)
        };
        for setup in Setup::ALL {
            let rs: Vec<&&Run> = of.iter().filter(|r| r.setup == setup).collect();
            if rs.is_empty() {
                continue;
            }
            let _ = write!(w, "| {} |", setup.label());
            for &n in &steps {
                let v = median(rs.iter().filter_map(|r| {
                    r.points
                        .iter()
                        .skip(1)
                        .find(|p| p.n == n)
                        .map(|p| p.rss_kib as f64)
                }));
                let _ = write!(
                    w,
                    " {} |",
                    v.map_or("—".into(), |v| format!("{:.1} MiB", v / 1024.0))
                );
            }
            let mine = med_slope(setup, Metric::Rss);
            let b = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0}"));
            let bold = |v: Option<f64>| v.map_or("—".into(), |v| format!("**{v:.0}**"));
            let errors: u64 = rs.iter().map(|r| r.errors).sum();
            let note = if errors > 0 {
                format!(
                    "{errors} errors: {}",
                    rs.iter()
                        .find_map(|r| r.note.clone())
                        .unwrap_or_default()
                        .replace('|', "/")
                        .chars()
                        .take(80)
                        .collect::<String>()
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                w,
                " {} | {} | {} | {} | {} | {note} |",
                if setup.recovery() {
                    bold(mine)
                } else {
                    b(mine)
                },
                b(net(setup, Metric::Rss)),
                b(med_slope(setup, Metric::Redis)),
                b(med_slope(setup, Metric::Heap)),
                b(net(setup, Metric::Heap)),
            );
        }
        let _ = writeln!(w);
    }
}

fn kn(n: u64) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}
