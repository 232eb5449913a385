//! The table at the top of the report: ours against the targets of issue 5, and, for the polling
//! rows, where the polling floor stands; the paragraph that explains the floor.

use std::fmt::Write;

use super::{
    cpu, find, headline_steps, idle_slope, idle_steps, k, med, median, params, ratio, size_label,
    thr, us,
};
use crate::peers::Peer;
use crate::{Results, Scenario};

/// Ours ÷ `against` repetition by repetition (the peers of a series run back to back, so each
/// pair shares the machine's state): the median ratio, and the lowest and highest.
fn paired(res: &Results, sc: Scenario, against: Peer, at: (usize, usize)) -> Option<Paired> {
    paired_of(res, sc, Peer::Ours, against, at)
}

/// `num` ÷ `den`, repetition by repetition.
fn paired_of(
    res: &Results,
    sc: Scenario,
    num: Peer,
    den: Peer,
    (n, size): (usize, usize),
) -> Option<Paired> {
    let a = find(res, sc, num, n, size)?;
    let b = find(res, sc, den, n, size)?;
    let mut rs: Vec<f64> = a
        .reps
        .iter()
        .zip(&b.reps)
        .filter_map(|(a, b)| Some(a.cpu_per_op_us()? / b.cpu_per_op_us()?))
        .filter(|r| r.is_finite())
        .collect();
    rs.sort_by(f64::total_cmp);
    let (&lo, &hi) = (rs.first()?, rs.last()?);
    Some(Paired {
        med: median(rs.into_iter())?,
        lo,
        hi,
    })
}

struct Paired {
    med: f64,
    lo: f64,
    hi: f64,
}

impl Paired {
    fn cell(p: Option<Paired>) -> String {
        p.map_or("—".into(), |p| {
            format!("{:.2}× ({:.2}–{:.2})", p.med, p.lo, p.hi)
        })
    }
}

/// `(a − floor) ÷ (b − floor)`: the CPU two peers spend above the floor, compared.
pub(super) fn above_ratio(a: Option<f64>, b: Option<f64>, floor: Option<f64>) -> String {
    match (a, b, floor) {
        (Some(a), Some(b), Some(f)) if b > f => format!("{:.2}×", (a - f) / (b - f)),
        _ => "—".into(),
    }
}

/// What the polling floor is, and the kernel share of the polling round trip in this run.
pub(super) fn floor_paragraph(w: &mut String, res: &Results) {
    let _ = write!(
        w,
        "**The polling floor** (`bench/src/bin/polling_floor.rs`, in the two polling scenarios only) is \
         not a Socket.IO server but a yardstick, as the ceiling is for the websocket scenarios. It is \
         an axum app wired as ours and socketioxide are (`Router::new().layer(..)` served by \
         `axum::serve`) that does the least any axum-layer Socket.IO server can do on long-polling: \
         a static open packet, `40` → `40{{sid}}`, `42` packets echoed byte for byte without being \
         parsed, GETs held until something is queued, the websocket upgrade with its probe; no \
         heartbeat, timeouts or validation. Its own code does little, so what it spends is the \
         kernel's TCP work and hyper, axum and tokio, which cost every axum layer about as much per \
         operation"
    );
    let poll = params(res, Scenario::PollingEcho);
    let at = poll
        .iter()
        .find(|(n, _)| *n == 100)
        .or_else(|| poll.iter().max())
        .copied();
    let share = |p: Peer| {
        let (n, size) = at?;
        let m = med(find(res, Scenario::PollingEcho, p, n, size)?);
        Some((m.kernel_us? / m.cpu_us?, n))
    };
    if let Some((f, n)) = share(Peer::Floor) {
        let _ = write!(
            w,
            "; in this run (polling echo, {n} clients) kernel time was {:.0}% of the floor's server \
             CPU per round trip",
            f * 100.0
        );
        let others: Vec<String> = [(Peer::Ours, "ours"), (Peer::Socketioxide, "socketioxide's")]
            .into_iter()
            .filter_map(|(p, whose)| share(p).map(|(s, _)| format!("{:.0}% of {whose}", s * 100.0)))
            .collect();
        if !others.is_empty() {
            let _ = write!(w, " ({})", others.join(", "));
        }
    }
    let _ = writeln!(
        w,
        ". The floor is thus the least an axum layer can reach, and a peer's CPU per operation \
         *above the floor* is what its Socket.IO layer adds.\n"
    );
}

/// The targets of issue 5, ours against them.
pub(super) fn targets(w: &mut String, res: &Results) {
    let cpu_of = |sc: Scenario, p: Peer, (n, size): (usize, usize)| {
        find(res, sc, p, n, size).and_then(|s| med(s).cpu_us)
    };
    let idle_of = |p: Peer| {
        let steps = idle_steps(res);
        let (a, b) = headline_steps(&steps)?;
        res.series
            .iter()
            .find(|s| s.scenario == Scenario::Idle && s.peer == p)
            .and_then(|s| idle_slope(s, a, b))
    };
    // The series the targets name, at the sizes of a full run (else the largest measured).
    let pick = |sc: Scenario, want: usize| {
        let ps = params(res, sc);
        ps.iter()
            .find(|(n, s)| *n == want && (*s == 32 || *s == 0))
            .or_else(|| ps.iter().filter(|(_, s)| *s == 32 || *s == 0).max())
            .copied()
    };
    let echo = pick(Scenario::Echo, 100);
    let fan = pick(Scenario::Fanout, 1000);
    let hs = pick(Scenario::HandshakeWs, 50);
    let poll = pick(Scenario::PollingEcho, 100);
    let hsp = pick(Scenario::HandshakePolling, 20);
    let open = pick(Scenario::OpenLoop, 100);
    // Two more columns when the polling floor ran: filled on the polling rows only.
    let floor = res.series.iter().any(|s| s.peer == Peer::Floor);
    let none = if floor { " | |" } else { "" };

    let _ = writeln!(w, "## Ours against the targets (issue 5)\n");
    let _ = writeln!(
        w,
        "| metric | Node socket.io | socketioxide | ceiling | **ours** | ours ÷ ceiling | ours ÷ socketioxide |{} target | met |",
        if floor {
            " floor ÷ socketioxide | (ours − floor) ÷ (socketioxide − floor) |"
        } else {
            ""
        }
    );
    let _ = writeln!(w, "|{}", "---|".repeat(if floor { 11 } else { 9 }));
    let fmt_kib = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} KiB"));
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };
    // idle
    let steps = idle_steps(res);
    if let Some((a, b)) = headline_steps(&steps) {
        let ours = idle_of(Peer::Ours);
        let _ = writeln!(
            w,
            "| idle memory per websocket connection ({}→{} slope) | {} | {} | {} | **{}** | {} | {}{none} | ≤ 8 KiB | {} |",
            k(a as f64),
            k(b as f64),
            fmt_kib(idle_of(Peer::Node)),
            fmt_kib(idle_of(Peer::Socketioxide)),
            fmt_kib(idle_of(Peer::Ceiling)),
            fmt_kib(ours),
            ratio(ours, idle_of(Peer::Ceiling)),
            ratio(ours, idle_of(Peer::Socketioxide)),
            verdict(ours.map(|x| x <= 8.0))
        );
    }
    let cpu_row = |w: &mut String,
                   name: String,
                   sc: Scenario,
                   at: (usize, usize),
                   bound: f64,
                   against: Peer| {
        let v = |p: Peer| cpu_of(sc, p, at);
        let ok = paired(res, sc, against, at).map(|p| p.med <= bound);
        let floor_cells = if !floor {
            String::new()
        } else if sc.needs_polling() {
            format!(
                " {} | {} |",
                Paired::cell(paired_of(res, sc, Peer::Floor, Peer::Socketioxide, at)),
                above_ratio(v(Peer::Ours), v(Peer::Socketioxide), v(Peer::Floor))
            )
        } else {
            " | |".into()
        };
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} | **{}** | {} | {} |{floor_cells} ≤ {bound}× {} | {} |",
            cpu(v(Peer::Node)),
            cpu(v(Peer::Socketioxide)),
            cpu(v(Peer::Ceiling)),
            cpu(v(Peer::Ours)),
            Paired::cell(paired(res, sc, Peer::Ceiling, at)),
            Paired::cell(paired(res, sc, Peer::Socketioxide, at)),
            if against == Peer::Ceiling {
                "ceiling"
            } else {
                "socketioxide"
            },
            verdict(ok)
        );
    };
    if let Some(e) = echo {
        let thr_of = |p: Peer| find(res, Scenario::Echo, p, e.0, e.1).map(med);
        let t = |p: Peer| thr_of(p).map_or("—".into(), |m| thr(&m));
        let ops = |p: Peer| thr_of(p).and_then(|m| m.ops_s);
        let _ = writeln!(
            w,
            "| echo, {} clients × {}: round trips/s | {} | {} | {} | **{}** | {} | {}{none} | (no target: generator-bound on 2 cores) | |",
            e.0,
            size_label(e.1),
            t(Peer::Node),
            t(Peer::Socketioxide),
            t(Peer::Ceiling),
            t(Peer::Ours),
            ratio(ops(Peer::Ours), ops(Peer::Ceiling)),
            ratio(ops(Peer::Ours), ops(Peer::Socketioxide)),
        );
        cpu_row(
            w,
            format!(
                "echo ({} × {}): server CPU per round trip",
                e.0,
                size_label(e.1)
            ),
            Scenario::Echo,
            e,
            1.1,
            Peer::Ceiling,
        );
    }
    if let Some(f) = fan {
        cpu_row(
            w,
            format!("fan-out to {}: server CPU per delivery", k(f.0 as f64)),
            Scenario::Fanout,
            f,
            1.1,
            Peer::Ceiling,
        );
    }
    if let Some(h) = hs {
        cpu_row(
            w,
            format!("websocket handshake (c={}): server CPU each", h.0),
            Scenario::HandshakeWs,
            h,
            1.2,
            Peer::Ceiling,
        );
    }
    if let Some(p) = poll {
        cpu_row(
            w,
            format!("polling echo ({} clients): server CPU per round trip", p.0),
            Scenario::PollingEcho,
            p,
            0.8,
            Peer::Socketioxide,
        );
    }
    if let Some(h) = hsp {
        cpu_row(
            w,
            format!("polling handshake + upgrade (c={}): server CPU each", h.0),
            Scenario::HandshakePolling,
            h,
            0.8,
            Peer::Socketioxide,
        );
    }
    if let Some(o) = open {
        let p99 = |p: Peer| find(res, Scenario::OpenLoop, p, o.0, o.1).and_then(|s| med(s).p99);
        let ok = match (p99(Peer::Ours), p99(Peer::Socketioxide)) {
            (Some(a), Some(b)) => Some(a <= b),
            _ => None,
        };
        let _ = writeln!(
            w,
            "| open-loop echo p99 at {}/s ({} clients) | {} | {} | {} | **{}** | {} | {}{none} | ≤ socketioxide's | {} |",
            k(res.meta.open_loop_rate),
            o.0,
            us(p99(Peer::Node)),
            us(p99(Peer::Socketioxide)),
            us(p99(Peer::Ceiling)),
            us(p99(Peer::Ours)),
            ratio(p99(Peer::Ours), p99(Peer::Ceiling)),
            ratio(p99(Peer::Ours), p99(Peer::Socketioxide)),
            verdict(ok)
        );
    }
    let _ = writeln!(
        w,
        "\nOn the server-CPU rows, the peers' columns are medians of the repetitions, and the \
         ratios to the ceiling and to socketioxide (which the targets judge) are medians of the \
         ratios repetition by repetition, lowest and highest in parentheses. The peers of a \
         series run back to back, so each repetition's pair shares the machine's state, where a \
         ratio of two medians can pair windows of different repetitions. The spread is this \
         machine's noise; the verdict takes the median ratio."
    );
    if floor {
        let _ = writeln!(
            w,
            "\nOn the polling rows, *floor ÷ socketioxide* is where the polling floor (see *Reading the tables*) stands on the \
             ratio the target judges: the least any axum layer can reach. *(ours − floor) ÷ \
             (socketioxide − floor)* compares only the server CPU the two Socket.IO layers spend \
             above the floor (medians; when the noise is as large as the differences, as it may be \
             for the handshake, this ratio means little: callgrind's instruction counts, in \
             `bench/README.md`, are the steadier comparison)."
        );
    }
    let _ = writeln!(w);
}
