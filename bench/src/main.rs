//! `sio-bench`: runs the benchmarks of issue 5 against every peer and writes the report.
//!
//! ```text
//! sio-bench full  [--peers ours,node,socketioxide,ceiling,floor] [--reps 3] [--only idle,echo,…] [--out docs/benchmarks.md]
//! sio-bench quick [--peers …] [--out target/bench/quick.md]      seconds; fails on any error
//! sio-bench report [--from target/bench/results-full.json] [--out docs/benchmarks.md]
//! ```
//!
//! `bench/run` builds everything and calls this; see bench/README.md. The servers are found next
//! to this executable (target/<profile>/examples/bench_server, ceiling-server,
//! socketioxide-server, polling-floor) and in bench/node.

mod eio;
mod http;
mod measure;
mod peers;
mod recovery;
mod report;
mod scenarios;
mod svg;
mod sys;
mod ws;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use measure::Sample;
use peers::{Peer, Programs, Server};
use scenarios::{Ctx, Handshake, RoundTrip};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Idle,
    Echo,
    Ack,
    Fanout,
    PollingEcho,
    HandshakeWs,
    HandshakePolling,
    OpenLoop,
}

impl Scenario {
    const ALL: [Scenario; 8] = [
        Scenario::Idle,
        Scenario::Echo,
        Scenario::Ack,
        Scenario::Fanout,
        Scenario::PollingEcho,
        Scenario::HandshakeWs,
        Scenario::HandshakePolling,
        Scenario::OpenLoop,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::Echo => "echo",
            Scenario::Ack => "ack",
            Scenario::Fanout => "fanout",
            Scenario::PollingEcho => "polling",
            Scenario::HandshakeWs => "handshake-ws",
            Scenario::HandshakePolling => "handshake-polling",
            Scenario::OpenLoop => "open-loop",
        }
    }

    fn needs_polling(self) -> bool {
        matches!(self, Scenario::PollingEcho | Scenario::HandshakePolling)
    }

    /// Whether `peer` takes part: the ceiling in the websocket scenarios only, the polling floor
    /// in the polling ones only, the others in all.
    fn runs_on(self, peer: Peer) -> bool {
        if self.needs_polling() {
            peer.polling()
        } else {
            peer.websocket()
        }
    }
}

/// Other processes' CPU (in cores) above which a full run measures a window again.
const NOISY: f64 = 0.10;

/// One series: a scenario with its parameters on one peer, with every repetition's sample.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Series {
    pub scenario: Scenario,
    pub peer: Peer,
    /// clients, receivers, or concurrency
    pub n: usize,
    /// payload bytes (JSON value, quotes included)
    pub size: usize,
    /// offered rate of an open-loop series, per second
    pub rate: f64,
    pub reps: Vec<Sample>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    pub mode: String,
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub node: String,
    pub socket_io: String,
    pub socketioxide: String,
    pub tokio_tungstenite: String,
    /// axum and hyper as locked in bench/Cargo.lock (the polling floor's).
    #[serde(default)]
    pub axum: String,
    #[serde(default)]
    pub hyper: String,
    pub commit: String,
    pub pinned: bool,
    pub reps: usize,
    pub warmup_s: f64,
    pub measure_s: f64,
    pub commands: Vec<(String, String)>,
    pub duration_s: f64,
    pub open_loop_rate: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    pub meta: Meta,
    pub series: Vec<Series>,
    /// The `recovery` scenario (bench/src/recovery.rs): runs of its own servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<recovery::Run>,
}

/// What a mode runs.
struct Plan {
    reps: usize,
    ctx: Ctx,
    idle_steps: Vec<usize>,
    echo_clients: Vec<usize>,
    sizes: Vec<usize>,
    ack_clients: usize,
    fanout: Vec<usize>,
    polling_clients: usize,
    hs_ws: usize,
    hs_polling: usize,
    open_clients: usize,
    /// Fixed open-loop rate; otherwise half of socketioxide's (else ours) closed-loop maximum.
    open_rate: Option<f64>,
    /// The whole run is stopped after this long (a bound on every loop).
    limit: Duration,
}

fn plan(quick: bool, reps: Option<usize>) -> Plan {
    if quick {
        Plan {
            reps: reps.unwrap_or(1),
            ctx: Ctx {
                warmup: Duration::from_millis(50),
                measure: Duration::from_millis(200),
                server_core: 0,
                gen_core: 1,
                settle: Duration::from_millis(100),
            },
            idle_steps: vec![20, 50],
            echo_clients: vec![10],
            sizes: vec![32, 1024],
            ack_clients: 10,
            fanout: vec![50],
            polling_clients: 5,
            hs_ws: 5,
            hs_polling: 3,
            open_clients: 10,
            open_rate: Some(500.0),
            limit: Duration::from_secs(240),
        }
    } else {
        Plan {
            reps: reps.unwrap_or(3),
            ctx: Ctx {
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs(5),
                server_core: 0,
                gen_core: 1,
                settle: Duration::from_secs(2),
            },
            idle_steps: vec![1000, 5000, 10000, 15000],
            echo_clients: vec![1, 10, 100, 1000],
            sizes: vec![32, 1024],
            ack_clients: 100,
            fanout: vec![1000, 10000],
            polling_clients: 100,
            hs_ws: 50,
            hs_polling: 20,
            open_clients: 100,
            open_rate: None,
            limit: Duration::from_secs(110 * 60),
        }
    }
}

struct Args {
    cmd: String,
    peers: Vec<Peer>,
    only: Option<Vec<Scenario>>,
    /// Whether to run the `recovery` scenario (every run does, unless `--only` leaves it out).
    recovery: bool,
    reps: Option<usize>,
    out: Option<PathBuf>,
    from: Option<PathBuf>,
    rate: Option<f64>,
    /// Only the series with this client count / payload size.
    n: Option<usize>,
    size: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_else(|| "help".into());
    let mut a = Args {
        cmd,
        peers: Peer::ALL.to_vec(),
        only: None,
        recovery: true,
        reps: None,
        out: None,
        from: None,
        rate: None,
        n: None,
        size: None,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--peers" => {
                a.peers = val()?
                    .split(',')
                    .map(|p| Peer::parse(p.trim()).ok_or(format!("unknown peer {p}")))
                    .collect::<Result<_, _>>()?
            }
            "--only" => {
                let list = val()?;
                a.recovery = list.split(',').any(|s| s.trim() == recovery::NAME);
                a.only = Some(
                    list.split(',')
                        .filter(|s| s.trim() != recovery::NAME)
                        .map(|s| {
                            Scenario::ALL
                                .into_iter()
                                .find(|x| x.name() == s.trim())
                                .ok_or(format!("unknown scenario {s}"))
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            "--reps" => a.reps = Some(val()?.parse().map_err(|_| "--reps wants a number")?),
            "--rate" => a.rate = Some(val()?.parse().map_err(|_| "--rate wants a number")?),
            "--n" => a.n = Some(val()?.parse().map_err(|_| "--n wants a number")?),
            "--size" => a.size = Some(val()?.parse().map_err(|_| "--size wants a number")?),
            "--out" => a.out = Some(val()?.into()),
            "--from" => a.from = Some(val()?.into()),
            f => return Err(format!("unknown flag {f}")),
        }
    }
    Ok(a)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sio-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let root = repo_root();
    let target = root.join("target/bench");
    match args.cmd.as_str() {
        "full" | "quick" => {
            let quick = args.cmd == "quick";
            let out = args.out.clone().unwrap_or_else(|| {
                if quick {
                    target.join("quick.md")
                } else {
                    root.join("docs/benchmarks.md")
                }
            });
            // The raw results of a run that writes elsewhere than the default go next to its
            // report, so that a partial run never replaces those of the last whole one.
            let json = if args.out.is_none() {
                target.join(format!("results-{}.json", args.cmd))
            } else {
                out.with_extension("json")
            };
            run(&args, quick, &root, &out, &json)
        }
        "report" => {
            let from = args
                .from
                .clone()
                .unwrap_or_else(|| target.join("results-full.json"));
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| root.join("docs/benchmarks.md"));
            // Several files (comma-separated): later series replace earlier ones with the same
            // scenario, peer and parameters (a rerun of part of a run), the meta of the first.
            let mut results: Option<Results> = None;
            for path in from.to_string_lossy().split(',') {
                let r: Results = match std::fs::read(path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("sio-bench: cannot read {path}: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                match &mut results {
                    None => results = Some(r),
                    Some(acc) => {
                        for s in r.series {
                            acc.series.retain(|x| {
                                !(x.scenario == s.scenario
                                    && x.peer == s.peer
                                    && x.n == s.n
                                    && x.size == s.size)
                            });
                            acc.series.push(s);
                        }
                        if acc.meta.open_loop_rate <= 0.0 {
                            acc.meta.open_loop_rate = r.meta.open_loop_rate;
                        }
                        if !r.recovery.is_empty() {
                            acc.recovery = r.recovery;
                        }
                    }
                }
            }
            let Some(results) = results else {
                return ExitCode::FAILURE;
            };
            match report::write(&results, &out, &root) {
                Ok(()) => {
                    eprintln!("wrote {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sio-bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: sio-bench full|quick|report [--peers ours,node,socketioxide,ceiling,floor] [--only idle,echo,ack,fanout,polling,handshake-ws,handshake-polling,open-loop,recovery] [--reps N] [--n N] [--size BYTES] [--rate R] [--out FILE] [--from JSON]"
            );
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args, quick: bool, root: &Path, out: &Path, json: &Path) -> ExitCode {
    let mut plan = plan(quick, args.reps);
    if args.rate.is_some() {
        plan.open_rate = args.rate;
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| root.join("target/release"));
    let progs = Programs {
        // SIO_BENCH_OURS, _CEILING, _SOCKETIOXIDE, _FLOOR: other builds or wrappers (for
        // profiling).
        ours: std::env::var_os("SIO_BENCH_OURS")
            .map(PathBuf::from)
            .unwrap_or_else(|| exe_dir.join("examples/bench_server")),
        ceiling: std::env::var_os("SIO_BENCH_CEILING")
            .map(PathBuf::from)
            .unwrap_or_else(|| exe_dir.join("ceiling-server")),
        socketioxide: std::env::var_os("SIO_BENCH_SOCKETIOXIDE")
            .map(PathBuf::from)
            .unwrap_or_else(|| exe_dir.join("socketioxide-server")),
        floor: std::env::var_os("SIO_BENCH_FLOOR")
            .map(PathBuf::from)
            .unwrap_or_else(|| exe_dir.join("polling-floor")),
        node_dir: root.join("bench/node"),
        log_dir: root.join("target/bench/logs"),
    };
    let scenarios: Vec<Scenario> = match &args.only {
        Some(o) => Scenario::ALL
            .into_iter()
            .filter(|s| o.contains(s))
            .collect(),
        None => Scenario::ALL.to_vec(),
    };
    // A peer that takes part in none of the scenarios run (the floor with `--only echo`, say) is
    // neither needed nor started; the recovery scenario uses ours and Node.
    let needed = |p: Peer| {
        scenarios.iter().any(|s| s.runs_on(p))
            || (args.recovery && matches!(p, Peer::Ours | Peer::Node))
    };
    let mut peers = Vec::new();
    for &p in args.peers.iter().filter(|&&p| needed(p)) {
        if progs.available(p) {
            peers.push(p);
        } else if quick {
            eprintln!(
                "sio-bench: skipping {} (not built or not installed)",
                p.name()
            );
        } else {
            eprintln!(
                "sio-bench: {} is missing (build it, or leave it out with --peers)",
                p.name()
            );
            return ExitCode::FAILURE;
        }
    }
    if peers.is_empty() {
        eprintln!("sio-bench: no peer to run");
        return ExitCode::FAILURE;
    }

    // Server on core 0, generator (this process) on core 1.
    let pinned = sys::num_cores() >= 2 && which("taskset");
    if pinned {
        if let Err(e) = sys::pin_self(plan.ctx.gen_core) {
            eprintln!("sio-bench: cannot pin the generator: {e}");
        }
    } else {
        plan.ctx.gen_core = plan.ctx.server_core;
    }
    let nofile = sys::raise_nofile();
    if let Some(&max) = plan.idle_steps.iter().chain(&plan.fanout).max()
        && (max as u64) + 100 > nofile
    {
        eprintln!("sio-bench: open-files limit {nofile} is below {max} connections");
        return ExitCode::FAILURE;
    }

    // Every loop is bounded; this bounds the whole run, whatever happens.
    let limit = plan.limit;
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("sio-bench: stopped after {limit:?} (the run's time limit)");
        std::process::exit(3);
    });

    let mut results = Results {
        meta: meta(&plan, quick, pinned, root, &progs, &peers),
        series: Vec::new(),
        recovery: Vec::new(),
    };
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let mut port = 3100u16;
    let outcome = local.block_on(&rt, async {
        // A full run starts a fresh server for each series, repetition and peer, the peers of
        // one series back to back: the machine's drift (other tenants, frequency) then falls
        // between repetitions rather than between the peers a ratio compares. A quick run
        // starts one server per peer.
        type Job = (usize, Peer, Vec<Scenario>, Option<(usize, usize)>);
        let mut jobs: Vec<Job> = Vec::new();
        if quick {
            for &peer in &peers {
                jobs.push((0, peer, scenarios.clone(), None));
            }
        } else {
            for &scenario in &scenarios {
                for (n, size, _) in series_of(&plan, scenario, 0.0) {
                    for rep in 0..plan.reps {
                        for &peer in &peers {
                            jobs.push((rep, peer, vec![scenario], Some((n, size))));
                        }
                    }
                }
            }
        }
        let mut last_scenario = None;
        for (rep, peer, job, only) in jobs {
            if only.is_some_and(|(n, size)| {
                args.n.is_some_and(|x| x != n) || args.size.is_some_and(|x| x != size)
            }) {
                continue;
            }
            let job: Vec<Scenario> = job.into_iter().filter(|s| s.runs_on(peer)).collect();
            if job.is_empty() {
                continue;
            }
            if last_scenario != Some(job[0]) {
                if last_scenario.is_some() {
                    results.meta.duration_s = started.elapsed().as_secs_f64();
                    save(json, &results);
                }
                last_scenario = Some(job[0]);
            }
            port = if port >= 3999 { 3100 } else { port + 1 };
            let mut server =
                match Server::start(&progs, peer, port, pinned.then_some(plan.ctx.server_core)) {
                    Ok(s) => s,
                    Err(e) => return Err(format!("starting {}: {e}", peer.name())),
                };
            for scenario in job {
                if scenario == Scenario::OpenLoop && results.meta.open_loop_rate <= 0.0 {
                    results.meta.open_loop_rate = plan
                        .open_rate
                        .unwrap_or_else(|| open_loop_rate(&results, plan.open_clients));
                    if results.meta.open_loop_rate <= 0.0 {
                        eprintln!(
                            "open-loop: no closed-loop echo result to take a rate from; skipped"
                        );
                        continue;
                    }
                }
                for (n, size, rate) in series_of(&plan, scenario, results.meta.open_loop_rate) {
                    if args.n.is_some_and(|x| x != n) || args.size.is_some_and(|x| x != size) {
                        continue;
                    }
                    if only.is_some_and(|o| o != (n, size)) {
                        continue;
                    }
                    let t = Instant::now();
                    let mut s = run_one(&plan, &server, scenario, n, size, rate).await;
                    // A full run shares the machine with whatever else runs on it: a window in
                    // which other processes took more than NOISY of a core is measured again
                    // (twice at most), keeping the quietest.
                    let mut tries = 0;
                    while !quick && scenario != Scenario::Idle && s.other_load > NOISY && tries < 2
                    {
                        tries += 1;
                        eprintln!(
                            "  noisy window ({:.0}% of a core used by other processes): again",
                            s.other_load * 100.0
                        );
                        let again = run_one(&plan, &server, scenario, n, size, rate).await;
                        if again.errors <= s.errors && again.other_load < s.other_load {
                            s = again;
                        }
                    }
                    if quick && (s.errors > 0 || s.ops == 0) {
                        // A busy machine can stall a 0.2 s window: one more try, on a fresh server.
                        eprintln!(
                            "  retrying {} {} n={n}: {}",
                            scenario.name(),
                            peer.name(),
                            report::one_line(scenario, &s)
                        );
                        drop(server);
                        port = if port >= 3999 { 3100 } else { port + 1 };
                        server = match Server::start(
                            &progs,
                            peer,
                            port,
                            pinned.then_some(plan.ctx.server_core),
                        ) {
                            Ok(s) => s,
                            Err(e) => return Err(format!("starting {}: {e}", peer.name())),
                        };
                        s = run_one(&plan, &server, scenario, n, size, rate).await;
                    }
                    eprintln!(
                        "[{:>6.1}s] {:<17} {:<12} n={:<5} {:>4}B rep {}: {}  ({:.1}s)",
                        started.elapsed().as_secs_f64(),
                        scenario.name(),
                        peer.name(),
                        n,
                        size,
                        rep + 1,
                        report::one_line(scenario, &s),
                        t.elapsed().as_secs_f64()
                    );
                    push(&mut results.series, scenario, peer, n, size, rate, s);
                }
            }
            drop(server);
        }
        if args.recovery {
            results.meta.duration_s = started.elapsed().as_secs_f64();
            save(json, &results);
            results.recovery =
                recovery::run(&plan.ctx, quick, plan.reps, pinned, &progs, &peers, started).await;
        }
        Ok(())
    });
    results.meta.duration_s = started.elapsed().as_secs_f64();
    save(json, &results);
    if let Err(e) = outcome {
        eprintln!("sio-bench: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = report::write(&results, out, root) {
        eprintln!("sio-bench: writing the report: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wrote {} ({:.0} s)",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if quick {
        // CI runs this for breakage only: every series must have run and seen no error.
        let bad: Vec<String> = results
            .series
            .iter()
            .filter(|s| s.reps.iter().any(|r| r.errors > 0 || r.ops == 0))
            .map(|s| {
                let r = s
                    .reps
                    .iter()
                    .find(|r| r.errors > 0 || r.ops == 0)
                    .expect("filtered");
                format!(
                    "{} {} n={} {}B: ops={} errors={} {}",
                    s.scenario.name(),
                    s.peer.name(),
                    s.n,
                    s.size,
                    r.ops,
                    r.errors,
                    r.note.clone().unwrap_or_default()
                )
            })
            .chain(recovery::broken(&results.recovery))
            .collect();
        let total = results.series.len() + results.recovery.len();
        println!("bench quick: {} series ran, {} broken", total, bad.len());
        if !bad.is_empty() {
            for b in bad {
                eprintln!("  broken: {b}");
            }
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The (n, size, rate) of each series of a scenario.
fn series_of(plan: &Plan, scenario: Scenario, rate: f64) -> Vec<(usize, usize, f64)> {
    match scenario {
        Scenario::Idle => vec![(*plan.idle_steps.last().unwrap_or(&0), 0, 0.0)],
        Scenario::Echo => plan
            .sizes
            .iter()
            .flat_map(|&s| plan.echo_clients.iter().map(move |&c| (c, s, 0.0)))
            .collect(),
        Scenario::Ack => vec![(plan.ack_clients, 32, 0.0)],
        Scenario::Fanout => plan.fanout.iter().map(|&n| (n, 32, 0.0)).collect(),
        Scenario::PollingEcho => vec![(plan.polling_clients, 32, 0.0)],
        Scenario::HandshakeWs => vec![(plan.hs_ws, 0, 0.0)],
        Scenario::HandshakePolling => vec![(plan.hs_polling, 0, 0.0)],
        Scenario::OpenLoop => vec![(plan.open_clients, 32, rate)],
    }
}

async fn run_one(
    plan: &Plan,
    server: &Server,
    scenario: Scenario,
    n: usize,
    size: usize,
    rate: f64,
) -> Sample {
    let ctx = &plan.ctx;
    match scenario {
        Scenario::Idle => scenarios::idle(ctx, server, &plan.idle_steps).await,
        Scenario::Echo => scenarios::round_trips(ctx, server, n, size, RoundTrip::Echo).await,
        Scenario::Ack => scenarios::round_trips(ctx, server, n, size, RoundTrip::Ack).await,
        Scenario::Fanout => scenarios::fanout(ctx, server, n, size).await,
        Scenario::PollingEcho => scenarios::polling_echo(ctx, server, n, size).await,
        Scenario::HandshakeWs => scenarios::handshakes(ctx, server, n, Handshake::Websocket).await,
        Scenario::HandshakePolling => {
            scenarios::handshakes(ctx, server, n, Handshake::PollingUpgrade).await
        }
        Scenario::OpenLoop => scenarios::echo_open_loop(ctx, server, n, size, rate).await,
    }
}

fn push(
    series: &mut Vec<Series>,
    scenario: Scenario,
    peer: Peer,
    n: usize,
    size: usize,
    rate: f64,
    s: Sample,
) {
    match series
        .iter_mut()
        .find(|x| x.scenario == scenario && x.peer == peer && x.n == n && x.size == size)
    {
        Some(x) => x.reps.push(s),
        None => series.push(Series {
            scenario,
            peer,
            n,
            size,
            rate,
            reps: vec![s],
        }),
    }
}

/// Half of socketioxide's closed-loop echo maximum at the open-loop client count and 32 B (else
/// ours', else the fastest peer's), so that both servers sustain it.
fn open_loop_rate(results: &Results, clients: usize) -> f64 {
    let max_of = |peer: Peer| {
        results
            .series
            .iter()
            .find(|s| {
                s.scenario == Scenario::Echo && s.peer == peer && s.n == clients && s.size == 32
            })
            .and_then(|s| report::median(s.reps.iter().map(Sample::ops_per_s)))
    };
    let best = max_of(Peer::Socketioxide)
        .or_else(|| max_of(Peer::Ours))
        .unwrap_or(0.0);
    (best / 2.0 / 1000.0).round() * 1000.0
}

fn save(json: &Path, results: &Results) {
    if let Some(d) = json.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    match serde_json::to_vec_pretty(results) {
        Ok(b) => {
            if let Err(e) = std::fs::write(json, b) {
                eprintln!("sio-bench: cannot write {}: {e}", json.display());
            }
        }
        Err(e) => eprintln!("sio-bench: {e}"),
    }
}

fn which(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

/// The version of `name` in a Cargo.lock.
fn locked_version(lock: &Path, name: &str) -> String {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return "?".into();
    };
    let needle = format!("name = \"{name}\"\nversion = \"");
    text.find(&needle)
        .and_then(|i| {
            text[i + needle.len()..]
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

fn meta(
    plan: &Plan,
    quick: bool,
    pinned: bool,
    root: &Path,
    progs: &Programs,
    peers: &[Peer],
) -> Meta {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
        })
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let pkg_version = |p: &str| {
        std::fs::read(
            progs
                .node_dir
                .join("node_modules")
                .join(p)
                .join("package.json"),
        )
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "?".into())
    };
    let mut commit = output(
        "git",
        &[
            "-C",
            &root.to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = output(
        "git",
        &[
            "-C",
            &root.to_string_lossy(),
            "status",
            "--porcelain",
            "--",
            "src",
            "examples",
            "Cargo.toml",
        ],
    );
    if !dirty.is_empty() && dirty != "?" {
        commit.push_str(" + uncommitted changes");
    }
    let commands = peers
        .iter()
        .map(|&p| (p.label().to_owned(), progs.shown(p, root)))
        .collect();
    Meta {
        mode: if quick { "quick" } else { "full" }.into(),
        date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cpu,
        cores: sys::num_cores(),
        memory_gib,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        rustc: output("rustc", &["--version"]),
        node: output("node", &["--version"]),
        socket_io: format!(
            "socket.io {}, engine.io {}, ws {}",
            pkg_version("socket.io"),
            pkg_version("engine.io"),
            pkg_version("ws")
        ),
        socketioxide: locked_version(&root.join("bench/Cargo.lock"), "socketioxide"),
        tokio_tungstenite: locked_version(&root.join("bench/Cargo.lock"), "tokio-tungstenite"),
        axum: locked_version(&root.join("bench/Cargo.lock"), "axum"),
        hyper: locked_version(&root.join("bench/Cargo.lock"), "hyper"),
        commit,
        pinned,
        reps: plan.reps,
        warmup_s: plan.ctx.warmup.as_secs_f64(),
        measure_s: plan.ctx.measure.as_secs_f64(),
        commands,
        duration_s: 0.0,
        open_loop_rate: plan.open_rate.unwrap_or(0.0),
    }
}
