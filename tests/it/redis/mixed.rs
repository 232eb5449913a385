//! A mixed cluster: a Rust node and a Node node (socket.io 4.8 + @socket.io/redis-adapter 8) on
//! one Redis, clients on both, every cluster operation from either side.

use std::collections::BTreeSet;

use axum_socketio::adapter::AdapterError;
use bytes::Bytes;

use super::*;
use crate::socketio::bin;

/// Redis, a Rust node, a Node node; clients r1 (room a), r2 (room b) on Rust and n1 (a), n2 (b)
/// on Node. Returns the sids in that order.
struct Mixed {
    _redis: RedisServer,
    rust: RustNode,
    node: NodeServer,
    rjs: Js,
    njs: Js,
    sids: Vec<String>,
}

async fn mixed() -> Mixed {
    let redis = RedisServer::start().await;
    let rust = rust_node(&redis, "rust").await;
    let mut node = NodeServer::start(&redis, json!({})).await;
    wait_servers(rust.io(), 2).await;
    node.wait_servers(2).await;
    let mut rjs = rust.clients().await;
    let mut njs = node.clients().await;
    let sids = vec![
        connect(&mut rjs, "r1", "/", &["a"]).await,
        connect(&mut rjs, "r2", "/", &["b"]).await,
        connect(&mut njs, "n1", "/", &["a"]).await,
        connect(&mut njs, "n2", "/", &["b"]).await,
    ];
    Mixed {
        _redis: redis,
        rust,
        node,
        rjs,
        njs,
        sids,
    }
}

impl Mixed {
    /// Asserts exactly which clients get event `name` next (with these args), using a marker
    /// broadcast from Rust to everyone afterwards to know that nothing else is coming.
    async fn expect(&mut self, name: &str, args: Value, who: &[&str]) {
        for c in who {
            let (js, c) = self.js(c);
            assert_eq!(js.event(c, name).await, args, "{name} on {c}");
        }
        // A marker from each side: published after the event, so it arrives after it anywhere
        // the event (wrongly) went.
        self.rust.io().emit("marker", &()).unwrap();
        self.node
            .call(json!({"cmd": "emit", "event": "marker"}))
            .await;
        for c in ["r1", "r2", "n1", "n2"] {
            let (js, c) = self.js(c);
            js.event(c, "marker").await;
            js.event(c, "marker").await;
            assert_eq!(js.events(c, name), Vec::<Value>::new(), "{c} got {name}");
        }
    }

    fn js<'a>(&mut self, c: &'a str) -> (&mut Js, &'a str) {
        if c.starts_with('r') {
            (&mut self.rjs, c)
        } else {
            (&mut self.njs, c)
        }
    }
}

#[tokio::test]
async fn broadcasts_reach_both_sides_with_rooms_and_except() {
    let mut m = mixed().await;
    let io = m.rust.io().clone();

    io.emit("hello", "from rust").unwrap();
    m.expect("hello", json!(["from rust"]), &["r1", "r2", "n1", "n2"])
        .await;
    m.node
        .call(json!({"cmd": "emit", "event": "hello", "args": ["from node", 2]}))
        .await;
    m.expect("hello", json!(["from node", 2]), &["r1", "r2", "n1", "n2"])
        .await;

    // One room: published on the room's channel.
    io.to("a").emit("room", &1).unwrap();
    m.expect("room", json!([1]), &["r1", "n1"]).await;
    m.node
        .call(json!({"cmd": "emit", "to": ["b"], "event": "room", "args": [2]}))
        .await;
    m.expect("room", json!([2]), &["r2", "n2"]).await;

    // Several rooms, except, a socket's own room.
    io.to(["a", "b"]).except("b").emit("mix", &3).unwrap();
    m.expect("mix", json!([3]), &["r1", "n1"]).await;
    m.node
        .call(json!({"cmd": "emit", "except": ["a", m.sids[1]], "event": "mix", "args": [4]}))
        .await;
    m.expect("mix", json!([4]), &["n2"]).await;
    io.to(m.sids[3].as_str()).emit("direct", "n2 only").unwrap();
    m.expect("direct", json!(["n2 only"]), &["n2"]).await;

    // local stays local, on both sides.
    io.local().emit("local", "rust").unwrap();
    m.expect("local", json!(["rust"]), &["r1", "r2"]).await;
    m.node
        .call(json!({"cmd": "emit", "local": true, "event": "local", "args": ["node"]}))
        .await;
    m.expect("local", json!(["node"]), &["n1", "n2"]).await;

    // socket.broadcast from a Rust socket leaves that socket out, on every node.
    let r1 = io.sockets().get_socket(&m.sids[0]).unwrap();
    r1.broadcast().emit("others", &()).unwrap();
    m.expect("others", json!([]), &["r2", "n1", "n2"]).await;

    // Another namespace does not hear it.
    let mut chat = m.rust.clients().await;
    connect(&mut chat, "c1", "/chat", &["a"]).await;
    io.to("a").emit("only-root", &()).unwrap();
    m.expect("only-root", json!([]), &["r1", "n1"]).await;
    m.node
        .call(json!({"cmd": "emit", "nsp": "/chat", "to": ["a"], "event": "chat", "args": ["x"]}))
        .await;
    assert_eq!(chat.event("c1", "chat").await, json!(["x"]));
    assert!(chat.events("c1", "only-root").is_empty());
}

#[tokio::test]
async fn binary_survives_crossing() {
    let mut m = mixed().await;
    let payload = crate::socketio::sample_bytes(300, 7);
    m.rust
        .io()
        .emit(
            "bin",
            &(Bytes::from(payload.clone()), json!({"nested": [1, "two"]})),
        )
        .unwrap();
    let want = json!([bin(&payload), {"nested": [1, "two"]}]);
    m.expect("bin", want.clone(), &["r1", "r2", "n1", "n2"])
        .await;

    // From Node: a Buffer nested in an object, and an empty one.
    m.node
        .call(json!({"cmd": "emit", "event": "bin", "args": [{"file": bin(&payload)}, bin(&[])]}))
        .await;
    m.expect(
        "bin",
        json!([{"file": bin(&payload)}, bin(&[])]),
        &["r1", "r2", "n1", "n2"],
    )
    .await;
}

#[tokio::test]
async fn broadcast_with_ack_counts_answers_from_both_sides() {
    let mut m = mixed().await;
    for c in ["r1", "r2"] {
        m.rjs
            .answer(c, "poll", json!([format!("answer-{c}")]))
            .await;
    }
    for c in ["n1", "n2"] {
        m.njs
            .answer(c, "poll", json!([format!("answer-{c}")]))
            .await;
    }
    let mut got = m
        .rust
        .io()
        .timeout(Duration::from_secs(3))
        .emit_with_ack::<_, String>("poll", &1)
        .await
        .unwrap();
    got.sort();
    assert_eq!(got, ["answer-n1", "answer-n2", "answer-r1", "answer-r2"]);

    // A room: two answers, one per side.
    let mut got = m
        .rust
        .io()
        .to("a")
        .timeout(Duration::from_secs(3))
        .emit_with_ack::<_, String>("poll", &2)
        .await
        .unwrap();
    got.sort();
    assert_eq!(got, ["answer-n1", "answer-r1"]);

    // From Node: the Rust node reports its count and forwards its clients' answers.
    let r = m
        .node
        .call(json!({"cmd": "emit_ack", "event": "poll", "args": [3], "timeout": 3000}))
        .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    let mut responses: Vec<String> = serde_json::from_value(r["responses"].clone()).unwrap();
    responses.sort();
    assert_eq!(
        responses,
        ["answer-n1", "answer-n2", "answer-r1", "answer-r2"]
    );

    // A client that does not answer: partial answers at the timeout, both ways.
    m.njs.answer("n1", "silent", json!(["n1"])).await;
    let err = m
        .rust
        .io()
        .to(["a", "b"])
        .except(m.sids[3].as_str())
        .timeout(Duration::from_millis(1500))
        .emit_with_ack::<_, String>("silent", &())
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, axum_socketio::AckError::Timeout),
        "{err:?}"
    );
    assert_eq!(err.responses, ["n1"]);
}

#[tokio::test]
async fn fetch_sockets_sees_both_sides() {
    let mut m = mixed().await;
    let all = m.rust.io().fetch_sockets().await.unwrap();
    let ids: BTreeSet<String> = all.iter().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, m.sids.iter().cloned().collect());
    let n1 = all.iter().find(|s| s.id() == m.sids[2]).unwrap();
    assert_eq!(n1.data::<Value>().unwrap(), json!({"name": "n1"}));
    let rooms: BTreeSet<String> = n1.rooms().iter().map(|r| r.to_string()).collect();
    assert_eq!(rooms, set(&["a", &m.sids[2]]));
    assert_eq!(n1.handshake().auth()["data"], json!({"name": "n1"}));
    assert_eq!(
        n1.handshake().query().get("EIO").map(String::as_str),
        Some("4")
    );
    assert!(n1.handshake().issued() > 0);

    // A room, an exception.
    let in_a = m
        .rust
        .io()
        .in_("a")
        .except(m.sids[0].as_str())
        .fetch_sockets()
        .await
        .unwrap();
    assert_eq!(
        in_a.iter().map(|s| s.id().to_owned()).collect::<Vec<_>>(),
        [m.sids[2].clone()]
    );

    // Acting on a remote socket: emit, join, leave, disconnect.
    n1.emit("to-you", "n1").unwrap();
    assert_eq!(m.njs.event("n1", "to-you").await, json!(["n1"]));
    n1.join("joined");
    let sid = m.sids[2].clone();
    wait_for_rooms(&mut m.node, &sid, &["a", "joined", &sid]).await;
    n1.leave("a");
    wait_for_rooms(&mut m.node, &sid, &["joined", &sid]).await;

    // From Node: the Rust sockets, with data, rooms and handshake.
    let list = m.node.call(json!({"cmd": "fetch", "to": ["a"]})).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let r1 = &list[0];
    assert_eq!(r1["id"], m.sids[0]);
    assert_eq!(r1["data"], json!({"name": "r1"}));
    let rooms: BTreeSet<String> = serde_json::from_value(r1["rooms"].clone()).unwrap();
    assert_eq!(rooms, set(&["a", &m.sids[0]]));
    assert_eq!(r1["handshake"]["auth"]["data"], json!({"name": "r1"}));
    assert_eq!(r1["handshake"]["query"]["transport"], "websocket");
    assert_eq!(r1["handshake"]["address"], "127.0.0.1");

    // Node acting on a Rust socket.
    m.node
        .call(json!({"cmd": "remote", "id": m.sids[1], "op": "emit", "event": "from-node", "args": [1]}))
        .await;
    assert_eq!(m.rjs.event("r2", "from-node").await, json!([1]));
    m.node
        .call(json!({"cmd": "remote", "id": m.sids[1], "op": "disconnect"}))
        .await;
    assert_eq!(m.rjs.disconnect_reason("r2").await, "io server disconnect");
    wait_until("r2 gone", || m.rust.sio.count() == 1).await;
    n1.disconnect(false);
    assert_eq!(m.njs.disconnect_reason("n1").await, "io server disconnect");
}

async fn wait_for_rooms(node: &mut NodeServer, sid: &str, want: &[&str]) {
    let want = set(want);
    let start = tokio::time::Instant::now();
    loop {
        let list = node.call(json!({"cmd": "fetch", "to": [sid]})).await;
        let rooms: BTreeSet<String> = list[0]["rooms"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if rooms == want {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "rooms of {sid}: {rooms:?}, want {want:?}"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

#[tokio::test]
async fn sockets_join_leave_disconnect_and_all_rooms_across() {
    let mut m = mixed().await;
    // From Rust: every socket in "a" joins "c", on both nodes; the Rust node applies it when
    // its own request comes back.
    m.rust.io().in_("a").sockets_join("c");
    let r1 = m.sids[0].clone();
    let n1 = m.sids[2].clone();
    wait_for_rooms(&mut m.node, &n1, &["a", "c", &n1]).await;
    wait_until("r1 in c", || {
        m.rust
            .io()
            .sockets()
            .get_socket(&r1)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "c"))
    })
    .await;
    let rooms = m.rust.io().sockets().adapter().all_rooms().await.unwrap();
    for r in ["a", "b", "c"] {
        assert!(rooms.contains(r), "{rooms:?}");
    }
    for sid in &m.sids {
        assert!(rooms.contains(sid.as_str()), "{rooms:?}");
    }
    let node_rooms: BTreeSet<String> =
        serde_json::from_value(m.node.call(json!({"cmd": "all_rooms"})).await).unwrap();
    assert!(
        node_rooms.is_superset(&set(&["a", "b", "c", &r1, &n1])),
        "{node_rooms:?}"
    );

    // From Node: leave.
    m.node
        .call(json!({"cmd": "leave", "to": ["c"], "rooms": ["c"]}))
        .await;
    wait_until("r1 left c", || {
        m.rust
            .io()
            .sockets()
            .get_socket(&r1)
            .is_some_and(|s| !s.rooms().iter().any(|r| &**r == "c"))
    })
    .await;
    wait_for_rooms(&mut m.node, &n1, &["a", &n1]).await;

    // Disconnect room b from Rust: r2 and n2 go.
    m.rust.io().in_("b").disconnect_sockets(false);
    assert_eq!(m.rjs.disconnect_reason("r2").await, "io server disconnect");
    assert_eq!(m.njs.disconnect_reason("n2").await, "io server disconnect");
    // Disconnect room a from Node, closing connections (each socket still gets its DISCONNECT
    // first, as Node does it).
    m.node
        .call(json!({"cmd": "disconnect", "to": ["a"], "close": true}))
        .await;
    assert_eq!(m.rjs.disconnect_reason("r1").await, "io server disconnect");
    assert_eq!(m.njs.disconnect_reason("n1").await, "io server disconnect");
    m.rust.sio.assert_clean().await;
}

#[tokio::test]
async fn server_side_emit_with_and_without_ack_both_ways() {
    let mut m = mixed().await;
    // Node → Rust, no ack.
    m.node
        .call(json!({"cmd": "sse", "event": "sse", "args": ["hi", 1, bin(&[1, 2])]}))
        .await;
    let got = m.rust.log.one("sse").await;
    // JSON turns Node's Buffer into its JSON form.
    assert_eq!(got, json!(["hi", 1, {"type": "Buffer", "data": [1, 2]}]));

    // Node → Rust with ack: Rust's handler answers.
    let r = m
        .node
        .call(json!({"cmd": "sse_ack", "event": "sse", "args": [{"q": 1}]}))
        .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(
        r["responses"],
        json!([{"from": "rust", "args": [{"q": 1}]}])
    );

    // Rust → Node, no ack, then with ack.
    m.rust
        .io()
        .server_side_emit("sse", &("to node", 2))
        .unwrap();
    assert_eq!(m.node.server_side("sse").await, json!(["to node", 2]));
    let answers = m
        .rust
        .io()
        .server_side_emit_with_ack("sse", &"ask", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(
        answers[0].deserialize::<Value>().unwrap(),
        json!({"from": "node", "args": ["ask"]})
    );
    assert_eq!(m.node.server_side("sse").await, json!(["ask"]));

    // Nobody answers: the timeout, with what came (nothing).
    let err = m
        .rust
        .io()
        .server_side_emit_with_ack("sse-silent", &(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Timeout { answered: 0, expected: 1, responses } if responses.is_empty()),
        "{err:?}"
    );
    let r = m
        .node
        .call(json!({"cmd": "sse_ack", "event": "sse-silent", "args": []}))
        .await;
    assert!(
        r["error"]
            .as_str()
            .unwrap_or("")
            .contains("timeout reached"),
        "{r}"
    );
    // The sender never gets its own event.
    assert!(m.rust.log.all("sse-silent").len() == 1);
}

#[tokio::test]
async fn the_emitter_drives_rust_clients() {
    let mut m = mixed().await;
    m.node
        .call(json!({"cmd": "emitter", "op": "emit", "event": "news", "args": ["all", bin(&[9])]}))
        .await;
    m.expect("news", json!(["all", bin(&[9])]), &["r1", "r2", "n1", "n2"])
        .await;
    m.node
        .call(json!({"cmd": "emitter", "op": "emit", "to": ["b"], "event": "news", "args": ["b"]}))
        .await;
    m.expect("news", json!(["b"]), &["r2", "n2"]).await;

    m.node
        .call(json!({"cmd": "emitter", "op": "join", "to": ["b"], "rooms": ["vip"]}))
        .await;
    let r2 = m.sids[1].clone();
    wait_until("r2 in vip", || {
        m.rust
            .io()
            .sockets()
            .get_socket(&r2)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "vip"))
    })
    .await;
    m.node
        .call(json!({"cmd": "emitter", "op": "sse", "event": "sse", "args": ["from emitter"]}))
        .await;
    assert_eq!(m.rust.log.one("sse").await, json!(["from emitter"]));
    m.node
        .call(json!({"cmd": "emitter", "op": "disconnect", "to": ["vip"]}))
        .await;
    assert_eq!(m.rjs.disconnect_reason("r2").await, "io server disconnect");
    // The emitter does not count as a server.
    assert_eq!(
        m.rust
            .io()
            .sockets()
            .adapter()
            .server_count()
            .await
            .unwrap(),
        2
    );
}
