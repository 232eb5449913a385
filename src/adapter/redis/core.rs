//! One namespace's Redis adapter: the local rooms (a [`MemoryAdapter`]) plus what goes to the
//! other nodes, and the requests waiting for their answers. What comes in from them is in
//! `incoming.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{mpsc, oneshot};

use super::driver::Shared;
use super::subscriber::{Route, Target};
use super::wire::{self, Channels};
use crate::adapter::{
    AdapterContext, AdapterError, BroadcastOptions, MemoryAdapter, Room, SocketInfo,
};
use crate::protocol::Args;

/// What a request collects until every node has answered.
pub(super) enum Acc {
    Sockets(Vec<SocketInfo>),
    Rooms(HashSet<Room>),
    Answers(Vec<Args>),
}

/// A request waiting for answers (fetch, all rooms, server-side emit with ack).
pub(super) struct Pending {
    /// Answers needed (nodes, this one included for fetch and all rooms).
    pub(super) expected: usize,
    /// Answers so far.
    pub(super) answered: usize,
    pub(super) acc: Acc,
    pub(super) done: Option<oneshot::Sender<Result<Acc, AdapterError>>>,
}

/// A broadcast with acknowledgements waiting for the other nodes' counts and acks.
pub(super) struct AckPending {
    pub(super) answers: mpsc::UnboundedSender<Args>,
    pub(super) counts: Option<mpsc::UnboundedSender<Result<usize, AdapterError>>>,
    /// Nodes that reported their count.
    pub(super) reported: usize,
    /// Other nodes expected to report, once known.
    pub(super) servers: Option<usize>,
}

impl AckPending {
    /// Closes the counts once every other node has reported.
    pub(super) fn check_counts(&mut self) {
        if self.servers.is_some_and(|n| self.reported >= n) {
            self.counts = None;
        }
    }
}

/// The state of one namespace's adapter, shared with the subscriber task.
pub(crate) struct NsCore {
    pub(super) local: MemoryAdapter,
    pub(super) ctx: AdapterContext,
    pub(super) uid: String,
    pub(super) ch: Channels,
    pub(super) shared: Arc<Shared>,
    requests: Mutex<HashMap<String, Pending>>,
    acks: Mutex<HashMap<String, AckPending>>,
    closed: AtomicBool,
}

impl NsCore {
    pub(super) fn requests(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn acks(&self) -> MutexGuard<'_, HashMap<String, AckPending>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn id(&self) -> usize {
        self as *const NsCore as usize
    }

    /// Publishes a response to `requester`'s request.
    pub(super) fn respond(&self, requester: Option<&str>, body: Vec<u8>) {
        let channel = self
            .ch
            .for_response(requester, self.shared.config.specific_response);
        self.shared.publish(channel, body);
    }

    /// Redis is gone: whatever waits for other nodes fails now rather than at its timeout.
    pub(super) fn on_down(&self, err: &AdapterError) {
        let pending: Vec<Pending> = self.requests().drain().map(|(_, p)| p).collect();
        for mut p in pending {
            if let Some(done) = p.done.take() {
                let _ = done.send(Err(err.clone()));
            }
        }
        let acks: Vec<AckPending> = self.acks().drain().map(|(_, a)| a).collect();
        for a in acks {
            if let Some(counts) = &a.counts {
                let _ = counts.send(Err(err.clone()));
            }
        }
    }

    pub(super) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.unregister(self.id());
        self.on_down(&AdapterError::Unavailable(
            "the namespace's adapter is closed".into(),
        ));
    }

    /// Sends a request and waits until `expected` answers came (or the timeout, or an outage).
    pub(super) async fn request(
        self: Arc<Self>,
        ty: u64,
        extra: Vec<(&'static str, Value)>,
        expected: usize,
        answered: usize,
        acc: Acc,
        timeout: Duration,
    ) -> Result<Acc, AdapterError> {
        let id = wire::random_id(12);
        let mut fields = vec![
            ("uid", Value::from(self.uid.as_str())),
            ("requestId", Value::from(id.as_str())),
            ("type", Value::from(ty)),
        ];
        fields.extend(extra);
        let body = wire::encode_json(&wire::map(fields));
        let (tx, mut rx) = oneshot::channel();
        self.requests().insert(
            id.clone(),
            Pending {
                expected,
                answered,
                acc,
                done: Some(tx),
            },
        );
        // Removes the request however this future ends (dropped by the caller included).
        let _guard = Forget {
            core: &self,
            id: &id,
        };
        if !self.shared.status.is_up() {
            return Err(self.shared.status.unavailable());
        }
        self.shared
            .publish_checked(self.ch.request.clone(), body)
            .await?;
        match tokio::time::timeout(timeout, &mut rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AdapterError::Unavailable(
                "the namespace's adapter is closed".into(),
            )),
            Err(_) => {
                let Some(p) = self.requests().remove(&id) else {
                    // Completed at the last moment.
                    return rx.try_recv().unwrap_or_else(|_| {
                        Err(AdapterError::Unavailable(
                            "the namespace's adapter is closed".into(),
                        ))
                    });
                };
                Err(AdapterError::Timeout {
                    answered: p.answered,
                    expected: p.expected,
                    responses: match p.acc {
                        Acc::Answers(a) => a,
                        _ => Vec::new(),
                    },
                })
            }
        }
    }

    /// Publishes a request that changes sockets on every node (join, leave, disconnect). Like
    /// Node, this node applies it when its own copy comes back through Redis; when Redis cannot
    /// take it, `fallback` applies it here so local sockets still follow.
    pub(super) fn publish_or_apply(
        &self,
        ty: u64,
        opts: &BroadcastOptions,
        extra: (&'static str, Value),
        fallback: impl FnOnce() + Send + 'static,
    ) {
        let body = wire::encode_json(&wire::map(vec![
            ("uid", Value::from(self.uid.as_str())),
            ("type", Value::from(ty)),
            ("opts", wire::opts_value(opts, false)),
            extra,
        ]));
        let warn = |e: &AdapterError| {
            tracing::warn!(error = %e, "redis adapter: Redis is unreachable, the operation was applied on this node only");
        };
        match self.shared.enqueue(self.ch.request.clone(), body) {
            Ok(receipt) => {
                self.shared.runtime.spawn(async move {
                    if let Err(e) = receipt.wait().await {
                        warn(&e);
                        fallback();
                    }
                });
            }
            Err(e) => {
                warn(&e);
                fallback();
            }
        }
    }
}

impl Target for NsCore {
    fn on_message(self: Arc<Self>, route: Route, channel: &str, payload: &[u8]) {
        match route {
            Route::Broadcast => self.on_broadcast(channel, payload),
            Route::Request => self.on_request(payload),
            Route::Response => self.on_response(payload),
        }
    }

    fn on_down(&self, err: &AdapterError) {
        NsCore::on_down(self, err)
    }
}

struct Forget<'a> {
    core: &'a NsCore,
    id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.core.requests().remove(self.id);
    }
}

/// The adapter of one namespace (what [`RedisAdapter`](super::RedisAdapter) creates).
pub(super) struct NsAdapter(pub(super) Arc<NsCore>);

impl NsAdapter {
    pub(super) fn new(shared: Arc<Shared>, ctx: AdapterContext) -> NsAdapter {
        let uid = wire::random_id(10);
        let ch = Channels::new(&shared.config.key, ctx.name(), &uid);
        let core = Arc::new(NsCore {
            local: MemoryAdapter::new(ctx.clone()),
            ctx,
            uid,
            ch,
            shared,
            requests: Mutex::new(HashMap::new()),
            acks: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        let ch = &core.ch;
        let channels = vec![
            (ch.request.clone(), Route::Request),
            (ch.response.clone(), Route::Response),
            (ch.specific_response.clone(), Route::Response),
        ];
        let patterns = vec![(ch.pattern.clone(), Route::Broadcast)];
        let target: Arc<dyn Target> = core.clone();
        core.shared
            .register(core.id(), channels, patterns, Arc::downgrade(&target));
        NsAdapter(core)
    }
}

impl Drop for NsAdapter {
    fn drop(&mut self) {
        self.0.close();
    }
}
