//! The handle to one Engine.IO session, and the state its transports share: the outbox, the
//! current transport and the close flag.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

use super::error::SendError;
use super::packet::message_frame;
use super::v3::PollingFormat;
use super::{DisconnectReason, Message, Transport, Utf8Bytes};

/// A packet ready for a transport: a whole Engine.IO text packet (type digit included, so the
/// same bytes serve websocket and polling), or a binary message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Text(Utf8Bytes),
    Binary(Bytes),
}

impl Frame {
    pub(crate) const PING: Frame = Frame::Text(Utf8Bytes::from_static("2"));
    pub(crate) const CLOSE: Frame = Frame::Text(Utf8Bytes::from_static("1"));
    pub(crate) const NOOP: Frame = Frame::Text(Utf8Bytes::from_static("6"));
}

/// Closes sessions on behalf of a handle that does not know the engine's handler type.
pub(crate) trait SessionOwner: Send + Sync {
    fn close_session(&self, id: &str, reason: DisconnectReason);
}

/// What the transports of a session share.
pub(crate) struct Shared {
    id: Box<str>,
    protocol: u8,
    /// How polling bodies are written and read (JSONP, `b64`), fixed by the handshake.
    pub(crate) format: PollingFormat,
    state: Mutex<State>,
    /// Wakes the one consumer of the outbox: the websocket task, or the pending polling GET.
    pub(crate) waker: AtomicWaker,
    /// Wakes the polling heartbeat task (a pong arrived, the session upgraded or closed).
    pub(crate) signal: Notify,
    pub(crate) awaiting_pong: AtomicBool,
    max_buffered: usize,
    owner: Weak<dyn SessionOwner>,
    /// `upgrade` and `close` listeners; allocated on first use, so idle sessions pay one pointer.
    events: Mutex<Option<Box<ConnEvents>>>,
}

type UpgradeListener = Box<dyn Fn(Transport) + Send + Sync>;
type CloseListener = Box<dyn Fn(DisconnectReason, &str) + Send + Sync>;

#[derive(Default)]
struct ConnEvents {
    upgrade: Vec<UpgradeListener>,
    close: Vec<CloseListener>,
}

pub(crate) struct State {
    pub(crate) queue: VecDeque<Frame>,
    /// Frames at the front of the queue that do not count toward the outbox bound (a restored
    /// socket's missed packets); back to 0 whenever the queue is taken.
    pub(crate) exempt: usize,
    pub(crate) transport: Transport,
    /// A websocket asked to take over; it has not yet completed the probe.
    pub(crate) upgrade_started: bool,
    /// The probe succeeded: polling answers `6` until the client sends `5`.
    pub(crate) upgrading: bool,
    pub(crate) upgraded: bool,
    pub(crate) closed: Option<DisconnectReason>,
    pub(crate) get_pending: bool,
    pub(crate) post_pending: bool,
    /// A queued frame asked for HTTP compression (every frame does unless sent with
    /// `compress(false)`); taken by the polling GET that sends the queue.
    pub(crate) compress: bool,
}

/// A handle to one Engine.IO session: send it messages, close it. Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSocket")
            .field("id", &self.id())
            .field("transport", &self.transport())
            .finish()
    }
}

impl EngineSocket {
    pub(crate) fn new(
        id: String,
        protocol: u8,
        format: PollingFormat,
        transport: Transport,
        max_buffered: usize,
        owner: Weak<dyn SessionOwner>,
    ) -> Self {
        EngineSocket {
            shared: Arc::new(Shared {
                id: id.into_boxed_str(),
                protocol,
                format,
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    exempt: 0,
                    transport,
                    upgrade_started: false,
                    upgrading: false,
                    upgraded: false,
                    closed: None,
                    get_pending: false,
                    post_pending: false,
                    compress: false,
                }),
                waker: AtomicWaker::new(),
                signal: Notify::new(),
                awaiting_pong: AtomicBool::new(false),
                max_buffered,
                owner,
                events: Mutex::new(None),
            }),
        }
    }

    /// The session id (`sid`).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The Engine.IO protocol version the client speaks: 4, or 3 for a legacy client (Socket.IO v2)
    /// accepted with `allow_eio3`.
    pub fn protocol(&self) -> u8 {
        self.shared.protocol
    }

    /// The transport in use now.
    pub fn transport(&self) -> Transport {
        self.shared.lock().transport
    }

    /// Whether the session started on polling and moved to websocket.
    pub fn upgraded(&self) -> bool {
        self.shared.lock().upgraded
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Whether a message sent now would leave at once: nothing is waiting in the outbox and the
    /// transport can write (for polling, a GET is pending). Volatile messages are dropped
    /// otherwise.
    pub fn is_writable(&self) -> bool {
        let st = self.shared.lock();
        st.closed.is_none()
            && st.queue.is_empty()
            && !st.upgrading
            && (st.transport == Transport::Websocket || st.get_pending)
    }

    /// Whether a close now reaches the client at once: websocket, or a polling GET waiting.
    pub(crate) fn closes_at_once(&self) -> bool {
        let st = self.shared.lock();
        st.transport == Transport::Websocket || st.get_pending
    }

    /// Queues a message for the client.
    pub fn send(&self, msg: Message) -> Result<(), SendError> {
        self.send_frames(std::iter::once(message_frame(msg)), 1)
    }

    /// Closes the session ("forced close"): what was queued is still sent, then the transport
    /// closes. The handler's `on_close` runs before this returns.
    pub fn close(&self) {
        self.close_with(DisconnectReason::ForcedClose);
    }

    /// Runs `f` when the session moves to a new transport (Node's `conn.on("upgrade")`).
    pub fn on_upgrade<F: Fn(Transport) + Send + Sync + 'static>(&self, f: F) {
        let mut ev = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
        ev.get_or_insert_with(Default::default)
            .upgrade
            .push(Box::new(f));
    }

    /// Runs `f` with the reason and a description when the session ends (Node's
    /// `conn.on("close")`).
    pub fn on_close<F: Fn(DisconnectReason, &str) + Send + Sync + 'static>(&self, f: F) {
        let mut ev = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
        ev.get_or_insert_with(Default::default)
            .close
            .push(Box::new(f));
    }

    pub(crate) fn close_with(&self, reason: DisconnectReason) {
        if let Some(owner) = self.shared.owner.upgrade() {
            owner.close_session(&self.shared.id, reason);
        } else {
            self.shared.mark_closed(reason);
        }
    }

    /// Queues frames that must stay together (a Socket.IO packet and its attachments).
    pub(crate) fn send_frames(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
    ) -> Result<(), SendError> {
        self.send_frames_with(frames, count, true)
    }

    /// Like [`send_frames`](Self::send_frames); `compress: false` (the `compress(false)` flag)
    /// keeps these frames from asking for HTTP compression of the polling response carrying them.
    pub(crate) fn send_frames_with(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
        compress: bool,
    ) -> Result<(), SendError> {
        self.push(frames, Some(count), compress)
    }

    /// Queues frames past the outbox bound: the packets a restored socket missed go out whole
    /// before its CONNECT reply, as in Node; the recovery store already bounds them.
    pub(crate) fn send_frames_unbounded(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        compress: bool,
    ) -> Result<(), SendError> {
        self.push(frames, None, compress)
    }

    /// `count` frames within the outbox bound, or any number without one.
    fn push(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        count: Option<usize>,
        compress: bool,
    ) -> Result<(), SendError> {
        {
            let mut st = self.shared.lock();
            if st.closed.is_some() {
                return Err(SendError::Closed);
            }
            if let Some(count) = count {
                if st.queue.len().saturating_sub(st.exempt) + count
                    > self.shared.max_buffered.max(count)
                {
                    return Err(SendError::Full);
                }
            }
            let before = st.queue.len();
            st.queue.extend(frames);
            if count.is_none() {
                st.exempt += st.queue.len() - before;
            }
            st.compress |= compress;
        }
        self.shared.waker.wake();
        Ok(())
    }

    /// Queues a control frame (a ping): it ignores the outbox bound, so that a client that stops
    /// reading still gets pinged and is reclaimed by the ping timeout.
    pub(crate) fn send_control(&self, frame: Frame) -> Result<(), SendError> {
        {
            let mut st = self.shared.lock();
            if st.closed.is_some() {
                return Err(SendError::Closed);
            }
            st.queue.push_back(frame);
        }
        self.shared.waker.wake();
        Ok(())
    }

    /// Queues one frame.
    pub(crate) fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        self.send_frames(std::iter::once(frame), 1)
    }
}

impl Shared {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The Engine.IO protocol version of the session (3 or 4).
    pub(crate) fn protocol(&self) -> u8 {
        self.protocol
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-updated in a way that
        // matters more than losing the session, so a poisoned lock is simply reused.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the session closed and tells a pending polling GET what to answer: `6` when the
    /// client itself closed, `1` otherwise (as Node's polling transport does).
    pub(crate) fn mark_closed(&self, reason: DisconnectReason) -> bool {
        {
            let mut st = self.lock();
            if st.closed.is_some() {
                return false;
            }
            st.closed = Some(reason);
            if st.transport == Transport::Polling {
                let last = if reason == DisconnectReason::TransportClose {
                    Frame::NOOP
                } else {
                    Frame::CLOSE
                };
                st.queue.push_back(last);
            }
        }
        self.waker.wake();
        self.signal.notify_one();
        true
    }

    pub(crate) fn fire_upgrade(&self, transport: Transport) {
        let ev = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ev) = ev.as_ref() {
            for f in &ev.upgrade {
                f(transport);
            }
        }
    }

    pub(crate) fn fire_close(&self, reason: DisconnectReason, description: &str) {
        let taken = self.events.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(ev) = taken {
            for f in &ev.close {
                f(reason, description);
            }
        }
    }

    /// A pong arrived: the heartbeat goes on.
    pub(crate) fn on_pong(&self) {
        self.awaiting_pong.store(false, Ordering::Release);
        self.signal.notify_one();
    }

    /// Takes everything queued, registering `cx` to be woken when more arrives.
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>, into: &mut VecDeque<Frame>) -> Poll<()> {
        self.waker.register(cx.waker());
        let mut st = self.lock();
        if st.queue.is_empty() {
            return Poll::Pending;
        }
        if into.is_empty() {
            std::mem::swap(into, &mut st.queue);
        } else {
            into.extend(st.queue.drain(..));
        }
        st.exempt = 0;
        Poll::Ready(())
    }

    /// [`poll_drain`](Self::poll_drain) for a polling GET: also whether any frame taken asked for
    /// HTTP compression (read under the same lock as the frames, so no frame's wish is lost).
    pub(crate) fn poll_drain_compress(
        &self,
        cx: &mut Context<'_>,
        into: &mut VecDeque<Frame>,
    ) -> Poll<bool> {
        self.waker.register(cx.waker());
        let mut st = self.lock();
        if st.queue.is_empty() {
            return Poll::Pending;
        }
        into.extend(st.queue.drain(..));
        st.exempt = 0;
        Poll::Ready(std::mem::take(&mut st.compress))
    }
}
