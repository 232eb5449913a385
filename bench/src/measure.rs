//! One measured window: operations, latency histogram, server CPU time (user and kernel), both
//! cores' utilisation.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::peers::Server;
use crate::sys::CoreTimes;

/// A core is saturated at this utilisation or above (the validity rule of a throughput figure).
pub const SATURATED: f64 = 0.90;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// What one repetition of one series measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sample {
    pub ops: u64,
    pub errors: u64,
    pub secs: f64,
    pub server_cpu_s: f64,
    /// The two parts of `server_cpu_s`: utime and stime (user and kernel time) of the server over
    /// the window; absent from results written before they were recorded.
    #[serde(default)]
    pub server_user_s: Option<f64>,
    #[serde(default)]
    pub server_kernel_s: Option<f64>,
    /// Busy fraction of the server's core and of the generator's over the window.
    pub server_core: f64,
    pub gen_core: f64,
    /// CPU used over the window by processes other than the server and the generator, in cores
    /// (both cores' busy time less the two processes' own): noise from the rest of the machine.
    #[serde(default)]
    pub other_load: f64,
    pub latency: Option<Latency>,
    /// Idle scenario: (connections, server RSS KiB), the first at 0 connections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_points: Vec<(u64, u64)>,
    /// Anything worth a footnote (first error message, connections refused, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Sample {
    pub fn ops_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Server CPU time per operation, µs.
    pub fn cpu_per_op_us(&self) -> Option<f64> {
        (self.ops > 0).then(|| self.server_cpu_s * 1e6 / self.ops as f64)
    }

    /// Server user time per operation, µs.
    pub fn user_per_op_us(&self) -> Option<f64> {
        let u = self.server_user_s?;
        (self.ops > 0).then(|| u * 1e6 / self.ops as f64)
    }

    /// Server kernel time per operation, µs.
    pub fn kernel_per_op_us(&self) -> Option<f64> {
        let k = self.server_kernel_s?;
        (self.ops > 0).then(|| k * 1e6 / self.ops as f64)
    }

    /// A throughput figure counts only when the server's core is saturated and the generator's
    /// is not.
    pub fn valid(&self) -> bool {
        self.server_core >= SATURATED && self.gen_core < SATURATED
    }
}

/// Latencies in nanoseconds, 1 µs … 100 s, 3 significant figures.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 100_000_000_000, 3).expect("histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = (d.as_nanos() as u64).clamp(1_000, 100_000_000_000);
    h.saturating_record(ns);
}

pub fn summarize(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    Some(Latency {
        count: h.len(),
        p50_us: us(h.value_at_quantile(0.50)),
        p90_us: us(h.value_at_quantile(0.90)),
        p99_us: us(h.value_at_quantile(0.99)),
        p999_us: us(h.value_at_quantile(0.999)),
        max_us: us(h.max()),
    })
}

/// The phase of a run, shared by every client task of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    Warmup,
    Measure,
    Done,
}

/// State shared by the client tasks of one series (all on the generator's one thread).
pub struct Shared {
    pub phase: Cell<Phase>,
    pub ops: Cell<u64>,
    pub errors: Cell<u64>,
    pub first_error: RefCell<Option<String>>,
    pub hist: RefCell<Histogram<u64>>,
}

impl Shared {
    pub fn new() -> Rc<Shared> {
        Rc::new(Shared {
            phase: Cell::new(Phase::Warmup),
            ops: Cell::new(0),
            errors: Cell::new(0),
            first_error: RefCell::new(None),
            hist: RefCell::new(new_hist()),
        })
    }

    pub fn measuring(&self) -> bool {
        self.phase.get() == Phase::Measure
    }

    pub fn done(&self) -> bool {
        self.phase.get() == Phase::Done
    }

    /// Counts one operation finished now that took `d` (only while measuring).
    pub fn op(&self, d: Duration) {
        if self.measuring() {
            self.ops.set(self.ops.get() + 1);
            record(&mut self.hist.borrow_mut(), d);
        }
    }

    pub fn error(&self, e: impl std::fmt::Display) {
        if self.done() {
            return; // errors while tearing down don't count
        }
        self.errors.set(self.errors.get() + 1);
        let mut f = self.first_error.borrow_mut();
        if f.is_none() {
            *f = Some(e.to_string());
        }
    }
}

/// The counters at the start of a measured window.
pub struct Meter {
    t0: Instant,
    /// The server's user and kernel time.
    cpu0: (Duration, Duration),
    gen0: Duration,
    cores0: CoreTimes,
    server_core: usize,
    gen_core: usize,
}

/// Runs `$SIO_BENCH_ON_WINDOW start|stop <server pid>` when set: a profiler's switch (for
/// example `callgrind_control -z` / `-d`), so that a profile covers the measured window only.
fn window_hook(what: &str, server: &Server) {
    if let Some(cmd) = std::env::var_os("SIO_BENCH_ON_WINDOW") {
        let _ = std::process::Command::new(cmd)
            .arg(what)
            .arg(server.pid.to_string())
            .status();
    }
}

impl Meter {
    pub fn start(server: &Server, server_core: usize, gen_core: usize) -> Meter {
        window_hook("start", server);
        Meter {
            cores0: CoreTimes::read(),
            cpu0: server.cpu(),
            gen0: crate::sys::cpu_time(std::process::id()).unwrap_or_default(),
            t0: Instant::now(),
            server_core,
            gen_core,
        }
    }

    pub fn finish(self, server: &Server, shared: &Shared) -> Sample {
        let secs = self.t0.elapsed().as_secs_f64();
        window_hook("stop", server);
        let (user1, kernel1) = server.cpu();
        let user = user1.saturating_sub(self.cpu0.0);
        let kernel = kernel1.saturating_sub(self.cpu0.1);
        let cpu = user + kernel;
        let gen_cpu = crate::sys::cpu_time(std::process::id())
            .unwrap_or_default()
            .saturating_sub(self.gen0);
        let cores = CoreTimes::read();
        let busy: f64 = (0..cores.0.len())
            .map(|i| self.cores0.busy_since(&cores, i))
            .sum();
        let other_load = if secs > 0.0 {
            (busy - (cpu.as_secs_f64() + gen_cpu.as_secs_f64()) / secs).max(0.0)
        } else {
            0.0
        };
        Sample {
            ops: shared.ops.get(),
            errors: shared.errors.get(),
            secs,
            server_cpu_s: cpu.as_secs_f64(),
            server_user_s: Some(user.as_secs_f64()),
            server_kernel_s: Some(kernel.as_secs_f64()),
            server_core: self.cores0.busy_since(&cores, self.server_core),
            gen_core: self.cores0.busy_since(&cores, self.gen_core),
            other_load,
            latency: summarize(&shared.hist.borrow()),
            rss_points: Vec::new(),
            note: shared.first_error.borrow().clone(),
        }
    }
}
