//! HTTP long-polling: a GET held open until there is something to send, a POST per batch of
//! client packets, and the heartbeat of sessions that are on polling.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header, request::Parts};
use http_body_util::BodyExt;

use super::error::status_response;
use super::server::{Engine, Session};
use super::socket::{Frame, SessionOwner};
use super::{DisconnectReason, EngineHandler, Transport, v3};

/// Closes the session if a pending GET is dropped before it answered: the client went away
/// ("poll connection closed prematurely" in Node).
struct PendingGet<'a, H: EngineHandler> {
    engine: &'a Engine<H>,
    session: &'a Session<H>,
    answered: bool,
}

impl<H: EngineHandler> Drop for PendingGet<'_, H> {
    fn drop(&mut self) {
        self.session.socket.shared.lock().get_pending = false;
        if !self.answered {
            tracing::debug!(
                sid = self.session.socket.id(),
                "poll connection closed prematurely"
            );
            self.engine
                .close_session(self.session.socket.id(), DisconnectReason::TransportError);
        }
    }
}

/// A GET: answers with everything queued, waiting for something if nothing is. The body is in
/// the session's format (v4, v3, JSONP), compressed as `parts` accepts when the packets allow.
pub(crate) async fn get<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    session: Arc<Session<H>>,
    parts: &Parts,
) -> Response<Body> {
    let shared = &session.socket.shared;
    {
        let mut st = shared.lock();
        if st.get_pending {
            drop(st);
            tracing::debug!(sid = shared.id(), "overlapping polling GET");
            engine.close_session(shared.id(), DisconnectReason::TransportError);
            return status_response(StatusCode::BAD_REQUEST);
        }
        st.get_pending = true;
    }
    let mut guard = PendingGet {
        engine,
        session: &session,
        answered: false,
    };
    let mut frames = VecDeque::new();
    let mut compress = false;
    let moving = || {
        let st = shared.lock();
        st.upgrading || st.transport == Transport::Websocket
    };
    poll_fn(|cx| {
        if moving() {
            frames.push_back(Frame::NOOP);
            return Poll::Ready(());
        }
        match shared.poll_drain_compress(cx, &mut frames) {
            Poll::Ready(c) => {
                compress = c;
                Poll::Ready(())
            }
            // An upgrade that started before the waker was registered did not wake it.
            Poll::Pending if moving() => {
                frames.push_back(Frame::NOOP);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    guard.answered = true;
    drop(guard);
    if shared.lock().closed.is_some() {
        engine.forget(shared.id());
    }
    v3::polling_response(&engine.config, shared, &parts.headers, &frames, compress).await
}

/// A POST: decodes the payload and hands each packet over in order.
pub(crate) async fn post<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    session: Arc<Session<H>>,
    parts: &Parts,
    body: Body,
) -> Response<Body> {
    let id = session.socket.id();
    let binary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
    if binary && session.socket.protocol() != 3 {
        tracing::debug!(sid = id, "binary POST on Engine.IO v4: invalid content");
        engine.close_session(id, DisconnectReason::TransportError);
        return status_response(StatusCode::BAD_REQUEST);
    }
    {
        let mut st = session.socket.shared.lock();
        if st.post_pending {
            drop(st);
            tracing::debug!(sid = id, "data request overlap from client");
            engine.close_session(id, DisconnectReason::TransportError);
            return status_response(StatusCode::BAD_REQUEST);
        }
        st.post_pending = true;
    }
    let result = read_body(engine, parts, body).await;
    session.socket.shared.lock().post_pending = false;
    let body = match result {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            tracing::debug!(sid = id, "POST body over max_http_buffer_size");
            return status_response(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Err(BodyError::Io) => {
            tracing::debug!(sid = id, "data request connection closed prematurely");
            engine.close_session(id, DisconnectReason::TransportError);
            return status_response(StatusCode::BAD_REQUEST);
        }
    };
    // Packets before a bad one are still handed over, as Node does.
    for packet in v3::decode_post(&session.socket.shared, binary, body) {
        match packet {
            Ok(packet) => {
                if !engine.on_packet(&session, packet) {
                    break;
                }
            }
            Err(_) => {
                tracing::warn!(sid = id, "polling payload does not parse");
                engine.close_session(id, DisconnectReason::ParseError);
                break;
            }
        }
    }
    let mut res = Response::new(Body::from("ok"));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    res
}

enum BodyError {
    TooLarge,
    Io,
}

async fn read_body<H: EngineHandler>(
    engine: &Engine<H>,
    parts: &Parts,
    mut body: Body,
) -> Result<Bytes, BodyError> {
    let max = engine.config.max_http_buffer_size;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    // A POST body nearly always arrives as one chunk: keep it as it is, and copy only when
    // more follow (what `Limited` + `collect` would do, without their buffer list).
    let mut first: Option<Bytes> = None;
    let mut more: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(BodyError::Io);
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total += data.len();
        if total > max {
            return Err(BodyError::TooLarge);
        }
        if data.is_empty() {
            continue;
        }
        match (&mut more, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(prev)) => {
                let mut buf = BytesMut::with_capacity(total);
                buf.extend_from_slice(&prev);
                buf.extend_from_slice(&data);
                more = Some(buf);
            }
        }
    }
    Ok(match more {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// Runs the heartbeat of a session while it is on polling: a ping every `ping_interval`, a
/// close with "ping timeout" when no pong follows within `ping_timeout`. Paused while the
/// session upgrades; once on websocket, the websocket task takes over and this one ends.
pub(crate) fn spawn_heartbeat<H: EngineHandler>(engine: Arc<Engine<H>>, session: Arc<Session<H>>) {
    if session.socket.protocol() == 3 {
        return v3::spawn_heartbeat(engine, session);
    }
    let start = tokio::time::Instant::now();
    let span = super::live_span(tracing::debug_span!(
        "engine.io",
        sid = session.socket.id(),
        transport = "polling"
    ));
    let heartbeat = async move {
        let shared = &session.socket.shared;
        let interval = engine.config.ping_interval;
        let timeout = engine.config.ping_timeout;
        // Deadlines count from when things were due, not from when this task got to run, so
        // the session ends within `ping_interval + ping_timeout` as Node's timers do.
        let mut ping_at = start + interval;
        loop {
            if !wait_until(&session, ping_at, || false).await {
                return;
            }
            {
                let st = shared.lock();
                if st.transport == Transport::Websocket || st.closed.is_some() {
                    return;
                }
                if st.upgrading {
                    ping_at = tokio::time::Instant::now() + interval;
                    continue;
                }
            }
            shared.awaiting_pong.store(true, Ordering::Release);
            if session.socket.send_control(Frame::PING).is_err() {
                return;
            }
            let deadline = ping_at + timeout;
            let answered = || !shared.awaiting_pong.load(Ordering::Acquire);
            if !wait_until(&session, deadline, answered).await {
                return;
            }
            if !answered() {
                let st = shared.lock();
                let moved_on = st.transport == Transport::Websocket || st.upgrading;
                drop(st);
                if !moved_on {
                    tracing::debug!(sid = shared.id(), "ping timeout");
                    engine.close_session(shared.id(), DisconnectReason::PingTimeout);
                    return;
                }
            }
            ping_at = tokio::time::Instant::now() + interval;
        }
    };
    tokio::spawn(tracing::Instrument::instrument(heartbeat, span));
}

/// Waits until `deadline` or until `done()` holds. Returns `false` when the session closed or
/// moved to websocket, which ends the polling heartbeat.
pub(super) async fn wait_until<H: EngineHandler>(
    session: &Session<H>,
    deadline: tokio::time::Instant,
    done: impl Fn() -> bool,
) -> bool {
    let shared = &session.socket.shared;
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    loop {
        {
            let st = shared.lock();
            if st.closed.is_some() || st.transport == Transport::Websocket {
                return false;
            }
        }
        if done() {
            return true;
        }
        tokio::select! {
            _ = &mut sleep => return true,
            _ = shared.signal.notified() => {}
        }
    }
}
