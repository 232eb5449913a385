//! Several namespaces over one connection (one Manager, one Engine.IO session).

use super::*;
use axum_socketio::{Ack, Data, DisconnectReason, Socket};

#[tokio::test]
async fn two_namespaces_share_one_connection() {
    let s = start(builder()).await;
    let log = Log::new();
    for ns in ["/", "/admin"] {
        let l = log.clone();
        s.io.of(ns).on_connection(move |socket: Socket| {
            let log = l.clone();
            async move {
                log.push(
                    "connect",
                    json!({"nsp": socket.nsp(), "sid": socket.id(), "conn": socket.conn().id()}),
                );
                socket.on(
                    "whoami",
                    |socket: Socket, Data(x): Data<i64>, ack: Ack| async move {
                        ack.send(&(socket.nsp(), x)).unwrap();
                    },
                );
                let log = log.clone();
                socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                    let log = log.clone();
                    async move { log.push("disconnect", (socket.nsp(), reason.as_str())) }
                });
            }
        });
    }

    let mut js = Js::start(&s.url).await;
    let opts = json!({"manager": "m", "transports": ["websocket"]});
    let root = js.connect("root", "/", opts.clone()).await;
    let admin = js.connect("admin", "/admin", opts).await;
    assert_ne!(root["sid"], admin["sid"], "one socket id per namespace");

    let seen = log.wait("connect", 2).await;
    assert_eq!(seen[0]["nsp"], "/");
    assert_eq!(seen[1]["nsp"], "/admin");
    assert_eq!(seen[0]["sid"], root["sid"]);
    assert_eq!(seen[1]["sid"], admin["sid"]);
    assert_eq!(seen[0]["conn"], seen[1]["conn"], "one engine session");
    assert_ne!(
        seen[0]["sid"], seen[0]["conn"],
        "socket id is not the engine sid"
    );
    assert_eq!(s.io.client_count(), 1);

    assert_eq!(
        js.emit_ack("root", "whoami", json!([1])).await,
        json!(["/", 1])
    );
    assert_eq!(
        js.emit_ack("admin", "whoami", json!([2])).await,
        json!(["/admin", 2])
    );

    // A namespace broadcast reaches only that namespace's sockets.
    s.io.of("/admin").emit("only-admin", &1).unwrap();
    s.io.emit("only-root", &2).unwrap();
    assert_eq!(js.event("admin", "only-admin").await, json!([1]));
    assert_eq!(js.event("root", "only-root").await, json!([2]));
    // Sync: one more event on each; anything else would have arrived before it.
    s.io.of("/admin").emit("sync", &()).unwrap();
    s.io.emit("sync", &()).unwrap();
    js.event("admin", "sync").await;
    js.event("root", "sync").await;
    assert!(js.events("root", "only-admin").is_empty());
    assert!(js.events("admin", "only-root").is_empty());

    // Leaving one namespace keeps the connection and the other namespace.
    js.disconnect("admin").await;
    assert_eq!(
        log.one("disconnect").await,
        json!(["/admin", "client namespace disconnect"])
    );
    assert_eq!(
        js.emit_ack("root", "whoami", json!([3])).await,
        json!(["/", 3])
    );
    assert_eq!(s.io.client_count(), 1);
    assert!(s.io.of("/admin").sockets().is_empty());
    assert_eq!(s.io.sockets().sockets().len(), 1);

    // A client may join a namespace without `/`.
    let solo = js
        .connect("solo", "/admin", json!({"transports": ["polling"]}))
        .await;
    assert_eq!(
        js.emit_ack("solo", "whoami", json!([4])).await,
        json!(["/admin", 4])
    );
    assert_eq!(s.io.client_count(), 2);
    assert_eq!(s.io.sockets().sockets().len(), 1, "solo is not on /");
    assert!(
        s.io.of("/admin")
            .get_socket(solo["sid"].as_str().unwrap())
            .is_some()
    );

    js.exit().await;
    s.assert_clean().await;
}
