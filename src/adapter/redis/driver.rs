//! The connections one [`RedisAdapter`](super::RedisAdapter) shares between its namespaces, and
//! the two tasks that drive them:
//!
//! - the publisher owns nothing but a queue: every PUBLISH of every namespace goes through it, in
//!   order, batched into pipelines on the connection manager (which reconnects by itself);
//! - the subscriber owns the one pub/sub connection: it subscribes each namespace's pattern and
//!   channels (so the request channel of a namespace is subscribed on exactly one connection per
//!   node, and `PUBSUB NUMSUB` counts nodes), hands every message to its namespace, pings, and on
//!   a broken connection fails what is waiting, reconnects with backoff and resubscribes
//!   (`subscriber.rs`).
//!
//! Both tasks end when the last handle (adapter, namespace adapter) is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use tokio::sync::{mpsc, oneshot};

use super::subscriber::{Route, SubCommand, Target, subscriber};
use crate::adapter::AdapterError;

/// How long one connection attempt may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// First and longest wait between reconnection attempts of the pub/sub connection.
pub(super) const RECONNECT_MIN: Duration = Duration::from_millis(50);
pub(super) const RECONNECT_MAX: Duration = Duration::from_secs(1);
/// How often the pub/sub connection is pinged, and how long the answer may take.
pub(super) const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
pub(super) const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Publications waiting for the publisher; past that, broadcasts are dropped (and counted).
const QUEUE: usize = 65_536;
/// Most commands in one pipeline.
const BATCH: usize = 256;

/// The options of the adapter.
#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) key: String,
    pub(super) requests_timeout: Duration,
    pub(super) specific_response: bool,
}

/// Whether the cluster is reachable, and what went wrong last.
#[derive(Default)]
pub(super) struct Status {
    up: AtomicBool,
    failing: AtomicBool,
    published: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<String>,
}

impl Status {
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    pub(super) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    pub(super) fn set_error(&self, e: impl std::fmt::Display) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string();
    }

    pub(super) fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub(super) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The error cluster operations return while Redis is out of reach.
    pub(super) fn unavailable(&self) -> AdapterError {
        let last = self
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if last.is_empty() {
            AdapterError::Unavailable("Redis is unreachable".into())
        } else {
            AdapterError::Unavailable(format!("Redis is unreachable ({last})"))
        }
    }

    fn publish_failed(&self, n: usize, why: &str) {
        self.failed.fetch_add(n as u64, Ordering::Relaxed);
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "redis adapter: publishing fails; broadcasts to other nodes are lost until Redis is back"
            );
        }
    }

    fn publish_ok(&self, n: usize) {
        self.published.fetch_add(n as u64, Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("redis adapter: publishing works again");
        }
    }
}

/// One command of the ordered queue.
pub(super) enum Command {
    /// `PUBLISH channel payload`.
    Publish { channel: String, payload: Vec<u8> },
    /// `XADD stream MAXLEN ~ max_len * field value …`.
    XAdd {
        stream: String,
        max_len: usize,
        fields: Vec<(&'static str, Vec<u8>)>,
    },
    /// `SET key value PX ms`.
    Set {
        key: String,
        value: Vec<u8>,
        px: u64,
    },
}

impl Command {
    fn add_to(&self, pipe: &mut redis::Pipeline) {
        match self {
            Command::Publish { channel, payload } => {
                pipe.cmd("PUBLISH").arg(channel).arg(payload);
            }
            Command::XAdd {
                stream,
                max_len,
                fields,
            } => {
                let cmd = pipe
                    .cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(*max_len)
                    .arg("*");
                for (k, v) in fields {
                    cmd.arg(*k).arg(v);
                }
            }
            Command::Set { key, value, px } => {
                pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(*px);
            }
        }
    }
}

struct Outgoing {
    cmd: Command,
    done: Option<oneshot::Sender<Result<(), AdapterError>>>,
}

/// What every namespace adapter of one [`RedisAdapter`](super::RedisAdapter) shares.
pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) status: Arc<Status>,
    pub(super) runtime: tokio::runtime::Handle,
    conn: ConnectionManager,
    publish_tx: mpsc::Sender<Outgoing>,
    sub_tx: mpsc::UnboundedSender<SubCommand>,
}

impl Shared {
    /// Connects both connections and starts the tasks on the current runtime.
    pub(super) async fn start(
        client: redis::Client,
        config: Config,
    ) -> Result<Arc<Shared>, redis::RedisError> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(config.requests_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_with_config(manager_config)
            .await?;
        let pubsub = connect_pubsub(&client).await?;
        let status = Arc::new(Status::default());
        status.set_up(true);
        let (publish_tx, publish_rx) = mpsc::channel(QUEUE);
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Handle::current();
        runtime.spawn(publisher(
            publish_rx,
            conn.clone(),
            status.clone(),
            config.requests_timeout,
        ));
        runtime.spawn(subscriber(
            client,
            pubsub,
            sub_rx,
            status.clone(),
            conn.clone(),
        ));
        Ok(Arc::new(Shared {
            config,
            status,
            runtime,
            conn,
            publish_tx,
            sub_tx,
        }))
    }

    /// A handle on the command connection (it reconnects by itself).
    pub(super) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Queues a publication; a failure is logged and counted, not returned.
    pub(super) fn publish(&self, channel: String, payload: Vec<u8>) {
        if !self.status.is_up() {
            self.status.publish_failed(1, "Redis is unreachable");
            return;
        }
        self.send(Command::Publish { channel, payload });
    }

    /// Queues a command whose answer nobody waits for; a failure is logged and counted.
    pub(super) fn send(&self, cmd: Command) {
        if !self.status.is_up() {
            self.status.publish_failed(1, "Redis is unreachable");
            return;
        }
        let item = Outgoing { cmd, done: None };
        if let Err(e) = self.publish_tx.try_send(item) {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "the publication queue is full",
                mpsc::error::TrySendError::Closed(_) => "the adapter is closed",
            };
            self.status.publish_failed(1, why);
        }
    }

    /// Queues a publication now (so it keeps its place among the others) and returns what tells
    /// whether Redis took it.
    pub(super) fn enqueue(
        &self,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Receipt, AdapterError> {
        self.enqueue_command(Command::Publish { channel, payload })
    }

    /// Queues a command now and returns what gives its answer.
    pub(super) fn enqueue_command(&self, cmd: Command) -> Result<Receipt, AdapterError> {
        if !self.status.is_up() {
            return Err(self.status.unavailable());
        }
        let (tx, rx) = oneshot::channel();
        let item = Outgoing {
            cmd,
            done: Some(tx),
        };
        if self.publish_tx.try_send(item).is_err() {
            self.status
                .publish_failed(1, "the publication queue is full");
            return Err(AdapterError::Unavailable(
                "the publication queue is full or closed".into(),
            ));
        }
        Ok(Receipt {
            rx,
            timeout: self.config.requests_timeout,
        })
    }

    /// Publishes and waits until Redis took it.
    pub(super) async fn publish_checked(
        &self,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), AdapterError> {
        self.enqueue(channel, payload)?.wait().await
    }
}

/// Tells whether a queued publication reached Redis.
pub(super) struct Receipt {
    rx: oneshot::Receiver<Result<(), AdapterError>>,
    timeout: Duration,
}

impl Receipt {
    /// Waits for the publisher's verdict (at most the requests timeout).
    pub(super) async fn wait(self) -> Result<(), AdapterError> {
        match tokio::time::timeout(self.timeout, self.rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AdapterError::Unavailable("the adapter is closed".into())),
            Err(_) => Err(AdapterError::Unavailable(
                "Redis did not take the publication in time".into(),
            )),
        }
    }
}

impl Shared {
    /// How many nodes subscribe to `channel` (`PUBSUB NUMSUB`): the server count when it is a
    /// request channel.
    pub(super) async fn num_sub(&self, channel: &str) -> Result<usize, AdapterError> {
        if !self.status.is_up() {
            return Err(self.status.unavailable());
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).to_owned();
        let query = cmd.query_async::<(String, usize)>(&mut conn);
        match tokio::time::timeout(self.config.requests_timeout, query).await {
            Ok(Ok((_, n))) => Ok(n),
            Ok(Err(e)) => Err(AdapterError::Unavailable(format!(
                "PUBSUB NUMSUB failed: {e}"
            ))),
            Err(_) => Err(AdapterError::Unavailable(
                "Redis did not answer PUBSUB NUMSUB in time".into(),
            )),
        }
    }

    /// Subscribes an owner's channels and patterns (asynchronously); `id` names it for
    /// [`unregister`](Self::unregister).
    pub(super) fn register(
        &self,
        id: usize,
        channels: Vec<(String, Route)>,
        patterns: Vec<(String, Route)>,
        target: Weak<dyn Target>,
    ) {
        let _ = self.sub_tx.send(SubCommand::Add {
            id,
            channels,
            patterns,
            target,
        });
    }

    /// Unsubscribes a namespace's channels.
    pub(super) fn unregister(&self, id: usize) {
        let _ = self.sub_tx.send(SubCommand::Remove { id });
    }
}

pub(super) async fn connect_pubsub(client: &redis::Client) -> Result<PubSub, redis::RedisError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "connection timed out",
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Publisher

async fn publisher(
    mut rx: mpsc::Receiver<Outgoing>,
    mut conn: ConnectionManager,
    status: Arc<Status>,
    timeout: Duration,
) {
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let result = if status.is_up() {
            let mut pipe = redis::pipe();
            for item in &batch {
                // Answers are not needed, only whether Redis took every command.
                item.cmd.add_to(&mut pipe);
                pipe.ignore();
            }
            match tokio::time::timeout(timeout, pipe.exec_async(&mut conn)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(AdapterError::Unavailable(format!(
                    "Redis refused a command: {e}"
                ))),
                Err(_) => Err(AdapterError::Unavailable(
                    "Redis did not answer in time".into(),
                )),
            }
        } else {
            Err(status.unavailable())
        };
        match &result {
            Ok(()) => status.publish_ok(batch.len()),
            Err(e) => status.publish_failed(batch.len(), &e.to_string()),
        }
        for item in batch.drain(..) {
            if let Some(done) = item.done {
                let _ = done.send(result.clone());
            }
        }
    }
}
