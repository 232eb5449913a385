//! A Rust node and a Node node (socket.io 4.8 + @socket.io/redis-streams-adapter 0.3) on one
//! stream: broadcasts, acks, fetch_sockets, rooms and server-side emits from either side.
//! (Recovery from one implementation to the other is in `recovery`.)

use std::collections::BTreeSet;

use super::*;
use crate::socketio::bin;

/// Redis, a Rust node, a Node node; clients r1 (room a), r2 (room b) on Rust and n1 (a), n2 (b)
/// on Node. `sids` in that order.
struct Mixed {
    _redis: RedisServer,
    rust: StreamsNode,
    node: NodeServer,
    rjs: Js,
    njs: Js,
    sids: Vec<String>,
}

async fn mixed() -> Mixed {
    let redis = RedisServer::start().await;
    let rust = streams_node(&redis, "rust", None).await;
    let mut node = NodeServer::start(&redis, node_streams_opts("node", None)).await;
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
    /// Asserts exactly which clients get event `name` next (with these args): a marker from
    /// each side, broadcast to everyone afterwards, tells that nothing else is coming.
    async fn expect(&mut self, name: &str, args: Value, who: &[&str]) {
        for c in who {
            let (js, c) = self.js(c);
            assert_eq!(js.event(c, name).await, args, "{name} on {c}");
        }
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
async fn mixed_streams_broadcasts_both_ways_with_rooms_except_and_binary() {
    let mut m = mixed().await;
    let io = m.rust.io().clone();
    assert_eq!(io.sockets().adapter().server_count().await.unwrap(), 2);

    io.emit("hello", "from rust").unwrap();
    m.expect("hello", json!(["from rust"]), &["r1", "r2", "n1", "n2"])
        .await;
    m.node
        .call(json!({"cmd": "emit", "event": "hello", "args": ["from node", 2]}))
        .await;
    m.expect("hello", json!(["from node", 2]), &["r1", "r2", "n1", "n2"])
        .await;

    // Rooms.
    io.to("a").emit("room", &1).unwrap();
    m.expect("room", json!([1]), &["r1", "n1"]).await;
    m.node
        .call(json!({"cmd": "emit", "to": ["b"], "event": "room", "args": [2]}))
        .await;
    m.expect("room", json!([2]), &["r2", "n2"]).await;

    // Except, several rooms, a socket's own room.
    io.to(["a", "b"]).except("b").emit("mix", &3).unwrap();
    m.expect("mix", json!([3]), &["r1", "n1"]).await;
    m.node
        .call(json!({"cmd": "emit", "except": ["a", m.sids[1]], "event": "mix", "args": [4]}))
        .await;
    m.expect("mix", json!([4]), &["n2"]).await;
    io.to(m.sids[3].as_str()).emit("direct", "n2 only").unwrap();
    m.expect("direct", json!(["n2 only"]), &["n2"]).await;
    m.node
        .call(json!({"cmd": "emit", "to": [m.sids[0]], "event": "direct", "args": ["r1 only"]}))
        .await;
    m.expect("direct", json!(["r1 only"]), &["r1"]).await;

    // Binary both ways (base64 msgpack in the stream entry).
    let payload = crate::socketio::sample_bytes(300, 7);
    io.emit(
        "bin",
        &(Bytes::from(payload.clone()), json!({"nested": [1, "two"]})),
    )
    .unwrap();
    m.expect(
        "bin",
        json!([bin(&payload), {"nested": [1, "two"]}]),
        &["r1", "r2", "n1", "n2"],
    )
    .await;
    m.node
        .call(json!({"cmd": "emit", "to": ["b"], "event": "bin", "args": [{"file": bin(&payload)}, bin(&[])]}))
        .await;
    m.expect(
        "bin",
        json!([{"file": bin(&payload)}, bin(&[])]),
        &["r2", "n2"],
    )
    .await;

    // local stays local, on both sides.
    io.local().emit("local", "rust").unwrap();
    m.expect("local", json!(["rust"]), &["r1", "r2"]).await;
    m.node
        .call(json!({"cmd": "emit", "local": true, "event": "local", "args": ["node"]}))
        .await;
    m.expect("local", json!(["node"]), &["n1", "n2"]).await;

    // Another namespace does not hear it.
    let mut chat = m.rust.clients().await;
    connect(&mut chat, "c1", "/chat", &["a"]).await;
    m.node
        .call(json!({"cmd": "emit", "nsp": "/chat", "to": ["a"], "event": "chat", "args": ["x"]}))
        .await;
    assert_eq!(chat.event("c1", "chat").await, json!(["x"]));
    io.to("a").emit("only-root", &()).unwrap();
    m.expect("only-root", json!([]), &["r1", "n1"]).await;
    assert!(chat.events("c1", "only-root").is_empty());
}

#[tokio::test]
async fn mixed_streams_broadcast_with_acks_counted_across() {
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
    let r = m
        .node
        .call(
            json!({"cmd": "emit_ack", "to": ["b"], "event": "poll", "args": [4], "timeout": 3000}),
        )
        .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    let mut responses: Vec<String> = serde_json::from_value(r["responses"].clone()).unwrap();
    responses.sort();
    assert_eq!(responses, ["answer-n2", "answer-r2"]);
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
async fn mixed_streams_fetch_sockets_and_rooms_both_ways() {
    let mut m = mixed().await;
    // From Rust: every socket, the Node ones with data, rooms and handshake.
    let all = m.rust.io().fetch_sockets().await.unwrap();
    let ids: BTreeSet<String> = all.iter().map(|s| s.id().to_owned()).collect();
    assert_eq!(ids, m.sids.iter().cloned().collect());
    let n1 = all.iter().find(|s| s.id() == m.sids[2]).unwrap();
    assert_eq!(n1.data::<Value>().unwrap(), json!({"name": "n1"}));
    let rooms: BTreeSet<String> = n1.rooms().iter().map(|r| r.to_string()).collect();
    assert_eq!(rooms, set(&["a", &m.sids[2]]));
    assert_eq!(n1.handshake().auth()["data"], json!({"name": "n1"}));
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
    // all_rooms from Rust (answered from fetch_sockets) has the Node sockets' rooms too. Node's
    // streams adapter has no allRooms at all (socket.io-adapter's ClusterAdapter lacks it).
    let rooms = m.rust.io().sockets().adapter().all_rooms().await.unwrap();
    for r in ["a", "b"]
        .into_iter()
        .chain(m.sids.iter().map(String::as_str))
    {
        assert!(rooms.contains(r), "{r} missing from {rooms:?}");
    }
    // Acting on the remote Node socket.
    n1.emit("to-you", "n1").unwrap();
    assert_eq!(m.njs.event("n1", "to-you").await, json!(["n1"]));
    n1.join("joined");
    let sid = m.sids[2].clone();
    wait_for_rooms(&mut m.node, &sid, &["a", "joined", &sid]).await;

    // From Node: the Rust sockets.
    let list = m.node.call(json!({"cmd": "fetch"})).await;
    let ids: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, m.sids.iter().cloned().collect());
    let list = m
        .node
        .call(json!({"cmd": "fetch", "to": ["b"], "except": [m.sids[3]]}))
        .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let r2 = &list[0];
    assert_eq!(r2["id"], m.sids[1]);
    assert_eq!(r2["data"], json!({"name": "r2"}));
    let rooms: BTreeSet<String> = serde_json::from_value(r2["rooms"].clone()).unwrap();
    assert_eq!(rooms, set(&["b", &m.sids[1]]));
    assert_eq!(r2["handshake"]["auth"]["data"], json!({"name": "r2"}));
    assert_eq!(r2["handshake"]["query"]["transport"], "websocket");

    // Node acting on a Rust socket.
    m.node
        .call(json!({"cmd": "remote", "id": m.sids[1], "op": "emit", "event": "from-node", "args": [1]}))
        .await;
    assert_eq!(m.rjs.event("r2", "from-node").await, json!([1]));

    // sockets_join from Node, sockets_leave from Rust, disconnect from both.
    m.node
        .call(json!({"cmd": "join", "to": ["a"], "rooms": ["c"]}))
        .await;
    let r1 = m.sids[0].clone();
    wait_until("r1 in c", || {
        m.rust
            .io()
            .sockets()
            .get_socket(&r1)
            .is_some_and(|s| s.rooms().iter().any(|r| &**r == "c"))
    })
    .await;
    wait_for_rooms(&mut m.node, &sid, &["a", "c", "joined", &sid]).await;
    m.rust.io().in_("c").sockets_leave("a");
    wait_for_rooms(&mut m.node, &sid, &["c", "joined", &sid]).await;
    wait_until("r1 left a", || {
        m.rust
            .io()
            .sockets()
            .get_socket(&r1)
            .is_some_and(|s| !s.rooms().iter().any(|r| &**r == "a"))
    })
    .await;
    m.rust.io().in_("b").disconnect_sockets(false);
    assert_eq!(m.rjs.disconnect_reason("r2").await, "io server disconnect");
    assert_eq!(m.njs.disconnect_reason("n2").await, "io server disconnect");
    m.node.call(json!({"cmd": "disconnect", "to": ["c"]})).await;
    assert_eq!(m.rjs.disconnect_reason("r1").await, "io server disconnect");
    assert_eq!(m.njs.disconnect_reason("n1").await, "io server disconnect");
    m.rust.sio.assert_clean().await;
}

#[tokio::test]
async fn mixed_streams_server_side_emit_both_ways() {
    let mut m = mixed().await;
    // Node → Rust, no ack, then with one.
    m.node
        .call(json!({"cmd": "sse", "event": "sse", "args": ["hi", 1]}))
        .await;
    assert_eq!(m.rust.log.one("sse").await, json!(["hi", 1]));
    let r = m
        .node
        .call(json!({"cmd": "sse_ack", "event": "sse", "args": [{"q": 1}]}))
        .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(
        r["responses"],
        json!([{"from": "rust", "args": [{"q": 1}]}])
    );

    // Rust → Node, no ack, then with one.
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
    assert_eq!(
        answers
            .iter()
            .map(|x| x.deserialize::<Value>().unwrap())
            .collect::<Vec<_>>(),
        [json!({"from": "node", "args": ["ask"]})]
    );
    assert_eq!(m.node.server_side("sse").await, json!(["ask"]));
    // Nobody answers: the timeout (Rust side; Node's is socket.io-adapter's fixed 5 s).
    let err = m
        .rust
        .io()
        .server_side_emit_with_ack("sse-silent", &(), ms(300))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            axum_socketio::adapter::AdapterError::Timeout {
                answered: 0,
                expected: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(m.node.server_side("sse-silent").await, json!([]));
    assert_eq!(
        m.rust.log.all("sse").len(),
        2,
        "the sender never gets its own"
    );
}
