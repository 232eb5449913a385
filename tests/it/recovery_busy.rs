//! Connection state recovery while broadcasts go on: events sent while a client is being
//! restored (here, while a slow connect middleware runs for it) reach it exactly once and in
//! order, with the memory adapter and, across nodes, with the Redis streams adapter.

use std::time::Duration;

use axum_socketio::{Io, Socket, SocketIoBuilder};
use serde_json::Value;

use crate::common::run_node;
use crate::socketio::{builder, start};

/// A server that sends `tick` n (n = 0, 1, …) to everyone every 10 ms, with recovery on and
/// middlewares not skipped: the middleware takes 300 ms for a restored socket, so ticks are sent
/// between the restore and the registration.
async fn ticking(b: SocketIoBuilder) -> crate::socketio::Sio {
    let s = start(b.connection_state_recovery(Duration::from_secs(30), false)).await;
    s.io.use_middleware(|socket: Socket| async move {
        if socket.recovered() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(())
    });
    let io: Io = s.io.clone();
    tokio::spawn(async move {
        for n in 0u64.. {
            if io.emit("tick", &n).is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    s
}

/// The ticks a client saw across its drop and restore: one run of consecutive numbers.
fn assert_every_tick_once_in_order(done: &Value) {
    let connects = done["connects"].as_array().unwrap();
    assert_eq!(connects.len(), 2, "{done}");
    assert_eq!(connects[1]["recovered"], true, "{done}");
    assert_eq!(connects[0]["id"], connects[1]["id"]);
    let ticks: Vec<u64> = done["ticks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    let first = ticks[0];
    let expected: Vec<u64> = (first..first + ticks.len() as u64).collect();
    assert_eq!(ticks, expected, "every tick once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_adapter_ticks_sent_during_a_restore_arrive_once_in_order() {
    let s = ticking(builder()).await;
    let out = run_node("ticks.mjs", &[&s.url, "40"]).await;
    assert_every_tick_once_in_order(out.event("done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_missed_packets_than_the_outbox_holds_all_arrive() {
    // About 40 ticks are missed (300 ms of middleware, 100 ms away), more than the outbox's 16.
    let s = ticking(builder().max_buffered_packets(16)).await;
    let out = run_node("ticks.mjs", &[&s.url, "10"]).await;
    assert_every_tick_once_in_order(out.event("done"));
}
