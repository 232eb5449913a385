//! The [`Adapter`] operations of a namespace on a Redis cluster: each is applied locally through
//! the memory adapter and published to the other nodes, as `@socket.io/redis-adapter` does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;

use super::core::{Acc, NsAdapter, NsCore};
use super::wire::{self, kind};
use crate::adapter::{
    AckStream, Adapter, AdapterError, BoxFuture, BroadcastOptions, Room, SocketInfo,
};
use crate::protocol::{Args, Packet};
use crate::socket::Socket;

impl Adapter for NsAdapter {
    super::local_rooms_index!();

    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) {
        let core = &self.0;
        if !opts.flags.local {
            if let Some(p) = wire::packet_value(&packet) {
                let msg = Value::Array(vec![
                    Value::from(core.uid.as_str()),
                    p,
                    wire::opts_value(opts, true),
                ]);
                core.shared
                    .publish(core.ch.for_broadcast(opts), wire::encode_msgpack(&msg));
            }
        }
        core.local.broadcast(packet, opts);
    }

    fn broadcast_with_ack(&self, packet: Packet, opts: &BroadcastOptions) -> AckStream {
        if opts.flags.local {
            return self.0.local.broadcast_with_ack(packet, opts);
        }
        broadcast_with_ack(&self.0, packet, opts)
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.flags.local {
            return self.0.local.add_sockets(opts, rooms);
        }
        let (core, o, r) = (self.0.clone(), opts.clone(), rooms.to_vec());
        self.0.publish_or_apply(
            kind::REMOTE_JOIN,
            opts,
            ("rooms", wire::rooms_value(rooms)),
            move || core.local.add_sockets(&o, &r),
        );
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.flags.local {
            return self.0.local.del_sockets(opts, rooms);
        }
        let (core, o, r) = (self.0.clone(), opts.clone(), rooms.to_vec());
        self.0.publish_or_apply(
            kind::REMOTE_LEAVE,
            opts,
            ("rooms", wire::rooms_value(rooms)),
            move || core.local.del_sockets(&o, &r),
        );
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if opts.flags.local {
            return self.0.local.disconnect_sockets(opts, close);
        }
        let (core, o) = (self.0.clone(), opts.clone());
        self.0.publish_or_apply(
            kind::REMOTE_DISCONNECT,
            opts,
            ("close", Value::Boolean(close)),
            move || core.local.disconnect_sockets(&o, close),
        );
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
        let core = self.0.clone();
        let opts = wire::opts_value(opts, false);
        Box::pin(async move {
            let servers = core.shared.num_sub(&core.ch.request).await?;
            if servers <= 1 {
                return Ok(local);
            }
            let timeout = core.shared.config.requests_timeout;
            let extra = vec![("opts", opts)];
            match core
                .request(
                    kind::REMOTE_FETCH,
                    extra,
                    servers,
                    1,
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

    fn all_rooms(&self) -> BoxFuture<Result<HashSet<Room>, AdapterError>> {
        let local: HashSet<Room> = self.0.local.local_rooms().into_iter().collect();
        let core = self.0.clone();
        Box::pin(async move {
            let servers = core.shared.num_sub(&core.ch.request).await?;
            if servers <= 1 {
                return Ok(local);
            }
            let timeout = core.shared.config.requests_timeout;
            match core
                .request(
                    kind::ALL_ROOMS,
                    Vec::new(),
                    servers,
                    1,
                    Acc::Rooms(local),
                    timeout,
                )
                .await?
            {
                Acc::Rooms(rooms) => Ok(rooms),
                _ => Ok(HashSet::new()),
            }
        })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        let core = self.0.clone();
        Box::pin(async move { core.shared.num_sub(&core.ch.request).await })
    }

    fn server_side_emit(
        &self,
        event: String,
        args: Args,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>> {
        let core = self.0.clone();
        let mut data = vec![Value::from(event)];
        data.extend(wire::args_values(&args));
        let data = Value::Array(data);
        let Some(timeout) = timeout else {
            let body = wire::encode_json(&wire::map(vec![
                ("uid", Value::from(core.uid.as_str())),
                ("type", Value::from(kind::SERVER_SIDE_EMIT)),
                ("data", data),
            ]));
            // Queued now, so it keeps its place among this node's other publications.
            let receipt = core.shared.enqueue(core.ch.request.clone(), body);
            return Box::pin(async move { receipt?.wait().await.map(|()| Vec::new()) });
        };
        Box::pin(async move {
            // Every other node answers; this one does not.
            let others = core
                .shared
                .num_sub(&core.ch.request)
                .await?
                .saturating_sub(1);
            if others == 0 {
                return Ok(Vec::new());
            }
            let extra = vec![("data", data)];
            let acc = Acc::Answers(Vec::new());
            match core
                .request(kind::SERVER_SIDE_EMIT, extra, others, 0, acc, timeout)
                .await?
            {
                Acc::Answers(answers) => Ok(answers),
                _ => Ok(Vec::new()),
            }
        })
    }

    fn close(&self) -> BoxFuture<()> {
        let core = self.0.clone();
        Box::pin(async move { core.close() })
    }
}

/// A broadcast with acknowledgements across the cluster: published as a type-7 request (without
/// a packet id: each node numbers its own), delivered locally, then every other node reports how
/// many clients it reached (type 8) and forwards each client's answer (type 9).
fn broadcast_with_ack(core: &Arc<NsCore>, packet: Packet, opts: &BroadcastOptions) -> AckStream {
    let wait = opts
        .flags
        .timeout
        .unwrap_or(core.shared.config.requests_timeout);
    // Not an event (nothing else is broadcast with acks): local only.
    let publish = wire::packet_value(&packet).map(|p| {
        |request_id: &str| {
            let body = wire::encode_msgpack(&wire::map(vec![
                ("uid", Value::from(core.uid.as_str())),
                ("requestId", Value::from(request_id)),
                ("type", Value::from(kind::BROADCAST)),
                ("packet", p),
                ("opts", wire::opts_value(opts, true)),
            ]));
            core.shared.enqueue(core.ch.request.clone(), body)
        }
    });
    let servers = {
        let core = core.clone();
        move || async move { core.shared.num_sub(&core.ch.request).await }
    };
    core.waiting.broadcast_with_ack(
        &core.shared.runtime,
        wait,
        publish,
        || core.local.broadcast_with_ack(packet, opts),
        servers,
    )
}
