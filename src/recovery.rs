//! Connection state recovery on one node: the sessions of sockets that dropped for a recoverable
//! reason, and the packets they may have missed, so that a client coming back within
//! `max_disconnection_duration` gets the same socket id, rooms and data, and every event it
//! missed.
//!
//! Memory is bounded: packets older than `max_disconnection_duration` and sessions that expired
//! are swept on every store and periodically, and at most [`MAX_STORED_PACKETS`] packets are kept per namespace
//! (the oldest go first; a client whose offset fell out gets a fresh socket, as with an expired
//! session).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use tokio::time::Instant;

use crate::adapter::{BroadcastOptions, Room};
use crate::protocol::{Packet, PacketData};
use crate::socket::DisconnectReason;

/// How many packets one namespace keeps for recovery at most.
pub const MAX_STORED_PACKETS: usize = 10_000;

/// The `connectionStateRecovery` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket can be restored (Node's default: 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a restored socket skips the connect middlewares (Node's default: true).
    pub skip_middlewares: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
        }
    }
}

/// Disconnect reasons after which a session is kept: the client did not mean to leave.
pub(crate) fn recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportError
            | DisconnectReason::TransportClose
            | DisconnectReason::ForcedClose
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::ForcedServerClose
    )
}

/// A restored session and the packets it missed, oldest first.
pub type Restored = (SessionState, Vec<Packet>);

/// What a restored socket gets back.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// The socket id.
    pub sid: Arc<str>,
    /// The private session id the client presents to come back.
    pub pid: Arc<str>,
    /// The rooms it was in.
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: serde_json::Value,
}

struct Stored {
    offset: Arc<str>,
    at: Instant,
    packet: Packet,
    rooms: Vec<Room>,
    except: Vec<Room>,
}

/// A restore between its replay and the registration of its socket: the packets kept since.
struct Waiting {
    rooms: Vec<Room>,
    packets: Vec<Packet>,
    since: Instant,
}

/// The recovery store of one namespace.
pub(crate) struct Store {
    config: RecoveryConfig,
    sessions: HashMap<Arc<str>, (SessionState, Instant)>,
    packets: VecDeque<Stored>,
    /// Restores in progress, by socket id.
    waiting: HashMap<Arc<str>, Waiting>,
    prefix: String,
    counter: AtomicU64,
}

impl Store {
    pub(crate) fn new(config: RecoveryConfig) -> Self {
        Store {
            config,
            sessions: HashMap::new(),
            packets: VecDeque::new(),
            waiting: HashMap::new(),
            // Offsets from a previous run of the server must not match this one's.
            prefix: crate::engine::generate_id()[..8].to_owned(),
            counter: AtomicU64::new(0),
        }
    }

    /// A store, swept every `max_disconnection_duration` (at most every minute, as Node does)
    /// by a task that ends with the store, so memory goes back even when nothing is stored any
    /// more. Without a runtime yet, it is swept on every store only.
    pub(crate) fn shared(config: RecoveryConfig) -> Arc<Mutex<Store>> {
        let store = Arc::new(Mutex::new(Store::new(config)));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&store);
            let period = config
                .max_disconnection_duration
                .clamp(Duration::from_secs(1), Duration::from_secs(60));
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let Some(store) = weak.upgrade() else {
                        return;
                    };
                    store
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .sweep(Instant::now());
                }
            });
        }
        store
    }

    fn sweep(&mut self, now: Instant) {
        let max = self.config.max_disconnection_duration;
        while self
            .packets
            .front()
            .is_some_and(|p| now.duration_since(p.at) > max)
        {
            self.packets.pop_front();
        }
        self.sessions
            .retain(|_, (_, at)| now.duration_since(*at) <= max);
        // A restore whose socket never came (refused by a middleware, client gone).
        self.waiting
            .retain(|_, w| now.duration_since(w.since) <= max);
    }

    /// Gives an event its offset (appended as its last argument) and keeps it. Returns false
    /// for packets that are not kept (acks expected, volatile, not an event).
    pub(crate) fn keep(&mut self, packet: &mut Packet, opts: &BroadcastOptions) -> bool {
        if packet.id.is_some() || opts.flags.volatile {
            return false;
        }
        let PacketData::Event { args, .. } = &mut packet.data else {
            return false;
        };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let offset: Arc<str> = format!("{}-{:x}", self.prefix, n).into();
        if args.push(&*offset).is_err() {
            return false;
        }
        let now = Instant::now();
        self.sweep(now);
        if self.packets.len() >= MAX_STORED_PACKETS {
            self.packets.pop_front();
        }
        for w in self.waiting.values_mut() {
            if w.packets.len() < MAX_STORED_PACKETS && reaches(&w.rooms, &opts.rooms, &opts.except)
            {
                w.packets.push(packet.clone());
            }
        }
        self.packets.push_back(Stored {
            offset,
            at: now,
            packet: packet.clone(),
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
        });
        true
    }

    /// The packets kept since the replay of the restore of `sid`, which ends now.
    pub(crate) fn finish_restore(&mut self, sid: &str) -> Vec<Packet> {
        self.waiting
            .remove(sid)
            .map(|w| w.packets)
            .unwrap_or_default()
    }

    /// Keeps the session of a socket that left for a recoverable reason.
    pub(crate) fn persist(&mut self, session: SessionState) {
        let now = Instant::now();
        self.sweep(now);
        self.sessions.insert(session.pid.clone(), (session, now));
    }

    /// The session of `pid` and the packets after `offset` that would have reached it, if the
    /// session is still young enough and the offset still known.
    pub(crate) fn restore(
        &mut self,
        pid: &str,
        offset: &str,
    ) -> Option<(SessionState, Vec<Packet>)> {
        self.sweep(Instant::now());
        let position = self.packets.iter().position(|p| &*p.offset == offset)?;
        let (session, _) = self.sessions.remove(pid)?;
        let missed = self
            .packets
            .iter()
            .skip(position + 1)
            .filter(|p| reaches(&session.rooms, &p.rooms, &p.except))
            .map(|p| p.packet.clone())
            .collect();
        // What is kept from now on until the socket is registered goes to it then.
        self.waiting.insert(
            session.sid.clone(),
            Waiting {
                rooms: session.rooms.clone(),
                packets: Vec::new(),
                since: Instant::now(),
            },
        );
        Some((session, missed))
    }
}

/// Whether a packet sent to `rooms` minus `except` reaches a socket in `socket_rooms`.
pub(crate) fn reaches(socket_rooms: &[Room], rooms: &[Room], except: &[Room]) -> bool {
    let included = rooms.is_empty() || socket_rooms.iter().any(|r| rooms.contains(r));
    included && !socket_rooms.iter().any(|r| except.contains(r))
}

/// Orders the broadcasts of a namespace with recovery on, and the registrations of restored
/// sockets, one at a time: a broadcast is kept and delivered, or a restored socket gets what
/// was kept since its replay and is registered, never both at once. So every packet reaches a
/// restored socket exactly once, and offsets go out in the order they were given, whatever the
/// threads. A thread may enter again while it holds the gate (a handler that emits while a room
/// event or an outgoing-packet listener runs), so the gate cannot deadlock on itself.
#[derive(Default)]
pub(crate) struct Gate {
    owner: Mutex<Option<(ThreadId, usize)>>,
    free: Condvar,
}

/// Holding the [`Gate`].
pub(crate) struct GateGuard<'a>(&'a Gate);

impl Gate {
    pub(crate) fn enter(&self) -> GateGuard<'_> {
        let me = std::thread::current().id();
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match &mut *owner {
                None => {
                    *owner = Some((me, 1));
                    break;
                }
                Some((id, depth)) if *id == me => {
                    *depth += 1;
                    break;
                }
                Some(_) => {
                    owner = self.free.wait(owner).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        GateGuard(self)
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut owner = self.0.owner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, depth)) = &mut *owner {
            *depth -= 1;
            if *depth == 0 {
                *owner = None;
                self.0.free.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sid: &str) -> SessionState {
        SessionState {
            sid: sid.into(),
            pid: format!("pid-{sid}").into(),
            rooms: vec![sid.into()],
            data: serde_json::Value::Null,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn expired_sessions_and_packets_go_without_new_activity() {
        let config = RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(2),
            skip_middlewares: true,
        };
        let store = Store::shared(config);
        {
            let mut s = store.lock().unwrap();
            s.persist(session("a"));
            let mut packet = Packet::event(
                crate::protocol::Utf8Bytes::from_static("/"),
                crate::protocol::EventName::new("e".to_owned()),
                crate::protocol::Args::new(),
            );
            assert!(s.keep(&mut packet, &BroadcastOptions::default()));
            assert_eq!((s.sessions.len(), s.packets.len()), (1, 1));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let s = store.lock().unwrap();
        assert_eq!((s.sessions.len(), s.packets.len()), (0, 0));
    }

    #[test]
    fn a_restore_gets_what_is_kept_until_its_socket_is_registered() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut s = Store::new(RecoveryConfig::default());
            let opts = BroadcastOptions::default();
            let event = |n: i64| {
                let mut args = crate::protocol::Args::new();
                args.push(&n).unwrap();
                Packet::event(
                    crate::protocol::Utf8Bytes::from_static("/"),
                    crate::protocol::EventName::new("e".to_owned()),
                    args,
                )
            };
            let mut first = event(1);
            s.keep(&mut first, &opts);
            let PacketData::Event { args, .. } = &first.data else {
                unreachable!()
            };
            let (_, offset): (i64, String) = args.deserialize().unwrap();
            s.persist(session("a"));
            s.keep(&mut event(2), &opts);
            let (restored, missed) = s.restore("pid-a", &offset).unwrap();
            assert_eq!((&*restored.sid, missed.len()), ("a", 1));
            s.keep(&mut event(3), &opts);
            s.keep(&mut event(4), &opts);
            assert_eq!(s.finish_restore("a").len(), 2);
            assert!(s.finish_restore("a").is_empty(), "taken once");
        });
    }
}
