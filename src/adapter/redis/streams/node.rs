//! One namespace's streams adapter: the local rooms (a [`MemoryAdapter`]), what comes in from
//! the stream and from pub/sub, the requests waiting for other nodes, and session restores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmpv::Value;

use super::message::{Message, StreamId, kind};
use super::shared::{Gate, PendingRestore, Streams, entries};
use crate::adapter::redis::incoming::{socket_info, socket_json};
use crate::adapter::redis::subscriber::{Route, Target};
use crate::adapter::redis::waiting::{Acc, Waiting};
use crate::adapter::redis::wire;
use crate::adapter::{Adapter, AdapterContext, AdapterError, BroadcastOptions, MemoryAdapter};
use crate::protocol::{Args, Packet, PacketData};
use crate::recovery::Restored;
use crate::recovery::reaches;

/// The state of one namespace's adapter, shared with the reader and the subscriber.
pub(crate) struct StreamNs {
    pub(super) local: MemoryAdapter,
    pub(super) ctx: AdapterContext,
    pub(super) uid: String,
    /// `{prefix}#{nsp}#`: requests to every node; its subscriber count is the server count.
    pub(super) public: String,
    /// `{prefix}#{nsp}#{uid}#`: responses to this node.
    pub(super) private: String,
    pub(super) streams: Arc<Streams>,
    pub(super) waiting: Arc<Waiting>,
    closed: AtomicBool,
}

impl StreamNs {
    pub(super) fn new(streams: Arc<Streams>, ctx: AdapterContext) -> Arc<StreamNs> {
        let uid = wire::random_id(16);
        let prefix = &streams.options.prefix;
        let public = format!("{prefix}#{}#", ctx.name());
        let private = format!("{public}{uid}#");
        // Offsets come from the stream, so the local adapter keeps no packets of its own.
        let local_ctx = AdapterContext {
            recovery: None,
            ..ctx.clone()
        };
        let ns = Arc::new(StreamNs {
            local: MemoryAdapter::new(local_ctx),
            ctx,
            uid,
            public,
            private,
            streams,
            waiting: Arc::default(),
            closed: AtomicBool::new(false),
        });
        ns.streams.add_namespace(ns.ctx.name(), Arc::downgrade(&ns));
        let target: Arc<dyn Target> = ns.clone();
        ns.streams.redis.register(
            ns.id(),
            vec![
                (ns.public.clone(), Route::Request),
                (ns.private.clone(), Route::Response),
            ],
            Vec::new(),
            Arc::downgrade(&target),
        );
        ns
    }

    fn id(&self) -> usize {
        self as *const StreamNs as usize
    }

    /// A message of this node for this namespace.
    pub(super) fn message(&self, ty: u64, data: Vec<(&'static str, Value)>) -> Message {
        Message {
            uid: self.uid.clone(),
            nsp: self.ctx.name().to_owned(),
            ty,
            data: Some(wire::map(data)),
        }
    }

    /// Publishes a response on the requester's own channel.
    fn respond(&self, requester: &str, ty: u64, data: Vec<(&'static str, Value)>) {
        let channel = format!(
            "{}#{}#{requester}#",
            self.streams.options.prefix,
            self.ctx.name()
        );
        self.streams
            .redis
            .publish(channel, self.message(ty, data).to_msgpack());
    }

    /// A broadcast's packet and options, if it is an event.
    fn broadcast_of(&self, msg: &Message) -> Option<(Packet, BroadcastOptions)> {
        // Node publishes the packet before giving it its namespace: the message's `nsp` counts.
        let mut packet = msg.field("packet")?.clone();
        if let Value::Map(entries) = &mut packet {
            entries.retain(|(k, _)| k.as_str() != Some("nsp"));
            entries.push((Value::from("nsp"), Value::from(self.ctx.name())));
        }
        let packet = wire::packet_from(&packet, self.ctx.name())?;
        Some((packet, wire::opts_from(msg.field("opts"))))
    }

    /// A stream entry, delivered by the reader under the gate.
    pub(super) fn on_entry(&self, id: StreamId, msg: &Message, gate: &mut Gate) {
        match msg.ty {
            kind::BROADCAST if msg.request_id().is_none() => {
                let Some((mut packet, opts)) = self.broadcast_of(msg) else {
                    return;
                };
                if self.ctx.recovery.is_some() && stored(&packet, &opts) {
                    with_offset(&mut packet, id);
                    gate.buffer(self.ctx.name(), id, &packet, &opts);
                }
                self.local.broadcast(packet, &opts);
            }
            // This node applied its own when it published them.
            kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE | kind::DISCONNECT_SOCKETS
                if msg.uid != self.uid =>
            {
                let opts = wire::opts_from(msg.field("opts"));
                let rooms = wire::rooms_of(msg.field("rooms"));
                match msg.ty {
                    kind::SOCKETS_JOIN => self.local.add_sockets(&opts, &rooms),
                    kind::SOCKETS_LEAVE => self.local.del_sockets(&opts, &rooms),
                    _ => {
                        let close = msg.field("close").and_then(Value::as_bool);
                        self.local.disconnect_sockets(&opts, close.unwrap_or(false))
                    }
                }
            }
            _ => {}
        }
    }

    /// A message on the public channel or this node's own.
    fn on_pubsub(self: &Arc<Self>, payload: &[u8]) {
        let msg = match Message::from_msgpack(payload) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(error = %e, "redis streams adapter: malformed message ignored");
                return;
            }
        };
        if msg.uid == self.uid || msg.nsp != self.ctx.name() {
            return;
        }
        match msg.ty {
            kind::BROADCAST => self.on_broadcast_with_ack(&msg),
            kind::FETCH_SOCKETS => {
                let Some(id) = msg.request_id() else {
                    return;
                };
                let opts = wire::opts_from(msg.field("opts"));
                let sockets = self
                    .local
                    .sockets(&opts)
                    .iter()
                    .map(|s| wire::json_to_value(&socket_json(s)))
                    .collect();
                self.respond(
                    &msg.uid,
                    kind::FETCH_SOCKETS_RESPONSE,
                    vec![
                        ("requestId", Value::from(id)),
                        ("sockets", Value::Array(sockets)),
                    ],
                );
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(&msg),
            kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT_RESPONSE
            | kind::BROADCAST_CLIENT_COUNT
            | kind::BROADCAST_ACK => self.on_response(&msg),
            ty => tracing::debug!(ty, "redis streams adapter: message type ignored"),
        }
    }

    fn on_server_side_emit(&self, msg: &Message) {
        let Some(Value::Array(packet)) = msg.field("packet") else {
            return;
        };
        let Some((event, args)) = packet.split_first() else {
            return;
        };
        let (Some(event), Some(ns)) = (event.as_str(), self.ctx.namespace()) else {
            return;
        };
        let answer = ns
            .io()
            .dispatch_server_side_emit(event, Args::from_values(args.to_vec()));
        let (Some(id), Some(answer)) = (msg.request_id(), answer) else {
            return;
        };
        // Node's callback takes one argument.
        let mut data = vec![("requestId", Value::from(id))];
        if let Some(first) = wire::args_values(&answer).into_iter().next() {
            data.push(("packet", first));
        }
        self.respond(&msg.uid, kind::SERVER_SIDE_EMIT_RESPONSE, data);
    }

    /// Delivers with this node's own packet id, reports the count, then forwards each client's
    /// first answer argument until the flags' timeout.
    fn on_broadcast_with_ack(self: &Arc<Self>, msg: &Message) {
        let Some(id) = msg.request_id() else {
            return;
        };
        let Some((packet, opts)) = self.broadcast_of(msg) else {
            return;
        };
        let wait = opts
            .flags
            .timeout
            .unwrap_or(self.streams.options.requests_timeout);
        let mut stream = self.local.broadcast_with_ack(packet, &opts);
        let requester = msg.uid.clone();
        self.respond(
            &requester,
            kind::BROADCAST_CLIENT_COUNT,
            vec![
                ("requestId", Value::from(id)),
                ("clientCount", Value::from(stream.expected as u64)),
            ],
        );
        if stream.expected == 0 {
            return;
        }
        let ns = self.clone();
        let id = id.to_owned();
        self.streams.redis.runtime.spawn(async move {
            let forward = async {
                for _ in 0..stream.expected {
                    let Some(answer) = stream.answers.recv().await else {
                        break;
                    };
                    let mut data = vec![("requestId", Value::from(id.as_str()))];
                    if let Some(first) = wire::args_values(&answer).into_iter().next() {
                        data.push(("packet", first));
                    }
                    ns.respond(&requester, kind::BROADCAST_ACK, data);
                }
            };
            let _ = tokio::time::timeout(wait, forward).await;
        });
    }

    fn on_response(&self, msg: &Message) {
        let Some(id) = msg.request_id() else {
            return;
        };
        {
            let mut acks = self.waiting.acks();
            if let Some(a) = acks.get_mut(id) {
                if msg.ty == kind::BROADCAST_CLIENT_COUNT {
                    let n = msg
                        .field("clientCount")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    a.reported += 1;
                    if let Some(counts) = &a.counts {
                        let _ = counts.send(Ok(n as usize));
                    }
                    a.check_counts();
                } else if msg.ty == kind::BROADCAST_ACK {
                    let _ = a.answers.send(wire::single_answer(msg.field("packet")));
                }
                return;
            }
        }
        let mut requests = self.waiting.requests();
        let Some(p) = requests.get_mut(id) else {
            return;
        };
        p.answered += 1;
        match (&mut p.acc, msg.ty) {
            (Acc::Sockets(sockets), kind::FETCH_SOCKETS_RESPONSE) => {
                if let Some(Value::Array(items)) = msg.field("sockets") {
                    sockets.extend(items.iter().filter_map(socket_info));
                }
            }
            (Acc::Answers(answers), kind::SERVER_SIDE_EMIT_RESPONSE) => {
                answers.push(wire::single_answer(msg.field("packet")));
            }
            _ => {
                p.answered -= 1;
                return;
            }
        }
        if p.answered >= p.expected {
            if let Some(mut p) = requests.remove(id) {
                if let Some(done) = p.done.take() {
                    let _ = done.send(Ok(p.acc));
                }
            }
        }
    }

    pub(super) fn close(self: &Arc<Self>) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.streams.redis.unregister(self.id());
        self.streams
            .remove_namespace(self.ctx.name(), &Arc::downgrade(self));
        self.waiting.fail_all(&AdapterError::Unavailable(
            "the namespace's adapter is closed".into(),
        ));
    }

    /// Publishes a request to every node and waits until `expected` answers came (or the
    /// timeout, or an outage).
    pub(super) async fn request(
        self: Arc<Self>,
        ty: u64,
        mut data: Vec<(&'static str, Value)>,
        expected: usize,
        acc: Acc,
        timeout: Duration,
    ) -> Result<Acc, AdapterError> {
        let publish = |id: &str| {
            data.push(("requestId", Value::from(id)));
            let body = self.message(ty, data).to_msgpack();
            self.streams
                .redis
                .publish_checked(self.public.clone(), body)
        };
        self.waiting
            .request(expected, 0, acc, timeout, publish)
            .await
    }

    /// The session of `pid` and what it missed since `offset`, read from Redis; the reader's
    /// deliveries after the replay are buffered for the socket until it is registered.
    pub(super) async fn restore(
        self: Arc<Self>,
        pid: String,
        offset: String,
    ) -> Result<Option<Restored>, AdapterError> {
        let Some(recovery) = self.ctx.recovery else {
            return Ok(None);
        };
        // Like Node: an offset that is not a stream id is not looked up.
        let Some(from) = StreamId::parse(&offset) else {
            return Ok(None);
        };
        let opts = &self.streams.options;
        let unavailable = |e: redis::RedisError| AdapterError::Unavailable(e.to_string());
        let mut conn = self.streams.redis.connection();
        let key = format!("{}{pid}", opts.session_prefix);
        // The session is taken (read and deleted) in one transaction, as Node does.
        let (raw, present): (Option<Vec<u8>>, redis::Value) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&key)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("XRANGE")
            .arg(&opts.stream)
            .arg(&offset)
            .arg(&offset)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(session) = raw.as_deref().and_then(super::message::decode_session) else {
            return Ok(None);
        };
        if entries(&present).is_empty() {
            return Ok(None);
        }
        let last = {
            let mut gate = self.streams.gate();
            gate.sweep(recovery.max_disconnection_duration);
            let last = gate.last;
            gate.restores.insert(
                session.sid.clone(),
                PendingRestore {
                    nsp: self.ctx.name().to_owned(),
                    rooms: session.rooms.clone(),
                    after: from.max(last),
                    packets: Vec::new(),
                    since: tokio::time::Instant::now(),
                },
            );
            last
        };
        let mut missed = Vec::new();
        let mut cursor = from;
        while cursor < last {
            let batch = super::shared::xrange(
                &mut conn,
                &opts.stream,
                &cursor.next().to_string(),
                &last.to_string(),
                1000,
            )
            .await;
            let batch = match batch {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => break,
                Err(e) => {
                    self.streams.gate().restores.remove(&session.sid);
                    return Err(unavailable(e));
                }
            };
            for (id, msg) in batch {
                cursor = id;
                let Some(msg) = msg else {
                    continue;
                };
                if msg.nsp != self.ctx.name()
                    || msg.ty != kind::BROADCAST
                    || msg.request_id().is_some()
                {
                    continue;
                }
                if let Some((mut packet, o)) = self.broadcast_of(&msg) {
                    if stored(&packet, &o) && reaches(&session.rooms, &o.rooms, &o.except) {
                        with_offset(&mut packet, id);
                        missed.push(packet);
                    }
                }
            }
        }
        Ok(Some((session, missed)))
    }
}

impl Target for StreamNs {
    fn on_message(self: Arc<Self>, _route: Route, _channel: &str, payload: &[u8]) {
        self.on_pubsub(payload)
    }

    fn on_down(&self, err: &AdapterError) {
        self.waiting.fail_all(err)
    }
}

/// Whether a broadcast is kept for recovery: an event without acknowledgement, not volatile.
fn stored(packet: &Packet, opts: &BroadcastOptions) -> bool {
    packet.id.is_none() && !opts.flags.volatile && matches!(packet.data, PacketData::Event { .. })
}

/// Appends the offset as the event's last argument.
fn with_offset(packet: &mut Packet, id: StreamId) {
    if let PacketData::Event { args, .. } = &mut packet.data {
        let _ = args.push(&id.to_string());
    }
}

/// The adapter of one namespace (what [`RedisStreamsAdapter`](super::RedisStreamsAdapter)
/// creates).
pub(super) struct NsAdapter(pub(super) Arc<StreamNs>);

impl Drop for NsAdapter {
    fn drop(&mut self) {
        self.0.close();
    }
}
