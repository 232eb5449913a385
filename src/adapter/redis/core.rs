//! One namespace's Redis adapter: the local rooms (a [`MemoryAdapter`]) plus what goes to the
//! other nodes, and the requests waiting for their answers. What comes in from them is in
//! `incoming.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use rmpv::Value;

use super::driver::Shared;
use super::subscriber::{Route, Target};
pub(super) use super::waiting::{Acc, AckPending, Pending, Waiting};
use super::wire::{self, Channels};
use crate::adapter::{AdapterContext, AdapterError, BroadcastOptions, MemoryAdapter};

/// The state of one namespace's adapter, shared with the subscriber task.
pub(crate) struct NsCore {
    pub(super) local: MemoryAdapter,
    pub(super) ctx: AdapterContext,
    pub(super) uid: String,
    pub(super) ch: Channels,
    pub(super) shared: Arc<Shared>,
    pub(super) waiting: Arc<Waiting>,
    closed: AtomicBool,
}

impl NsCore {
    pub(super) fn requests(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.waiting.requests()
    }

    pub(super) fn acks(&self) -> MutexGuard<'_, HashMap<String, AckPending>> {
        self.waiting.acks()
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
        self.waiting.fail_all(err);
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
        let publish = |id: &str| {
            let mut fields = vec![
                ("uid", Value::from(self.uid.as_str())),
                ("requestId", Value::from(id)),
                ("type", Value::from(ty)),
            ];
            fields.extend(extra);
            let body = wire::encode_json(&wire::map(fields));
            async {
                if !self.shared.status.is_up() {
                    return Err(self.shared.status.unavailable());
                }
                self.shared
                    .publish_checked(self.ch.request.clone(), body)
                    .await
            }
        };
        self.waiting
            .request(expected, answered, acc, timeout, publish)
            .await
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
            waiting: Arc::default(),
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
