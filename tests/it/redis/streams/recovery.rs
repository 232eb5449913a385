//! Connection state recovery across a cluster on the streams adapter: a client behind a proxy
//! drops from node A and comes back to node B (Rust or Node, either way round), and gets the same
//! id, rooms and data, and every event it missed, from either node, once and in order.

use super::*;

/// The window of the recovery tests that come back in time.
const WINDOW: Duration = Duration::from_secs(30);

/// A cluster of nodes A and B on one Redis, a proxy in front of A, and client "c" (npm
/// socket.io-client, websocket only, reconnecting by itself) connected through it to A, in room
/// "r" with data `{"name": "alice"}`, holding an offset (it got "ready" from A).
struct Scene {
    _redis: RedisServer,
    inspect: Inspect,
    a: Side,
    b: Side,
    proxy: Proxy,
    js: Js,
    sid: String,
}

async fn scene(a: Kind, b: Kind, window: Duration) -> Scene {
    let redis = RedisServer::start().await;
    let inspect = Inspect::new(&redis).await;
    let mut a = Side::start(&redis, a, "A", Some(window)).await;
    let mut b = Side::start(&redis, b, "B", Some(window)).await;
    a.wait_servers(2).await;
    b.wait_servers(2).await;
    let proxy = Proxy::start(a.addr()).await;
    let mut js = Js::start(&proxy.url).await;
    let first = js
        .connect(
            "c",
            "/",
            json!({
                "transports": ["websocket"],
                "auth": {"rooms": ["r"], "data": {"name": "alice"}},
            }),
        )
        .await;
    let sid = first["sid"].as_str().unwrap().to_owned();
    let seen = a.next_connection().await;
    assert_eq!(
        seen,
        json!({"nsp": "/", "id": sid, "recovered": false, "rooms": ["r"], "data": {"name": "alice"}})
    );
    // The client only comes back with an offset, which comes with an event.
    a.emit(&[&sid], &[], "ready", &Arg::Json(json!(0))).await;
    let ready = js.event("c", "ready").await;
    split_offsets(&[ready], "ready");
    Scene {
        _redis: redis,
        inspect,
        a,
        b,
        proxy,
        js,
        sid,
    }
}

impl Scene {
    /// The transport drops (the proxy kills the connection and refuses new ones); returns once
    /// A let the socket go and its session is in Redis, checked as Node stores it.
    async fn drop_client(&mut self) -> Value {
        self.proxy.switch_to(None);
        assert_eq!(self.js.disconnect_reason("c").await, "transport close");
        self.a.wait_no_socket().await;
        let session = self.inspect.one_session().await;
        let mut rooms: Vec<String> = serde_json::from_value(session["rooms"].clone()).unwrap();
        rooms.sort();
        let mut want = vec!["r".to_owned(), self.sid.clone()];
        want.sort();
        assert_eq!(session["sid"], json!(self.sid), "{session}");
        assert_eq!(
            rooms, want,
            "the stored rooms, its own included (Node matches broadcasts to the socket's id against them)"
        );
        assert_eq!(session["data"], json!({"name": "alice"}), "{session}");
        session
    }

    /// Emits from A (`false`) or B (`true`), waiting until each landed in the stream, so the
    /// stream holds them in this order.
    async fn emit_in_order(&mut self, events: &[Missed<'_>]) {
        for e in events {
            let side = if e.from_b { &mut self.b } else { &mut self.a };
            let inspect = &mut self.inspect;
            let to: Vec<&str> =
                e.to.iter()
                    .map(|r| if *r == "$sid" { self.sid.as_str() } else { r })
                    .collect();
            inspect
                .appended(async || side.emit(&to, e.except, e.event, &e.arg).await)
                .await;
        }
    }

    /// The proxy now goes to B; waits until the client connected again and returns its connect
    /// line (`{sid, recovered, …}`).
    async fn come_back_to_b(&mut self) -> Value {
        self.proxy.switch_to(Some(self.b.addr()));
        self.js
            .wait("c connecting again", |l| {
                l["id"] == "c" && l["event"] == "connect"
            })
            .await
    }

    /// Every event (`[name, args]`) client c got until the `after` marker B sends it now (after
    /// any replay), the marker left out.
    async fn events_until_marker(&mut self, sid: &str) -> Vec<Value> {
        self.b
            .emit(&[sid], &[], "after", &Arg::Json(json!(0)))
            .await;
        self.js.event("c", "after").await;
        let mut all = Vec::new();
        for l in self.js.take(|l| l["id"] == "c" && l["event"] == "event") {
            all.push(json!([l["name"], l["args"]]));
        }
        all
    }
}

/// An event emitted while the client is away.
struct Missed<'a> {
    from_b: bool,
    /// Rooms; `$sid` is the client's own.
    to: &'a [&'a str],
    except: &'a [&'a str],
    event: &'a str,
    arg: Arg,
}

fn missed<'a>(
    from_b: bool,
    to: &'a [&'a str],
    except: &'a [&'a str],
    event: &'a str,
    arg: Arg,
) -> Missed<'a> {
    Missed {
        from_b,
        to,
        except,
        event,
        arg,
    }
}

/// What every cross-node recovery test emits while the client is away: from both nodes, to its
/// id, to its room, to everyone, binary, and to everyone but its room (which it must not get).
fn while_away() -> Vec<Missed<'static>> {
    vec![
        missed(false, &["$sid"], &[], "m", Arg::Json(json!(1))),
        missed(true, &["r"], &[], "m", Arg::Json(json!(2))),
        missed(false, &[], &[], "m", Arg::Json(json!(3))),
        missed(true, &[], &["r"], "not-for-you", Arg::Json(json!(4))),
        missed(true, &["$sid"], &[], "m", Arg::Json(json!(5))),
        missed(
            false,
            &["r", "elsewhere"],
            &[],
            "m",
            Arg::Bin(vec![0, 1, 255]),
        ),
        missed(false, &[], &["r"], "not-for-you", Arg::Json(json!(6))),
        missed(true, &[], &[], "m", Arg::Json(json!({"last": true}))),
    ]
}

async fn recovers_on_the_other_node(a: Kind, b: Kind) {
    let mut s = scene(a, b, WINDOW).await;
    s.drop_client().await;
    s.emit_in_order(&while_away()).await;
    let back = s.come_back_to_b().await;
    assert_eq!(back["recovered"], true, "the client sees recovered: {back}");
    assert_eq!(back["sid"], json!(s.sid), "same socket id");
    assert_eq!(
        s.b.next_connection().await,
        json!({"nsp": "/", "id": s.sid, "recovered": true, "rooms": ["r"], "data": {"name": "alice"}}),
        "B restored the socket with its rooms and data"
    );
    let sid = s.sid.clone();
    let got = s.events_until_marker(&sid).await;
    let names: Vec<&Value> = got.iter().map(|e| &e[0]).collect();
    assert!(
        names.iter().all(|n| *n == "m"),
        "only the missed events: {got:#?}"
    );
    let m: Vec<Value> = got
        .iter()
        .filter(|e| e[0] == "m")
        .map(|e| e[1].clone())
        .collect();
    let split = split_offsets(&m, "m");
    let args: Vec<Value> = split.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(
        args,
        [
            json!([1]),
            json!([2]),
            json!([3]),
            json!([5]),
            json!([crate::socketio::bin(&[0, 1, 255])]),
            json!([{"last": true}]),
        ],
        "every missed event once, in the order of the stream"
    );
    let offsets: Vec<(u64, u64)> = split.iter().map(|(_, o)| stream_id_key(o)).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets grow: {split:?}"
    );
    // The session was taken (GETDEL): it cannot be restored twice.
    assert_eq!(s.inspect.session_keys().await, Vec::<String>::new());
    // Still in its room, on B, for the whole cluster.
    s.a.emit(&["r"], &[], "room-again", &Arg::Json(json!(7)))
        .await;
    let again = s.js.event("c", "room-again").await;
    assert_eq!(split_offsets(&[again], "room-again")[0].0, json!([7]));
    s.js.exit().await;
    s.b.wait_no_socket().await;
}

#[tokio::test]
async fn rust_to_rust_a_client_recovers_on_another_node_with_every_missed_event() {
    recovers_on_the_other_node(Kind::Rust, Kind::Rust).await;
}

#[tokio::test]
async fn node_to_rust_a_client_dropped_by_node_recovers_on_rust() {
    recovers_on_the_other_node(Kind::Node, Kind::Rust).await;
}

#[tokio::test]
async fn rust_to_node_a_client_dropped_by_rust_recovers_on_node() {
    recovers_on_the_other_node(Kind::Rust, Kind::Node).await;
}

#[tokio::test]
async fn after_the_window_a_client_gets_a_fresh_socket_on_another_node() {
    let mut s = scene(Kind::Rust, Kind::Rust, ms(1000)).await;
    s.drop_client().await;
    // The session expires in Redis (PX = the window).
    s.inspect.wait_no_session().await;
    s.emit_in_order(&[
        missed(false, &["r"], &[], "m", Arg::Json(json!(1))),
        missed(true, &[], &[], "m", Arg::Json(json!(2))),
    ])
    .await;
    let back = s.come_back_to_b().await;
    assert_eq!(back["recovered"], false, "{back}");
    assert_ne!(back["sid"], json!(s.sid), "a new socket id");
    let sid = back["sid"].as_str().unwrap().to_owned();
    assert_eq!(
        s.b.next_connection().await,
        json!({"nsp": "/", "id": sid, "recovered": false, "rooms": ["r"], "data": {"name": "alice"}}),
        "a fresh socket: the handler joined the rooms of its auth again"
    );
    let got = s.events_until_marker(&sid).await;
    assert_eq!(got, Vec::<Value>::new(), "nothing replayed");
    s.js.exit().await;
    s.b.wait_no_socket().await;
}

/// Broadcasts go on, from both nodes, while the client drops and recovers on B: it gets each
/// node's sequence whole, with no gap and no duplicate, whether an event reached it live before
/// the drop, was replayed, or came live after (the restore races the stream's reader).
#[tokio::test]
async fn rust_to_rust_no_gap_and_no_duplicate_while_broadcasts_go_on() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mut s = scene(Kind::Rust, Kind::Rust, WINDOW).await;
    let (a, b) = (s.a.rust_io(), s.b.rust_io());
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let (st, se) = (stop.clone(), sent.clone());
    let emitter = tokio::spawn(async move {
        let mut i = 0u64;
        while !st.load(Ordering::SeqCst) {
            // From A to the room, from B to everyone; each node's own order is the stream's.
            a.to("r").emit("n", &i).unwrap();
            se[0].fetch_add(1, Ordering::SeqCst);
            b.emit("k", &i).unwrap();
            se[1].fetch_add(1, Ordering::SeqCst);
            i += 1;
            tokio::time::sleep(ms(1)).await;
        }
    });
    let until_sent = async |n: u64| {
        wait_until(&format!("{n} more events sent"), || {
            sent[0].load(Ordering::SeqCst) >= n
        })
        .await
    };
    until_sent(20).await;
    s.drop_client().await;
    let now = sent[0].load(Ordering::SeqCst);
    until_sent(now + 20).await;
    let back = s.come_back_to_b().await;
    assert_eq!(back["recovered"], true, "{back}");
    let now = sent[0].load(Ordering::SeqCst);
    until_sent(now + 20).await;
    stop.store(true, Ordering::SeqCst);
    emitter.await.unwrap();
    // The last of each has reached the client when a marker from each node sent after it has.
    s.a.emit(&["r"], &[], "end-a", &Arg::Json(json!(0))).await;
    s.b.emit(&[], &[], "end-b", &Arg::Json(json!(0))).await;
    s.js.event("c", "end-a").await;
    s.js.event("c", "end-b").await;
    let lines = s.js.take(|l| l["id"] == "c" && l["event"] == "event");
    for (name, node) in [("n", 0), ("k", 1)] {
        let got: Vec<u64> = lines
            .iter()
            .filter(|l| l["name"] == name)
            .map(|l| l["args"][0].as_u64().unwrap())
            .collect();
        let want: Vec<u64> = (0..sent[node].load(Ordering::SeqCst)).collect();
        assert_eq!(got, want, "the {name} events, in order, each once");
    }
    s.js.exit().await;
}
