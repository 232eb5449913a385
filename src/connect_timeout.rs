//! The connect timeout of a server's connections, kept by one task: a connection that has
//! joined no namespace `connect_timeout` after it opened is closed, as in Node.
//!
//! Every deadline is "opened + the same duration", so deadlines come in the order connections
//! open and a queue is enough. One task per server instead of one per connection saves a task
//! spawn per handshake and the task's memory for as long as the connection lives; and a new
//! connection wakes the task only when the queue was empty (later deadlines can wait).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::Client;

/// What the server and its timeout task share.
#[derive(Default)]
struct Queue {
    entries: Mutex<VecDeque<(Instant, Weak<Client>)>>,
    changed: Notify,
    started: AtomicBool,
    closed: AtomicBool,
}

impl Queue {
    fn entries(&self) -> MutexGuard<'_, VecDeque<(Instant, Weak<Client>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The connections waiting for their first namespace. Dropping it (the server is gone) or
/// [`close`](Self::close) ends the task.
pub(crate) struct ConnectTimeouts {
    timeout: Duration,
    queue: Arc<Queue>,
}

impl ConnectTimeouts {
    pub(crate) fn new(timeout: Duration) -> Self {
        ConnectTimeouts {
            timeout,
            queue: Arc::default(),
        }
    }

    /// Closes `client` at its deadline unless it joined a namespace by then. The task starts
    /// with the first connection, on the runtime that serves it.
    pub(crate) fn watch(&self, client: &Arc<Client>) {
        let q = &self.queue;
        if q.closed.load(Ordering::Acquire) {
            return;
        }
        let was_empty = {
            let mut entries = q.entries();
            let was_empty = entries.is_empty();
            entries.push_back((Instant::now() + self.timeout, Arc::downgrade(client)));
            was_empty
        };
        if !q.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(run(q.clone()));
        } else if was_empty {
            q.changed.notify_one();
        }
    }

    /// Ends the task (the server is closed: its connections are gone).
    pub(crate) fn close(&self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.entries().clear();
        self.queue.changed.notify_one();
    }
}

impl Drop for ConnectTimeouts {
    fn drop(&mut self) {
        self.close();
    }
}

async fn run(q: Arc<Queue>) {
    loop {
        if q.closed.load(Ordering::Acquire) {
            return;
        }
        let next = q.entries().front().map(|(deadline, _)| *deadline);
        let Some(deadline) = next else {
            q.changed.notified().await;
            continue;
        };
        // Woken early only by `close` (new entries have later deadlines).
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = q.changed.notified() => continue,
        }
        let now = Instant::now();
        loop {
            let expired = {
                let mut entries = q.entries();
                match entries.front() {
                    Some((deadline, _)) if *deadline <= now => entries.pop_front(),
                    _ => None,
                }
            };
            let Some((_, weak)) = expired else {
                break;
            };
            if let Some(client) = weak.upgrade() {
                client.connect_deadline();
            }
        }
    }
}
