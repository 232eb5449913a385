//! Short churn (the CI version of `scripts/soak.sh`): rounds of clients over websocket, polling
//! and polling-then-upgrade that connect, join a room, emit, get acks and broadcasts, then leave
//! cleanly or drop their connection. After every round nothing is left on the server; over the
//! whole run, every socket that connected left exactly once. Counts, not times.

use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::*;
use crate::common::{Polling, ws_connect};

const ROUNDS: usize = 5;
const PER_ROUND: usize = 12;

/// One client's life over a raw websocket: echo, ack, then a clean leave (`41` then close) or a
/// dropped TCP connection.
async fn websocket_client(addr: SocketAddr, clean: bool) -> Result<(), String> {
    let (mut ws, _) = raw_connect(addr).await;
    ws.send_text(r#"42["echo","hello"]"#).await;
    ping(&mut ws).await?;
    if clean {
        let _ = ws.stream.send(WsMessage::text("41")).await;
        ws.close().await;
    } else {
        drop(ws);
    }
    Ok(())
}

/// Over polling, optionally upgraded: echo and ack, then `41` + close packet, or walk away.
async fn polling_client(addr: SocketAddr, upgrade: bool, clean: bool) -> Result<(), String> {
    let p = Polling::handshake(addr, "/socket.io").await;
    p.post_ok("40").await;
    let _ = p.recv(1).await;
    if upgrade {
        let mut ws = ws_connect(addr, "/socket.io", &format!("&sid={}", p.sid))
            .await
            .map_err(|e| e.to_string())?;
        ws.send_text("2probe").await;
        if ws.recv_text().await != "3probe" {
            return Err("no 3probe".into());
        }
        ws.send_text("5").await;
        ws.send_text(r#"42["echo","hello"]"#).await;
        ping(&mut ws).await?;
        if clean {
            let _ = ws.stream.send(WsMessage::text("41")).await;
            ws.close().await;
        }
        return Ok(());
    }
    p.post_ok(r#"42["echo","hello"]"#).await;
    p.post_ok(r#"4297["ping"]"#).await;
    let got = p.recv(2).await;
    if !got.iter().any(|g| g == r#"4397["pong"]"#) {
        return Err(format!("no ack over polling: {got:?}"));
    }
    if clean {
        p.post_ok("41\x1e1").await;
    }
    Ok(())
}

#[tokio::test]
async fn churn_leaves_nothing_behind() {
    let (s, log) = server(strict()).await;
    let namespaces = s.io.namespaces().len();
    let mut connected = 0;
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for i in 0..PER_ROUND {
            let addr = s.addr;
            let clean = (i + round) % 2 == 0;
            tasks.push(tokio::spawn(async move {
                match i % 3 {
                    0 => websocket_client(addr, clean).await,
                    1 => polling_client(addr, false, clean).await,
                    _ => polling_client(addr, true, clean).await,
                }
            }));
            connected += 1;
        }
        // Broadcasts while the round runs.
        for k in 0..5 {
            s.io.to("room-x").emit("news", &k).unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        until_clean(&s.io)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    let left = log.wait("disconnect", connected).await;
    assert_eq!(left.len(), connected, "a socket left twice or never");
    let mut ids: Vec<&str> = left.iter().map(|d| d[0].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), connected);
    assert_eq!(s.io.namespaces().len(), namespaces);
    // Still serving.
    healthy(s.addr).await.unwrap();
    until_clean(&s.io).await.unwrap();
}
