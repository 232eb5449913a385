//! The [`Adapter`] operations of a namespace on the streams adapter, as
//! `@socket.io/redis-streams-adapter` routes them: broadcasts, joins, leaves and disconnects are
//! durable (`XADD` to the stream); broadcasts with acknowledgements, fetches and server-side
//! emits are requests on pub/sub, answered on the requester's own channel.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;

use super::message::kind;
use super::node::{NsAdapter, StreamNs};
use crate::adapter::redis::driver::Command;
use crate::adapter::redis::waiting::Acc;
use crate::adapter::redis::wire;
use crate::adapter::{
    AckStream, Adapter, AdapterError, BoxFuture, BroadcastOptions, Room, SocketInfo,
};
use crate::protocol::{Args, Packet};
use crate::recovery::{Restored, SessionState};
use crate::socket::Socket;

impl StreamNs {
    /// Appends a message to the stream; `on_error` runs when Redis does not take it.
    fn append(
        self: &Arc<Self>,
        ty: u64,
        data: Vec<(&'static str, Value)>,
        on_error: impl FnOnce() + Send + 'static,
    ) {
        let o = &self.streams.options;
        let cmd = Command::XAdd {
            stream: o.stream.clone(),
            max_len: o.max_len,
            fields: self.message(ty, data).to_fields(),
        };
        let warn = |e: &AdapterError| {
            tracing::warn!(error = %e, "redis streams adapter: the stream cannot be written; applied on this node only");
        };
        match self.streams.redis.enqueue_command(cmd) {
            Ok(receipt) => {
                self.streams.redis.runtime.spawn(async move {
                    if let Err(e) = receipt.wait().await {
                        warn(&e);
                        on_error();
                    }
                });
            }
            Err(e) => {
                warn(&e);
                on_error();
            }
        }
    }

    async fn servers(&self) -> Result<usize, AdapterError> {
        self.streams.redis.num_sub(&self.public).await
    }
}

impl Adapter for NsAdapter {
    crate::adapter::redis::local_rooms_index!();

    /// Appended to the stream; every node, this one included, delivers it when its reader gets
    /// there (with the entry id as offset when recovery is on). When Redis does not take it,
    /// this node delivers it anyway, without an offset.
    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) {
        let ns = &self.0;
        let value = match opts.flags.local {
            true => None,
            false => wire::packet_value(&packet),
        };
        let Some(value) = value else {
            return ns.local.broadcast(packet, opts);
        };
        let data = vec![("packet", value), ("opts", wire::opts_value(opts, true))];
        let (local, o) = (ns.clone(), opts.clone());
        ns.append(kind::BROADCAST, data, move || {
            local.local.broadcast(packet, &o)
        });
    }

    fn broadcast_with_ack(&self, packet: Packet, opts: &BroadcastOptions) -> AckStream {
        if opts.flags.local {
            return self.0.local.broadcast_with_ack(packet, opts);
        }
        broadcast_with_ack(&self.0, packet, opts)
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.local.add_sockets(opts, rooms);
        if !opts.flags.local {
            let data = vec![
                ("opts", wire::opts_value(opts, true)),
                ("rooms", wire::rooms_value(rooms)),
            ];
            self.0.append(kind::SOCKETS_JOIN, data, || {});
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.local.del_sockets(opts, rooms);
        if !opts.flags.local {
            let data = vec![
                ("opts", wire::opts_value(opts, true)),
                ("rooms", wire::rooms_value(rooms)),
            ];
            self.0.append(kind::SOCKETS_LEAVE, data, || {});
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            let data = vec![
                ("opts", wire::opts_value(opts, true)),
                ("close", Value::Boolean(close)),
            ];
            self.0.append(kind::DISCONNECT_SOCKETS, data, || {});
        }
        self.0.local.disconnect_sockets(opts, close);
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let local: Vec<SocketInfo> = self
            .0
            .local
            .sockets(opts)
            .iter()
            .map(Socket::info)
            .collect();
        if opts.flags.local {
            return Box::pin(async move { Ok(local) });
        }
        let ns = self.0.clone();
        let value = wire::opts_value(opts, true);
        let timeout = opts
            .flags
            .timeout
            .unwrap_or(ns.streams.options.requests_timeout);
        Box::pin(async move {
            let others = ns.servers().await?.saturating_sub(1);
            if others == 0 {
                return Ok(local);
            }
            let data = vec![("opts", value)];
            match ns
                .request(
                    kind::FETCH_SOCKETS,
                    data,
                    others,
                    Acc::Sockets(local),
                    timeout,
                )
                .await?
            {
                Acc::Sockets(sockets) => Ok(sockets),
                _ => Ok(Vec::new()),
            }
        })
    }

    /// The rooms of every socket of the cluster (Node's cluster adapter has no request for
    /// this; the rooms of a cluster are those its sockets are in).
    fn all_rooms(&self) -> BoxFuture<Result<HashSet<Room>, AdapterError>> {
        let mut rooms: HashSet<Room> = self.0.local.local_rooms().into_iter().collect();
        let fetch = self.fetch_sockets(&BroadcastOptions::default());
        Box::pin(async move {
            for socket in fetch.await? {
                rooms.extend(socket.rooms);
            }
            Ok(rooms)
        })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        let ns = self.0.clone();
        Box::pin(async move { ns.servers().await })
    }

    fn server_side_emit(
        &self,
        event: String,
        args: Args,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>> {
        let ns = self.0.clone();
        let mut packet = vec![Value::from(event)];
        packet.extend(wire::args_values(&args));
        let packet = Value::Array(packet);
        let Some(timeout) = timeout else {
            let body = ns
                .message(kind::SERVER_SIDE_EMIT, vec![("packet", packet)])
                .to_msgpack();
            let receipt = ns.streams.redis.enqueue(ns.public.clone(), body);
            return Box::pin(async move { receipt?.wait().await.map(|()| Vec::new()) });
        };
        Box::pin(async move {
            let others = ns.servers().await?.saturating_sub(1);
            if others == 0 {
                return Ok(Vec::new());
            }
            let acc = Acc::Answers(Vec::new());
            let data = vec![("packet", packet)];
            match ns
                .request(kind::SERVER_SIDE_EMIT, data, others, acc, timeout)
                .await?
            {
                Acc::Answers(answers) => Ok(answers),
                _ => Ok(Vec::new()),
            }
        })
    }

    /// `SET {prefix}{pid} <base64 msgpack> PX <max disconnection duration>`, as Node writes it.
    fn persist_session(&self, session: SessionState) {
        let ns = &self.0;
        let Some(recovery) = ns.ctx.recovery else {
            return;
        };
        let key = format!("{}{}", ns.streams.options.session_prefix, session.pid);
        let px = recovery.max_disconnection_duration.as_millis().max(1) as u64;
        ns.streams.redis.send(Command::Set {
            key,
            value: super::message::encode_session(&session),
            px,
        });
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<Result<Option<Restored>, AdapterError>> {
        Box::pin(self.0.clone().restore(pid.to_owned(), offset.to_owned()))
    }

    fn complete_restore(&self, restored: Restored, register: &mut dyn FnMut(Restored)) {
        let ns = &self.0;
        // Under the gate the reader cannot deliver: what it delivered since the replay is in
        // the buffer, what comes next finds the socket registered.
        let mut gate = ns.streams.gate();
        let (session, mut missed) = restored;
        if let Some(w) = gate.restores.remove(&session.sid) {
            missed.extend(w.packets);
        }
        register((session, missed));
    }

    fn close(&self) -> BoxFuture<()> {
        let ns = self.0.clone();
        Box::pin(async move { ns.close() })
    }
}

/// A broadcast with acknowledgements across the cluster: a type-3 message with a `requestId`
/// on pub/sub (each node numbers its own packet), delivered locally; every other node reports
/// how many clients it reached and forwards each client's answer.
fn broadcast_with_ack(ns: &Arc<StreamNs>, packet: Packet, opts: &BroadcastOptions) -> AckStream {
    let wait = opts
        .flags
        .timeout
        .unwrap_or(ns.streams.options.requests_timeout);
    let publish = wire::packet_value(&packet).map(|p| {
        |request_id: &str| {
            let data = vec![
                ("packet", p),
                ("requestId", Value::from(request_id)),
                ("opts", wire::opts_value(opts, true)),
            ];
            let body = ns.message(kind::BROADCAST, data).to_msgpack();
            ns.streams.redis.enqueue(ns.public.clone(), body)
        }
    });
    let servers = {
        let ns = ns.clone();
        move || async move { ns.servers().await }
    };
    ns.waiting.broadcast_with_ack(
        &ns.streams.redis.runtime,
        wait,
        publish,
        || ns.local.broadcast_with_ack(packet, opts),
        servers,
    )
}
