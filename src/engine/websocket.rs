//! WebSocket: a session opened directly over websocket, the upgrade of a polling session, and the
//! one task per connection that reads frames, writes the outbox and runs the heartbeat.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use axum::body::Body;
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header, request::Parts};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::Instrument;

use super::error::RequestError;
use super::packet::{self, Packet};
use super::server::{Engine, Session};
use super::socket::{Frame, SessionOwner};
use super::{DisconnectReason, EngineHandler, Message, Transport, payload_v3, v3};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// How long a closing websocket may take to flush what is left and say goodbye.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Frames read in one go before the task lets others run.
const READ_BUDGET: usize = 64;

/// Whether the request asks to become a websocket (`Connection: upgrade`, `Upgrade: websocket`).
pub(crate) fn is_upgrade_request(req: &Request<Body>) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    req.method() == http::Method::GET
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
}

/// The `101 Switching Protocols` answer and the future of the upgraded connection.
fn accept(parts: &mut Parts) -> Result<(Response<Body>, OnUpgrade), RequestError> {
    let key = parts
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(RequestError::BadRequest)?;
    if parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(RequestError::BadRequest);
    }
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = parts
        .extensions
        .remove::<OnUpgrade>()
        .ok_or(RequestError::BadRequest)?;
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok((res, on_upgrade))
}

fn ws_config<H: EngineHandler>(engine: &Engine<H>) -> WebSocketConfig {
    let max = engine.config.max_http_buffer_size;
    WebSocketConfig::default()
        .read_buffer_size(engine.config.ws_read_buffer_size)
        // Each frame is written as it is queued, as Node's `ws` does: clients (and the official
        // protocol test suite) see one read per frame, and nothing waits in a buffer.
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

async fn upgraded<H: EngineHandler>(engine: &Engine<H>, on_upgrade: OnUpgrade) -> Option<Ws> {
    match on_upgrade.await {
        Ok(io) => Some(
            WebSocketStream::from_raw_socket(
                TokioIo::new(io),
                Role::Server,
                Some(ws_config(engine)),
            )
            .await,
        ),
        Err(e) => {
            tracing::debug!(error = %e, "websocket upgrade failed");
            None
        }
    }
}

/// A session opened directly over websocket: the open packet is the first frame.
pub(crate) fn open<H: EngineHandler>(engine: Arc<Engine<H>>, mut parts: Parts) -> Response<Body> {
    let (res, on_upgrade) = match accept(&mut parts) {
        Ok(ok) => ok,
        Err(e) => return e.into_ws_response(),
    };
    tokio::spawn(async move {
        let Some(ws) = upgraded(&engine, on_upgrade).await else {
            return;
        };
        let session = engine.create_session(&parts, Transport::Websocket);
        drop(parts);
        let mut first = VecDeque::with_capacity(2);
        first.push_back(engine.open_packet(session.socket.id(), Transport::Websocket));
        if let Some(msg) = &engine.config.initial_packet {
            first.push_back(packet::message_frame(msg.clone()));
        }
        // The connection lives in a task of its own, sized for the connection loop alone, not
        // for the handshake that led to it: an idle connection costs what `run` holds.
        let span = super::live_span(tracing::debug_span!(
            "engine.io",
            sid = session.socket.id(),
            transport = "websocket"
        ));
        tokio::spawn(run(engine, session, ws, first).instrument(span));
    });
    res
}

/// A polling session asks to move to websocket: probe, then switch on `5`.
pub(crate) fn upgrade<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    session: Arc<Session<H>>,
    mut parts: Parts,
) -> Response<Body> {
    if !engine.config.allow_upgrades {
        return RequestError::BadRequest.into_ws_response();
    }
    let (res, on_upgrade) = match accept(&mut parts) {
        Ok(ok) => ok,
        Err(e) => return e.into_ws_response(),
    };
    drop(parts);
    tokio::spawn(async move {
        let Some(mut ws) = upgraded(&engine, on_upgrade).await else {
            return;
        };
        let shared = &session.socket.shared;
        let refused = {
            let mut st = shared.lock();
            let refused = st.upgrade_started
                || st.upgraded
                || st.transport == Transport::Websocket
                || st.closed.is_some();
            st.upgrade_started |= !refused;
            refused
        };
        if refused {
            tracing::debug!(
                sid = shared.id(),
                "upgrade refused: already upgrading or upgraded"
            );
            let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(None)).await;
            return;
        }
        let upgrade_timeout = engine.config.upgrade_timeout;
        match tokio::time::timeout(upgrade_timeout, probe(&session, &mut ws)).await {
            Ok(true) => {}
            outcome => {
                if outcome.is_err() {
                    tracing::debug!(sid = shared.id(), "upgrade timed out");
                }
                {
                    let mut st = shared.lock();
                    st.upgrade_started = false;
                    st.upgrading = false;
                }
                shared.signal.notify_one();
                let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(None)).await;
                return;
            }
        }
        {
            let mut st = shared.lock();
            if st.closed.is_some() {
                return;
            }
            st.transport = Transport::Websocket;
            st.upgraded = true;
            st.upgrading = false;
        }
        // A GET still pending answers `6`; the polling heartbeat ends.
        shared.waker.wake();
        shared.signal.notify_one();
        shared.fire_upgrade(Transport::Websocket);
        tracing::info!(sid = shared.id(), "engine.io session upgraded to websocket");
        let span = super::live_span(tracing::debug_span!(
            "engine.io",
            sid = shared.id(),
            transport = "websocket",
            upgraded = true
        ));
        tokio::spawn(run(engine.clone(), session.clone(), ws, VecDeque::new()).instrument(span));
    });
    res
}

/// The probe exchange: `2probe` → `3probe`, then `5`. Returns whether the upgrade completed.
async fn probe<H: EngineHandler>(session: &Session<H>, ws: &mut Ws) -> bool {
    let shared = &session.socket.shared;
    loop {
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            _ => return false,
        };
        let WsMessage::Text(text) = frame else {
            match frame {
                WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                _ => return false,
            }
        };
        match packet::decode_text(text) {
            Ok(Packet::Ping { probe: true }) => {
                if ws.send(WsMessage::Text("3probe".into())).await.is_err() {
                    return false;
                }
                shared.lock().upgrading = true;
                // The pending GET answers `6` so the client can pause polling.
                shared.waker.wake();
            }
            Ok(Packet::Upgrade) => return true,
            _ => return false,
        }
    }
}

/// A frame as a websocket message; `legacy` (Engine.IO v3) binary messages start with the
/// packet type byte.
fn to_ws(frame: Frame, legacy: bool) -> WsMessage {
    match frame {
        Frame::Text(t) => WsMessage::Text(t),
        Frame::Binary(b) if legacy => WsMessage::Binary(payload_v3::binary_frame(&b)),
        Frame::Binary(b) => WsMessage::Binary(b),
    }
}

/// The waker the connection task reads with: it notes that the socket may have something to
/// read before waking the task. A task woken only to write (a broadcast) then skips the read,
/// which costs more than the write: tungstenite zeroes its read buffer on every attempt.
struct ReadWake {
    ready: AtomicBool,
    task: AtomicWaker,
}

impl Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// How the connection task ended.
enum End {
    /// The session was closed by the server or the handler: flush and say goodbye.
    Closed(DisconnectReason),
    /// The client went away or broke the protocol: nothing more to send.
    Gone,
}

fn reason_of(e: &WsError) -> DisconnectReason {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => {
            DisconnectReason::TransportClose
        }
        WsError::Protocol(
            tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => DisconnectReason::TransportClose,
        _ => DisconnectReason::TransportError,
    }
}

/// The connection's one task: reads frames and hands them to the engine, writes whatever the
/// outbox holds, pings every `ping_interval` and closes when a pong is late.
///
/// A plain function around an `async move` block: the block uses what it captured in place,
/// where an `async fn` would keep a second copy of each argument in its state.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn doubles the size of the task"
)]
fn run<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    session: Arc<Session<H>>,
    mut ws: Ws,
    mut out: VecDeque<Frame>,
) -> impl Future<Output = ()> + Send {
    async move {
        let (engine, session) = (&*engine, &*session);
        let shared = &session.socket.shared;
        let id = shared.id();
        let interval = engine.config.ping_interval;
        let timeout = engine.config.ping_timeout;
        // Engine.IO v3: the client pings; the deadline is `interval + timeout` after the last.
        let legacy = shared.protocol() == 3;
        let heartbeat = tokio::time::sleep(if legacy { interval + timeout } else { interval });
        tokio::pin!(heartbeat);
        let mut awaiting_pong = false;
        let read_wake = Arc::new(ReadWake {
            ready: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let read_waker = Waker::from(read_wake.clone());

        let end = poll_fn(|cx| {
        // Read what the client sent, if the socket said it may have something.
        if read_wake.ready.swap(false, Ordering::AcqRel) {
            let mut budget = READ_BUDGET;
            read_wake.task.register(cx.waker());
            let mut rcx = Context::from_waker(&read_waker);
            loop {
                if budget == 0 {
                    read_wake.ready.store(true, Ordering::Release);
                    cx.waker().wake_by_ref();
                    break;
                }
                budget -= 1;
                match ws.poll_next_unpin(&mut rcx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        let packet = match frame {
                            WsMessage::Text(text) => match packet::decode_text(text) {
                                Ok(p) => p,
                                Err(_) => {
                                    tracing::warn!(sid = id, "websocket frame is not an engine.io packet");
                                    engine.close_session(id, DisconnectReason::ParseError);
                                    return Poll::Ready(End::Gone);
                                }
                            },
                            WsMessage::Binary(b) if legacy => match payload_v3::decode_binary_packet(b) {
                                Ok(p) => p,
                                Err(_) => {
                                    tracing::warn!(sid = id, "websocket frame is not an engine.io v3 packet");
                                    engine.close_session(id, DisconnectReason::ParseError);
                                    return Poll::Ready(End::Gone);
                                }
                            },
                            WsMessage::Binary(b) => Packet::Message(Message::Binary(b)),
                            WsMessage::Close(_) => {
                                engine.close_session(id, DisconnectReason::TransportClose);
                                return Poll::Ready(End::Gone);
                            }
                            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
                        };
                        if !engine.on_packet(session, packet) {
                            return Poll::Ready(End::Gone);
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        let reason = reason_of(&e);
                        if matches!(e, WsError::Capacity(_)) {
                            tracing::warn!(sid = id, error = %e, "websocket message over max_http_buffer_size");
                        } else {
                            tracing::debug!(sid = id, error = %e, "websocket read failed");
                        }
                        engine.close_session(id, reason);
                        return Poll::Ready(End::Gone);
                    }
                    Poll::Ready(None) => {
                        engine.close_session(id, DisconnectReason::TransportClose);
                        return Poll::Ready(End::Gone);
                    }
                    Poll::Pending => break,
                }
            }
        }

        // Heartbeat.
        if legacy {
            if v3::ws_heartbeat_expired(shared, heartbeat.as_mut(), interval + timeout, cx) {
                tracing::debug!(sid = id, "ping timeout (no ping from the v3 client)");
                engine.close_session(id, DisconnectReason::PingTimeout);
                return Poll::Ready(End::Gone);
            }
        } else if awaiting_pong && !shared.awaiting_pong.load(Ordering::Acquire) {
            awaiting_pong = false;
            heartbeat
                .as_mut()
                .reset(tokio::time::Instant::now() + interval);
        }
        if !legacy && heartbeat.as_mut().poll(cx).is_ready() {
            if awaiting_pong {
                tracing::debug!(sid = id, "ping timeout");
                engine.close_session(id, DisconnectReason::PingTimeout);
                return Poll::Ready(End::Gone);
            }
            awaiting_pong = true;
            shared.awaiting_pong.store(true, Ordering::Release);
            out.push_back(Frame::PING);
            let pinged_at = heartbeat.deadline();
            heartbeat.as_mut().reset(pinged_at + timeout);
            let _ = heartbeat.as_mut().poll(cx);
        }

        // Write the outbox.
        let mut wrote = false;
        loop {
            if out.is_empty() && shared.poll_drain(cx, &mut out).is_pending() {
                break;
            }
            match ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    engine.close_session(id, reason_of(&e));
                    return Poll::Ready(End::Gone);
                }
                Poll::Pending => break,
            }
            let Some(frame) = out.pop_front() else { break };
            if let Err(e) = ws.start_send_unpin(to_ws(frame, legacy)) {
                engine.close_session(id, reason_of(&e));
                return Poll::Ready(End::Gone);
            }
            wrote = true;
        }
        if wrote || !out.is_empty() {
            if let Poll::Ready(Err(e)) = ws.poll_flush_unpin(cx) {
                engine.close_session(id, reason_of(&e));
                return Poll::Ready(End::Gone);
            }
        }

        if let Some(reason) = shared.lock().closed {
            return Poll::Ready(End::Closed(reason));
        }
        Poll::Pending
    })
    .await;

        if let End::Closed(reason) = end {
            // Boxed so that the connection's task is not sized for this last step.
            Box::pin(say_goodbye(ws, out, session.socket.shared.clone(), reason)).await;
        }
    }
}

/// Sends whatever was queued before a server-side close, then closes the websocket.
async fn say_goodbye(
    mut ws: Ws,
    mut out: VecDeque<Frame>,
    shared: Arc<super::socket::Shared>,
    reason: DisconnectReason,
) {
    let legacy = shared.protocol() == 3;
    let flush = async {
        out.extend(shared.lock().queue.drain(..));
        for frame in out.drain(..) {
            ws.feed(to_ws(frame, legacy)).await?;
        }
        ws.close(None).await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, flush).await;
    tracing::trace!(sid = shared.id(), %reason, "websocket closed");
}
