//! Abandoned sessions: clients that walk away mid-way are reclaimed by the timeouts (ping
//! timeout, upgrade timeout, connect timeout), and the session, socket and room tables return to
//! empty. Counts are asserted, never durations (the waits only have a deadline).

use std::time::Duration;

use axum_socketio::EmitError;

use super::*;
use crate::common::{Polling, wait_until, ws_connect};

const N: usize = 10;

async fn reasons(log: &Log) -> Vec<String> {
    log.all("disconnect")
        .into_iter()
        .map(|d| d[1].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn polling_sessions_that_vanish_are_reclaimed() {
    let (s, log) = server(strict()).await;
    // Handshake only, then nothing.
    for _ in 0..N {
        Polling::handshake(s.addr, "/socket.io").await;
    }
    // Connected to `/` (a socket, its rooms), then nothing.
    for _ in 0..N {
        let p = Polling::handshake(s.addr, "/socket.io").await;
        p.post_ok("40").await;
    }
    wait_until("the sockets connected", || s.count() == N).await;
    assert_eq!(s.io.client_count(), 2 * N);
    until_clean(&s.io).await.unwrap();
    let r = log.wait("disconnect", N).await;
    assert_eq!(r.len(), N);
    assert!(
        reasons(&log).await.iter().all(|r| r == "ping timeout"),
        "{:?}",
        reasons(&log).await
    );
}

#[tokio::test]
async fn long_polls_cut_by_the_client_are_reclaimed() {
    let (s, log) = server(strict().ping_interval(Duration::from_secs(20))).await;
    for _ in 0..N {
        let p = Polling::handshake(s.addr, "/socket.io").await;
        p.post_ok("40").await;
        let _ = p.recv(1).await;
        // A GET that the client gives up on: the request is dropped before its answer.
        let url = p.url();
        let get = tokio::spawn(async move { crate::common::http().get(url).send().await });
        tokio::time::sleep(ms(20)).await;
        get.abort();
    }
    until_clean(&s.io).await.unwrap();
    assert_eq!(log.all("disconnect").len(), N);
    assert!(
        reasons(&log).await.iter().all(|r| r == "transport error"),
        "{:?}",
        reasons(&log).await
    );
}

#[tokio::test]
async fn upgrades_never_finished_are_reclaimed() {
    let (s, log) = server(strict()).await;
    let mut kept = Vec::new();
    for i in 0..N {
        let p = Polling::handshake(s.addr, "/socket.io").await;
        p.post_ok("40").await;
        let _ = p.recv(1).await;
        let mut ws = ws_connect(s.addr, "/socket.io", &format!("&sid={}", p.sid))
            .await
            .unwrap();
        if i % 2 == 0 {
            // Probe, then never send `5`.
            ws.send_text("2probe").await;
            assert_eq!(ws.recv_text().await, "3probe");
        }
        // Half probe and stop, half open the websocket and send nothing; both walk away from
        // polling too.
        kept.push(ws);
    }
    wait_until("the sockets connected", || s.count() == N).await;
    until_clean(&s.io).await.unwrap();
    assert_eq!(log.all("disconnect").len(), N);
    drop(kept);
}

#[tokio::test]
async fn connections_that_never_join_a_namespace_are_reclaimed() {
    let (s, log) = server(strict().ping_interval(Duration::from_secs(20))).await;
    let mut kept = Vec::new();
    for _ in 0..N {
        let (ws, _, _) = Ws::open(s.addr, "/socket.io").await;
        kept.push(ws);
        let p = Polling::handshake(s.addr, "/socket.io").await;
        // A GET waiting, so that the close reaches the client at once.
        let url = p.url();
        tokio::spawn(async move { crate::common::get(&url).await });
    }
    wait_until("the connections opened", || s.io.client_count() == 2 * N).await;
    // connect_timeout (800 ms) closes them all; the websockets see their connection closed.
    for mut ws in kept {
        ws.expect_closed().await;
    }
    until_clean(&s.io).await.unwrap();
    assert!(log.all("disconnect").is_empty());
}

/// A polling client whose outbox is full when it walks away: the heartbeat cannot queue its
/// ping, and the session must still end (Node's buffer has no bound, so its ping always goes
/// out and the ping timeout always fires).
#[tokio::test]
async fn a_vanished_polling_client_with_a_full_outbox_is_reclaimed() {
    let (s, _log) = server(strict().max_buffered_packets(8)).await;
    let p = Polling::handshake(s.addr, "/socket.io").await;
    p.post_ok("40").await;
    wait_until("the socket", || s.count() == 1).await;
    let socket = s.io.sockets().sockets().pop().unwrap();
    // The CONNECT reply is queued; fill the outbox to the brim with direct emits.
    let mut sent = 0;
    while socket.emit("x", &sent).is_ok() {
        sent += 1;
    }
    assert!(matches!(socket.emit("x", &0), Err(EmitError::Full)));
    drop(socket);
    // The client is gone: no GET, no pong. Ping interval + timeout is 500 ms.
    let start = tokio::time::Instant::now();
    while s.io.client_count() != 0 && start.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(ms(20)).await;
    }
    assert_eq!(
        leftovers(&s.io),
        Vec::<String>::new(),
        "the session outlived ping_interval + ping_timeout six times over"
    );
}
