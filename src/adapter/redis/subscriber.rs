//! The subscriber task: owns the one pub/sub connection of a Redis adapter (pub/sub or streams),
//! subscribes each namespace's channels and patterns, hands every message to its owner, pings,
//! and on a broken connection fails what waits, reconnects with backoff and resubscribes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, PubSub, PubSubSink};
use tokio::sync::mpsc;

use super::driver::{
    CONNECT_TIMEOUT, HEALTH_INTERVAL, HEALTH_TIMEOUT, RECONNECT_MAX, RECONNECT_MIN, Status,
    connect_pubsub,
};
use crate::adapter::AdapterError;

/// What a subscribed channel carries, so its owner knows how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Broadcast,
    Request,
    Response,
}

/// What owns subscriptions: a namespace's adapter (pub/sub or streams).
pub(super) trait Target: Send + Sync {
    /// A message on one of its channels (or patterns).
    fn on_message(self: Arc<Self>, route: Route, channel: &str, payload: &[u8]);
    /// The connection is gone: what waits for other nodes fails now.
    fn on_down(&self, err: &AdapterError);
}

pub(super) enum SubCommand {
    Add {
        id: usize,
        channels: Vec<(String, Route)>,
        patterns: Vec<(String, Route)>,
        target: Weak<dyn Target>,
    },
    Remove {
        id: usize,
    },
}

struct Entry {
    id: usize,
    route: Route,
    target: Weak<dyn Target>,
}

/// The subscribed channels and patterns, and whose they are.
#[derive(Default)]
struct Routes {
    channels: HashMap<String, Entry>,
    patterns: HashMap<String, Entry>,
    /// The channels and patterns of each owner, by id.
    owned: HashMap<usize, (Vec<String>, Vec<String>)>,
}

impl Routes {
    /// Records a command; returns what to (un)subscribe.
    fn record(&mut self, cmd: SubCommand) -> Change {
        match cmd {
            SubCommand::Add {
                id,
                channels,
                patterns,
                target,
            } => {
                if target.upgrade().is_none() {
                    return Change::None;
                }
                let entry = |route| Entry {
                    id,
                    route,
                    target: target.clone(),
                };
                for (c, route) in &channels {
                    self.channels.insert(c.clone(), entry(*route));
                }
                for (p, route) in &patterns {
                    self.patterns.insert(p.clone(), entry(*route));
                }
                let channels: Vec<String> = channels.into_iter().map(|(c, _)| c).collect();
                let patterns: Vec<String> = patterns.into_iter().map(|(p, _)| p).collect();
                self.owned.insert(id, (channels.clone(), patterns.clone()));
                Change::Subscribe(channels, patterns)
            }
            SubCommand::Remove { id } => {
                let Some((owned_channels, owned_patterns)) = self.owned.remove(&id) else {
                    return Change::None;
                };
                let mut channels = Vec::new();
                for c in owned_channels {
                    if self.channels.get(&c).is_some_and(|e| e.id == id) {
                        self.channels.remove(&c);
                        channels.push(c);
                    }
                }
                let mut patterns = Vec::new();
                for p in owned_patterns {
                    if self.patterns.get(&p).is_some_and(|e| e.id == id) {
                        self.patterns.remove(&p);
                        patterns.push(p);
                    }
                }
                Change::Unsubscribe(channels, patterns)
            }
        }
    }

    /// Records a command and applies it on the connection.
    async fn apply(&mut self, cmd: SubCommand, sink: &mut PubSubSink) -> Result<(), String> {
        let op = async {
            match self.record(cmd) {
                Change::None => Ok::<(), redis::RedisError>(()),
                Change::Subscribe(channels, patterns) => {
                    if !patterns.is_empty() {
                        sink.psubscribe(&patterns).await?;
                    }
                    if !channels.is_empty() {
                        sink.subscribe(&channels).await?;
                    }
                    Ok(())
                }
                Change::Unsubscribe(channels, patterns) => {
                    if !patterns.is_empty() {
                        sink.punsubscribe(&patterns).await?;
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

    /// Hands a message to its owner.
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
        let Some(target) = entry.target.upgrade() else {
            return;
        };
        let route = entry.route;
        // A panicking server-side handler must not take the subscriber down with it.
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            target.on_message(route, channel, payload)
        }));
        if run.is_err() {
            tracing::error!(
                channel,
                "redis adapter: a handler panicked on a cluster message"
            );
        }
    }

    /// Tells every owner that the connection is gone.
    fn notify_down(&self, err: &AdapterError) {
        let mut told = std::collections::HashSet::new();
        for entry in self.channels.values().chain(self.patterns.values()) {
            if told.insert(entry.id) {
                if let Some(target) = entry.target.upgrade() {
                    target.on_down(err);
                }
            }
        }
    }
}

enum Change {
    None,
    Subscribe(Vec<String>, Vec<String>),
    Unsubscribe(Vec<String>, Vec<String>),
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
