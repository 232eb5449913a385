//! What a namespace's cluster adapter waits for, whichever wire format it speaks: requests until
//! every node has answered (fetch, all rooms, server-side emit with ack), and broadcasts with
//! acknowledgements until every node has reported its count and its clients' answers.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::driver::Receipt;
use super::wire;
use crate::adapter::{AckStream, AdapterError, Room, SocketInfo};
use crate::protocol::Args;

/// What a request collects until every node has answered.
pub(super) enum Acc {
    Sockets(Vec<SocketInfo>),
    Rooms(HashSet<Room>),
    Answers(Vec<Args>),
}

/// A request waiting for answers.
pub(super) struct Pending {
    /// Answers needed (nodes, this one included when it answers its own requests).
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

/// The requests and broadcasts with acks of one namespace's adapter.
#[derive(Default)]
pub(super) struct Waiting {
    requests: Mutex<HashMap<String, Pending>>,
    acks: Mutex<HashMap<String, AckPending>>,
}

fn closed() -> AdapterError {
    AdapterError::Unavailable("the namespace's adapter is closed".into())
}

impl Waiting {
    pub(super) fn requests(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn acks(&self) -> MutexGuard<'_, HashMap<String, AckPending>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cluster is gone: whatever waits fails now rather than at its timeout.
    pub(super) fn fail_all(&self, err: &AdapterError) {
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

    /// Runs a request: registers it under a fresh id, lets `publish` send it, and waits until
    /// `expected` answers came (or the timeout, or an outage). It is forgotten however this
    /// future ends, dropped by the caller included.
    pub(super) async fn request<F, Fut>(
        &self,
        expected: usize,
        answered: usize,
        acc: Acc,
        timeout: Duration,
        publish: F,
    ) -> Result<Acc, AdapterError>
    where
        F: FnOnce(&str) -> Fut,
        Fut: Future<Output = Result<(), AdapterError>>,
    {
        let id = wire::random_id(12);
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
        let _forget = Forget {
            waiting: self,
            id: &id,
        };
        publish(&id).await?;
        match tokio::time::timeout(timeout, &mut rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(closed()),
            Err(_) => {
                let Some(p) = self.requests().remove(&id) else {
                    // Completed at the last moment.
                    return rx.try_recv().unwrap_or_else(|_| Err(closed()));
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

    /// A broadcast with acknowledgements across the cluster. `publish` sends the request under
    /// the given id (`None` when the packet cannot travel: local only); `local` delivers it on
    /// this node; `servers` counts the nodes once the request is out. The returned stream's
    /// counts close once every other node has reported; everything is forgotten at `wait`.
    pub(super) fn broadcast_with_ack<S, Fut>(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        wait: Duration,
        publish: Option<impl FnOnce(&str) -> Result<Receipt, AdapterError>>,
        local: impl FnOnce() -> AckStream,
        servers: S,
    ) -> AckStream
    where
        S: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<usize, AdapterError>> + Send,
    {
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let (counts_tx, counts_rx) = mpsc::unbounded_channel();
        let request_id = wire::random_id(12);
        let mut receipt = None;
        if let Some(publish) = publish {
            // Registered before publishing: this node knows its own request by this id.
            self.acks().insert(
                request_id.clone(),
                AckPending {
                    answers: answers_tx.clone(),
                    counts: Some(counts_tx.clone()),
                    reported: 0,
                    servers: None,
                },
            );
            match publish(&request_id) {
                Ok(r) => receipt = Some(r),
                Err(e) => {
                    self.acks().remove(&request_id);
                    let _ = counts_tx.send(Err(e));
                }
            }
        }
        drop(counts_tx);
        let mut local = local();
        let expected = local.expected;
        let waiting = self.clone();
        runtime.spawn(async move {
            let deadline = tokio::time::Instant::now() + wait;
            let forward = async {
                while let Some(answer) = local.answers.recv().await {
                    if answers_tx.send(answer).is_err() {
                        break;
                    }
                }
            };
            let follow = async {
                let Some(receipt) = receipt else {
                    return;
                };
                let servers = match receipt.wait().await {
                    Ok(()) => servers().await,
                    Err(e) => Err(e),
                };
                let mut acks = waiting.acks();
                match servers {
                    Ok(n) => {
                        if let Some(a) = acks.get_mut(&request_id) {
                            a.servers = Some(n.saturating_sub(1));
                            a.check_counts();
                        }
                    }
                    Err(e) => {
                        if let Some(a) = acks.remove(&request_id) {
                            if let Some(counts) = a.counts {
                                let _ = counts.send(Err(e));
                            }
                        }
                    }
                }
            };
            let both = async {
                tokio::join!(forward, follow);
                // Stay until the deadline: remote acks may still come.
                std::future::pending::<()>().await;
            };
            let _ = tokio::time::timeout_at(deadline, both).await;
            waiting.acks().remove(&request_id);
        });
        AckStream {
            expected,
            answers: answers_rx,
            more_expected: Some(counts_rx),
        }
    }
}

struct Forget<'a> {
    waiting: &'a Waiting,
    id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.waiting.requests().remove(self.id);
    }
}
