//! The Socket.IO side of one Engine.IO connection: decodes its packets, connects it to
//! namespaces, routes packets to its sockets, and ends them when the connection ends.

use std::sync::{Arc, Mutex, MutexGuard};

use http::request::Parts;

use crate::engine::{self, EngineHandler, EngineSocket, Message, Utf8Bytes};
use crate::handshake::{Base, Handshake};
use crate::io::Io;
use crate::legacy;
use crate::namespace::{ConnectError, Namespace};
use crate::protocol::{Args, DecodeState, Packet, PacketData};
use crate::socket::{DisconnectReason, Socket};

#[derive(Default)]
struct State {
    sockets: Vec<(Utf8Bytes, Socket)>,
    /// Namespaces whose connect middlewares are running.
    connecting: Vec<Utf8Bytes>,
    decoder: DecodeState,
    connect_timer: Option<tokio::task::AbortHandle>,
    closed: bool,
}

/// One client connection, with its sockets (one per namespace it joined).
pub(crate) struct Client {
    pub(crate) conn: EngineSocket,
    io: Io,
    base: Arc<Base>,
    state: Mutex<State>,
}

impl Client {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_message(self: &Arc<Self>, msg: Message) {
        let parser = self.io.parser();
        self.io.counters().received(match &msg {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        });
        let decoded = {
            let mut st = self.lock();
            match msg {
                Message::Text(text) => parser.decode_text(&mut st.decoder, text),
                Message::Binary(data) => parser.decode_binary(&mut st.decoder, data),
            }
        };
        match decoded {
            Ok(Some(packet)) if legacy::is_legacy(&self.conn) => {
                self.on_packet(legacy::normalize(packet))
            }
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(sid = self.conn.id(), error = %e, "invalid Socket.IO packet, closing the connection");
                // Node closes the engine connection: its sockets see "forced close".
                self.close(DisconnectReason::ForcedClose);
            }
        }
    }

    fn on_packet(self: &Arc<Self>, packet: Packet) {
        let (socket, connecting) = {
            let st = self.lock();
            let socket = st
                .sockets
                .iter()
                .find(|(n, _)| *n == packet.nsp)
                .map(|(_, s)| s.clone());
            (socket, st.connecting.contains(&packet.nsp))
        };
        match (&packet.data, socket) {
            (PacketData::Connect(_), None) if !connecting => {
                let PacketData::Connect(auth) = packet.data else {
                    return;
                };
                self.connect(packet.nsp, auth);
            }
            (PacketData::Connect(_) | PacketData::ConnectError(_), _) | (_, None) => {
                tracing::warn!(
                    sid = self.conn.id(),
                    nsp = packet.nsp.as_str(),
                    "invalid state: packet for a namespace not connected, or a second CONNECT"
                );
                self.close(DisconnectReason::ForcedServerClose);
            }
            (_, Some(socket)) => socket.on_packet(packet),
        }
    }

    fn connect(self: &Arc<Self>, nsp: Utf8Bytes, auth: Option<serde_json::Value>) {
        let auth = auth.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let Some(ns) = self.io.resolve_namespace(nsp.as_str(), &auth) else {
            tracing::debug!(
                sid = self.conn.id(),
                nsp = nsp.as_str(),
                "invalid namespace"
            );
            let packet = legacy::connect_error(&self.conn, nsp, "Invalid namespace", None);
            self.send(&packet);
            return;
        };
        let recovery = self.io.0.config.recovery;
        // A client coming back presents its private session id and the last offset it saw.
        let restore = recovery.and_then(|_| {
            let pid = auth.get("pid")?.as_str()?.to_owned();
            let offset = auth.get("offset")?.as_str()?.to_owned();
            Some((pid, offset))
        });
        let handshake = Handshake::new(self.base.clone(), auth);
        let middlewares =
            ns.0.hooks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .middlewares
                .clone();
        if middlewares.is_empty() && restore.is_none() {
            let socket = self.fresh_socket(&ns, handshake);
            self.finish_connect(ns, socket, None);
            return;
        }
        self.lock().connecting.push(nsp.clone());
        let client = self.clone();
        let ns2 = ns.clone();
        tokio::spawn(async move {
            let ns = ns2;
            let mut restored = None;
            if let Some((pid, offset)) = restore {
                match ns.adapter().restore_session(&pid, &offset).await {
                    Ok(found) => restored = found,
                    Err(e) => tracing::warn!(error = %e, "session not restored"),
                }
            }
            let socket = match &restored {
                Some((session, _)) => {
                    tracing::debug!(
                        sid = client.conn.id(),
                        socket = &*session.sid,
                        "session restored"
                    );
                    Socket::new(
                        session.sid.clone(),
                        ns.clone(),
                        client.clone(),
                        handshake,
                        Some(session.pid.clone()),
                        true,
                    )
                }
                None => client.fresh_socket(&ns, handshake),
            };
            let skip = restored.is_some() && recovery.is_some_and(|r| r.skip_middlewares);
            if !skip {
                for mw in middlewares {
                    if let Err(ConnectError { message, data }) = mw(socket.clone()).await {
                        client.lock().connecting.retain(|n| *n != nsp);
                        tracing::debug!(sid = client.conn.id(), nsp = nsp.as_str(), %message, "connection refused by a middleware");
                        client.send(&legacy::connect_error(&client.conn, nsp, &message, data));
                        return;
                    }
                }
            }
            client.lock().connecting.retain(|n| *n != nsp);
            client.finish_connect(ns, socket, restored);
        });
    }

    /// A new socket (not a restored one), with a private session id when recovery is on.
    fn fresh_socket(self: &Arc<Self>, ns: &Namespace, handshake: Handshake) -> Socket {
        Socket::new(
            legacy::socket_id(&self.conn, ns.name()).into(),
            ns.clone(),
            self.clone(),
            handshake,
            self.io
                .0
                .config
                .recovery
                .map(|_| Arc::from(engine::generate_id())),
            false,
        )
    }

    fn finish_connect(
        &self,
        ns: Namespace,
        socket: Socket,
        restored: Option<crate::recovery::Restored>,
    ) {
        {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.sockets.push((ns.name_bytes().clone(), socket.clone()));
            if let Some(timer) = st.connect_timer.take() {
                timer.abort();
            }
        }
        let register = |restored: Option<crate::recovery::Restored>| {
            ns.insert_socket(socket.clone());
            socket.set_connected();
            socket.join(socket.id_arc());
            if let Some((session, missed)) = restored {
                socket.join(session.rooms);
                socket.set_data_value(session.data);
                // Missed packets go out before the CONNECT reply, as in Node.
                socket.send_missed(&missed);
            }
        };
        match restored {
            None => register(None),
            // The adapter decides when: nothing it delivers may fall between its replay and
            // the registration.
            Some(restored) => ns
                .adapter()
                .complete_restore(restored, &mut |r| register(Some(r))),
        }
        let reply = legacy::connect_reply(
            &self.conn,
            ns.name_bytes().clone(),
            socket.id(),
            socket.pid(),
        );
        let _ = socket.send_packet(&reply, false);
        tracing::info!(sid = self.conn.id(), socket = %socket.id(), nsp = ns.name(), recovered = socket.recovered(), "socket connected");
        let handlers =
            ns.0.hooks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .on_connection
                .clone();
        let auth = Args::from_serialize(socket.handshake().auth()).unwrap_or_default();
        socket.run_connection_handlers(&handlers, auth);
    }

    /// `connect_timeout` has passed since the connection opened: closed unless it joined a
    /// namespace.
    pub(crate) fn connect_deadline(&self) {
        let expired = {
            let st = self.lock();
            st.sockets.is_empty() && !st.closed
        };
        if expired {
            tracing::debug!(
                sid = self.conn.id(),
                "no namespace joined within connect_timeout"
            );
            self.close(DisconnectReason::ForcedServerClose);
        }
    }

    fn send(&self, packet: &Packet) {
        let encoded = self.io.parser().encode(packet);
        let _ = crate::socket::queue_encoded(&self.conn, encoded, true);
    }

    pub(crate) fn remove_socket(&self, nsp: &str) {
        self.lock().sockets.retain(|(n, _)| n.as_str() != nsp);
    }

    fn take_sockets(&self) -> Vec<Socket> {
        let mut st = self.lock();
        st.closed = true;
        if let Some(timer) = st.connect_timer.take() {
            timer.abort();
        }
        st.decoder.reset();
        std::mem::take(&mut st.sockets)
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    /// Ends every socket with `reason`, then the connection.
    pub(crate) fn close(&self, mut reason: DisconnectReason) {
        // Node closes the engine connection first: when that close is immediate (websocket, or
        // a GET waiting to carry it) the sockets see the engine's "forced close"; only a polling
        // close that must wait for the next GET leaves them with "forced server close".
        if reason == DisconnectReason::ForcedServerClose && self.conn.closes_at_once() {
            reason = DisconnectReason::ForcedClose;
        }
        for socket in self.take_sockets() {
            socket.close(reason);
        }
        let engine_reason = match reason {
            DisconnectReason::TransportError => engine::DisconnectReason::TransportError,
            DisconnectReason::ServerShuttingDown => engine::DisconnectReason::ServerShuttingDown,
            _ => engine::DisconnectReason::ForcedClose,
        };
        self.conn.close_with(engine_reason);
    }

    /// `socket.disconnect(true)`: every socket gets its DISCONNECT, then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        let sockets: Vec<Socket> = self.lock().sockets.iter().map(|(_, s)| s.clone()).collect();
        for socket in sockets {
            socket.disconnect(false);
        }
        self.close(DisconnectReason::ForcedServerClose);
    }
}

/// The engine handler of the Socket.IO server.
pub(crate) struct SocketIoHandler {
    pub(crate) io: Io,
}

impl EngineHandler for SocketIoHandler {
    type Connection = Arc<Client>;

    fn on_open(&self, socket: &EngineSocket, req: &Parts) -> Arc<Client> {
        let client = Arc::new(Client {
            conn: socket.clone(),
            io: self.io.clone(),
            base: Base::from_parts(req),
            state: Mutex::new(State::default()),
        });
        // A task per connection, aborted when it joins a namespace: a shared queue of
        // deadlines was measured slower, since it keeps every connection's allocation until its
        // deadline passes.
        let timeout = self.io.connect_timeout();
        let weak = Arc::downgrade(&client);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(client) = weak.upgrade() {
                client.connect_deadline();
            }
        });
        client.lock().connect_timer = Some(timer.abort_handle());
        if legacy::is_legacy(socket) {
            // The legacy protocol joins `/` without a CONNECT. Not from here: the session is
            // not in the engine's table yet, and its open packet must go out first.
            let legacy_client = client.clone();
            tokio::spawn(async move { legacy_client.connect(Utf8Bytes::from_static("/"), None) });
        }
        client
    }

    fn on_message(&self, client: &Arc<Client>, _socket: &EngineSocket, msg: Message) {
        client.on_message(msg);
    }

    fn on_close(
        &self,
        client: &Arc<Client>,
        _socket: &EngineSocket,
        reason: engine::DisconnectReason,
    ) {
        for socket in client.take_sockets() {
            socket.close(reason.into());
        }
    }
}
