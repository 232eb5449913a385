//! What the namespaces of one [`RedisStreamsAdapter`](super::RedisStreamsAdapter) share: the
//! publishing queue and pub/sub connection (the same driver as the pub/sub adapter), the options,
//! and the reader: one task that reads the stream with a blocking `XREAD` on a connection of its
//! own and delivers every entry, this node's included, in stream order.
//!
//! Delivering this node's own broadcasts from the stream (rather than when `XADD` answers, as
//! Node does) gives every node the same order, and lets a restore be exact: the reader delivers
//! under the gate, and a restore reads the reader's position and registers what it waits for
//! under the same gate, so each missed packet is either replayed from the stream or buffered
//! for the socket, never both, never neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use redis::Value as Reply;
use tokio::time::Instant;

use super::message::{Message, StreamId};
use super::node::StreamNs;
use crate::adapter::redis::driver::{RECONNECT_MAX, RECONNECT_MIN, Shared};
use crate::adapter::{BroadcastOptions, Room};
use crate::protocol::Packet;

/// The adapter's options.
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub stream: String,
    pub prefix: String,
    pub max_len: usize,
    pub read_count: usize,
    pub block: Duration,
    pub session_prefix: String,
    pub requests_timeout: Duration,
}

/// A restore between its replay and the registration of its socket: the packets the reader
/// delivered meanwhile that the socket would have got.
pub(super) struct PendingRestore {
    pub nsp: String,
    pub rooms: Vec<Room>,
    /// Entries up to this one are the replay's (or the client's own).
    pub after: StreamId,
    pub packets: Vec<Packet>,
    pub since: Instant,
}

/// Most packets buffered for one restore in progress (as many as the stream keeps by default).
const MAX_WAITING_PACKETS: usize = 10_000;

/// The reader's position and the restores in progress.
#[derive(Default)]
pub(super) struct Gate {
    /// The last entry the reader delivered.
    pub last: StreamId,
    pub restores: HashMap<Arc<str>, PendingRestore>,
}

impl Gate {
    /// Buffers a delivered broadcast for the restores it concerns.
    pub(super) fn buffer(
        &mut self,
        nsp: &str,
        id: StreamId,
        packet: &Packet,
        opts: &BroadcastOptions,
    ) {
        for w in self.restores.values_mut() {
            if w.nsp == nsp
                && id > w.after
                && w.packets.len() < MAX_WAITING_PACKETS
                && crate::recovery::reaches(&w.rooms, &opts.rooms, &opts.except)
            {
                w.packets.push(packet.clone());
            }
        }
    }

    /// Forgets restores whose socket never came (refused by a middleware, client gone).
    pub(super) fn sweep(&mut self, max_age: Duration) {
        let now = Instant::now();
        self.restores
            .retain(|_, w| now.duration_since(w.since) <= max_age);
    }
}

/// Everything the namespaces of one adapter share.
pub(super) struct Streams {
    pub options: Options,
    pub redis: Arc<Shared>,
    pub client: redis::Client,
    namespaces: RwLock<HashMap<String, Weak<StreamNs>>>,
    gate: Mutex<Gate>,
}

impl Streams {
    pub(super) fn new(
        options: Options,
        redis: Arc<Shared>,
        client: redis::Client,
        last: StreamId,
    ) -> Streams {
        Streams {
            options,
            redis,
            client,
            namespaces: RwLock::new(HashMap::new()),
            gate: Mutex::new(Gate {
                last,
                restores: HashMap::new(),
            }),
        }
    }

    pub(super) fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn add_namespace(&self, name: &str, ns: Weak<StreamNs>) {
        self.namespaces
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), ns);
    }

    pub(super) fn remove_namespace(&self, name: &str, ns: &Weak<StreamNs>) {
        let mut map = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if map.get(name).is_some_and(|w| w.ptr_eq(ns)) {
            map.remove(name);
        }
    }

    fn namespace(&self, name: &str) -> Option<Arc<StreamNs>> {
        self.namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .and_then(Weak::upgrade)
    }

    /// Delivers a batch of entries, in order, under the gate.
    fn deliver(&self, entries: Vec<(StreamId, Option<Message>)>) {
        let mut gate = self.gate();
        for (id, msg) in entries {
            gate.last = id;
            let Some(msg) = msg else {
                continue;
            };
            if let Some(ns) = self.namespace(&msg.nsp) {
                // A panicking handler must not stop the reader.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    ns.on_entry(id, &msg, &mut gate)
                }));
                if run.is_err() {
                    tracing::error!("redis streams adapter: a handler panicked on a stream entry");
                }
            }
        }
    }
}

/// `XRANGE stream start end COUNT n`, as entries.
pub(super) async fn xrange(
    conn: &mut redis::aio::ConnectionManager,
    stream: &str,
    start: &str,
    end: &str,
    count: usize,
) -> Result<Vec<(StreamId, Option<Message>)>, redis::RedisError> {
    let reply: Reply = redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg(end)
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    Ok(entries(&reply))
}

/// The last entry of the stream (the zero id when it is empty).
pub(super) async fn last_id(
    conn: &mut redis::aio::ConnectionManager,
    stream: &str,
) -> Result<StreamId, redis::RedisError> {
    let reply: Reply = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(entries_raw(&reply)
        .into_iter()
        .next()
        .map(|(id, _)| id)
        .unwrap_or_default())
}

/// Entries of an `XRANGE`/`XREAD` answer; `None` for an entry that is not a well-formed message
/// (skipped, but still a position in the stream).
pub(super) fn entries(reply: &Reply) -> Vec<(StreamId, Option<Message>)> {
    entries_raw(reply)
        .into_iter()
        .map(|(id, fields)| {
            let pairs = fields
                .chunks_exact(2)
                .filter_map(|kv| Some((bytes(&kv[0])?, bytes(&kv[1])?)));
            match Message::from_fields(pairs) {
                Ok(msg) => (id, Some(msg)),
                Err(e) => {
                    tracing::debug!(entry = %id, error = %e, "redis streams adapter: malformed entry skipped");
                    (id, None)
                }
            }
        })
        .collect()
}

/// `[[id, [field, value, …]], …]`.
fn entries_raw(reply: &Reply) -> Vec<(StreamId, &[Reply])> {
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Reply::Array(pair) = item else {
                return None;
            };
            let id = StreamId::parse(std::str::from_utf8(bytes(pair.first()?)?).ok()?)?;
            match pair.get(1)? {
                Reply::Array(fields) => Some((id, &fields[..])),
                _ => None,
            }
        })
        .collect()
}

fn bytes(v: &Reply) -> Option<&[u8]> {
    match v {
        Reply::BulkString(b) => Some(b),
        Reply::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The entries of an `XREAD` answer for one stream: `[[stream, entries]]` (nil on timeout).
fn xread_entries(reply: &Reply) -> Vec<(StreamId, Option<Message>)> {
    match reply {
        Reply::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                Reply::Array(pair) => pair.get(1).map(entries),
                _ => None,
            })
            .flatten()
            .collect(),
        Reply::Map(streams) => streams.iter().flat_map(|(_, v)| entries(v)).collect(),
        _ => Vec::new(),
    }
}

/// The reader task: reads the stream from where it left off and delivers, until the adapter is
/// dropped; reconnects with backoff when the connection breaks.
pub(super) async fn reader(streams: Weak<Streams>) {
    let mut delay = RECONNECT_MIN;
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    loop {
        let Some(s) = streams.upgrade() else {
            return;
        };
        let (client, stream, count, block) = (
            s.client.clone(),
            s.options.stream.clone(),
            s.options.read_count,
            s.options.block,
        );
        let from = s.gate().last;
        drop(s);
        let c = match conn.take() {
            Some(c) => c,
            None => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    // The answer to a blocking read comes after at most the block time.
                    .set_response_timeout(Some(block + Duration::from_secs(2)));
                match client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "redis streams adapter: reader cannot connect");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(RECONNECT_MAX);
                        continue;
                    }
                }
            }
        };
        let mut c = c;
        let read: Result<Reply, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&stream)
            .arg(from.to_string())
            .query_async(&mut c)
            .await;
        match read {
            Ok(reply) => {
                delay = RECONNECT_MIN;
                conn = Some(c);
                let batch = xread_entries(&reply);
                if batch.is_empty() {
                    continue;
                }
                let Some(s) = streams.upgrade() else {
                    return;
                };
                s.deliver(batch);
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis streams adapter: reading the stream failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RECONNECT_MAX);
            }
        }
    }
}
