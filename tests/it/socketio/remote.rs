//! fetch_sockets, sockets_join / sockets_leave, disconnect_sockets, and what clients see.

use std::collections::BTreeSet;

use super::*;
use axum_socketio::{Data, DisconnectReason, Socket};

/// Clients a, b, c with `auth.name`; the server stores `{name}` as the socket's data and joins
/// the rooms in `auth.rooms`.
async fn setup(log: &Log) -> (Sio, Js, Vec<String>) {
    let s = start(builder()).await;
    let l = log.clone();
    s.io.on_connection(move |socket: Socket, Data(auth): Data<Value>| {
        let log = l.clone();
        async move {
            socket.set_data(&json!({"name": auth["name"]})).unwrap();
            let rooms: Vec<String> = serde_json::from_value(auth["rooms"].clone()).unwrap();
            socket.join(rooms);
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = log.clone();
                async move {
                    let name = socket.data::<Value>().unwrap()["name"].clone();
                    log.push("disconnect", (name, reason.as_str()));
                }
            });
        }
    });
    let mut js = Js::start(&s.url).await;
    let mut sids = Vec::new();
    for (name, rooms) in [
        ("a", json!(["r1"])),
        ("b", json!(["r1", "r2"])),
        ("c", json!([])),
    ] {
        let r = js
            .connect(
                name,
                "/",
                json!({
                    "transports": ["websocket"],
                    "auth": {"name": name, "rooms": rooms},
                    "query": {"who": name},
                }),
            )
            .await;
        sids.push(r["sid"].as_str().unwrap().to_owned());
    }
    wait_until("3 sockets", || s.count() == 3).await;
    (s, js, sids)
}

fn rooms_of(r: &axum_socketio::RemoteSocket) -> BTreeSet<String> {
    r.rooms().iter().map(|x| x.to_string()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn fetch_sockets_describes_every_socket() {
    let log = Log::new();
    let (s, mut js, sids) = setup(&log).await;
    let mut all = s.io.fetch_sockets().await.unwrap();
    all.sort_by_key(|r| {
        r.data::<Value>().unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    assert_eq!(all.len(), 3);
    let names = ["a", "b", "c"];
    let rooms = [vec!["r1"], vec!["r1", "r2"], vec![]];
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.id(), sids[i], "the client's socket.id is the server's");
        assert_eq!(r.data::<Value>().unwrap(), json!({"name": names[i]}));
        let mut want = set(&rooms[i]);
        want.insert(sids[i].clone());
        assert_eq!(rooms_of(r), want, "rooms of {}", names[i]);
        let hs = r.handshake();
        assert_eq!(hs.auth()["name"], names[i]);
        assert_eq!(hs.query().get("who").map(String::as_str), Some(names[i]));
        assert_eq!(hs.query().get("EIO").map(String::as_str), Some("4"));
        assert_eq!(hs.address(), "127.0.0.1");
        assert!(hs.url().starts_with("/socket.io/?"), "{}", hs.url());
        assert!(!hs.secure());
        assert!(hs.headers().contains_key("host"), "{:?}", hs.headers());
        assert!(hs.issued() > 0);
    }

    // A selection.
    let in_r1: BTreeSet<String> =
        s.io.in_("r1")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
    assert_eq!(in_r1, set(&[&sids[0], &sids[1]]));
    let except: Vec<String> =
        s.io.except("r1")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
    assert_eq!(except, [sids[2].clone()]);
    assert!(s.io.to("none").fetch_sockets().await.unwrap().is_empty());

    // A remote socket acts on its client.
    let c = s.io.to(sids[2].clone()).fetch_sockets().await.unwrap();
    c[0].emit("hello-c", &"from fetch").unwrap();
    assert_eq!(js.event("c", "hello-c").await, json!(["from fetch"]));
    c[0].join("r9");
    assert!(
        s.io.sockets()
            .get_socket(&sids[2])
            .unwrap()
            .rooms()
            .iter()
            .any(|r| &**r == "r9")
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn sockets_join_and_sockets_leave() {
    let log = Log::new();
    let (s, mut js, sids) = setup(&log).await;
    // Everyone in r1 also joins r3; then c alone joins r3 by its id.
    s.io.in_("r1").sockets_join("r3");
    s.io.to(sids[2].clone()).sockets_join(["r3", "r4"]);
    let r3: BTreeSet<String> =
        s.io.in_("r3")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
    assert_eq!(r3, set(&[&sids[0], &sids[1], &sids[2]]));
    s.io.to("r4").emit("r4", &1).unwrap();
    assert_eq!(js.event("c", "r4").await, json!([1]));

    // Everyone but r2 leaves r3.
    s.io.except("r2").sockets_leave("r3");
    let r3: Vec<String> =
        s.io.in_("r3")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
    assert_eq!(r3, [sids[1].clone()]);
    // Everybody joins, then leaves.
    s.io.sockets_join("all");
    assert_eq!(s.io.in_("all").fetch_sockets().await.unwrap().len(), 3);
    s.io.sockets_leave("all");
    assert!(s.io.in_("all").fetch_sockets().await.unwrap().is_empty());
    assert!(
        !s.io
            .sockets()
            .adapter()
            .local_rooms()
            .iter()
            .any(|r| &**r == "all"),
        "an empty room is deleted"
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn disconnect_sockets_without_closing() {
    let log = Log::new();
    let (s, mut js, _sids) = setup(&log).await;
    // Only r1 (a and b).
    s.io.in_("r1").disconnect_sockets(false);
    assert_eq!(js.disconnect_reason("a").await, "io server disconnect");
    assert_eq!(js.disconnect_reason("b").await, "io server disconnect");
    let mut seen = log.wait("disconnect", 2).await;
    seen.sort_by_key(|v| v[0].as_str().unwrap().to_owned());
    assert_eq!(
        seen,
        [
            json!(["a", "server namespace disconnect"]),
            json!(["b", "server namespace disconnect"])
        ]
    );
    assert_eq!(s.count(), 1);
    // socket.io-client does not reconnect after "io server disconnect".
    for c in ["a", "b"] {
        let st = js.state(c).await;
        assert_eq!(
            (&st["connected"], &st["active"]),
            (&json!(false), &json!(false)),
            "{c}: {st}"
        );
    }
    // Its Manager has no active socket left, so it closes the connection by itself.
    wait_until("a's and b's connections closed", || {
        s.io.client_count() == 1
    })
    .await;
    assert_eq!(js.state("c").await["connected"], true);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn disconnect_sockets_closing_the_connections() {
    let log = Log::new();
    let (s, mut js, _sids) = setup(&log).await;
    // Another namespace on a's connection goes too when the connection closes.
    s.io.of("/other").on_connection(|_s: Socket| async move {});
    js.connect(
        "a-other",
        "/other",
        json!({"manager": "ma", "transports": ["websocket"]}),
    )
    .await;
    js.connect(
        "a2",
        "/",
        json!({"manager": "ma", "auth": {"name": "a2", "rooms": ["r1"]}}),
    )
    .await;
    assert_eq!(s.io.client_count(), 4);

    s.io.in_("r1").disconnect_sockets(true);
    for c in ["a", "b", "a2", "a-other"] {
        assert_eq!(js.disconnect_reason(c).await, "io server disconnect", "{c}");
    }
    wait_until("a's and b's connections closed", || {
        s.io.client_count() == 1
    })
    .await;
    assert!(s.io.of("/other").sockets().is_empty());
    let mut seen: Vec<Value> = log.wait("disconnect", 3).await;
    seen.sort_by_key(|v| v[0].as_str().unwrap().to_owned());
    assert_eq!(
        seen,
        [
            json!(["a", "server namespace disconnect"]),
            json!(["a2", "server namespace disconnect"]),
            json!(["b", "server namespace disconnect"]),
        ]
    );
    for c in ["a", "b", "a2", "a-other"] {
        assert_eq!(js.state(c).await["active"], false, "{c} must not reconnect");
    }
    assert_eq!(js.state("c").await["connected"], true);
    js.exit().await;
    s.assert_clean().await;
}
