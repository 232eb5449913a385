//! Slow consumers (DESIGN.md, "Rules that keep it fast"): a client that stops reading while the
//! server emits to it. Its outbox is bounded (`max_buffered_packets`): a direct emit then fails
//! with `Full` and the connection stays; a broadcast disconnects it ("transport error") while
//! the clients that keep reading get every message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum_socketio::EmitError;
use tokio_tungstenite::WebSocketStream;

use super::*;
use crate::common::{wait_until, within};

const OUTBOX: usize = 16;
const SIZE: usize = 16 * 1024;

/// No heartbeat during the test: the only reason to leave is the outbox policy.
fn config() -> SocketIoBuilder {
    strict()
        .ping_interval(Duration::from_secs(30))
        .ping_timeout(Duration::from_secs(30))
        .max_buffered_packets(OUTBOX)
}

/// A websocket client whose socket has a 4 KiB receive buffer and which, once connected to `/`,
/// never reads again. Returns the stream (kept alive, unread) and its socket id.
async fn slow_client(addr: SocketAddr) -> (WebSocketStream<tokio::net::TcpStream>, String) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (stream, _) = within(
        "websocket handshake",
        tokio_tungstenite::client_async(url, tcp),
    )
    .await
    .unwrap();
    let mut ws = Ws { stream };
    let _open = ws.recv_text().await;
    ws.send_text("40").await;
    let reply = ws.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&reply[2..]).unwrap();
    (ws.stream, v["sid"].as_str().unwrap().to_owned())
}

/// A client that reads everything, counting `msg` events.
fn fast_reader(mut ws: Ws, count: Arc<AtomicUsize>) -> tokio::task::JoinHandle<Ws> {
    tokio::spawn(async move {
        loop {
            match ws.recv_data().await {
                Frame::Text(t) if t.starts_with(r#"42["msg""#) => {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                Frame::Text(t) if t == "done" => return ws,
                Frame::Closed => return ws,
                _ => {}
            }
        }
    })
}

#[tokio::test]
async fn a_direct_emit_to_a_slow_client_fails_when_its_outbox_is_full() {
    let (s, log) = server(config()).await;
    let (_slow, sid) = slow_client(s.addr).await;
    wait_until("the slow socket", || s.count() == 1).await;
    let socket = s.io.sockets().sockets().pop().unwrap();
    let payload = "x".repeat(SIZE);
    let mut sent = 0usize;
    let mut full = false;
    // Bounded: the kernel's buffers, the frame being written and two outboxes, then `Full`.
    for _ in 0..20_000 {
        match socket.emit("msg", &payload) {
            Ok(()) => sent += 1,
            Err(EmitError::Full) => {
                full = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
        // Let the connection's task move what it can to the kernel.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    eprintln!(
        "slow consumer: {sent} emits of {SIZE} bytes accepted before Full ({} KiB held by kernel buffers, the frame in flight and the outbox)",
        sent * SIZE / 1024
    );
    assert!(full, "{sent} emits were accepted, the outbox never filled");
    // A direct emit that fails does not disconnect: the client may still catch up.
    assert!(socket.connected());
    assert!(log.all("disconnect").is_empty());
    assert_eq!(s.io.client_count(), 1);
    drop(_slow);
    wait_until("the slow socket gone", || s.count() == 0).await;
    assert!(until_clean(&s.io).await.is_ok());
    let _ = sid;
}

#[tokio::test]
async fn a_broadcast_disconnects_a_slow_client_and_reaches_every_fast_one() {
    let (s, log) = server(config()).await;
    let (slow, slow_sid) = slow_client(s.addr).await;
    let counts: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let mut readers = Vec::new();
    for c in &counts {
        let (ws, _) = raw_connect(s.addr).await;
        readers.push(fast_reader(ws, c.clone()));
    }
    wait_until("four sockets", || s.count() == 4).await;
    // Every socket is in room-x (see `server`).
    let payload = "y".repeat(SIZE);
    let mut sent = 0usize;
    let mut cut_after = None;
    for i in 0..5_000usize {
        s.io.to("room-x").emit("msg", &(i, &payload)).unwrap();
        sent += 1;
        // Pace the broadcasts on the fast clients, so that only the slow one falls behind.
        let paced = tokio::time::timeout(DEADLINE, async {
            while counts.iter().any(|c| c.load(Ordering::SeqCst) + 4 < sent) {
                tokio::time::sleep(ms(1)).await;
            }
        })
        .await;
        assert!(paced.is_ok(), "a fast client stopped receiving at {i}");
        if cut_after.is_none() && !log.all("disconnect").is_empty() {
            cut_after = Some(sent);
            // A few more, to see that the fast clients are not affected.
            if i > 0 {
                for j in 0..20 {
                    s.io.to("room-x").emit("msg", &(i + j, &payload)).unwrap();
                    sent += 1;
                    tokio::time::sleep(ms(1)).await;
                }
            }
            break;
        }
    }
    let cut_after = cut_after.expect("the slow client was never disconnected");
    eprintln!(
        "slow consumer: disconnected after {cut_after} broadcasts of {SIZE} bytes ({} KiB sent to it)",
        cut_after * SIZE / 1024
    );
    let left = log.all("disconnect");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0], serde_json::json!([slow_sid, "transport error"]));
    // Every fast client got every message.
    wait_until("every fast client has every message", || {
        counts.iter().all(|c| c.load(Ordering::SeqCst) == sent)
    })
    .await;
    assert_eq!(s.count(), 3);
    drop(slow);
    for r in readers {
        r.abort();
    }
    assert!(until_clean(&s.io).await.is_ok());
}
