//! Rooms and broadcast operators: exact delivery sets with several clients.
//!
//! Clients a, b, c, d; rooms a: r1 · b: r1, r2 · c: r2 · d: none. After each broadcast, the
//! server emits `sync` to everyone; as events to one client keep their order, a client that got
//! `sync` has got the broadcast too if it was meant to.

use super::*;
use axum_socketio::{Ack, BroadcastOperator, Data, Socket};

const CLIENTS: [&str; 4] = ["a", "b", "c", "d"];

async fn setup() -> (Sio, Js, Vec<String>) {
    // Long heartbeats: a ping in flight would make a volatile packet droppable.
    let s = start(SocketIoLayer::builder()).await;
    s.io.on_connection(|socket: Socket, Data(auth): Data<Value>| async move {
        let rooms: Vec<String> = serde_json::from_value(auth["rooms"].clone()).unwrap();
        socket.join(rooms);
        // From this socket: ("broadcast" | "to" | "except" | "local", rooms) → "b" with the tag.
        socket.on(
            "op",
            |socket: Socket,
             Data((kind, rooms, tag)): Data<(String, Vec<String>, String)>,
             ack: Ack| async move {
                let op: BroadcastOperator = match kind.as_str() {
                    "broadcast" => socket.broadcast(),
                    "to" => socket.to(rooms),
                    "in" => socket.in_(rooms),
                    "except" => socket.except(rooms),
                    "local" => socket.local(),
                    other => panic!("unknown op {other}"),
                };
                op.emit("b", &tag).unwrap();
                ack.send(&()).unwrap();
            },
        );
        socket.on(
            "leave",
            |socket: Socket, Data(room): Data<String>, ack: Ack| async move {
                socket.leave(&room);
                let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.sort_by_key(|r| std::cmp::Reverse(r.len()));
                ack.send(&rooms).unwrap();
            },
        );
    });
    let mut js = Js::start(&s.url).await;
    let rooms = [json!(["r1"]), json!(["r1", "r2"]), json!(["r2"]), json!([])];
    let mut sids = Vec::new();
    for (c, r) in CLIENTS.iter().zip(rooms) {
        let reply = js
            .connect(
                c,
                "/",
                json!({"transports": ["websocket"], "auth": {"rooms": r}}),
            )
            .await;
        sids.push(reply["sid"].as_str().unwrap().to_owned());
    }
    wait_until("4 sockets", || s.count() == 4).await;
    (s, js, sids)
}

/// Which clients got event `b` with `tag`, each at most once.
async fn delivered(s: &Sio, js: &mut Js, tag: &str) -> Vec<&'static str> {
    s.io.emit("sync", &tag).unwrap();
    let mut got = Vec::new();
    for c in CLIENTS {
        js.wait(&format!("sync {tag} on {c}"), |l| {
            l["id"] == c && l["name"] == "sync" && l["args"] == json!([tag])
        })
        .await;
        let n = js
            .take(|l| l["id"] == c && l["name"] == "b" && l["args"] == json!([tag]))
            .len();
        assert!(n <= 1, "{c} got {tag:?} {n} times");
        if n == 1 {
            got.push(c);
        }
    }
    got
}

#[tokio::test]
async fn server_broadcast_operators() {
    let (s, mut js, sids) = setup().await;
    let io = s.io.clone();
    let cases: Vec<(&str, BroadcastOperator, Vec<&str>)> = vec![
        ("to r1", io.to("r1"), vec!["a", "b"]),
        ("in r2", io.in_("r2"), vec!["b", "c"]),
        ("to [r1, r2]", io.to(["r1", "r2"]), vec!["a", "b", "c"]),
        ("to r1 to r2", io.to("r1").to("r2"), vec!["a", "b", "c"]),
        ("to r1 in r1", io.to("r1").in_("r1"), vec!["a", "b"]),
        ("except r1", io.except("r1"), vec!["c", "d"]),
        ("to r2 except r1", io.to("r2").except("r1"), vec!["c"]),
        (
            "except [a's id, r2]",
            io.except(vec![sids[0].clone(), "r2".to_owned()]),
            vec!["d"],
        ),
        ("to b's id", io.to(sids[1].clone()), vec!["b"]),
        ("to an empty room", io.to("nobody"), vec![]),
        ("local", io.local(), vec!["a", "b", "c", "d"]),
        ("volatile", io.volatile(), vec!["a", "b", "c", "d"]),
        (
            "to r1 local volatile",
            io.to("r1").local().volatile(),
            vec!["a", "b"],
        ),
        ("of / to r2", io.of("/").to("r2"), vec!["b", "c"]),
    ];
    let mut wrong = Vec::new();
    for (tag, op, want) in cases {
        op.emit("b", &tag).unwrap();
        let got = delivered(&s, &mut js, tag).await;
        if got != want {
            wrong.push(format!("{tag}: delivered to {got:?}, want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong delivery sets:\n{}",
        wrong.join("\n")
    );
    // Everything with the plain namespace emit.
    io.emit("b", &"all").unwrap();
    assert_eq!(delivered(&s, &mut js, "all").await, CLIENTS);
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn socket_broadcast_operators_exclude_the_sender() {
    let (s, mut js, _sids) = setup().await;
    let cases = [
        ("a", "broadcast", json!([]), vec!["b", "c", "d"]),
        ("b", "to", json!(["r1"]), vec!["a"]),
        ("b", "in", json!(["r1", "r2"]), vec!["a", "c"]),
        ("d", "to", json!(["r1", "r2"]), vec!["a", "b", "c"]),
        ("a", "except", json!(["r2"]), vec!["d"]),
        ("d", "local", json!([]), vec!["a", "b", "c"]),
        ("c", "to", json!(["r2"]), vec!["b"]),
    ];
    let mut wrong = Vec::new();
    for (i, (from, kind, rooms, want)) in cases.into_iter().enumerate() {
        let tag = format!("{i}: {from} {kind} {rooms}");
        js.emit_ack(from, "op", json!([kind, rooms, tag])).await;
        let got = delivered(&s, &mut js, &tag).await;
        if got != want {
            wrong.push(format!("{tag}: delivered to {got:?}, want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong delivery sets:\n{}",
        wrong.join("\n")
    );
    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn leaving_a_room_stops_its_broadcasts() {
    let (s, mut js, sids) = setup().await;
    let rooms = js.emit_ack("b", "leave", json!(["r1"])).await;
    assert_eq!(rooms, json!([[sids[1], "r2"]]));
    s.io.to("r1").emit("b", &"after-leave").unwrap();
    assert_eq!(delivered(&s, &mut js, "after-leave").await, ["a"]);
    // The room is gone once its last member leaves.
    js.emit_ack("a", "leave", json!(["r1"])).await;
    wait_until("r1 deleted", || {
        !s.io
            .sockets()
            .adapter()
            .local_rooms()
            .iter()
            .any(|r| &**r == "r1")
    })
    .await;
    s.io.to("r1").emit("b", &"r1-gone").unwrap();
    assert!(delivered(&s, &mut js, "r1-gone").await.is_empty());
    js.exit().await;
    s.assert_clean().await;
}
