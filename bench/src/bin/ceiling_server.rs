//! The ceiling of the benchmarks: a raw tokio-tungstenite server that does the least any
//! Socket.IO server must, websocket only. A static open packet (only the sid varies), `40`
//! answered with `40{"sid":…}`, `42["echo",…]` echoed byte for byte without parsing,
//! `42<id>["ack",v]` answered `43<id>[v]`, `join` keeping the socket's sender in one shared list,
//! `bcast` building one `42["msg",v]` frame and cloning it to every member, a ping every 25 s.
//! Read buffer 4 KiB, write buffer 0.
//!
//! `PORT` (default 3000), `WORKERS` tokio worker threads (default 1), as examples/bench_server.

#[path = "../peer_env.rs"]
mod peer_env;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const PING_INTERVAL: Duration = Duration::from_secs(25);

/// The room "bench": (connection id, its sender).
type Room = Arc<Mutex<Vec<(u64, mpsc::UnboundedSender<Message>)>>>;

fn main() {
    let port = peer_env::port();
    let rt = peer_env::runtime();
    rt.block_on(async move {
        let listener = peer_env::bind(port).await;
        println!("listening on ws://127.0.0.1:{port}/socket.io/");
        let room: Room = Arc::default();
        let ids = Arc::new(AtomicU64::new(1));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let id = ids.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(stream, id, room.clone()));
                }
            }
        }
    });
}

async fn connection(stream: TcpStream, id: u64, room: Room) {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let sid = format!("{id:020}");
    let open = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    if ws.send(Message::text(open)).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut joined = false;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let out = match handle(&text, &sid) {
                    Reply::Send(m) => m,
                    Reply::Echo => Message::Text(text),
                    Reply::Join => {
                        if !joined {
                            joined = true;
                            room.lock().expect("room").push((id, tx.clone()));
                        }
                        continue;
                    }
                    Reply::Broadcast(frame) => {
                        let members = room.lock().expect("room");
                        for (_, member) in members.iter() {
                            let _ = member.send(Message::Text(frame.clone()));
                        }
                        continue;
                    }
                    Reply::Nothing => continue,
                };
                if ws.send(out).await.is_err() {
                    break;
                }
            }
            Some(out) = rx.recv() => {
                if ws.send(out).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if ws.send(Message::text("2")).await.is_err() {
                    break;
                }
            }
        }
    }
    if joined {
        room.lock().expect("room").retain(|(m, _)| *m != id);
    }
}

enum Reply {
    Send(Message),
    Echo,
    Join,
    Broadcast(Utf8Bytes),
    Nothing,
}

fn handle(text: &str, sid: &str) -> Reply {
    if text == "40" {
        return Reply::Send(Message::text(format!(r#"40{{"sid":"{sid}"}}"#)));
    }
    if text.starts_with(r#"42["echo","#) {
        return Reply::Echo;
    }
    if text == r#"42["join"]"# {
        return Reply::Join;
    }
    if let Some(v) = text
        .strip_prefix(r#"42["bcast","#)
        .and_then(|r| r.strip_suffix(']'))
    {
        return Reply::Broadcast(Utf8Bytes::from(format!(r#"42["msg",{v}]"#)));
    }
    // 42<id>["ack",v] → 43<id>[v]
    if let Some(rest) = text.strip_prefix("42") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            let (ack_id, args) = rest.split_at(digits);
            if let Some(v) = args
                .strip_prefix(r#"["ack","#)
                .and_then(|r| r.strip_suffix(']'))
            {
                return Reply::Send(Message::text(format!("43{ack_id}[{v}]")));
            }
        }
    }
    Reply::Nothing
}
