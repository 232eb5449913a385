//! The connect timeout of a server's connections, kept by one task: a connection that has
//! joined no namespace `connect_timeout` after it opened is closed, as in Node.
//!
//! Every deadline is "opened + the same duration", so deadlines come in the order connections
//! open and a queue is enough. One task per server instead of one per connection saves a task
//! spawn per handshake and the task's memory for as long as the connection lives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::client::Client;

/// A connection and when it must have joined a namespace.
type Entry = (Instant, Weak<Client>);

/// The connections waiting for their first namespace.
pub(crate) struct ConnectTimeouts {
    timeout: Duration,
    /// `None` before the first connection, and again once the server is closed.
    tx: Mutex<Option<mpsc::UnboundedSender<Entry>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl ConnectTimeouts {
    pub(crate) fn new(timeout: Duration) -> Self {
        ConnectTimeouts {
            timeout,
            tx: Mutex::new(None),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Ends the task (the server is closed: its connections are gone).
    pub(crate) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Closes `client` at its deadline unless it joined a namespace by then. The task starts
    /// with the first connection (on the runtime that serves it) and ends with the server.
    pub(crate) fn watch(&self, client: &Arc<Client>) {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let mut tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let tx = tx.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(rx));
            tx
        });
        let _ = tx.send((Instant::now() + self.timeout, Arc::downgrade(client)));
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Entry>) {
    let mut queue: VecDeque<Entry> = VecDeque::new();
    loop {
        let next = queue.front().map(|(deadline, _)| *deadline);
        tokio::select! {
            added = rx.recv() => match added {
                Some(entry) => queue.push_back(entry),
                None => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                while queue.front().is_some_and(|(deadline, _)| *deadline <= now) {
                    if let Some((_, weak)) = queue.pop_front() {
                        if let Some(client) = weak.upgrade() {
                            client.connect_deadline();
                        }
                    }
                }
            }
        }
    }
}
