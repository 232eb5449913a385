//! What other nodes (Node or Rust servers, emitters) send to a namespace: broadcasts, requests,
//! and the responses to this node's requests. Runs on the subscriber task, in arrival order;
//! nothing here waits.

use std::sync::Arc;

use rmpv::Value;
use serde_json::json;

use super::core::{Acc, NsCore};
use super::wire::{self, get, get_str, get_u64, kind};
use crate::adapter::{Adapter, BroadcastOptions, SocketInfo};
use crate::handshake::Handshake;
use crate::protocol::Args;

impl NsCore {
    /// A message on `{key}#{nsp}#…`: delivered to the local sockets it targets.
    pub(super) fn on_broadcast(&self, channel: &str, payload: &[u8]) {
        let Ok(room) = self.ch.room_of(channel) else {
            return;
        };
        // A message for one room this node does not have is dropped before it is decoded.
        if let Some(room) = room {
            if !room.is_empty() && !self.local.has_room(room) {
                return;
            }
        }
        let msg = match wire::decode_msgpack(payload) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(channel, error = %e, "redis adapter: malformed broadcast ignored");
                return;
            }
        };
        let Value::Array(items) = msg else {
            return;
        };
        let (Some(uid), Some(packet)) = (items.first(), items.get(1)) else {
            return;
        };
        if uid.as_str() == Some(self.uid.as_str()) {
            return;
        }
        let Some(packet) = wire::packet_from(packet, self.ctx.name()) else {
            return;
        };
        let opts = wire::opts_from(items.get(2));
        self.local.broadcast(packet, &opts);
    }

    /// A request on `{key}-request#{nsp}#`.
    pub(super) fn on_request(self: &Arc<Self>, payload: &[u8]) {
        let req = match wire::decode_message(payload) {
            Ok(req) => req,
            Err(e) => {
                tracing::debug!(error = %e, "redis adapter: malformed request ignored");
                return;
            }
        };
        let Some(ty) = get_u64(&req, "type") else {
            return;
        };
        let request_id = get_str(&req, "requestId");
        let requester = get_str(&req, "uid");
        let own_request = request_id.is_some_and(|id| self.requests().contains_key(id));
        match ty {
            kind::SOCKETS => {
                if own_request {
                    return;
                }
                let opts = BroadcastOptions {
                    rooms: wire::rooms_of(get(&req, "rooms")),
                    ..Default::default()
                };
                let ids: Vec<String> = self
                    .local
                    .sockets(&opts)
                    .iter()
                    .map(|s| s.id().to_owned())
                    .collect();
                self.respond_json(requester, json!({"requestId": request_id, "sockets": ids}));
            }
            kind::ALL_ROOMS => {
                if own_request {
                    return;
                }
                let rooms: Vec<String> = self
                    .local
                    .local_rooms()
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                self.respond_json(requester, json!({"requestId": request_id, "rooms": rooms}));
            }
            // Join, leave, disconnect: applied by every node, the sender included (its own copy
            // is how it applies them).
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT => {
                self.on_socket_change(ty, &req, requester, request_id)
            }
            kind::REMOTE_FETCH => {
                if own_request {
                    return;
                }
                let opts = wire::opts_from(get(&req, "opts"));
                let sockets: Vec<serde_json::Value> =
                    self.local.sockets(&opts).iter().map(socket_json).collect();
                self.respond_json(
                    requester,
                    json!({"requestId": request_id, "sockets": sockets}),
                );
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(&req, requester, request_id),
            kind::BROADCAST => self.on_broadcast_with_ack(&req, requester, request_id),
            _ => tracing::debug!(ty, "redis adapter: unknown request type ignored"),
        }
    }

    fn respond_json(&self, requester: Option<&str>, body: serde_json::Value) {
        let body = serde_json::to_vec(&body).unwrap_or_default();
        self.respond(requester, body);
    }

    fn on_socket_change(
        &self,
        ty: u64,
        req: &Value,
        requester: Option<&str>,
        request_id: Option<&str>,
    ) {
        if let Some(opts) = get(req, "opts") {
            let opts = wire::opts_from(Some(opts));
            let rooms = wire::rooms_of(get(req, "rooms"));
            match ty {
                kind::REMOTE_JOIN => self.local.add_sockets(&opts, &rooms),
                kind::REMOTE_LEAVE => self.local.del_sockets(&opts, &rooms),
                _ => {
                    let close = get(req, "close").and_then(Value::as_bool).unwrap_or(false);
                    self.local.disconnect_sockets(&opts, close)
                }
            }
            return;
        }
        // The older form: one socket by id, answered once done.
        let Some(socket) = get_str(req, "sid").and_then(|sid| self.ctx.socket(sid)) else {
            return;
        };
        match ty {
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
                let Some(room) = wire::rooms_of(Some(&Value::Array(
                    get(req, "room").cloned().into_iter().collect(),
                )))
                .pop() else {
                    return;
                };
                if ty == kind::REMOTE_JOIN {
                    socket.join(room);
                } else {
                    socket.leave(&room);
                }
            }
            _ => {
                let close = get(req, "close").and_then(Value::as_bool).unwrap_or(false);
                socket.disconnect(close);
            }
        }
        if request_id.is_some() {
            self.respond_json(requester, json!({"requestId": request_id}));
        }
    }

    fn on_server_side_emit(&self, req: &Value, requester: Option<&str>, request_id: Option<&str>) {
        if requester == Some(self.uid.as_str()) {
            return;
        }
        let Some(Value::Array(data)) = get(req, "data") else {
            return;
        };
        let Some((event, args)) = data.split_first() else {
            return;
        };
        let Some(event) = event.as_str() else {
            return;
        };
        let Some(ns) = self.ctx.namespace() else {
            return;
        };
        let answer = ns
            .io()
            .dispatch_server_side_emit(event, Args::from_values(args.to_vec()));
        let (Some(id), Some(answer)) = (request_id, answer) else {
            return;
        };
        // Node's callback takes one argument; its answer always goes to the common channel.
        let mut fields = vec![
            ("type", Value::from(kind::SERVER_SIDE_EMIT)),
            ("requestId", Value::from(id)),
        ];
        if let Some(first) = wire::args_values(&answer).into_iter().next() {
            fields.push(("data", first));
        }
        let body = wire::encode_json(&wire::map(fields));
        self.shared.publish(self.ch.response.clone(), body);
    }

    /// Type 7: deliver with this node's own packet id, report the count (8), then forward each
    /// client's first answer argument (9) until the flags' timeout.
    fn on_broadcast_with_ack(
        self: &Arc<Self>,
        req: &Value,
        requester: Option<&str>,
        request_id: Option<&str>,
    ) {
        let Some(id) = request_id else {
            return;
        };
        if self.acks().contains_key(id) {
            return;
        }
        let Some(packet) = get(req, "packet").and_then(|p| wire::packet_from(p, self.ctx.name()))
        else {
            return;
        };
        let opts = wire::opts_from(get(req, "opts"));
        let wait = opts
            .flags
            .timeout
            .unwrap_or(self.shared.config.requests_timeout);
        let mut stream = self.local.broadcast_with_ack(packet, &opts);
        let count = wire::encode_json(&wire::map(vec![
            ("type", Value::from(kind::BROADCAST_CLIENT_COUNT)),
            ("requestId", Value::from(id)),
            ("clientCount", Value::from(stream.expected as u64)),
        ]));
        self.respond(requester, count);
        if stream.expected == 0 {
            return;
        }
        let core = self.clone();
        let (id, requester) = (id.to_owned(), requester.map(str::to_owned));
        self.shared.runtime.spawn(async move {
            let forward = async {
                let mut left = stream.expected;
                while left > 0 {
                    let Some(answer) = stream.answers.recv().await else {
                        break;
                    };
                    left -= 1;
                    let mut fields = vec![
                        ("type", Value::from(kind::BROADCAST_ACK)),
                        ("requestId", Value::from(id.as_str())),
                    ];
                    if let Some(first) = wire::args_values(&answer).into_iter().next() {
                        fields.push(("packet", first));
                    }
                    let body = wire::encode_msgpack(&wire::map(fields));
                    core.respond(requester.as_deref(), body);
                }
            };
            let _ = tokio::time::timeout(wait, forward).await;
        });
    }

    /// A response on `{key}-response#{nsp}#` or this node's own response channel.
    pub(super) fn on_response(&self, payload: &[u8]) {
        let res = match wire::decode_message(payload) {
            Ok(res) => res,
            Err(e) => {
                tracing::debug!(error = %e, "redis adapter: malformed response ignored");
                return;
            }
        };
        let Some(id) = get_str(&res, "requestId") else {
            return;
        };
        {
            let mut acks = self.acks();
            if let Some(a) = acks.get_mut(id) {
                match get_u64(&res, "type") {
                    Some(kind::BROADCAST_CLIENT_COUNT) => {
                        let n = get_u64(&res, "clientCount").unwrap_or(0) as usize;
                        a.reported += 1;
                        if let Some(counts) = &a.counts {
                            let _ = counts.send(Ok(n));
                        }
                        a.check_counts();
                    }
                    Some(kind::BROADCAST_ACK) => {
                        let _ = a.answers.send(wire::single_answer(get(&res, "packet")));
                    }
                    _ => {}
                }
                return;
            }
        }
        let mut requests = self.requests();
        let Some(p) = requests.get_mut(id) else {
            return;
        };
        match &mut p.acc {
            Acc::Sockets(sockets) => {
                p.answered += 1;
                // Like Node: an answer without `sockets` counts, but does not finish the request.
                let Some(Value::Array(items)) = get(&res, "sockets") else {
                    return;
                };
                sockets.extend(items.iter().filter_map(socket_info));
            }
            Acc::Rooms(rooms) => {
                p.answered += 1;
                let Some(list) = get(&res, "rooms") else {
                    return;
                };
                rooms.extend(wire::rooms_of(Some(list)));
            }
            Acc::Answers(answers) => {
                p.answered += 1;
                answers.push(wire::single_answer(get(&res, "data")));
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
}

/// A local socket as other nodes want it described: `{id, handshake, rooms, data}`.
pub(super) fn socket_json(socket: &crate::socket::Socket) -> serde_json::Value {
    let info = socket.info();
    let rooms: Vec<&str> = info.rooms.iter().map(|r| &**r).collect();
    json!({
        "id": &*info.id,
        "handshake": info.handshake,
        "rooms": rooms,
        "data": info.data,
    })
}

/// A socket another node described (`{id, handshake, rooms, data}`).
pub(super) fn socket_info(v: &Value) -> Option<SocketInfo> {
    let id = wire::get_arc(v, "id")?;
    let handshake = Handshake::from_json(
        &get(v, "handshake")
            .map(wire::value_to_json)
            .unwrap_or_else(|| json!({})),
    );
    Some(SocketInfo {
        id,
        handshake,
        rooms: wire::rooms_of(get(v, "rooms")),
        data: get(v, "data")
            .map(wire::value_to_json)
            .unwrap_or(serde_json::Value::Null),
    })
}
