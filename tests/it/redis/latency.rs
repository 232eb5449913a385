//! How long a broadcast takes to cross the cluster through Redis: printed, not asserted
//! (`cargo test --all-features --test it redis::latency -- --nocapture`).
//!
//! Node A (Rust) emits to one client at a time. Two measures:
//! - node to node: from `io.to(sid).emit(…)` on A to node B (Rust, same process) handing the
//!   packet to its socket (an outgoing listener on that socket takes the time);
//! - end to end: from the emit to the test reading the event from the client's driver (a Node
//!   process printing what its socket.io-client got), for a client of A itself (the baseline:
//!   what the client side costs), of B, and of a Node server of the cluster.

use std::time::Instant;

use super::*;

const SAMPLES: usize = 100;

fn summary(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!("median {:.2} ms, p90 {:.2} ms", at(0.5), at(0.9))
}

async fn end_to_end(io: &Io, js: &mut Js, client: &str, sid: &str) -> String {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        io.to(sid).emit("lat", &i).unwrap();
        let got = js.event(client, "lat").await;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(got, json!([i]));
    }
    summary(samples)
}

#[tokio::test]
async fn cross_node_broadcast_latency() {
    let redis = RedisServer::start().await;
    let a = rust_node(&redis, "A").await;
    let b = rust_node(&redis, "B").await;
    let node = NodeServer::start(&redis, json!({})).await;
    wait_servers(a.io(), 3).await;
    let mut ajs = a.clients().await;
    let mut bjs = b.clients().await;
    let mut njs = node.clients().await;
    let a1 = connect(&mut ajs, "a1", "/", &[]).await;
    let b1 = connect(&mut bjs, "b1", "/", &[]).await;
    let n1 = connect(&mut njs, "n1", "/", &[]).await;
    // Warm up every path.
    for (js, c, sid) in [
        (&mut ajs, "a1", &a1),
        (&mut bjs, "b1", &b1),
        (&mut njs, "n1", &n1),
    ] {
        for _ in 0..5 {
            a.io().to(sid.as_str()).emit("lat", &0).unwrap();
            js.event(c, "lat").await;
        }
    }

    // Node to node, A → B, without any client in the measure.
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    let on_b = b.io().sockets().get_socket(&b1).unwrap();
    on_b.on_any_outgoing(move || {
        let at = Instant::now();
        let tx = tx.clone();
        async move {
            let _ = tx.send(at);
        }
    });
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        a.io().to(b1.as_str()).emit("hop", &i).unwrap();
        let at = tokio::time::timeout(DEADLINE, rx.recv())
            .await
            .unwrap()
            .unwrap();
        samples.push((at - started).as_secs_f64() * 1000.0);
        bjs.event("b1", "hop").await;
    }
    let hop = summary(samples);
    on_b.off_any_outgoing();

    let local = end_to_end(a.io(), &mut ajs, "a1", &a1).await;
    let rust = end_to_end(a.io(), &mut bjs, "b1", &b1).await;
    let nodejs = end_to_end(a.io(), &mut njs, "n1", &n1).await;
    println!(
        "redis adapter latency, {SAMPLES} broadcasts each ({} build, one machine):\n  \
         node A -> node B (Rust, through Redis), to B's socket: {hop}\n  \
         end to end, client of A itself (baseline): {local}\n  \
         end to end, client of Rust node B: {rust}\n  \
         end to end, client of a Node node: {nodejs}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
