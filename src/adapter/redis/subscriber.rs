//! The subscriber task: owns the one pub/sub connection of a [`RedisAdapter`](super::RedisAdapter),
//! subscribes each namespace's pattern and channels, hands every message to its namespace, pings,
//! and on a broken connection fails what waits, reconnects with backoff and resubscribes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, PubSub, PubSubSink};
use tokio::sync::mpsc;

use super::core::NsCore;
use super::driver::{
    CONNECT_TIMEOUT, HEALTH_INTERVAL, HEALTH_TIMEOUT, RECONNECT_MAX, RECONNECT_MIN, Status,
    connect_pubsub,
};
use super::wire::Channels;
use crate::adapter::AdapterError;

/// What a subscribed channel carries.
#[derive(Debug, Clone, Copy)]
enum Route {
    Broadcast,
    Request,
    Response,
}

pub(super) enum SubCommand {
    Add { id: usize, core: Weak<NsCore> },
    Remove { id: usize },
}

struct Entry {
    id: usize,
    route: Route,
    core: Weak<NsCore>,
}

/// The subscribed channels and patterns, and whose they are.
#[derive(Default)]
struct Routes {
    channels: HashMap<String, Entry>,
    patterns: HashMap<String, Entry>,
    /// The channels of each namespace adapter, by id.
    owned: HashMap<usize, Channels>,
}

impl Routes {
    /// Records a command; returns what to (un)subscribe: (channels, patterns).
    fn record(&mut self, cmd: SubCommand) -> Change {
        match cmd {
            SubCommand::Add { id, core } => {
                let Some(strong) = core.upgrade() else {
                    return Change::None;
                };
                let ch = strong.channels().clone();
                let channels = vec![
                    ch.request.clone(),
                    ch.response.clone(),
                    ch.specific_response.clone(),
                ];
                let routes = [Route::Request, Route::Response, Route::Response];
                for (c, route) in channels.iter().zip(routes) {
                    self.channels.insert(
                        c.clone(),
                        Entry {
                            id,
                            route,
                            core: core.clone(),
                        },
                    );
                }
                self.patterns.insert(
                    ch.pattern.clone(),
                    Entry {
                        id,
                        route: Route::Broadcast,
                        core,
                    },
                );
                let pattern = ch.pattern.clone();
                self.owned.insert(id, ch);
                Change::Subscribe(channels, pattern)
            }
            SubCommand::Remove { id } => {
                let Some(ch) = self.owned.remove(&id) else {
                    return Change::None;
                };
                let mut channels = Vec::new();
                for c in [ch.request, ch.response, ch.specific_response] {
                    if self.channels.get(&c).is_some_and(|e| e.id == id) {
                        self.channels.remove(&c);
                        channels.push(c);
                    }
                }
                let pattern = if self.patterns.get(&ch.pattern).is_some_and(|e| e.id == id) {
                    self.patterns.remove(&ch.pattern);
                    Some(ch.pattern)
                } else {
                    None
                };
                Change::Unsubscribe(channels, pattern)
            }
        }
    }

    /// Records a command and applies it on the connection.
    async fn apply(&mut self, cmd: SubCommand, sink: &mut PubSubSink) -> Result<(), String> {
        let op = async {
            match self.record(cmd) {
                Change::None => Ok(()),
                Change::Subscribe(channels, pattern) => {
                    sink.psubscribe(&pattern).await?;
                    sink.subscribe(&channels).await
                }
                Change::Unsubscribe(channels, pattern) => {
                    if let Some(p) = pattern {
                        sink.punsubscribe(&p).await?;
                    }
                    if !channels.is_empty() {
                        sink.unsubscribe(&channels).await?;
                    }
                    Ok(())
                }
            }
        };
        match tokio::time::timeout(HEALTH_TIMEOUT, op).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("subscribing failed: {e}")),
            Err(_) => Err("Redis did not answer SUBSCRIBE in time".into()),
        }
    }

    /// Subscribes everything (after a reconnection).
    async fn subscribe_all(&self, sink: &mut PubSubSink) -> Result<(), String> {
        let channels: Vec<&String> = self.channels.keys().collect();
        let patterns: Vec<&String> = self.patterns.keys().collect();
        let op = async {
            if !patterns.is_empty() {
                sink.psubscribe(&patterns).await?;
            }
            if !channels.is_empty() {
                sink.subscribe(&channels).await?;
            }
            Ok::<(), redis::RedisError>(())
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, op).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("resubscribing failed: {e}")),
            Err(_) => Err("Redis did not answer SUBSCRIBE in time".into()),
        }
    }

    /// Hands a message to its namespace.
    fn dispatch(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        let entry = if msg.from_pattern() {
            let pattern: Option<String> = msg.get_pattern().ok();
            pattern.and_then(|p| self.patterns.get(&p))
        } else {
            self.channels.get(channel)
        };
        let Some(entry) = entry else {
            return;
        };
        let Some(core) = entry.core.upgrade() else {
            return;
        };
        let route = entry.route;
        // A panicking server-side handler must not take the subscriber down with it.
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| match route {
            Route::Broadcast => core.on_broadcast(channel, payload),
            Route::Request => core.on_request(payload),
            Route::Response => core.on_response(payload),
        }));
        if run.is_err() {
            tracing::error!(
                channel,
                "redis adapter: a handler panicked on a cluster message"
            );
        }
    }

    /// Tells every namespace that the connection is gone.
    fn notify_down(&self, err: &AdapterError) {
        for entry in self.patterns.values() {
            if let Some(core) = entry.core.upgrade() {
                core.on_down(err);
            }
        }
    }
}

enum Change {
    None,
    Subscribe(Vec<String>, String),
    Unsubscribe(Vec<String>, Option<String>),
}

pub(super) async fn subscriber(
    client: redis::Client,
    first: PubSub,
    mut cmds: mpsc::UnboundedReceiver<SubCommand>,
    status: Arc<Status>,
    mut conn: ConnectionManager,
) {
    let mut routes = Routes::default();
    let mut next = Some(first);
    let mut delay = RECONNECT_MIN;
    let mut ever_lost = false;
    loop {
        let pubsub = match next.take() {
            Some(p) => Ok(p),
            None => connect_pubsub(&client).await,
        };
        let pubsub = match pubsub {
            Ok(p) => p,
            Err(e) => {
                status.set_error(&e);
                tracing::debug!(error = %e, "redis adapter: reconnection failed");
                let sleep = tokio::time::sleep(delay);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        cmd = cmds.recv() => match cmd {
                            Some(cmd) => {
                                routes.record(cmd);
                            }
                            None => return,
                        },
                    }
                }
                delay = (delay * 2).min(RECONNECT_MAX);
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        while let Ok(cmd) = cmds.try_recv() {
            routes.record(cmd);
        }
        if let Err(e) = routes.subscribe_all(&mut sink).await {
            status.set_error(&e);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_MAX);
            continue;
        }
        // The publishing connection noticed the outage too: have it reconnect now rather than
        // on the first publication.
        let ping = redis::cmd("PING").to_owned();
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, ping.query_async::<redis::Value>(&mut conn))
            .await;
        status.set_up(true);
        delay = RECONNECT_MIN;
        if ever_lost {
            tracing::info!("redis adapter: reconnected and resubscribed");
        }
        let mut health = tokio::time::interval_at(
            tokio::time::Instant::now() + HEALTH_INTERVAL,
            HEALTH_INTERVAL,
        );
        let reason: String = loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => routes.dispatch(&msg),
                    None => break "the pub/sub connection closed".into(),
                },
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        if let Err(e) = routes.apply(cmd, &mut sink).await {
                            break e;
                        }
                    }
                    None => return,
                },
                _ = health.tick() => {
                    let ping = sink.ping::<redis::Value>();
                    match tokio::time::timeout(HEALTH_TIMEOUT, ping).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => break format!("ping failed: {e}"),
                        Err(_) => break "Redis did not answer a ping in time".into(),
                    }
                }
            }
        };
        ever_lost = true;
        status.set_error(&reason);
        status.set_up(false);
        tracing::warn!(error = %reason, "redis adapter: lost Redis; reconnecting (local delivery goes on)");
        routes.notify_down(&status.unavailable());
    }
}
