//! The in-memory adapter: the rooms of one node, and delivery to its sockets.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::{
    AckStream, Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions, Room, RoomEvent,
    SocketInfo,
};
use crate::engine::sid::IdHash;
use crate::protocol::{Args, Packet};
use crate::socket::{DisconnectReason, Socket};

/// Socket ids, hashed as the server's own ids are (a broadcast to a room of 1000 looks up 1000).
type Sids<T> = HashSet<T, IdHash>;

#[derive(Default)]
struct Index {
    rooms: HashMap<Room, Sids<Arc<str>>>,
    sids: HashMap<Arc<str>, HashSet<Room>, IdHash>,
}

/// The rooms index of one namespace on one node, and the delivery of broadcasts to its sockets.
/// The default adapter; cluster adapters wrap it.
pub struct MemoryAdapter {
    ctx: AdapterContext,
    index: RwLock<Index>,
    recovery: Option<Arc<std::sync::Mutex<crate::recovery::Store>>>,
    /// With recovery on: one broadcast or one restored registration at a time.
    gate: crate::recovery::Gate,
}

impl MemoryAdapter {
    /// A memory adapter for the namespace of `ctx`.
    pub fn new(ctx: AdapterContext) -> Self {
        MemoryAdapter {
            recovery: ctx.recovery.map(crate::recovery::Store::shared),
            ctx,
            index: RwLock::new(Index::default()),
            gate: crate::recovery::Gate::default(),
        }
    }

    fn recovery_store(&self) -> Option<std::sync::MutexGuard<'_, crate::recovery::Store>> {
        self.recovery
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn emit_room_events(&self, events: Vec<RoomEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(ns) = self.ctx.namespace() {
            for ev in events {
                ns.emit_room_event(&ev);
            }
        }
    }

    /// Calls `f` for every local socket targeted by `opts`, under the index's read lock: `f` must
    /// not join, leave or disconnect (collect, then act).
    fn for_each_target(&self, opts: &BroadcastOptions, mut f: impl FnMut(&Socket)) {
        let Some(ns) = self.ctx.namespace() else {
            return;
        };
        let index = self.read();
        let mut except: Sids<&str> = Sids::default();
        for room in &opts.except {
            match index.rooms.get(room) {
                Some(members) => except.extend(members.iter().map(|s| &**s)),
                // A room that is not in the index may be a socket's own room.
                None => {
                    except.insert(room);
                }
            }
        }
        let sockets = ns.sockets_map();
        if opts.rooms.is_empty() {
            for (sid, socket) in sockets.iter() {
                if !except.contains(&**sid) {
                    f(socket);
                }
            }
            return;
        }
        let mut seen: Sids<&str> = Sids::default();
        for room in &opts.rooms {
            let Some(members) = index.rooms.get(room) else {
                if let Some((sid, socket)) = sockets.get_key_value(&**room) {
                    if !except.contains(&**sid) && (opts.rooms.len() == 1 || seen.insert(sid)) {
                        f(socket);
                    }
                }
                continue;
            };
            for sid in members {
                if except.contains(&**sid) || (opts.rooms.len() > 1 && !seen.insert(sid)) {
                    continue;
                }
                if let Some(socket) = sockets.get(sid) {
                    f(socket);
                }
            }
        }
    }

    /// Whether `room` has a member on this node (a socket's own id counts), without allocating:
    /// cluster adapters drop messages for rooms they do not have before decoding them.
    pub fn has_room(&self, room: &str) -> bool {
        if self.read().rooms.contains_key(room) {
            return true;
        }
        self.ctx
            .namespace()
            .is_some_and(|ns| ns.sockets_map().contains_key(room))
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let mut out = Vec::new();
        self.for_each_target(opts, |s| out.push(s.clone()));
        out
    }

    /// Sends an encoded packet to every target; slow consumers are disconnected afterwards.
    fn deliver(&self, packet: &Packet, opts: &BroadcastOptions, mut before: impl FnMut(&Socket)) {
        let Some(ns) = self.ctx.namespace() else {
            return;
        };
        let encoded = ns.parser().encode(packet);
        let mut slow = Vec::new();
        let mut sent = 0;
        self.for_each_target(opts, |socket| {
            before(socket);
            socket.notify_outgoing_packet(packet);
            match socket.enqueue(encoded.clone(), opts.flags.volatile, opts.flags.compress) {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(_) => slow.push(socket.clone()),
            }
        });
        ns.io()
            .counters()
            .sent(sent, sent * crate::socket::encoded_len(&encoded));
        for socket in slow {
            tracing::warn!(socket = %socket.id(), "slow consumer: outbox full during a broadcast, disconnecting");
            socket.close_connection(DisconnectReason::TransportError);
        }
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: &str, rooms: &[Room]) {
        let mut events = Vec::new();
        {
            let mut index = self.write();
            let sid: Arc<str> = match index.sids.get_key_value(sid) {
                Some((k, _)) => k.clone(),
                None => match rooms.iter().find(|r| ***r == *sid) {
                    Some(own) => own.clone(),
                    None => sid.into(),
                },
            };
            for room in rooms {
                if **room == *sid {
                    // Every socket is in the room named by its id; it is implied, not stored,
                    // which saves two map entries per socket. The events still fire, as in Node.
                    events.push(RoomEvent::CreateRoom(room.clone()));
                    events.push(RoomEvent::JoinRoom {
                        room: room.clone(),
                        sid: sid.clone(),
                    });
                    continue;
                }
                let joined = index
                    .sids
                    .entry(sid.clone())
                    .or_default()
                    .insert(room.clone());
                if !joined {
                    continue;
                }
                let members = index.rooms.entry(room.clone()).or_default();
                if members.is_empty() {
                    events.push(RoomEvent::CreateRoom(room.clone()));
                }
                members.insert(sid.clone());
                events.push(RoomEvent::JoinRoom {
                    room: room.clone(),
                    sid: sid.clone(),
                });
            }
        }
        self.emit_room_events(events);
    }

    fn del(&self, sid: &str, room: &str) {
        let mut events = Vec::new();
        {
            let mut index = self.write();
            let removed = index.sids.get_mut(sid).and_then(|r| r.take(room));
            let Some(room) = removed else {
                return;
            };
            if index.sids.get(sid).is_some_and(|r| r.is_empty()) {
                index.sids.remove(sid);
            }
            leave(&mut index, sid, room, &mut events);
        }
        self.emit_room_events(events);
    }

    fn del_all(&self, sid: &str) {
        let mut events = Vec::new();
        {
            let mut index = self.write();
            if let Some(rooms) = index.sids.remove(sid) {
                for room in rooms {
                    leave(&mut index, sid, room, &mut events);
                }
            }
        }
        let own: Room = sid.into();
        events.push(RoomEvent::LeaveRoom {
            room: own.clone(),
            sid: own.clone(),
        });
        events.push(RoomEvent::DeleteRoom(own));
        self.emit_room_events(events);
    }

    fn socket_rooms(&self, sid: &str) -> Vec<Room> {
        let mut rooms: Vec<Room> = Vec::new();
        if let Some((own, _)) = self.ctx.namespace().and_then(|ns| {
            ns.sockets_map()
                .get_key_value(sid)
                .map(|(k, v)| (k.clone(), v.clone()))
        }) {
            rooms.push(own);
        }
        if let Some(r) = self.read().sids.get(sid) {
            rooms.extend(r.iter().cloned());
        }
        rooms
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        self.targets(opts)
    }

    fn local_rooms(&self) -> Vec<Room> {
        let mut rooms: Vec<Room> = self.read().rooms.keys().cloned().collect();
        if let Some(ns) = self.ctx.namespace() {
            rooms.extend(ns.sockets_map().keys().cloned());
        }
        rooms
    }

    fn broadcast(&self, mut packet: Packet, opts: &BroadcastOptions) {
        if self.recovery.is_none() {
            return self.deliver(&packet, opts, |_| {});
        }
        let _gate = self.gate.enter();
        if let Some(mut store) = self.recovery_store() {
            store.keep(&mut packet, opts);
        }
        self.deliver(&packet, opts, |_| {});
    }

    fn complete_restore(
        &self,
        restored: crate::recovery::Restored,
        register: &mut dyn FnMut(crate::recovery::Restored),
    ) {
        let _gate = self.gate.enter();
        let (session, mut missed) = restored;
        if let Some(mut store) = self.recovery_store() {
            missed.extend(store.finish_restore(&session.sid));
        }
        register((session, missed));
    }

    fn persist_session(&self, session: crate::recovery::SessionState) {
        if let Some(mut store) = self.recovery_store() {
            store.persist(session);
        }
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<Result<Option<crate::recovery::Restored>, AdapterError>> {
        let restored = self
            .recovery_store()
            .and_then(|mut store| store.restore(pid, offset));
        Box::pin(async move { Ok(restored) })
    }

    fn broadcast_with_ack(&self, mut packet: Packet, opts: &BroadcastOptions) -> AckStream {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let Some(ns) = self.ctx.namespace() else {
            return AckStream {
                expected: 0,
                answers: rx,
                more_expected: None,
            };
        };
        let id = ns.next_ack_id();
        packet.id = Some(id);
        let mut expected = 0;
        self.deliver(&packet, opts, |socket| {
            socket.register_broadcast_ack(id, tx.clone());
            expected += 1;
        });
        AckStream {
            expected,
            answers: rx,
            more_expected: None,
        }
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(opts) {
            self.add_all(socket.id(), rooms);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(opts) {
            for room in rooms {
                self.del(socket.id(), room);
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.targets(opts) {
            socket.disconnect(close);
        }
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let infos: Vec<SocketInfo> = self.targets(opts).iter().map(Socket::info).collect();
        Box::pin(async move { Ok(infos) })
    }

    fn all_rooms(&self) -> BoxFuture<Result<HashSet<Room>, AdapterError>> {
        let rooms: HashSet<Room> = self.local_rooms().into_iter().collect();
        Box::pin(async move { Ok(rooms) })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }

    fn server_side_emit(
        &self,
        event: String,
        _args: Args,
        _timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>> {
        tracing::debug!(
            event,
            "server_side_emit on a single node (memory adapter): no other server to reach"
        );
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn leave(index: &mut Index, sid: &str, room: Room, events: &mut Vec<RoomEvent>) {
    let Some(members) = index.rooms.get_mut(&room) else {
        return;
    };
    let Some(sid) = members.take(sid) else {
        return;
    };
    let now_empty = members.is_empty();
    events.push(RoomEvent::LeaveRoom {
        room: room.clone(),
        sid,
    });
    if now_empty {
        index.rooms.remove(&room);
        events.push(RoomEvent::DeleteRoom(room));
    }
}
