//! Graceful shutdown under load: `io.close()` while broadcasts flow, clients wait for acks and
//! the server waits for clients' acks. Every socket leaves with "server shutting down", every
//! pending ack resolves, `io.closed()` resolves, every connection ends, and the runtime's task
//! count returns to what it was before the clients came.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::common::{Polling, wait_until, within};

const WS_CLIENTS: usize = 6;
const POLLING_CLIENTS: usize = 4;

#[tokio::test]
async fn close_under_load_ends_everything() {
    let (s, log) = server(
        strict()
            .ping_interval(Duration::from_secs(1))
            .ping_timeout(Duration::from_secs(1)),
    )
    .await;
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            // A handler still working when the server closes; its late ack fails.
            socket.on("slow", move |ack: Ack| {
                let log = log.clone();
                async move {
                    tokio::time::sleep(ms(200)).await;
                    log.push("late ack sent", ack.send(&"late").is_ok());
                }
            });
        }
    });
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();

    let mut wss = Vec::new();
    for _ in 0..WS_CLIENTS {
        let (mut ws, _) = raw_connect(s.addr).await;
        ws.send_text(r#"421["slow"]"#).await;
        wss.push(ws);
    }
    let mut polls = Vec::new();
    for _ in 0..POLLING_CLIENTS {
        let p = Polling::handshake(s.addr, "/socket.io").await;
        p.post_ok("40").await;
        let _ = p.recv(1).await;
        p.post_ok(r#"421["slow"]"#).await;
        // The client keeps polling until the server says goodbye.
        polls.push(tokio::spawn(async move {
            for _ in 0..10_000 {
                let r = p.get().await;
                if r.status.as_u16() != 200 {
                    return Err(format!("{r:?}"));
                }
                if r.packets().iter().any(|x| x == "1") {
                    return Ok(());
                }
            }
            Err("never closed".to_owned())
        }));
    }
    let n = WS_CLIENTS + POLLING_CLIENTS;
    wait_until("every socket", || s.count() == n).await;

    // The server waits for acks the clients will never send: per socket, with and without a
    // timeout, and one broadcast with ack.
    let mut acks = Vec::new();
    for socket in s.io.sockets().sockets() {
        let so = socket.clone();
        acks.push(tokio::spawn(async move {
            so.emit_with_ack::<_, Value>("ask", &1).await.is_ok()
        }));
        acks.push(tokio::spawn(async move {
            socket
                .timeout(Duration::from_secs(30))
                .emit_with_ack::<_, Value>("ask", &2)
                .await
                .is_ok()
        }));
    }
    let io = s.io.clone();
    acks.push(tokio::spawn(async move {
        io.timeout(Duration::from_secs(30))
            .emit_with_ack::<_, Value>("ask", &3)
            .await
            .is_ok()
    }));
    // Broadcasts flowing until the end.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let io = s.io.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _ = io.to("room-x").emit("tick", &k);
                k += 1;
                tokio::time::sleep(ms(1)).await;
            }
        })
    };
    tokio::time::sleep(ms(50)).await;

    let closed = s.io.closed();
    within("io.close()", s.io.close()).await;
    within("io.closed()", closed).await;
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();

    // Every socket left, once, with Node's reason.
    let left = log.wait("disconnect", n).await;
    assert_eq!(left.len(), n, "{left:?}");
    assert!(
        left.iter().all(|d| d[1] == "server shutting down"),
        "{left:?}"
    );
    // Every pending ack resolved (none was answered: they all fail).
    for a in acks {
        let answered = within("a pending ack to resolve", a).await.unwrap();
        assert!(!answered);
    }
    // The clients' in-flight acks: their handlers ran to the end and could not answer.
    let late = log.wait("late ack sent", n).await;
    assert!(late.iter().all(|v| v == false), "{late:?}");
    // Every connection ended.
    for mut ws in wss {
        loop {
            if let Frame::Closed = ws.recv().await {
                break;
            }
        }
    }
    for p in polls {
        within("a polling client to be closed", p)
            .await
            .unwrap()
            .unwrap();
    }
    until_clean(&s.io).await.unwrap();
    // No task of the server is left: the runtime is back to the test's own tasks. (A polling
    // session closed while no GET was waiting keeps a timer task for ping_interval +
    // ping_timeout, here 2 s, before it is forgotten for good: see docs/reliability.md.)
    wait_until("the tasks of the connections to end", || {
        metrics.num_alive_tasks() <= baseline
    })
    .await;
}
