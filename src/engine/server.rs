//! The engine: the session table, request checks in Node's order, the handshake, and what every
//! transport does with a received packet.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::ready;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, StatusCode, header, request::Parts};

use super::config::{BoxFuture, EngineConfig};
use super::error::{RequestError, status_response};
use super::packet::{self, Packet};
use super::sid::IdHash;
use super::socket::{EngineSocket, Frame, SessionOwner};
use super::v3::PollingFormat;
use super::{DisconnectReason, EngineHandler, Transport, polling, sid, websocket};

const SHARDS: usize = 16;

/// One open session: the handle the transports use, and the handler's state for it.
pub(crate) struct Session<H: EngineHandler> {
    pub(crate) socket: EngineSocket,
    pub(crate) conn: H::Connection,
}

/// The session table, sharded so that connections opening and closing on different threads
/// rarely meet on one lock.
type Shard<H> = Mutex<HashMap<Box<str>, Arc<Session<H>>, IdHash>>;

struct Sessions<H: EngineHandler> {
    shards: Box<[Shard<H>]>,
    hasher: IdHash,
    count: AtomicUsize,
}

impl<H: EngineHandler> Sessions<H> {
    fn new() -> Self {
        let hasher = IdHash::new();
        Sessions {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(hasher)))
                .collect(),
            hasher,
            count: AtomicUsize::new(0),
        }
    }

    fn shard(
        &self,
        id: &str,
    ) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Session<H>>, IdHash>> {
        // Bits 40-43 pick the shard: the map inside uses the low bits and the top 7, so the
        // shard does not thin out its buckets.
        let i = (self.hasher.hash_one(id) >> 40) as usize % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Session<H>>> {
        self.shard(id).get(id).cloned()
    }

    fn insert(&self, session: Arc<Session<H>>) {
        let id: Box<str> = session.socket.id().into();
        if self.shard(&id).insert(id.clone(), session).is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn remove(&self, id: &str) -> Option<Arc<Session<H>>> {
        let removed = self.shard(id).remove(id);
        if removed.is_some() {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    fn all(&self) -> Vec<Arc<Session<H>>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// An Engine.IO server around one handler.
pub(crate) struct Engine<H: EngineHandler> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    sessions: Sessions<H>,
    this: Weak<Engine<H>>,
}

/// The query parameters the engine reads.
#[derive(Debug, Default)]
pub(crate) struct Query<'a> {
    pub(crate) eio: Option<&'a str>,
    pub(crate) transport: Option<&'a str>,
    /// Borrowed unless it had escapes to decode (ids made by the server never do).
    pub(crate) sid: Option<Cow<'a, str>>,
    /// `b64` with a value: binary as base64 in v3 polling bodies.
    pub(crate) b64: bool,
    /// `j`: JSONP polling, with this callback index.
    pub(crate) j: Option<&'a str>,
}

impl<'a> Query<'a> {
    pub(crate) fn parse(query: &'a str) -> Self {
        let mut q = Query::default();
        // Every request goes through here: a plain byte scan, cheaper than `split`'s pattern
        // searchers on queries this short.
        let mut rest = query;
        while !rest.is_empty() {
            let (pair, next) = match rest.bytes().position(|b| b == b'&') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            rest = next;
            let (k, v) = match pair.bytes().position(|b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            match k {
                "EIO" => q.eio = Some(v),
                // A repeated `transport` is a list in Node, which matches no transport.
                "transport" => {
                    q.transport = if q.transport.is_some() {
                        Some("")
                    } else {
                        Some(v)
                    }
                }
                "sid" => q.sid = Some(percent_decode_cow(v)),
                "b64" => q.b64 = !v.is_empty(),
                "j" => q.j = Some(v),
                _ => {}
            }
        }
        q
    }
}

/// [`percent_decode`], borrowing `s` when there is nothing to decode.
fn percent_decode_cow(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b == b'%' || b == b'+') {
        Cow::Owned(percent_decode(s))
    } else {
        Cow::Borrowed(s)
    }
}

/// Decodes `%XX` escapes and `+` of a query component; bad escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') && !s.contains('+') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the checks of a request found.
enum Checked<H: EngineHandler> {
    /// A request of an open session, on this transport.
    Session(Transport, Arc<Session<H>>),
    /// A handshake; whether its protocol version is one served (refused only after
    /// `allow_request`, as Node orders its checks).
    Handshake {
        transport: Transport,
        supported: bool,
    },
}

/// The answer to a refused request.
fn refused(e: RequestError, parts: &Parts, is_ws_upgrade: bool) -> Response<Body> {
    tracing::debug!(error = ?e, uri = %parts.uri, "engine.io request refused");
    if is_ws_upgrade {
        e.into_ws_response()
    } else {
        e.into_response()
    }
}

/// Polling responses must not be cached.
fn no_store(mut res: Response<Body>) -> Response<Body> {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl<H: EngineHandler> Engine<H> {
    pub(crate) fn new(config: EngineConfig, handler: H) -> Arc<Self> {
        Arc::new_cyclic(|this| Engine {
            config,
            handler,
            sessions: Sessions::new(),
            this: this.clone(),
        })
    }

    /// How many sessions are open.
    pub(crate) fn client_count(&self) -> usize {
        self.sessions.count.load(Ordering::Relaxed)
    }

    /// Open sessions on polling and on websocket, counted now.
    pub(crate) fn transport_counts(&self) -> (usize, usize) {
        let mut counts = (0, 0);
        for session in self.sessions.all() {
            match session.socket.transport() {
                Transport::Polling => counts.0 += 1,
                Transport::Websocket => counts.1 += 1,
            }
        }
        counts
    }

    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session<H>>> {
        self.sessions.get(id)
    }

    fn owner(&self) -> Weak<dyn SessionOwner> {
        self.this.clone()
    }

    /// Whether `path` is one the engine serves (Node's `addTrailingSlash` semantics).
    pub(crate) fn matches(&self, path: &str) -> bool {
        let base = self.config.path.as_str();
        let Some(rest) = path.strip_prefix(base) else {
            return false;
        };
        if base == "/" {
            return true;
        }
        // With the trailing slash (the default, as Node's clients request `<path>/`), `<path>`
        // alone is accepted too; without it, only `<path>` itself, as Node matches it.
        rest.is_empty() || (self.config.add_trailing_slash && rest.starts_with('/'))
    }

    /// Closes every session (used when the server shuts down).
    pub(crate) fn close_all(&self, reason: DisconnectReason) {
        for session in self.sessions.all() {
            self.close_session(session.socket.id(), reason);
        }
    }

    /// Answers one request under the engine's path. The checks that need no await run here,
    /// before any future exists; each kind of request then gets a future of its own, no bigger
    /// than what it awaits (it is boxed, once per request).
    pub(crate) fn handle(self: Arc<Self>, req: Request<Body>) -> BoxFuture<Response<Body>> {
        let is_ws_upgrade = websocket::is_upgrade_request(&req);
        let (parts, body) = req.into_parts();
        let checked = {
            let query = Query::parse(parts.uri.query().unwrap_or(""));
            self.check(&parts, &query, is_ws_upgrade)
        };
        match checked {
            Err(e) => Box::pin(ready(refused(e, &parts, is_ws_upgrade))),
            Ok(Checked::Session(Transport::Websocket, session)) => {
                Box::pin(ready(websocket::upgrade(self, session, parts)))
            }
            Ok(Checked::Session(Transport::Polling, session)) => match parts.method {
                Method::GET => {
                    Box::pin(async move { no_store(polling::get(&self, session, &parts).await) })
                }
                Method::POST => {
                    Box::pin(
                        async move { no_store(polling::post(&self, session, &parts, body).await) },
                    )
                }
                _ => Box::pin(ready(no_store(status_response(StatusCode::BAD_REQUEST)))),
            },
            Ok(Checked::Handshake {
                transport,
                supported,
            }) => Box::pin(async move {
                if let Some(allow) = &self.config.allow_request {
                    if let Err(e) = allow(&parts).await {
                        return refused(RequestError::Forbidden(e), &parts, is_ws_upgrade);
                    }
                }
                if !supported {
                    let e = RequestError::UnsupportedProtocolVersion;
                    return refused(e, &parts, is_ws_upgrade);
                }
                match transport {
                    Transport::Polling => no_store(self.open_polling(&parts).await),
                    Transport::Websocket => websocket::open(self, parts),
                }
            }),
        }
    }

    /// The checks of Node's `verify`, in its order: transport, origin, sid, method, then (for a
    /// handshake, by the caller) `allow_request` and the protocol version. Gives the session
    /// the request names, if it names one, so that it is looked up once.
    fn check(
        &self,
        parts: &Parts,
        query: &Query<'_>,
        is_ws_upgrade: bool,
    ) -> Result<Checked<H>, RequestError> {
        let transport = query
            .transport
            .and_then(Transport::parse)
            .filter(|t| self.config.transports.contains(t))
            .ok_or(RequestError::UnknownTransport)?;
        if let Some(origin) = parts.headers.get(header::ORIGIN) {
            if origin
                .as_bytes()
                .iter()
                .any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
            {
                return Err(RequestError::BadRequest);
            }
        }
        if let Some(sid) = &query.sid {
            let Some(session) = self.session(sid) else {
                return Err(RequestError::UnknownSid);
            };
            let current = session.socket.transport();
            if !is_ws_upgrade && current != transport {
                return Err(RequestError::BadRequest);
            }
            return Ok(Checked::Session(transport, session));
        }
        if parts.method != Method::GET {
            return Err(RequestError::BadHandshakeMethod);
        }
        if transport == Transport::Websocket && !is_ws_upgrade {
            return Err(RequestError::BadRequest);
        }
        let supported = match query.eio {
            Some("4") => true,
            Some("3") => self.config.allow_eio3,
            _ => false,
        };
        Ok(Checked::Handshake {
            transport,
            supported,
        })
    }

    /// The JSON of the open packet (`0{...}`) for a new session.
    pub(crate) fn open_packet(&self, sid: &str, transport: Transport) -> Frame {
        let upgrades = if transport == Transport::Polling
            && self.config.allow_upgrades
            && self.config.transports.contains(&Transport::Websocket)
        {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        let sid_json = serde_json::to_string(sid).unwrap_or_else(|_| "\"\"".into());
        let text = format!(
            r#"0{{"sid":{},"upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            sid_json,
            upgrades,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_http_buffer_size
        );
        Frame::Text(text.into())
    }

    /// Creates a session: a new id, the handler's `on_open`, an entry in the table.
    pub(crate) fn create_session(&self, parts: &Parts, transport: Transport) -> Arc<Session<H>> {
        let id = match &self.config.generate_id {
            Some(f) => f(parts),
            None => sid::generate(),
        };
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        // `verify` let only `EIO=4`, or `EIO=3` with `allow_eio3`, this far.
        let protocol = if query.eio == Some("3") { 3 } else { 4 };
        let format = match transport {
            Transport::Polling => PollingFormat::from_query(query.b64, query.j),
            Transport::Websocket => PollingFormat::default(),
        };
        let socket = EngineSocket::new(
            id,
            protocol,
            format,
            transport,
            self.config.max_buffered_packets,
            self.owner(),
        );
        let conn = self.handler.on_open(&socket, parts);
        let session = Arc::new(Session { socket, conn });
        self.sessions.insert(session.clone());
        tracing::info!(sid = session.socket.id(), %transport, "engine.io session opened");
        session
    }

    async fn open_polling(self: &Arc<Self>, parts: &Parts) -> Response<Body> {
        let session = self.create_session(parts, Transport::Polling);
        let sid = session.socket.id().to_owned();
        let mut frames = vec![self.open_packet(&sid, Transport::Polling)];
        if let Some(msg) = &self.config.initial_packet {
            frames.push(packet::message_frame(msg.clone()));
        }
        {
            let mut st = session.socket.shared.lock();
            frames.extend(st.queue.drain(..));
            st.exempt = 0;
        }
        polling::spawn_heartbeat(self.clone(), session.clone());
        let shared = &session.socket.shared;
        let mut res =
            super::v3::polling_response(&self.config, shared, &parts.headers, &frames, true).await;
        if let Some(cookie) = &self.config.cookie {
            if let Ok(v) = HeaderValue::from_str(&cookie.header_value(&sid)) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
        res
    }

    /// What every transport does with a packet from the client. Returns `false` once the
    /// session is closed, so the caller stops reading.
    pub(crate) fn on_packet(&self, session: &Session<H>, packet: Packet) -> bool {
        match packet {
            Packet::Message(msg) => {
                self.handler.on_message(&session.conn, &session.socket, msg);
            }
            Packet::Pong { .. } if session.socket.protocol() != 3 => {
                session.socket.shared.on_pong()
            }
            // Engine.IO v3 runs the heartbeat the other way: the client pings.
            Packet::Ping { .. } if session.socket.protocol() == 3 => {
                super::v3::on_client_ping(&session.socket)
            }
            Packet::Close => {
                self.close_session(session.socket.id(), DisconnectReason::TransportClose);
                return false;
            }
            Packet::Ping { .. } | Packet::Pong { .. } => {
                tracing::debug!(
                    sid = session.socket.id(),
                    "invalid heartbeat direction: the client sent a ping (v4) or a pong (v3)"
                );
                self.close_session(session.socket.id(), DisconnectReason::TransportError);
                return false;
            }
            Packet::Open | Packet::Upgrade | Packet::Noop => {}
        }
        true
    }
}

impl<H: EngineHandler> Engine<H> {
    /// Forgets a closed session.
    pub(crate) fn forget(&self, id: &str) {
        self.sessions.remove(id);
    }
}

impl<H: EngineHandler> SessionOwner for Engine<H> {
    fn close_session(&self, id: &str, reason: DisconnectReason) {
        let Some(session) = self.sessions.get(id) else {
            return;
        };
        let shared = &session.socket.shared;
        if !shared.mark_closed(reason) {
            return;
        }
        // A server-side close on polling with no GET to carry it keeps the session until the
        // client's next GET has taken what was queued and the close packet (Node's orderly
        // close), or until the grace period ends.
        let deferred = matches!(
            reason,
            DisconnectReason::ForcedClose | DisconnectReason::ServerShuttingDown
        ) && {
            let st = shared.lock();
            st.transport == Transport::Polling && !st.get_pending
        };
        if deferred {
            if let Some(engine) = self.this.upgrade() {
                let grace = self.config.ping_interval + self.config.ping_timeout;
                let id = id.to_owned();
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    engine.forget(&id);
                });
            }
        } else {
            self.sessions.remove(id);
        }
        tracing::info!(sid = id, %reason, "engine.io session closed");
        self.handler
            .on_close(&session.conn, &session.socket, reason);
        shared.fire_close(reason, describe(reason));
    }
}

/// What Node's `close` event says beside the reason.
fn describe(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportError => "the transport failed or broke a rule of the protocol",
        DisconnectReason::TransportClose => "the client closed the connection",
        DisconnectReason::ForcedClose => "the server closed the connection",
        DisconnectReason::PingTimeout => "no pong within pingTimeout",
        DisconnectReason::ParseError => "the client sent something that is not a packet",
        DisconnectReason::ServerShuttingDown => "the server is shutting down",
    }
}
