//! docs/benchmarks.md from the results: machine, versions, commands, a table per scenario with
//! every peer and the ratios to Node and to the ceiling (to socketioxide and above the polling
//! floor for the polling scenarios), the targets (`summary`), and two SVG plots.

mod summary;

use std::fmt::Write;
use std::path::Path;

use crate::measure::{SATURATED, Sample};
use crate::peers::Peer;
use crate::svg;
use crate::{Results, Scenario, Series};

pub fn median(vals: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = vals.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// A progress line for one sample.
pub fn one_line(scenario: Scenario, s: &Sample) -> String {
    let mut out = String::new();
    if scenario == Scenario::Idle {
        let pts: Vec<String> = s
            .rss_points
            .iter()
            .map(|(n, kib)| format!("{n}:{:.1}MiB", *kib as f64 / 1024.0))
            .collect();
        let _ = write!(out, "rss {}", pts.join(" "));
    } else {
        let _ = write!(
            out,
            "{:>9.0} op/s  cpu {:>7.2} µs/op  cores srv {:>3.0}% gen {:>3.0}% other {:>3.0}%",
            s.ops_per_s(),
            s.cpu_per_op_us().unwrap_or(f64::NAN),
            s.server_core * 100.0,
            s.gen_core * 100.0,
            s.other_load * 100.0
        );
        if let Some(l) = &s.latency {
            let _ = write!(out, "  p50 {:.0} µs p99 {:.0} µs", l.p50_us, l.p99_us);
        }
    }
    if s.errors > 0 {
        let _ = write!(
            out,
            "  ERRORS {} ({})",
            s.errors,
            s.note.clone().unwrap_or_default()
        );
    }
    out
}

/// Medians over the repetitions of one series.
#[derive(Clone, Debug, Default)]
struct Med {
    ops_s: Option<f64>,
    cpu_us: Option<f64>,
    /// The user and kernel parts of `cpu_us` (of the repetition whose total is the median).
    user_us: Option<f64>,
    kernel_us: Option<f64>,
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
    srv: Option<f64>,
    gen_: Option<f64>,
    other: Option<f64>,
    /// a majority of repetitions passed the validity rule
    valid: bool,
    errors: u64,
    note: Option<String>,
}

fn med(s: &Series) -> Med {
    let r = &s.reps;
    let lat = |f: fn(&crate::measure::Latency) -> f64| {
        median(r.iter().filter_map(|x| x.latency.as_ref().map(f)))
    };
    let (user_us, kernel_us) = split(r);
    Med {
        ops_s: median(r.iter().filter(|x| x.ops > 0).map(Sample::ops_per_s)),
        cpu_us: median(r.iter().filter_map(Sample::cpu_per_op_us)),
        user_us,
        kernel_us,
        p50: lat(|l| l.p50_us),
        p90: lat(|l| l.p90_us),
        p99: lat(|l| l.p99_us),
        p999: lat(|l| l.p999_us),
        max: lat(|l| l.max_us),
        srv: median(r.iter().map(|x| x.server_core)),
        gen_: median(r.iter().map(|x| x.gen_core)),
        other: median(r.iter().map(|x| x.other_load)),
        valid: r.iter().filter(|x| x.valid()).count() * 2 > r.len(),
        errors: r.iter().map(|x| x.errors).sum(),
        note: r.iter().find_map(|x| x.note.clone()),
    }
}

/// User and kernel µs per operation of the repetition whose total CPU per operation is the median
/// (the mean of the two middle ones for an even count), so that they add up to the median total.
fn split(reps: &[Sample]) -> (Option<f64>, Option<f64>) {
    let mut v: Vec<(f64, Option<f64>, Option<f64>)> = reps
        .iter()
        .filter_map(|x| {
            let t = x.cpu_per_op_us().filter(|t| t.is_finite())?;
            Some((t, x.user_per_op_us(), x.kernel_per_op_us()))
        })
        .collect();
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        (v[m].1, v[m].2)
    } else {
        let mean = |a: Option<f64>, b: Option<f64>| Some((a? + b?) / 2.0);
        (mean(v[m - 1].1, v[m].1), mean(v[m - 1].2, v[m].2))
    }
}

fn find(res: &Results, sc: Scenario, peer: Peer, n: usize, size: usize) -> Option<&Series> {
    res.series
        .iter()
        .find(|s| s.scenario == sc && s.peer == peer && s.n == n && s.size == size)
}

fn peers_in(res: &Results) -> Vec<Peer> {
    Peer::ALL
        .into_iter()
        .filter(|p| res.series.iter().any(|s| s.peer == *p))
        .collect()
}

fn params(res: &Results, sc: Scenario) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = res
        .series
        .iter()
        .filter(|s| s.scenario == sc)
        .map(|s| (s.size, s.n))
        .collect();
    v.sort();
    v.dedup();
    v.into_iter().map(|(size, n)| (n, size)).collect()
}

fn k(v: f64) -> String {
    if v >= 100_000.0 || (v >= 1000.0 && v % 1000.0 == 0.0) {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

fn us(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 10_000.0 => format!("{:.1} ms", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0} µs"),
        Some(v) => format!("{v:.1} µs"),
    }
}

fn cpu(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0} µs"),
        Some(v) => format!("{v:.2} µs"),
    }
}

/// µs per operation without the unit (the user and kernel columns).
fn num(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The user and kernel cells of a row.
fn user_kernel(m: &Med) -> String {
    format!("{} | {}", num(m.user_us), num(m.kernel_us))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

/// Median busy share of the server's core, the generator's, and other processes' CPU (cores).
fn cores(m: &Med) -> String {
    format!("{} / {} / {}", pct(m.srv), pct(m.gen_), pct(m.other))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

/// A throughput figure, in parentheses when the validity rule rejects it.
fn thr(m: &Med) -> String {
    match m.ops_s {
        None => "—".into(),
        Some(v) if m.valid => k(v),
        Some(v) => format!("({})", k(v)),
    }
}

fn errs(m: &Med) -> String {
    if m.errors == 0 {
        String::new()
    } else {
        format!(
            "{} errors: {}",
            m.errors,
            m.note
                .clone()
                .unwrap_or_default()
                .replace('|', "/")
                .chars()
                .take(80)
                .collect::<String>()
        )
    }
}

/// KiB per connection between two steps of the idle scenario (median over repetitions).
fn idle_slope(s: &Series, from: u64, to: u64) -> Option<f64> {
    median(s.reps.iter().filter_map(|r| {
        let a = r.rss_points.iter().find(|p| p.0 == from)?;
        let b = r.rss_points.iter().find(|p| p.0 == to)?;
        (b.0 > a.0).then(|| (b.1 as f64 - a.1 as f64) / (b.0 - a.0) as f64)
    }))
}

fn idle_rss(s: &Series, at: u64) -> Option<f64> {
    median(
        s.reps
            .iter()
            .filter_map(|r| r.rss_points.iter().find(|p| p.0 == at).map(|p| p.1 as f64)),
    )
}

fn idle_steps(res: &Results) -> Vec<u64> {
    let mut v: Vec<u64> = res
        .series
        .iter()
        .filter(|s| s.scenario == Scenario::Idle)
        .flat_map(|s| s.reps.iter().flat_map(|r| r.rss_points.iter().map(|p| p.0)))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The two steps whose slope is the headline: 5k→10k when measured, else the two largest.
fn headline_steps(steps: &[u64]) -> Option<(u64, u64)> {
    if steps.contains(&5000) && steps.contains(&10000) {
        return Some((5000, 10000));
    }
    let n = steps.len();
    (n >= 2).then(|| (steps[n - 2], steps[n - 1]))
}

fn peer_color(p: Peer) -> &'static str {
    svg::COLORS[Peer::ALL.iter().position(|x| *x == p).unwrap_or(0)]
}

pub fn write(res: &Results, out: &Path, root: &Path) -> std::io::Result<()> {
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("benchmarks")
        .to_owned();
    let mem_svg = format!("{stem}-memory.svg");
    let fan_svg = format!("{stem}-fanout.svg");
    let md = render(res, root, &mem_svg, &fan_svg);
    std::fs::write(out, md)?;
    std::fs::write(dir.join(&mem_svg), memory_plot(res))?;
    std::fs::write(dir.join(&fan_svg), fanout_plot(res))?;
    Ok(())
}

fn memory_plot(res: &Results) -> String {
    let lines: Vec<svg::Line> = peers_in(res)
        .into_iter()
        .filter_map(|p| {
            let s = res
                .series
                .iter()
                .find(|s| s.scenario == Scenario::Idle && s.peer == p)?;
            let steps = idle_steps(res);
            let points: Vec<(f64, f64)> = steps
                .iter()
                .filter_map(|&n| idle_rss(s, n).map(|kib| (n as f64, kib / 1024.0)))
                .collect();
            let slope = headline_steps(&steps).and_then(|(a, b)| idle_slope(s, a, b));
            let label = match slope {
                Some(v) => format!("{} — {v:.1} KiB/conn", p.label()),
                None => p.label().to_owned(),
            };
            Some(svg::Line {
                label,
                color: peer_color(p),
                points,
            })
        })
        .collect();
    svg::lines(
        "Server memory (RSS) with idle websocket connections",
        "connected Socket.IO sockets",
        "RSS (MiB)",
        &lines,
    )
}

fn fanout_plot(res: &Results) -> String {
    let ps = params(res, Scenario::Fanout);
    let peers = peers_in(res);
    let mut series = Vec::new();
    let mut notes = Vec::new();
    for p in peers {
        let meds: Vec<Option<Med>> = ps
            .iter()
            .map(|&(n, size)| find(res, Scenario::Fanout, p, n, size).map(med))
            .collect();
        series.push((
            p.label().to_owned(),
            peer_color(p),
            meds.iter()
                .map(|m| m.as_ref().and_then(|m| m.ops_s).map(|v| v / 1000.0))
                .collect(),
        ));
        notes.push(
            meds.iter()
                .map(|m| {
                    m.as_ref()
                        .and_then(|m| m.cpu_us)
                        .map(|c| format!("{c:.1} µs"))
                })
                .collect(),
        );
    }
    let b = svg::Bars {
        groups: ps.iter().map(|(n, _)| format!("room of {n}")).collect(),
        series,
        notes,
    };
    svg::bars(
        "Room fan-out: deliveries per second (label: server CPU per delivery)",
        "one broadcast at a time to every member",
        "deliveries/s (thousands)",
        &b,
    )
}

/// The ratio columns of a peer's row: the value over Node's and over the ceiling's.
fn ratios(res: &Results, metric: impl Fn(Peer) -> Option<f64>, p: Peer) -> (String, String) {
    let mine = metric(p);
    let node = if peers_in(res).contains(&Peer::Node) {
        metric(Peer::Node)
    } else {
        None
    };
    let ceil = if peers_in(res).contains(&Peer::Ceiling) {
        metric(Peer::Ceiling)
    } else {
        None
    };
    (ratio(mine, node), ratio(mine, ceil))
}

fn render(res: &Results, root: &Path, mem_svg: &str, fan_svg: &str) -> String {
    let m = &res.meta;
    let peers = peers_in(res);
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Written by `bench/run{}` ({} mode) on {}. Every number below was measured in that one run, \
         on one machine, by one load generator (`bench/`, Rust on tokio, raw Engine.IO/Socket.IO \
         frames); do not edit by hand, rerun instead.\n",
        if m.mode == "quick" { " --quick" } else { "" },
        m.mode,
        m.date
    );
    let _ = writeln!(w, "## Machine and versions\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(
        w,
        "| CPU | {} × {} cores, {:.0} GiB, Linux {} |",
        m.cpu, m.cores, m.memory_gib, m.kernel
    );
    let _ = writeln!(
        w,
        "| axum-socketio (ours) | commit {} (`examples/bench_server`, release) |",
        m.commit
    );
    let _ = writeln!(w, "| Node socket.io | {} on Node {} |", m.socket_io, m.node);
    let axum = if m.axum.is_empty() { "0.8" } else { &m.axum };
    let _ = writeln!(
        w,
        "| socketioxide | {} with axum {axum} (`bench/src/bin/socketioxide_server.rs`) |",
        m.socketioxide
    );
    let _ = writeln!(
        w,
        "| ceiling | tokio-tungstenite {} (`bench/src/bin/ceiling_server.rs`) |",
        m.tokio_tungstenite
    );
    let floor = peers.contains(&Peer::Floor);
    if floor {
        let _ = writeln!(
            w,
            "| polling floor | axum {axum}, hyper {} (`bench/src/bin/polling_floor.rs`) |",
            if m.hyper.is_empty() { "1" } else { &m.hyper }
        );
    }
    let _ = writeln!(w, "| Rust | {} |", m.rustc);
    let _ = writeln!(
        w,
        "| method | server pinned to core 0, generator to core 1 (`taskset`): {}; {} s warm-up + {} s measured per series ({} s in the open loop); median of {} runs; connections spread over source addresses 127.0.0.2–127.0.0.9; the whole run took {:.0} min |\n",
        if m.pinned {
            "yes"
        } else {
            "NO (fewer than 2 cores or no taskset)"
        },
        m.warmup_s,
        m.measure_s,
        m.measure_s * f64::from(crate::scenarios::OPEN_LOOP_WINDOWS),
        m.reps,
        m.duration_s / 60.0
    );
    let _ = writeln!(
        w,
        "Servers, each with the same four handlers on `/socket.io/` (`echo`, `ack`, `join`, `bcast`; see `bench/README.md`){}:\n",
        if floor {
            " but the polling floor, which echoes only"
        } else {
            ""
        }
    );
    for (label, cmd) in &m.commands {
        let _ = writeln!(w, "- {label}: `{cmd}`");
    }
    let _ = writeln!(
        w,
        "\n**Reading the tables.** The server CPU per operation (utime + stime of the server process over \
         the measured window, divided by the operations in it) is the fair figure on two cores; the \
         *user µs/op* and *kernel µs/op* columns are its two parts (utime and stime; on loopback the \
         kernel part is mostly system calls and the TCP stack). A \
         throughput figure counts only when the server's core was saturated (≥ {:.0}% busy) and the \
         generator's was not; otherwise it is shown (in parentheses) and only the CPU per operation \
         stands. Ratios are of the CPU per operation (memory per connection for the idle scenario): \
         below 1× is cheaper than the peer compared with.\n",
        SATURATED * 100.0
    );
    if floor {
        summary::floor_paragraph(w, res);
    }
    let _ = root;

    summary::targets(w, res);

    // (1) idle
    let steps = idle_steps(res);
    if !steps.is_empty() {
        let _ = writeln!(w, "## 1. Idle websocket connections: memory\n");
        let _ = writeln!(
            w,
            "Websocket sessions connected to `/` and left idle (they answer pings); server RSS read once \
             it settles at each step. KiB per connection is the RSS slope between two steps.\n"
        );
        let head = headline_steps(&steps);
        let _ = write!(w, "| server |");
        for s in &steps {
            let _ = write!(w, " RSS at {} |", k(*s as f64));
        }
        for pair in steps.windows(2).filter(|p| p[0] > 0) {
            let _ = write!(w, " KiB/conn {}→{} |", k(pair[0] as f64), k(pair[1] as f64));
        }
        let _ = writeln!(w, " ÷ Node | ÷ ceiling |");
        let ncols = 3 + steps.len() + steps.windows(2).filter(|p| p[0] > 0).count();
        let _ = writeln!(w, "|{}", "---|".repeat(ncols));
        for &p in &peers {
            let Some(s) = res
                .series
                .iter()
                .find(|s| s.scenario == Scenario::Idle && s.peer == p)
            else {
                continue;
            };
            let _ = write!(w, "| {} |", p.label());
            for &n in &steps {
                let _ = write!(
                    w,
                    " {} |",
                    idle_rss(s, n).map_or("—".into(), |v| format!("{:.1} MiB", v / 1024.0))
                );
            }
            for pair in steps.windows(2).filter(|p| p[0] > 0) {
                let _ = write!(
                    w,
                    " {} |",
                    idle_slope(s, pair[0], pair[1]).map_or("—".into(), |v| format!("{v:.1}"))
                );
            }
            let metric = |q: Peer| {
                let (a, b) = head?;
                res.series
                    .iter()
                    .find(|s| s.scenario == Scenario::Idle && s.peer == q)
                    .and_then(|s| idle_slope(s, a, b))
            };
            let (rn, rc) = ratios(res, metric, p);
            let m = med(s);
            let _ = writeln!(
                w,
                " {rn} | {rc} |{}",
                if m.errors > 0 {
                    format!(" {}", errs(&m))
                } else {
                    String::new()
                }
            );
        }
        if let Some((a, b)) = head {
            let _ = writeln!(
                w,
                "\nRatios are of the {}→{} slope.",
                k(a as f64),
                k(b as f64)
            );
        }
        let _ = writeln!(w, "\n![memory per connection]({mem_svg})\n");
    }

    // (2) echo, ack
    for (sc, title, what) in [
        (
            Scenario::Echo,
            "## 2. Echo round trips over websocket (closed loop)",
            "Each client sends `42[\"echo\",v]` and waits for `42[\"echo\",v]` before the next; v is a string of the given size.",
        ),
        (
            Scenario::Ack,
            "### Acknowledgement round trips (closed loop)",
            "Each client sends `42<id>[\"ack\",v]` and waits for `43<id>[v]`.",
        ),
    ] {
        let ps = params(res, sc);
        if ps.is_empty() {
            continue;
        }
        let _ = writeln!(w, "{title}\n\n{what}\n");
        let _ = writeln!(
            w,
            "| clients | size | server | round trips/s | p50 | p99 | server CPU / round trip | user µs/op | kernel µs/op | ÷ Node | ÷ ceiling | cores: server / generator / others | |"
        );
        let _ = writeln!(w, "|{}", "---|".repeat(13));
        for &(n, size) in &ps {
            for &p in &peers {
                let Some(s) = find(res, sc, p, n, size) else {
                    continue;
                };
                let mm = med(s);
                let metric = |q: Peer| find(res, sc, q, n, size).and_then(|s| med(s).cpu_us);
                let (rn, rc) = ratios(res, metric, p);
                let _ = writeln!(
                    w,
                    "| {n} | {} | {} | {} | {} | {} | {} | {} | {rn} | {rc} | {} | {} |",
                    size_label(size),
                    p.label(),
                    thr(&mm),
                    us(mm.p50),
                    us(mm.p99),
                    cpu(mm.cpu_us),
                    user_kernel(&mm),
                    cores(&mm),
                    errs(&mm)
                );
            }
        }
        let _ = writeln!(w);
    }

    // open loop
    let ps = params(res, Scenario::OpenLoop);
    if !ps.is_empty() {
        let _ = writeln!(w, "### Echo latency in open loop\n");
        let _ = writeln!(
            w,
            "A fixed offered rate of {} round trips/s (half of socketioxide's closed-loop maximum at this \
             client count, so that every server sustains it), spread evenly over the clients; latency \
             runs from each message's scheduled send time, so a stalled server cannot hide its queue \
             (no coordinated omission).\n",
            k(res.meta.open_loop_rate)
        );
        let _ = writeln!(
            w,
            "| clients | size | server | achieved/s | p50 | p90 | p99 | p99.9 | max | server CPU / round trip | user µs/op | kernel µs/op | |"
        );
        let _ = writeln!(w, "|{}", "---|".repeat(13));
        for &(n, size) in &ps {
            for &p in &peers {
                let Some(s) = find(res, Scenario::OpenLoop, p, n, size) else {
                    continue;
                };
                let mm = med(s);
                let _ = writeln!(
                    w,
                    "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    size_label(size),
                    p.label(),
                    mm.ops_s.map_or("—".into(), k),
                    us(mm.p50),
                    us(mm.p90),
                    us(mm.p99),
                    us(mm.p999),
                    us(mm.max),
                    cpu(mm.cpu_us),
                    user_kernel(&mm),
                    errs(&mm)
                );
            }
        }
        let _ = writeln!(w);
    }

    // (3) fan-out
    let ps = params(res, Scenario::Fanout);
    if !ps.is_empty() {
        let _ = writeln!(w, "## 3. Room fan-out\n");
        let _ = writeln!(
            w,
            "Members join room \"bench\"; one more socket (not a member) sends `42[\"bcast\",v]` (v of 32 B) \
             and the server emits `42[\"msg\",v]` to every member. One broadcast at a time: the next \
             leaves when the last member has the previous one. Latency is from the emit to the last \
             delivery.\n"
        );
        let _ = writeln!(
            w,
            "| members | server | deliveries/s | emit→last p50 | emit→last p99 | server CPU / delivery | user µs/op | kernel µs/op | ÷ Node | ÷ ceiling | cores: server / generator / others | |"
        );
        let _ = writeln!(w, "|{}", "---|".repeat(12));
        for &(n, size) in &ps {
            for &p in &peers {
                let Some(s) = find(res, Scenario::Fanout, p, n, size) else {
                    continue;
                };
                let mm = med(s);
                let metric =
                    |q: Peer| find(res, Scenario::Fanout, q, n, size).and_then(|s| med(s).cpu_us);
                let (rn, rc) = ratios(res, metric, p);
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | {} | {} | {rn} | {rc} | {} | {} |",
                    k(n as f64),
                    p.label(),
                    thr(&mm),
                    us(mm.p50),
                    us(mm.p99),
                    cpu(mm.cpu_us),
                    user_kernel(&mm),
                    cores(&mm),
                    errs(&mm)
                );
            }
        }
        let _ = writeln!(w, "\n![fan-out throughput]({fan_svg})\n");
    }

    // (4) polling
    simple_table(
        w,
        res,
        Scenario::PollingEcho,
        "## 4. Echo over HTTP long-polling",
        "Polling only (no upgrade). Each client keeps two keep-alive connections, as a browser does: a \
         long-poll GET is pending while the POST carries `42[\"echo\",v]`; a round trip ends when the \
         echo arrives on the GET. The ceiling speaks websocket only.",
        "round trips/s",
        "server CPU / round trip",
    );
    // (5) handshakes
    simple_table(
        w,
        res,
        Scenario::HandshakeWs,
        "## 5. Handshakes\n\n### Websocket direct",
        "New TCP connection, websocket upgrade, open packet, `40`, `40{sid}`, close (close frame, the \
         server closes the connection); the given number of clients in parallel, each in a loop.",
        "handshakes/s",
        "server CPU / handshake",
    );
    simple_table(
        w,
        res,
        Scenario::HandshakePolling,
        "### Polling, then upgrade",
        "What socket.io-client does by default: polling handshake (GET), `40` (POST), `40{sid}` (GET), \
         then a websocket with the sid, `2probe` → `3probe`, the pending poll released with a noop, \
         `5`, close. The HTTP connections are kept alive across handshakes.",
        "handshakes/s",
        "server CPU / handshake",
    );
    // (6) connection state recovery (bench/src/recovery.rs)
    crate::recovery::render(w, &res.recovery);
    let _ = writeln!(
        w,
        "## How to run\n\n```sh\nbench/run                 # everything, then writes docs/benchmarks.md (about half an hour)\n\
         bench/run --quick         # seconds: tiny counts, checks only that every series runs (CI)\n\
         bench/run --peers ours,ceiling --only echo,fanout   # a subset, report to target/bench/\n```\n\n\
         Raw results (every repetition) are kept in `target/bench/results-full.json`; \
         `bench/run --report` rewrites this page from them."
    );
    o
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The polling and handshake tables: every peer with the ratios to Node and socketioxide, to the
/// ceiling for the websocket handshake, and above the polling floor for the polling scenarios
/// when the floor ran.
fn simple_table(
    w: &mut String,
    res: &Results,
    sc: Scenario,
    title: &str,
    what: &str,
    thr_name: &str,
    cpu_name: &str,
) {
    let ps = params(res, sc);
    if ps.is_empty() {
        return;
    }
    let peers = peers_in(res);
    let polling = sc.needs_polling();
    let floor = polling
        && res
            .series
            .iter()
            .any(|s| s.scenario == sc && s.peer == Peer::Floor);
    let _ = writeln!(w, "{title}\n\n{what}\n");
    let mut head = format!(
        "| clients | server | {thr_name} | p50 | p99 | {cpu_name} | user µs/op | kernel µs/op |"
    );
    if floor {
        head.push_str(" above floor | above floor ÷ socketioxide's |");
    }
    head.push_str(" ÷ Node | ÷ socketioxide |");
    if !polling {
        head.push_str(" ÷ ceiling |");
    }
    head.push_str(" cores: server / generator / others | |");
    let _ = writeln!(w, "{head}");
    let _ = writeln!(w, "|{}", "---|".repeat(head.matches('|').count() - 1));
    for &(n, size) in &ps {
        for &p in &peers {
            let Some(s) = find(res, sc, p, n, size) else {
                continue;
            };
            let mm = med(s);
            let metric = |q: Peer| find(res, sc, q, n, size).and_then(|s| med(s).cpu_us);
            let (rn, rc) = ratios(res, metric, p);
            let rs = ratio(metric(p), metric(Peer::Socketioxide));
            let _ = write!(
                w,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                p.label(),
                thr(&mm),
                us(mm.p50),
                us(mm.p99),
                cpu(mm.cpu_us),
                user_kernel(&mm),
            );
            if floor {
                // Only the two axum layers stand on the floor.
                let (above, rel) = if matches!(p, Peer::Ours | Peer::Socketioxide) {
                    let f = metric(Peer::Floor);
                    (
                        cpu(metric(p).zip(f).map(|(a, f)| a - f)),
                        summary::above_ratio(metric(p), metric(Peer::Socketioxide), f),
                    )
                } else {
                    ("—".into(), "—".into())
                };
                let _ = write!(w, " {above} | {rel} |");
            }
            let _ = write!(w, " {rn} | {rs} |");
            if !polling {
                let _ = write!(w, " {rc} |");
            }
            let _ = writeln!(w, " {} | {} |", cores(&mm), errs(&mm));
        }
    }
    // The note once, under the first table with the floor.
    let first = sc == Scenario::PollingEcho
        || !res
            .series
            .iter()
            .any(|s| s.scenario == Scenario::PollingEcho && s.peer == Peer::Floor);
    if floor && first {
        let _ = writeln!(
            w,
            "\n*Above floor*: the server CPU per operation less the polling floor's, for the two axum \
             layers (ours and socketioxide); *above floor ÷ socketioxide's* compares those. The floor \
             is not a Socket.IO server (see *Reading the tables*)."
        );
    }
    let _ = writeln!(w);
}
