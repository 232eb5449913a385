//! 200 concurrent socket.io-client clients in one Node process, each with its own connection.

use super::*;
use axum_socketio::{Ack, Data, DisconnectReason, Socket};

const N: usize = 200;

#[tokio::test]
async fn two_hundred_clients_emit_and_get_acks() {
    // Default heartbeats: with 200 clients in one Node process on a loaded machine, a ping every
    // 300 ms is load, and a late one makes socket.io-client close its connection.
    let s = start(SocketIoLayer::builder().connect_timeout(Duration::from_secs(5))).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.join("everyone");
            socket.on("inc", |Data(i): Data<u64>, ack: Ack| async move {
                ack.send(&(i + 1)).unwrap();
            });
            socket.on_disconnect(move |reason: DisconnectReason| {
                let log = log.clone();
                async move { log.push("disconnect", reason.as_str()) }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    // Half websocket only, half polling then upgrade.
    let half = json!({"n": N / 2, "opts": {"transports": ["websocket"]}});
    let r = js
        .call(json!({"cmd": "load_connect", "n": half["n"], "opts": half["opts"]}))
        .await;
    assert_eq!(
        r["connected"],
        N / 2,
        "{r}\nserver saw {:?}",
        log.all("disconnect")
    );
    let r = js.call(json!({"cmd": "load_connect", "n": N / 2})).await;
    assert_eq!(
        r["connected"],
        N / 2,
        "{r}\nserver saw {:?}",
        log.all("disconnect")
    );
    assert_eq!(r["distinctIds"], N, "{r}");

    wait_until("every socket on the server", || s.count() == N).await;
    assert_eq!(s.io.client_count(), N);
    assert_eq!(s.io.in_("everyone").fetch_sockets().await.unwrap().len(), N);

    let r = js.call(json!({"cmd": "load_emit", "timeout": 5000})).await;
    assert_eq!(r, json!({"ok": N, "failures": []}));

    js.call(json!({"cmd": "load_close"})).await;
    s.assert_clean().await;
    let reasons = log.wait("disconnect", N).await;
    assert!(
        reasons.iter().all(|r| r == "client namespace disconnect"),
        "{reasons:?}"
    );
    js.exit().await;
}
