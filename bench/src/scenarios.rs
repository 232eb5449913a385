//! The scenarios of issue 5, each a function of a running server returning what one repetition
//! measured. Every loop is bounded in count and in time; every network step has a timeout.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::eio::{self, STEP};
use crate::http::Http;
use crate::measure::{Meter, Phase, Sample, Shared, new_hist, record, summarize};
use crate::peers::Server;
use crate::sys::{self, within};
use crate::ws::{Msg, Ws};

/// Timing and placement shared by all scenarios of a run.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub warmup: Duration,
    pub measure: Duration,
    pub server_core: usize,
    pub gen_core: usize,
    /// How long the idle scenario lets memory settle at each step.
    pub settle: Duration,
}

/// A JSON string value of exactly `size` bytes including its quotes, tagged with `tag` so that
/// replies can be told apart.
pub fn payload(size: usize, tag: &str) -> String {
    let inner = size.saturating_sub(2).max(tag.len());
    let mut s = String::with_capacity(inner + 2);
    s.push('"');
    s.push_str(tag);
    while s.len() < inner + 1 {
        s.push('x');
    }
    s.push('"');
    s
}

/// Opens `n` websocket sessions, at most `parallel` handshakes at a time, numbered from `first`.
async fn connect_many(
    port: u16,
    first: usize,
    n: usize,
    parallel: usize,
) -> (Vec<Ws>, u64, Option<String>) {
    let mut out = Vec::with_capacity(n);
    let mut errors = 0;
    let mut first_err = None;
    let mut set = JoinSet::new();
    let mut next = first;
    let end = first + n;
    while next < end || !set.is_empty() {
        while next < end && set.len() < parallel {
            let i = next;
            set.spawn_local(async move { eio::connect_ws(port, i).await });
            next += 1;
        }
        match set.join_next().await {
            Some(Ok(Ok(ws))) => out.push(ws),
            Some(Ok(Err(e))) => {
                errors += 1;
                first_err.get_or_insert_with(|| e.to_string());
            }
            Some(Err(e)) => {
                errors += 1;
                first_err.get_or_insert_with(|| e.to_string());
            }
            None => break,
        }
    }
    (out, errors, first_err)
}

/// Runs warm-up, then the measured window, then tells the clients to stop.
async fn run_window(ctx: &Ctx, server: &Server, shared: &Shared) -> Sample {
    tokio::time::sleep(ctx.warmup).await;
    let meter = Meter::start(server, ctx.server_core, ctx.gen_core);
    shared.phase.set(Phase::Measure);
    tokio::time::sleep(ctx.measure).await;
    shared.phase.set(Phase::Done);
    meter.finish(server, shared)
}

fn failed(errors: u64, note: Option<String>) -> Sample {
    Sample {
        errors: errors.max(1),
        note,
        ..Sample::default()
    }
}

// ---------------------------------------------------------------------------------------------
// (1) idle websocket connections

/// Opens websocket sessions up to each step of `steps` and reads the server's RSS once settled.
pub async fn idle(ctx: &Ctx, server: &Server, steps: &[usize]) -> Sample {
    let mut points = vec![(0u64, settled_rss(server, ctx.settle).await)];
    let mut tasks = JoinSet::new();
    let mut errors = 0;
    let mut note = None;
    let mut have = 0usize;
    let t0 = Instant::now();
    for &target in steps {
        if target <= have {
            continue;
        }
        let (conns, e, first) = connect_many(server.port, have, target - have, 200).await;
        errors += e;
        if note.is_none() {
            note = first;
        }
        have = target;
        for mut ws in conns {
            // Each idle client only answers the server's pings.
            tasks.spawn_local(async move {
                loop {
                    if eio::recv_text(&mut ws).await.is_err() {
                        return;
                    }
                }
            });
        }
        points.push((tasks.len() as u64, settled_rss(server, ctx.settle).await));
    }
    let secs = t0.elapsed().as_secs_f64();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Sample {
        ops: have as u64,
        errors,
        secs,
        rss_points: points,
        note,
        ..Sample::default()
    }
}

/// RSS once it stops moving by more than 0.5 % over `settle / 4` (at most `settle` × 2).
async fn settled_rss(server: &Server, settle: Duration) -> u64 {
    tokio::time::sleep(settle / 2).await;
    let mut last = server.rss_kib();
    let deadline = Instant::now() + settle * 2;
    while Instant::now() < deadline {
        tokio::time::sleep(settle / 4).await;
        let now = server.rss_kib();
        if now.abs_diff(last) * 200 <= last {
            return now;
        }
        last = now;
    }
    last
}

// ---------------------------------------------------------------------------------------------
// (2) echo and ack round trips over websocket, closed loop

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundTrip {
    /// `42["echo",v]` → `42["echo",v]`
    Echo,
    /// `42<id>["ack",v]` → `43<id>[v]`
    Ack,
}

pub async fn round_trips(
    ctx: &Ctx,
    server: &Server,
    clients: usize,
    size: usize,
    kind: RoundTrip,
) -> Sample {
    let (conns, errors, note) = connect_many(server.port, 0, clients, 100).await;
    if conns.len() < clients {
        return failed(errors, note);
    }
    let shared = Shared::new();
    let mut tasks = JoinSet::new();
    for (i, mut ws) in conns.into_iter().enumerate() {
        let shared = shared.clone();
        let v = payload(size, &format!("c{i}:"));
        tasks.spawn_local(async move {
            let echo = format!("42[\"echo\",{v}]").into_bytes();
            let mut id: u64 = 0;
            let mut ack_req = Vec::new();
            let mut ack_res = Vec::new();
            while !shared.done() {
                let t = Instant::now();
                let (req, expect): (&[u8], &[u8]) = match kind {
                    RoundTrip::Echo => (&echo, &echo),
                    RoundTrip::Ack => {
                        id += 1;
                        ack_req.clear();
                        ack_req.extend_from_slice(format!("42{id}[\"ack\",{v}]").as_bytes());
                        ack_res.clear();
                        ack_res.extend_from_slice(format!("43{id}[{v}]").as_bytes());
                        (&ack_req, &ack_res)
                    }
                };
                let r = within(STEP, "round trip", async {
                    ws.send_text(req).await?;
                    let m = eio::recv_text(&mut ws).await?;
                    if &m[..] == expect {
                        return Ok(());
                    }
                    Err(io::Error::other(format!(
                        "unexpected reply {:?}",
                        String::from_utf8_lossy(&m[..m.len().min(80)])
                    )))
                })
                .await;
                match r {
                    Ok(()) => shared.op(t.elapsed()),
                    Err(e) => {
                        shared.error(e);
                        return;
                    }
                }
            }
        });
    }
    let sample = run_window(ctx, server, &shared).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    sample
}

// ---------------------------------------------------------------------------------------------
// (2b) echo in open loop: a fixed offered rate, latency from each message's scheduled send time

/// The open loop measures this many windows in one: a p99 over a single 5 s window moves with
/// each stall of the shared machine (one 50 ms stall is 1% of the replies at 45k/s).
pub const OPEN_LOOP_WINDOWS: u32 = 3;

pub async fn echo_open_loop(
    ctx: &Ctx,
    server: &Server,
    clients: usize,
    size: usize,
    rate: f64,
) -> Sample {
    let (conns, errors, note) = connect_many(server.port, 0, clients, 100).await;
    if conns.len() < clients || rate <= 0.0 {
        return failed(errors, note);
    }
    let shared = Shared::new();
    let mut writers = Vec::with_capacity(clients);
    let mut queues: Vec<Rc<RefCell<VecDeque<Instant>>>> = Vec::with_capacity(clients);
    let mut frames = Vec::with_capacity(clients);
    let mut tasks = JoinSet::new();
    let window: Rc<Cell<(Option<Instant>, Option<Instant>)>> = Rc::new(Cell::new((None, None)));
    let sent_in_window = Rc::new(Cell::new(0u64));
    for (i, ws) in conns.into_iter().enumerate() {
        let Ws { r: mut reader, w } = ws;
        let frame = format!("42[\"echo\",{}]", payload(size, &format!("c{i}:"))).into_bytes();
        let q: Rc<RefCell<VecDeque<Instant>>> = Rc::new(RefCell::new(VecDeque::new()));
        let (shared2, q2, window2, expect) =
            (shared.clone(), q.clone(), window.clone(), frame.clone());
        tasks.spawn_local(async move {
            loop {
                let m = match reader.recv().await {
                    Ok(Msg::Text(t)) => t,
                    Ok(Msg::Close) => {
                        shared2.error("server closed");
                        return;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        shared2.error(e);
                        return;
                    }
                };
                if &m[..] == b"2" {
                    continue; // series are far shorter than the 25 s ping interval
                }
                if std::env::var_os("SIO_BENCH_DEBUG").is_some() {
                    eprintln!(
                        "open-loop reply {:?} queued {}",
                        String::from_utf8_lossy(&m),
                        q2.borrow().len()
                    );
                }
                let Some(scheduled) = q2.borrow_mut().pop_front() else {
                    shared2.error("reply without a request");
                    continue;
                };
                if m[..] != expect[..] {
                    shared2.error("unexpected reply");
                    continue;
                }
                // Count replies to messages scheduled inside the measured window.
                if let (Some(a), Some(b)) = window2.get()
                    && scheduled >= a
                    && scheduled < b
                {
                    shared2.ops.set(shared2.ops.get() + 1);
                    record(&mut shared2.hist.borrow_mut(), scheduled.elapsed());
                }
            }
        });
        writers.push(w);
        queues.push(q);
        frames.push(frame);
    }

    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let measure_from = start + ctx.warmup;
    let measure_to = measure_from + ctx.measure * OPEN_LOOP_WINDOWS;
    window.set((Some(measure_from), Some(measure_to)));
    let mut k: u64 = 0;
    let mut dirty = vec![false; clients];
    let mut meter = None;
    let mut sample = None;
    loop {
        let now = Instant::now();
        if meter.is_none() && now >= measure_from {
            meter = Some(Meter::start(server, ctx.server_core, ctx.gen_core));
        }
        if now >= measure_to {
            break;
        }
        // Queue every message due by now, one frame per client in turn.
        loop {
            let at = start + interval.mul_f64(k as f64);
            if at > now || at >= measure_to {
                break;
            }
            let c = (k as usize) % clients;
            writers[c].queue_text(&frames[c]);
            queues[c].borrow_mut().push_back(at);
            dirty[c] = true;
            if at >= measure_from {
                sent_in_window.set(sent_in_window.get() + 1);
            }
            k += 1;
        }
        for c in 0..clients {
            if dirty[c] {
                dirty[c] = false;
                if let Err(e) = writers[c].flush_batch().await {
                    shared.error(e);
                }
            }
        }
        let next = start + interval.mul_f64(k as f64);
        let wait = next.saturating_duration_since(Instant::now());
        if wait > Duration::from_millis(2) {
            tokio::time::sleep(wait - Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await; // timers tick in ms: spin (yielding to the readers)
        }
    }
    if let Some(m) = meter {
        // CPU and cores over the sending window; replies still in flight are waited for below.
        shared.phase.set(Phase::Measure);
        let mut s = m.finish(server, &shared);
        let drain_until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < drain_until && shared.ops.get() < sent_in_window.get() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shared.phase.set(Phase::Done);
        s.ops = shared.ops.get();
        s.latency = summarize(&shared.hist.borrow());
        let lost = sent_in_window.get().saturating_sub(s.ops);
        if lost > 0 {
            s.errors += lost;
            s.note
                .get_or_insert_with(|| format!("{lost} replies missing after 2 s"));
        }
        s.errors += errors;
        sample = Some(s);
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    sample.unwrap_or_else(|| failed(1, Some("no measured window".into())))
}

// ---------------------------------------------------------------------------------------------
// (3) room fan-out: one sender (not in the room) broadcasts, `n` members receive

struct Fan {
    current: Cell<u64>,
    remaining: Cell<usize>,
    all_in: Notify,
}

pub async fn fanout(ctx: &Ctx, server: &Server, n: usize, size: usize) -> Sample {
    let (conns, errors, note) = connect_many(server.port, 1, n, 200).await;
    if conns.len() < n {
        return failed(errors, note);
    }
    let Ok(mut sender) = eio::connect_ws(server.port, 0).await else {
        return failed(1, Some("sender did not connect".into()));
    };
    let shared = Shared::new();
    let fan = Rc::new(Fan {
        current: Cell::new(0),
        remaining: Cell::new(usize::MAX),
        all_in: Notify::new(),
    });
    let mut tasks = JoinSet::new();
    for mut ws in conns {
        let (shared, fan) = (shared.clone(), fan.clone());
        tasks.spawn_local(async move {
            if let Err(e) = ws.send_text(b"42[\"join\"]").await {
                shared.error(e);
                return;
            }
            const PREFIX: &[u8] = b"42[\"msg\",\"";
            loop {
                let m = match eio::recv_text(&mut ws).await {
                    Ok(m) => m,
                    Err(e) => {
                        shared.error(e);
                        return;
                    }
                };
                let Some(rest) = m.strip_prefix(PREFIX) else {
                    continue;
                };
                let id = rest
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .fold(0u64, |a, b| a * 10 + (b - b'0') as u64);
                if id == fan.current.get() && fan.remaining.get() > 0 {
                    if shared.measuring() {
                        shared.ops.set(shared.ops.get() + 1);
                    }
                    let left = fan.remaining.get() - 1;
                    fan.remaining.set(left);
                    if left == 0 {
                        fan.all_in.notify_one();
                    }
                }
            }
        });
    }
    let mut id = 0u64;
    // One broadcast at a time: send, wait until the last member has it.
    async fn one(
        sender: &mut Ws,
        fan: &Fan,
        id: u64,
        n: usize,
        size: usize,
        wait: Duration,
    ) -> io::Result<bool> {
        fan.current.set(id);
        fan.remaining.set(n);
        let frame = format!("42[\"bcast\",{}]", payload(size, &format!("{id}:")));
        let deadline = tokio::time::Instant::now() + wait;
        sender.send_text(frame.as_bytes()).await?;
        // One thread: nothing runs between the check and the wait, and a stale permit only
        // costs one more turn of the loop.
        while fan.remaining.get() > 0 {
            if tokio::time::timeout_at(deadline, fan.all_in.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        Ok(fan.remaining.get() == 0)
    }
    // Joins are not acknowledged: broadcast until one reaches every member (bounded).
    let mut joined = false;
    // A broadcast to 10k members takes a few hundred ms: wait in proportion.
    let try_wait = Duration::from_millis(200).max(Duration::from_micros(150) * n as u32);
    for _ in 0..30 {
        id += 1;
        match one(&mut sender, &fan, id, n, size, try_wait).await {
            Ok(true) => {
                joined = true;
                break;
            }
            Ok(false) => {}
            Err(e) => return failed(1, Some(format!("sender: {e}"))),
        }
    }
    if !joined {
        tasks.abort_all();
        return failed(1, Some(format!("no broadcast reached all {n} members")));
    }
    let hist = RefCell::new(new_hist());
    let mut meter = None;
    let t0 = Instant::now();
    let measure_from = t0 + ctx.warmup;
    let measure_to = measure_from + ctx.measure;
    while Instant::now() < measure_to {
        if meter.is_none() && Instant::now() >= measure_from {
            meter = Some(Meter::start(server, ctx.server_core, ctx.gen_core));
            shared.phase.set(Phase::Measure);
        }
        id += 1;
        let t = Instant::now();
        match one(&mut sender, &fan, id, n, size, STEP).await {
            Ok(true) => {
                if shared.measuring() {
                    record(&mut hist.borrow_mut(), t.elapsed());
                }
            }
            Ok(false) => {
                shared.error(format!(
                    "broadcast {id} reached {} of {n} within {STEP:?}",
                    n - fan.remaining.get()
                ));
                break;
            }
            Err(e) => {
                shared.error(format!("sender: {e}"));
                break;
            }
        }
    }
    let mut sample = match meter {
        Some(m) => m.finish(server, &shared),
        None => failed(1, Some("no measured window".into())),
    };
    shared.phase.set(Phase::Done);
    sample.latency = summarize(&hist.borrow());
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    sample
}

// ---------------------------------------------------------------------------------------------
// (4) polling-only echo

async fn http_conn(port: u16, i: usize) -> io::Result<Http> {
    let s = within(
        STEP,
        "tcp connect",
        sys::tcp_connect(sys::source_ip(i), port),
    )
    .await?;
    Ok(Http::new(s, &eio::host(port)))
}

pub async fn polling_echo(ctx: &Ctx, server: &Server, clients: usize, size: usize) -> Sample {
    let port = server.port;
    let shared = Shared::new();
    let ready = Rc::new(Cell::new(0usize));
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        let (shared, ready) = (shared.clone(), ready.clone());
        tasks.spawn_local(async move {
            let r: io::Result<()> = async {
                let mut get = http_conn(port, 2 * i).await?;
                let mut post = http_conn(port, 2 * i + 1).await?;
                let sid = eio::connect_polling(&mut get, &mut post).await?;
                ready.set(ready.get() + 1);
                let path = format!("{}&sid={sid}", eio::POLL_PATH);
                let frame = format!("42[\"echo\",{}]", payload(size, &format!("c{i}:")));
                while !shared.done() {
                    let t = Instant::now();
                    within(STEP, "polling round trip", async {
                        get.send("GET", &path, b"").await?;
                        let r = post.request("POST", &path, frame.as_bytes()).await?;
                        if r.status != 200 {
                            return Err(io::Error::other(format!("POST: HTTP {}", r.status)));
                        }
                        loop {
                            let r = get.recv().await?;
                            if r.status != 200 {
                                return Err(io::Error::other(format!("GET: HTTP {}", r.status)));
                            }
                            let mut got = false;
                            for p in eio::split_payload(&r.body) {
                                if p[..] == *frame.as_bytes() {
                                    got = true;
                                } else if &p[..] == b"2" {
                                    post.request("POST", &path, b"3").await?;
                                } else if &p[..] != b"6" {
                                    return Err(io::Error::other(format!(
                                        "unexpected packet {:?}",
                                        String::from_utf8_lossy(&p[..p.len().min(80)])
                                    )));
                                }
                            }
                            if got {
                                return Ok(());
                            }
                            get.send("GET", &path, b"").await?;
                        }
                    })
                    .await?;
                    shared.op(t.elapsed());
                }
                Ok(())
            }
            .await;
            if let Err(e) = r {
                shared.error(e);
            }
        });
    }
    // Wait (bounded) until every client is connected before the clock starts.
    let deadline = Instant::now() + STEP;
    while ready.get() + (shared.errors.get() as usize) < clients && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sample = run_window(ctx, server, &shared).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    sample
}

// ---------------------------------------------------------------------------------------------
// (5) handshakes: websocket direct, and polling then upgrade

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// websocket: upgrade, open, `40`, `40{sid}`, close
    Websocket,
    /// polling: open, `40`, `40{sid}`, then the upgrade to websocket, then close
    PollingUpgrade,
}

pub async fn handshakes(ctx: &Ctx, server: &Server, concurrency: usize, kind: Handshake) -> Sample {
    let port = server.port;
    let shared = Shared::new();
    let mut tasks = JoinSet::new();
    for w in 0..concurrency {
        let shared = shared.clone();
        tasks.spawn_local(async move {
            let mut conns: Option<(Http, Http)> = None;
            let mut n = 0usize;
            while !shared.done() {
                let t = Instant::now();
                let i = w + n * concurrency;
                n += 1;
                let r: io::Result<()> = async {
                    let ws = match kind {
                        Handshake::Websocket => eio::connect_ws(port, i).await?,
                        Handshake::PollingUpgrade => {
                            if conns.is_none() {
                                conns = Some((
                                    http_conn(port, i).await?,
                                    http_conn(port, i + 1).await?,
                                ));
                            }
                            let (get, post) = conns.as_mut().expect("just set");
                            let sid = eio::connect_polling(get, post).await?;
                            let ws = eio::upgrade(port, i, &sid, get).await?;
                            if get.closed || post.closed {
                                conns = None;
                            }
                            ws
                        }
                    };
                    within(STEP, "close", ws.close()).await
                }
                .await;
                match r {
                    Ok(()) => shared.op(t.elapsed()),
                    Err(e) => {
                        conns = None;
                        shared.error(e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    let sample = run_window(ctx, server, &shared).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    sample
}
