//! The servers compared: how to start each (pinned to core 0), find its process, and stop it.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    Ours,
    Node,
    Socketioxide,
    Ceiling,
    Floor,
}

impl Peer {
    pub const ALL: [Peer; 5] = [
        Peer::Ours,
        Peer::Node,
        Peer::Socketioxide,
        Peer::Ceiling,
        Peer::Floor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Ours => "ours",
            Peer::Node => "node",
            Peer::Socketioxide => "socketioxide",
            Peer::Ceiling => "ceiling",
            Peer::Floor => "floor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Peer::Ours => "axum-socketio (ours)",
            Peer::Node => "Node socket.io",
            Peer::Socketioxide => "socketioxide",
            Peer::Ceiling => "raw tokio-tungstenite (ceiling)",
            Peer::Floor => "axum + hyper polling floor",
        }
    }

    pub fn parse(s: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether the peer takes part in the polling scenarios: the ceiling speaks websocket only.
    pub fn polling(self) -> bool {
        self != Peer::Ceiling
    }

    /// Whether the peer takes part in the websocket scenarios: the polling floor is a yardstick
    /// for the polling ones only (it upgrades to websocket, but only within the polling
    /// handshake scenario).
    pub fn websocket(self) -> bool {
        self != Peer::Floor
    }
}

/// Where the server programs are.
#[derive(Clone, Debug)]
pub struct Programs {
    /// target/<profile>/examples/bench_server
    pub ours: PathBuf,
    /// target/<profile>/ceiling-server
    pub ceiling: PathBuf,
    /// target/<profile>/socketioxide-server
    pub socketioxide: PathBuf,
    /// target/<profile>/polling-floor
    pub floor: PathBuf,
    /// bench/node (server.js and its node_modules)
    pub node_dir: PathBuf,
    /// where the servers' stdout/stderr go
    pub log_dir: PathBuf,
}

impl Programs {
    pub fn available(&self, p: Peer) -> bool {
        match p {
            Peer::Ours => self.ours.is_file(),
            Peer::Ceiling => self.ceiling.is_file(),
            Peer::Socketioxide => self.socketioxide.is_file(),
            Peer::Floor => self.floor.is_file(),
            Peer::Node => self
                .node_dir
                .join("node_modules/socket.io/package.json")
                .is_file(),
        }
    }

    fn command(&self, p: Peer) -> (String, Vec<String>) {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        match p {
            Peer::Ours => (s(&self.ours), vec![]),
            Peer::Ceiling => (s(&self.ceiling), vec![]),
            Peer::Socketioxide => (s(&self.socketioxide), vec![]),
            Peer::Floor => (s(&self.floor), vec![]),
            Peer::Node => ("node".into(), vec![s(&self.node_dir.join("server.js"))]),
        }
    }

    /// The command line as the report shows it.
    pub fn shown(&self, p: Peer, root: &Path) -> String {
        let (prog, args) = self.command(p);
        let rel = |s: &str| {
            Path::new(s)
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| s.to_owned())
        };
        let mut out = format!("PORT=… WORKERS=1 taskset -c 0 {}", rel(&prog));
        for a in args {
            out.push(' ');
            out.push_str(&rel(&a));
        }
        out
    }
}

/// A running server.
pub struct Server {
    pub port: u16,
    pub pid: u32,
    child: Child,
}

impl Server {
    /// Starts `peer` on `port`, pinned to `core` (when there is more than one), and waits until
    /// it accepts connections.
    pub fn start(
        progs: &Programs,
        peer: Peer,
        port: u16,
        core: Option<usize>,
    ) -> io::Result<Server> {
        let (prog, args) = progs.command(peer);
        std::fs::create_dir_all(&progs.log_dir)?;
        let log = std::fs::File::create(progs.log_dir.join(format!("{}-{port}.log", peer.name())))?;
        let mut cmd = match core {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c.to_string()).arg(&prog);
                cmd
            }
            None => Command::new(&prog),
        };
        cmd.args(&args)
            .env("PORT", port.to_string())
            .env("WORKERS", "1")
            .env("NODE_ENV", "production")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl in the child between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                // The server dies with the harness, whatever ends it.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pid = child.id();
        let mut server = Server { port, pid, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(io::Error::other(format!(
                    "{} exited at start ({status}); see {}",
                    peer.name(),
                    progs.log_dir.display()
                )));
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(io::Error::other(format!(
                    "{} did not listen on {port} within 20 s",
                    peer.name()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let it settle (Node's JIT warms up during each series' warm-up instead).
        std::thread::sleep(Duration::from_millis(50));
        Ok(server)
    }

    /// The server's user and kernel time so far (utime, stime).
    pub fn cpu(&self) -> (Duration, Duration) {
        sys::cpu_times(self.pid).unwrap_or_default()
    }

    pub fn rss_kib(&self) -> u64 {
        sys::rss_kib(self.pid).unwrap_or(0)
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, up to 5 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        sys::kill(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
