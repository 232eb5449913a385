//! What the harness reads off Linux: a process's CPU time and resident memory, each core's busy
//! time, and the few socket and scheduling knobs it sets.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

/// Clock ticks per second of the utime/stime fields of /proc/<pid>/stat.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// utime + stime of a whole process (all its threads), from /proc/<pid>/stat.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    cpu_times(pid).map(|(user, kernel)| user + kernel)
}

/// utime and stime (user and kernel time) of a whole process (all its threads), from
/// /proc/<pid>/stat.
pub fn cpu_times(pid: u32) -> io::Result<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("bad /proc/pid/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let parse = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("bad /proc/pid/stat field"))
    };
    let hz = clock_ticks();
    let d = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / hz);
    Ok((d(parse(11)?), d(parse(12)?)))
}

/// Resident set size in KiB (VmRSS of /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// Busy and total jiffies of each core (`cpuN` lines of /proc/stat); busy excludes idle and iowait.
#[derive(Clone, Debug, Default)]
pub struct CoreTimes(pub Vec<(u64, u64)>);

impl CoreTimes {
    pub fn read() -> CoreTimes {
        let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
            return CoreTimes::default();
        };
        let mut cores = Vec::new();
        for line in stat.lines() {
            let Some(rest) = line.strip_prefix("cpu") else {
                continue;
            };
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let v: Vec<u64> = rest
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal (guest fields are inside user/nice)
            let total: u64 = v.iter().take(8).sum();
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            cores.push((total - idle, total));
        }
        CoreTimes(cores)
    }

    /// Fraction busy of core `i` between `self` (earlier) and `later`.
    pub fn busy_since(&self, later: &CoreTimes, i: usize) -> f64 {
        match (self.0.get(i), later.0.get(i)) {
            (Some(a), Some(b)) if b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1) as f64,
            _ => 0.0,
        }
    }
}

/// Cores online (not the affinity mask: the generator pins itself to one).
pub fn num_cores() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// Pins the calling process (all its threads created from now on) to one core.
pub fn pin_self(core: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read/write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Raises the soft open-files limit to the hard one; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        r.rlim_cur as u64
    }
}

/// The source address of connection number `i`: 127.0.0.2 … 127.0.0.9 in turn.
pub fn source_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8)
}

/// A TCP connection to `127.0.0.1:port` from `src` (port chosen at connect time, so the four-tuple,
/// not the source port alone, has to be unique), with TCP_NODELAY.
pub async fn tcp_connect(src: Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    // IP_BIND_ADDRESS_NO_PORT: bind the address now, the port at connect().
    let one: libc::c_int = 1;
    // SAFETY: a valid fd and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    sock.bind(SocketAddr::V4(SocketAddrV4::new(src, 0)))?;
    let stream = sock
        .connect(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Runs `fut` for at most `d`, turning the timeout into an io::Error.
pub async fn within<T>(
    d: Duration,
    what: &str,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(d, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out: {what}"),
        )),
    }
}
