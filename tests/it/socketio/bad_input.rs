//! Bad input at the Socket.IO layer, raw over a websocket: what a well-behaved client never
//! sends. Each case is checked against what the Node server (socket.io 4.8) does with the same
//! frames: the connection closes (sockets leave with "forced close"), or it stays and answers.
//! After each case another client on another connection still works, and once every connection
//! is gone nothing is left on the server.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::*;
use crate::common::Frame;
use axum_socketio::{Ack, DisconnectReason, Socket};

enum Send {
    Text(String),
    Binary(Vec<u8>),
}

fn t(s: &str) -> Send {
    Send::Text(s.to_owned())
}

enum Expect {
    /// The server closes the connection; a socket that was connected leaves with one of these
    /// reasons.
    Closed(&'static [&'static str]),
    /// The connection stays: these frames come back, then an event with an ack still works.
    Open(Vec<String>),
}

struct Case {
    name: &'static str,
    /// Send `40` (and read the reply) before the bad frames.
    connect_first: bool,
    frames: Vec<Send>,
    expect: Expect,
}

fn case(name: &'static str, frames: Vec<Send>, expect: Expect) -> Case {
    Case {
        name,
        connect_first: true,
        frames,
        expect,
    }
}

/// What Node gives for a packet that does not parse: the decoder throws, the server closes the
/// engine connection, and every socket of it leaves with "forced close".
const FORCED: &[&str] = &["forced close"];
/// A packet that parses but breaks the state machine (a second CONNECT, …). Node calls
/// `client.close()`, which closes the engine connection first: with nothing buffered, the sockets
/// leave with "forced close" before its own "forced server close" is applied (see
/// `invalid_state_gives_nodes_reason`). Either closes the connection, which is what is checked
/// here.
const INVALID_STATE: &[&str] = &["forced close", "forced server close"];

fn cases() -> Vec<Case> {
    use Expect::*;
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"_placeholder": true, "num": i}))
        .collect();
    let mut too_many = vec![json!("x")];
    too_many.extend(eleven);
    let mut v = vec![
        case("4 + garbage", vec![t("4garbage")], Closed(FORCED)),
        case("unknown type 9", vec![t("49")], Closed(FORCED)),
        case(
            "EVENT not an array",
            vec![t(r#"42{"a":1}"#)],
            Closed(FORCED),
        ),
        case("EVENT empty array", vec![t("42[]")], Closed(FORCED)),
        case("EVENT truncated JSON", vec![t(r#"42["x""#)], Closed(FORCED)),
        case("EVENT bad ack id", vec![t(r#"42abc["x"]"#)], Closed(FORCED)),
        case("CONNECT with an array", vec![t("40[1]")], Closed(FORCED)),
        case(
            "too many attachments",
            vec![t(&format!("4511-{}", Value::Array(too_many)))],
            Closed(FORCED),
        ),
        case(
            "placeholder out of range",
            vec![
                t(r#"451-["x",{"_placeholder":true,"num":5}]"#),
                Send::Binary(vec![1]),
            ],
            Closed(FORCED),
        ),
        case(
            "placeholder num not a number",
            vec![
                t(r#"451-["x",{"_placeholder":true,"num":"0"}]"#),
                Send::Binary(vec![1]),
            ],
            Closed(FORCED),
        ),
        case(
            "binary without a pending packet",
            vec![Send::Binary(vec![1, 2])],
            Closed(FORCED),
        ),
        case("duplicate CONNECT", vec![t("40")], Closed(INVALID_STATE)),
        case(
            "CONNECT_ERROR from the client",
            vec![t(r#"44{"message":"x"}"#)],
            Closed(INVALID_STATE),
        ),
        case(
            "DISCONNECT for a namespace not joined",
            vec![t("41/nope,")],
            Closed(INVALID_STATE),
        ),
        case(
            "CONNECT to an unknown namespace",
            vec![t("40/random,")],
            Open(vec![r#"44/random,{"message":"Invalid namespace"}"#.into()]),
        ),
        // Valid, if unusual: Node keeps the connection.
        case("numeric event name", vec![t("42[1]")], Open(vec![])),
        case("ACK without an id", vec![t(r#"43["x"]"#)], Open(vec![])),
        case(
            "ACK for an unknown id",
            vec![t(r#"435["x"]"#)],
            Open(vec![]),
        ),
    ];
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        v.push(Case {
            name: Box::leak(format!("reserved event name {name}").into_boxed_str()),
            connect_first: true,
            frames: vec![t(&format!(r#"42["{name}"]"#))],
            expect: Closed(FORCED),
        });
    }
    for (name, frame) in [
        ("EVENT before CONNECT", r#"42["x"]"#),
        ("ACK before CONNECT", r#"431["x"]"#),
        ("DISCONNECT before CONNECT", "41"),
    ] {
        v.push(Case {
            name,
            connect_first: false,
            frames: vec![t(frame)],
            expect: Closed(&[]),
        });
    }
    v
}

async fn server() -> (Sio, Log) {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket.join("room-x");
            socket.on("ping", |ack: Ack| async move {
                ack.send(&"pong").ok();
            });
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = log.clone();
                async move { log.push("disconnect", (socket.id(), reason.as_str())) }
            });
        }
    });
    (s, log)
}

/// An event with an ack on an open raw connection.
async fn ping(ws: &mut Ws) -> Result<(), String> {
    ws.send_text(r#"421["ping"]"#).await;
    match ws.recv_data().await {
        Frame::Text(t) if t == r#"431["pong"]"# => Ok(()),
        other => Err(format!("ping got {other:?}")),
    }
}

async fn run_case(s: &Sio, log: &Log, c: &Case) -> Result<(), String> {
    let (mut good, _) = raw_connect(s.addr).await;
    let (mut bad, sid) = if c.connect_first {
        let (ws, sid) = raw_connect(s.addr).await;
        (ws, Some(sid))
    } else {
        let (ws, _, _) = Ws::open(s.addr, "/socket.io").await;
        (ws, None)
    };
    for f in &c.frames {
        // The server may close the connection before every frame went out.
        let _ = match f {
            Send::Text(t) => bad.stream.send(WsMessage::text(t.clone())).await,
            Send::Binary(b) => bad.stream.send(WsMessage::binary(b.clone())).await,
        };
    }
    match &c.expect {
        Expect::Closed(reason) => {
            loop {
                match bad.recv().await {
                    Frame::Closed => break,
                    Frame::Text(t) if t == "2" || t == "6" => {}
                    other => return Err(format!("expected the connection closed, got {other:?}")),
                }
            }
            if let Some(sid) = &sid {
                wait_until("the bad socket's disconnect", || {
                    log.all("disconnect").iter().any(|d| d[0] == sid.as_str())
                })
                .await;
                let got: Vec<Value> = log
                    .all("disconnect")
                    .into_iter()
                    .filter(|d| d[0] == sid.as_str())
                    .collect();
                if got.len() != 1 || !reason.iter().any(|r| got[0][1] == *r) {
                    return Err(format!(
                        "the socket left with {got:?}, Node says {reason:?}"
                    ));
                }
            }
        }
        Expect::Open(replies) => {
            for want in replies {
                match bad.recv_data().await {
                    Frame::Text(t) if t == *want => {}
                    other => return Err(format!("expected {want:?}, got {other:?}")),
                }
            }
            ping(&mut bad)
                .await
                .map_err(|e| format!("the connection is still open, but {e}"))?;
            bad.close().await;
        }
    }
    ping(&mut good)
        .await
        .map_err(|e| format!("another connection broke: {e}"))?;
    good.close().await;
    let start = tokio::time::Instant::now();
    while !s.leftovers().is_empty() {
        if start.elapsed() > DEADLINE {
            return Err(format!("left behind: {:?}", s.leftovers()));
        }
        tokio::time::sleep(ms(10)).await;
    }
    Ok(())
}

#[tokio::test]
async fn bad_packets_close_only_their_connection() {
    let (s, log) = server().await;
    let mut failures = Vec::new();
    for c in cases() {
        if let Err(e) = run_case(&s, &log, &c).await {
            failures.push(format!("{}: {e}", c.name));
        }
    }
    assert!(s.io.get_namespace("/random").is_none());
    assert!(s.io.get_namespace("/nope").is_none());
    s.assert_clean().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Node:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

/// The reason sockets leave with when a packet breaks the state machine: Node 4.8 (checked on
/// the wire with these very frames) gives "forced close".
#[tokio::test]
async fn invalid_state_gives_nodes_reason() {
    let (s, log) = server().await;
    let mut failures = Vec::new();
    for (name, frame) in [
        ("duplicate CONNECT", "40"),
        ("CONNECT_ERROR from the client", r#"44{"message":"x"}"#),
        ("DISCONNECT for a namespace not joined", "41/nope,"),
    ] {
        let c = case(name, vec![t(frame)], Expect::Closed(FORCED));
        if let Err(e) = run_case(&s, &log, &c).await {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_connection_that_never_joins_a_namespace_is_closed() {
    let (s, _log) = server().await;
    // connect_timeout is 1 s in these tests.
    let (mut ws, _, _) = Ws::open(s.addr, "/socket.io").await;
    ws.expect_closed().await;
    s.assert_clean().await;
}
