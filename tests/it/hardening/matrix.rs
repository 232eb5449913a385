//! The bad-input matrix: hostile requests, bodies and frames on both transports and both layers,
//! each with the answer the Node server gives (shared/reference/protocol.md, the engine.io and
//! socket.io sources), and after each a well-behaved client on another connection is served.
//!
//! Where we answer differently from Node on purpose the case says so (`ours:`); where we differ
//! by mistake the case is in `DIVERGENT` and its test is ignored until the bug is fixed.

use std::net::SocketAddr;

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

use super::*;
use crate::common::{Polling, Reply, eio_url, read, within, ws_connect};

const P: &str = "/socket.io";

// ---------------------------------------------------------------------------------------------
// A. HTTP requests: the handshake checks, in Node's order.

struct HttpCase {
    name: &'static str,
    method: Method,
    /// `{poll}` and `{ws}` stand for the sid of a polling and of a websocket session.
    query: String,
    /// Expected status and, for JSON error answers, the code.
    status: u16,
    code: Option<u64>,
}

fn http_case(
    name: &'static str,
    method: Method,
    query: &str,
    status: u16,
    code: Option<u64>,
) -> HttpCase {
    HttpCase {
        name,
        method,
        query: query.to_owned(),
        status,
        code,
    }
}

fn http_cases() -> Vec<HttpCase> {
    use Method as M;
    let long_sid = "a".repeat(10_000);
    vec![
        http_case("no transport", M::GET, "EIO=4", 400, Some(0)),
        http_case(
            "unknown transport",
            M::GET,
            "EIO=4&transport=foo",
            400,
            Some(0),
        ),
        http_case(
            "transport webtransport",
            M::GET,
            "EIO=4&transport=webtransport",
            400,
            Some(0),
        ),
        http_case("no EIO", M::GET, "transport=polling", 400, Some(5)),
        http_case(
            "EIO=3 without allow_eio3",
            M::GET,
            "EIO=3&transport=polling",
            400,
            Some(5),
        ),
        http_case("EIO=5", M::GET, "EIO=5&transport=polling", 400, Some(5)),
        http_case(
            "EIO not a number",
            M::GET,
            "EIO=four&transport=polling",
            400,
            Some(5),
        ),
        http_case(
            "POST handshake",
            M::POST,
            "EIO=4&transport=polling",
            400,
            Some(2),
        ),
        http_case(
            "PUT handshake",
            M::PUT,
            "EIO=4&transport=polling",
            400,
            Some(2),
        ),
        http_case(
            "GET unknown sid",
            M::GET,
            "EIO=4&transport=polling&sid=nope",
            400,
            Some(1),
        ),
        http_case(
            "POST unknown sid",
            M::POST,
            "EIO=4&transport=polling&sid=nope",
            400,
            Some(1),
        ),
        http_case(
            "10 KB sid",
            M::GET,
            &format!("EIO=4&transport=polling&sid={long_sid}"),
            400,
            Some(1),
        ),
        http_case(
            "percent-encoded garbage sid",
            M::GET,
            "EIO=4&transport=polling&sid=%FF%FE%00",
            400,
            Some(1),
        ),
        http_case(
            "polling GET with a websocket session's sid",
            M::GET,
            "EIO=4&transport=polling&sid={ws}",
            400,
            Some(3),
        ),
        http_case(
            "polling POST with a websocket session's sid",
            M::POST,
            "EIO=4&transport=polling&sid={ws}",
            400,
            Some(3),
        ),
        http_case(
            "websocket transport without upgrade",
            M::GET,
            "EIO=4&transport=websocket",
            400,
            Some(3),
        ),
        http_case(
            "websocket transport with a polling sid, no upgrade",
            M::GET,
            "EIO=4&transport=websocket&sid={poll}",
            400,
            Some(3),
        ),
    ]
}

async fn run_http_case(addr: SocketAddr, poll: &str, ws: &str, c: &HttpCase) -> Result<(), String> {
    let query = c.query.replace("{poll}", poll).replace("{ws}", ws);
    let url = format!("http://{addr}{P}/?{query}");
    let resp = within(
        "an answer",
        crate::common::http()
            .request(c.method.clone(), &url)
            .body("4x")
            .send(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let r: Reply = read(resp).await;
    if r.status.as_u16() != c.status {
        return Err(format!(
            "status {} (Node: {}), body {:?}",
            r.status, c.status, r.body
        ));
    }
    if let Some(code) = c.code {
        let v: Value = serde_json::from_str(&r.body).map_err(|e| format!("{e}: {:?}", r.body))?;
        if v["code"] != code {
            return Err(format!("answer {v} (Node: code {code})"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// B. Polling bodies on a session whose socket is connected to `/`.

#[derive(Clone, Copy, Debug)]
enum Then {
    /// The session is closed; its socket left with one of these reasons.
    Closed(&'static [&'static str]),
    /// The session goes on (a ping round trip and an ack still work).
    Alive,
}

struct BodyCase {
    name: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    status: u16,
    then: Then,
}

fn body_case(name: &'static str, body: impl Into<Vec<u8>>, status: u16, then: Then) -> BodyCase {
    BodyCase {
        name,
        body: body.into(),
        content_type: None,
        status,
        then,
    }
}

fn body_cases() -> Vec<BodyCase> {
    use Then::*;
    let flood: Vec<u8> = vec![r#"42["echo",1]"#; 500].join("\x1e").into_bytes();
    let nsp_flood: Vec<u8> = vec!["40/nope,"; 500].join("\x1e").into_bytes();
    let deep = format!(r#"42["echo",{}{}]"#, "[".repeat(1000), "]".repeat(1000));
    vec![
        // Node's decodePayload turns an empty segment into an error packet: "parse error".
        body_case("empty body", "", 200, Closed(&["parse error"])),
        body_case("unknown packet type", "9", 200, Closed(&["parse error"])),
        body_case(
            "trailing separator",
            "42[\"echo\",1]\x1e",
            200,
            Closed(&["parse error"]),
        ),
        body_case("bad base64", "b!!!", 200, Closed(&["parse error"])),
        body_case("client ping", "2", 200, Closed(&["transport error"])),
        body_case(
            "message then client ping",
            "42[\"echo\",1]\x1e2",
            200,
            Closed(&["transport error"]),
        ),
        body_case("client close", "1", 200, Closed(&["transport close"])),
        // Types Node's engine socket ignores.
        body_case("open packet from the client", "0", 200, Alive),
        body_case("upgrade packet without upgrade", "5", 200, Alive),
        body_case("noop", "6", 200, Alive),
        body_case("pong without ping", "3", 200, Alive),
        body_case(
            "binary message with no packet waiting",
            "bAQID",
            200,
            Closed(&["forced close"]),
        ),
        // Over maxHttpBufferSize: 413, and Node keeps the session.
        body_case(
            "body one byte over the limit",
            vec![b'4'; LIMIT + 1],
            413,
            Alive,
        ),
        // 500 echoes: the outbox (64) bounds what is queued; direct emits past it fail, the
        // connection stays.
        body_case("flood of 500 events in one body", flood, 200, Alive),
        body_case(
            "flood of 500 CONNECTs to an unknown namespace",
            nsp_flood,
            200,
            Alive,
        ),
        // Accepted (as by Node's JSON.parse): the decoder scans without recursing into a tree;
        // a handler that asks for a typed value meets serde_json's recursion limit instead.
        body_case("JSON nested 1000 deep", deep, 200, Alive),
        // With no GET waiting to carry the close, Node's sockets see "forced server close".
        body_case(
            "second CONNECT",
            "40",
            200,
            Closed(&["forced server close", "forced close"]),
        ),
        BodyCase {
            name: "binary POST (application/octet-stream) on EIO 4",
            body: b"\x04hello".to_vec(),
            content_type: Some("application/octet-stream"),
            status: 400,
            then: Closed(&["transport error"]),
        },
    ]
}

/// A polling session with its socket connected to `/`: the client and the socket id.
async fn polling_socket(addr: SocketAddr) -> (Polling, String) {
    let p = Polling::handshake(addr, P).await;
    p.post_ok("40").await;
    let got = p.recv(1).await;
    let v: Value = serde_json::from_str(&got[0][2..]).unwrap();
    (p, v["sid"].as_str().unwrap().to_owned())
}

/// Whether a polling session still works: what is queued is taken first (an ack sent while
/// the outbox is full would be dropped, by design), then an ack round trip.
async fn polling_alive(p: &Polling) -> Result<(), String> {
    for _ in 0..50 {
        let r = p.get().await;
        if r.status.as_u16() != 200 {
            return Err(format!("GET after the case: {r:?}"));
        }
        let packets = r.packets();
        if packets.iter().any(|p| p == "1") {
            return Err("the session was closed".into());
        }
        let idle = packets.iter().all(|p| p == "2" || p == "6");
        for pk in &packets {
            if pk == "2" {
                p.post_ok("3").await;
            }
        }
        if idle {
            break;
        }
    }
    let r = p.post(r#"4298["ping"]"#).await;
    if r.status.as_u16() != 200 {
        return Err(format!("POST after the case: {r:?}"));
    }
    for _ in 0..50 {
        let r = p.get().await;
        if r.status.as_u16() != 200 {
            return Err(format!("GET after the case: {r:?}"));
        }
        for pk in r.packets() {
            match pk.as_str() {
                "2" => p.post_ok("3").await,
                r#"4398["pong"]"# => return Ok(()),
                "1" => return Err("the session was closed".into()),
                _ => {}
            }
        }
    }
    Err("no ack".into())
}

async fn socket_reason(log: &Log, sid: &str) -> Result<String, String> {
    let start = tokio::time::Instant::now();
    loop {
        let found: Vec<Value> = log
            .all("disconnect")
            .into_iter()
            .filter(|d| d[0] == sid)
            .collect();
        match found.len() {
            0 if start.elapsed() < DEADLINE => tokio::time::sleep(ms(10)).await,
            0 => return Err("the socket never left".into()),
            1 => return Ok(found[0][1].as_str().unwrap_or("").to_owned()),
            _ => return Err(format!("the socket left {} times", found.len())),
        }
    }
}

async fn run_body_case(s: &Sio, log: &Log, c: &BodyCase) -> Result<(), String> {
    let (p, sid) = polling_socket(s.addr).await;
    let mut req = crate::common::http().post(p.url()).body(c.body.clone());
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    let r = read(
        within("the POST", req.send())
            .await
            .map_err(|e| e.to_string())?,
    )
    .await;
    if r.status.as_u16() != c.status {
        return Err(format!(
            "POST answered {} {:?} (Node: {})",
            r.status, r.body, c.status
        ));
    }
    match c.then {
        Then::Closed(reason) => {
            let got = socket_reason(log, &sid).await?;
            if !reason.contains(&got.as_str()) {
                return Err(format!("the socket left with {got:?} (Node: {reason:?})"));
            }
            // Whatever is left is taken by the next GET (or the session is already gone).
            let r = p.get().await;
            if r.status.as_u16() == 200 && !r.packets().iter().any(|p| p == "1") {
                return Err(format!("after the close, a GET got {r:?}"));
            }
        }
        Then::Alive => {
            polling_alive(&p).await?;
            p.post_ok("1").await;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// C. WebSocket frames, on a connection whose socket is connected to `/` (or not, when
//    `connect` is false).

enum F {
    T(String),
    B(Vec<u8>),
    Raw(WsFrame),
}

fn t(s: impl Into<String>) -> F {
    F::T(s.into())
}

struct WsCase {
    name: String,
    connect: bool,
    frames: Vec<F>,
    /// `None`: the connection stays; `Some(reasons)`: it is closed, and a connected socket left
    /// with one of the reasons.
    closed: Option<&'static [&'static str]>,
}

fn ws_case(
    name: impl Into<String>,
    frames: Vec<F>,
    closed: Option<&'static [&'static str]>,
) -> WsCase {
    WsCase {
        name: name.into(),
        connect: true,
        frames,
        closed,
    }
}

const PARSE: Option<&[&str]> = Some(&["parse error"]);
const TRANSPORT_ERROR: Option<&[&str]> = Some(&["transport error"]);
/// A Socket.IO packet that does not parse: Node's client closes the engine connection.
const FORCED: Option<&[&str]> = Some(&["forced close"]);
/// A packet that breaks the state machine (see socketio/bad_input.rs).
const INVALID_STATE: Option<&[&str]> = Some(&["forced close", "forced server close"]);
const OPEN: Option<&[&str]> = None;

fn placeholder(n: usize) -> String {
    format!(r#"{{"_placeholder":true,"num":{n}}}"#)
}

fn ws_cases() -> Vec<WsCase> {
    let mut v = vec![
        // Engine.IO layer.
        ws_case("empty text frame", vec![t("")], PARSE),
        ws_case("unknown engine type 9", vec![t("9")], PARSE),
        ws_case("text frame not a packet", vec![t("hello")], PARSE),
        ws_case("client ping", vec![t("2")], TRANSPORT_ERROR),
        ws_case(
            "client ping probe on an open websocket",
            vec![t("2probe")],
            TRANSPORT_ERROR,
        ),
        ws_case("open packet from the client", vec![t("0")], OPEN),
        ws_case("upgrade packet on a websocket session", vec![t("5")], OPEN),
        ws_case("noop from the client", vec![t("6")], OPEN),
        ws_case("pong without ping", vec![t("3")], OPEN),
        ws_case("close packet", vec![t("1")], Some(&["transport close"])),
        ws_case(
            "invalid UTF-8 in a text frame",
            vec![F::Raw(WsFrame::message(
                b"42[\"echo\",\"\xff\xfe\"]".to_vec(),
                OpCode::Data(Data::Text),
                true,
            ))],
            TRANSPORT_ERROR,
        ),
        ws_case(
            "text frame one byte over maxPayload",
            vec![t(format!(r#"42["echo","{}"]"#, "x".repeat(LIMIT)))],
            TRANSPORT_ERROR,
        ),
        ws_case(
            "binary frame one byte over maxPayload",
            vec![F::B(vec![7; LIMIT + 1])],
            TRANSPORT_ERROR,
        ),
        ws_case(
            "fragmented message over maxPayload in small frames",
            {
                let mut f = vec![F::Raw(WsFrame::message(
                    b"42[\"echo\",\"".to_vec(),
                    OpCode::Data(Data::Text),
                    false,
                ))];
                for _ in 0..11 {
                    f.push(F::Raw(WsFrame::message(
                        vec![b'x'; 1000],
                        OpCode::Data(Data::Continue),
                        false,
                    )));
                }
                f.push(F::Raw(WsFrame::message(
                    b"\"]".to_vec(),
                    OpCode::Data(Data::Continue),
                    true,
                )));
                f
            },
            TRANSPORT_ERROR,
        ),
        ws_case(
            "message of exactly maxPayload",
            vec![t(format!(r#"42["echo","{}"]"#, "x".repeat(LIMIT - 13)))],
            OPEN,
        ),
        ws_case(
            "websocket ping frame with 125 bytes",
            vec![F::Raw(WsFrame::ping(vec![1u8; 125]))],
            OPEN,
        ),
        // Socket.IO layer: truncated packets.
        ws_case(
            "message with no Socket.IO packet",
            vec![t("4")],
            INVALID_STATE,
        ),
        ws_case("BINARY_EVENT without count", vec![t("45")], FORCED),
        ws_case("BINARY_EVENT count without dash", vec![t("451")], FORCED),
        ws_case("BINARY_EVENT header only", vec![t("451-")], FORCED),
        ws_case(
            "EVENT cut in the array",
            vec![t(r#"42["echo",{"a":"#)],
            FORCED,
        ),
        ws_case("CONNECT cut in the object", vec![t(r#"40/x,{"a""#)], FORCED),
        // Wrong types.
        ws_case("EVENT payload a string", vec![t(r#"42"echo""#)], FORCED),
        ws_case("EVENT name an object", vec![t(r#"42[{}]"#)], FORCED),
        ws_case("EVENT name null", vec![t("42[null]")], FORCED),
        ws_case("EVENT name true", vec![t("42[true]")], FORCED),
        ws_case("ACK payload an object", vec![t(r#"431{"a":1}"#)], FORCED),
        ws_case("DISCONNECT with a payload", vec![t("41x")], FORCED),
        ws_case("CONNECT_ERROR payload a number", vec![t("444")], FORCED),
        ws_case(
            "EVENT with a trailing garbage",
            vec![t(r#"42["echo"]x"#)],
            FORCED,
        ),
        // Huge numbers.
        ws_case(
            "argument 1e999 (Infinity in Node)",
            vec![t(r#"42["echo",1e999]"#)],
            OPEN,
        ),
        ws_case(
            "argument a 30-digit integer",
            vec![t(r#"42["echo",123456789012345678901234567890]"#)],
            OPEN,
        ),
        // ours: an ack id must fit in 64 bits (Node reads any digit string as a double).
        ws_case(
            "ack id over 2^64",
            vec![t(r#"4299999999999999999999999["ping"]"#)],
            FORCED,
        ),
        ws_case(
            "attachment count 10^30",
            vec![t(format!(r#"45{}-["echo"]"#, "1".repeat(31)))],
            FORCED,
        ),
        // Nesting.
        ws_case(
            "JSON nested 100 deep",
            vec![t(format!(
                r#"42["echo",{}{}]"#,
                "[".repeat(100),
                "]".repeat(100)
            ))],
            OPEN,
        ),
        // ours: deeper than serde_json's 128 levels is refused (Node's JSON.parse takes it).
        ws_case(
            "JSON nested 3000 deep",
            vec![t(format!(
                r#"42["echo",{}{}]"#,
                "[".repeat(3000),
                "]".repeat(3000)
            ))],
            OPEN,
        ),
        // Attachment counts that lie.
        ws_case(
            "count 2, one placeholder, one attachment, then text",
            vec![
                t(format!(r#"452-["echo",{}]"#, placeholder(0))),
                F::B(vec![1]),
                t(r#"42["echo"]"#),
            ],
            FORCED,
        ),
        ws_case(
            "count 1, two placeholders",
            vec![
                t(format!(
                    r#"451-["echo",{},{}]"#,
                    placeholder(0),
                    placeholder(1)
                )),
                F::B(vec![1]),
            ],
            FORCED,
        ),
        ws_case(
            "count 1, no placeholder (Node accepts)",
            vec![t(r#"451-["echo"]"#), F::B(vec![1])],
            OPEN,
        ),
        ws_case(
            "10 attachments (the limit)",
            {
                let ph: Vec<String> = (0..10).map(placeholder).collect();
                let mut f = vec![t(format!(r#"4510-["echo",{}]"#, ph.join(",")))];
                f.extend((0..10).map(|i| F::B(vec![i])));
                f
            },
            OPEN,
        ),
        ws_case(
            "placeholder with a negative index",
            vec![
                t(r#"451-["echo",{"_placeholder":true,"num":-1}]"#),
                F::B(vec![1]),
            ],
            FORCED,
        ),
        // Binary where text is expected, and the reverse.
        ws_case(
            "binary frame with no packet waiting",
            vec![F::B(b"42[\"echo\"]".to_vec())],
            FORCED,
        ),
        ws_case(
            "binary ACK for an unknown id",
            vec![t(format!("461-[{}]", placeholder(0))), F::B(vec![9])],
            OPEN,
        ),
        // Odd but valid.
        ws_case(
            "event name of 9000 characters",
            vec![t(format!(r#"42["{}"]"#, "e".repeat(9000)))],
            OPEN,
        ),
        ws_case(
            "CONNECT to a 9000-character unknown namespace",
            vec![t(format!("40/{},", "n".repeat(9000)))],
            OPEN,
        ),
        ws_case(
            "event with an ack id and no handler",
            vec![t(r#"425["nohandler"]"#)],
            OPEN,
        ),
        ws_case(
            "EVENT for a namespace not joined",
            vec![t(r#"42/admin,["x"]"#)],
            INVALID_STATE,
        ),
        // Floods.
        ws_case(
            "1000 events with no handler",
            (0..1000).map(|_| t(r#"42["nohandler",1]"#)).collect(),
            OPEN,
        ),
        ws_case(
            "300 echoes (outbox of 64)",
            (0..300).map(|_| t(r#"42["echo",1]"#)).collect(),
            OPEN,
        ),
        ws_case(
            "200 CONNECTs to unknown namespaces",
            (0..200).map(|i| t(format!("40/nope{i},"))).collect(),
            OPEN,
        ),
    ];
    // Before CONNECT: the connection closes, no socket existed.
    for (name, frames) in [
        (
            "flood of 1000 events before CONNECT",
            (0..1000).map(|_| t(r#"42["x"]"#)).collect::<Vec<_>>(),
        ),
        ("binary frame before CONNECT", vec![F::B(vec![1, 2, 3])]),
        ("base64 text frame before CONNECT", vec![t("bAQID")]),
        ("ACK before CONNECT", vec![t(r#"430["x"]"#)]),
    ] {
        v.push(WsCase {
            name: name.to_owned(),
            connect: false,
            frames,
            closed: Some(&[]),
        });
    }
    v
}

async fn run_ws_case(s: &Sio, log: &Log, c: &WsCase) -> Result<(), String> {
    let (mut ws, sid) = if c.connect {
        let (ws, sid) = raw_connect(s.addr).await;
        (ws, Some(sid))
    } else {
        let (ws, _, _) = Ws::open(s.addr, P).await;
        (ws, None)
    };
    for f in &c.frames {
        // The server may close the connection before every frame went out.
        let msg = match f {
            F::T(t) => WsMessage::text(t.clone()),
            F::B(b) => WsMessage::binary(b.clone()),
            F::Raw(frame) => WsMessage::Frame(frame.clone()),
        };
        if ws.stream.send(msg).await.is_err() {
            break;
        }
    }
    match c.closed {
        Some(reasons) => {
            // Everything but the close is skipped (replies that left before it).
            loop {
                if let Frame::Closed = ws.recv().await {
                    break;
                }
            }
            if let Some(sid) = &sid {
                let got = socket_reason(log, sid).await?;
                if !reasons.contains(&got.as_str()) {
                    return Err(format!("the socket left with {got:?} (Node: {reasons:?})"));
                }
            }
        }
        None => {
            ping(&mut ws)
                .await
                .map_err(|e| format!("the connection should stay open, but {e}"))?;
            ws.close().await;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// D. Requests that need a raw connection, and the other transport's sids.

async fn specials(s: &Sio, log: &Log) -> Vec<(String, Result<(), String>)> {
    let mut out = Vec::new();
    let addr = s.addr;

    // Origin with a control character: Node's HTTP parser (llhttp) refuses the header with a
    // bare 400, as hyper does; engine.io's own check (400 code 3) only meets it behind a lenient
    // parser.
    let (status, text) = raw_http(
        addr,
        &format!("GET {P}/?EIO=4&transport=polling HTTP/1.1\nHost: x\nOrigin: http://a\x01b"),
        b"",
    )
    .await;
    out.push((
        "Origin header with a control character".to_owned(),
        check(status == 400, format!("{status} {text:?}")),
    ));

    // A Content-Length over the limit is refused before the body is read; the session stays.
    let (p, _) = polling_socket(addr).await;
    let (status, text) = raw_http(
        addr,
        &format!(
            "POST {P}/?EIO=4&transport=polling&sid={} HTTP/1.1\nHost: x\nContent-Length: {}",
            p.sid,
            LIMIT * 10
        ),
        b"40",
    )
    .await;
    let alive = polling_alive(&p).await;
    p.post_ok("1").await;
    out.push((
        "Content-Length over the limit, short body".to_owned(),
        check(status == 413, format!("{status} {text:?}")).and(alive),
    ));

    // Headers of 512 KiB: refused by the HTTP server with 431 (Node's limit is 16 KiB, hyper's
    // about 400 KiB: a setting of the HTTP server the layer runs in, not of the layer).
    let big = "c".repeat(512 * 1024);
    let (status, text) = raw_http(
        addr,
        &format!("GET {P}/?EIO=4&transport=polling HTTP/1.1\nHost: x\nCookie: {big}"),
        b"",
    )
    .await;
    out.push((
        "512 KiB of headers".to_owned(),
        check(
            status == 431,
            format!("{status} {:?}", &text[..text.len().min(80)]),
        ),
    ));

    // A second GET while one is pending: 400 for it, `1` for the first, the session closes.
    let (p, sid) = polling_socket(addr).await;
    let first = tokio::spawn({
        let url = p.url();
        async move { crate::common::get(&url).await }
    });
    tokio::time::sleep(ms(50)).await;
    let second = p.get().await;
    let first = first.await.unwrap();
    let reason = socket_reason(log, &sid).await;
    out.push((
        "overlapping GET".to_owned(),
        check(
            second.status.as_u16() == 400 && first.packets().iter().any(|p| p == "1"),
            format!("second {second:?}, first {first:?}"),
        )
        .and(match reason {
            Ok(r) if r == "transport error" => Ok(()),
            other => Err(format!(
                "socket left with {other:?} (Node: transport error)"
            )),
        }),
    ));

    // A POST while another is still being read: 400 "data request overlap", session closed.
    let (p, sid) = polling_socket(addr).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {P}/?EIO=4&transport=polling&sid={} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n42",
        p.sid
    );
    tokio::io::AsyncWriteExt::write_all(&mut slow, head.as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    let second = p.post("42[\"echo\",2]").await;
    let reason = socket_reason(log, &sid).await;
    drop(slow);
    out.push((
        "overlapping POST".to_owned(),
        check(second.status.as_u16() == 400, format!("{second:?}")).and(match reason {
            Ok(r) if r == "transport error" => Ok(()),
            other => Err(format!(
                "socket left with {other:?} (Node: transport error)"
            )),
        }),
    ));

    // A websocket for the sid of a websocket session, never probing: accepted, then closed
    // after upgradeTimeout; the session goes on.
    let (mut ws, socket_id) = raw_connect(addr).await;
    let eio_sid =
        s.io.sockets()
            .sockets()
            .into_iter()
            .find(|so| so.id() == socket_id)
            .map(|so| so.conn().id().to_owned());
    let r = match eio_sid {
        None => Err("no session".to_owned()),
        Some(eio) => match ws_connect(addr, P, &format!("&sid={eio}")).await {
            Ok(mut other) => {
                let closed = matches!(other.recv().await, Frame::Closed);
                let alive = ping(&mut ws).await;
                check(closed, "the second websocket was not closed".into()).and(alive)
            }
            Err(e) => Err(format!("refused: {e}")),
        },
    };
    ws.close().await;
    out.push((
        "websocket with the sid of a websocket session, no probe".to_owned(),
        r,
    ));

    // A websocket for an unknown sid: a plain 400.
    let r = ws_connect(addr, P, "&sid=nope").await;
    out.push((
        "websocket with an unknown sid".to_owned(),
        check(crate::common::refused_status(r) == 400, "not 400".into()),
    ));

    // A websocket upgrade without Sec-WebSocket-Key, and with version 12: 400.
    for (name, headers) in [
        (
            "websocket upgrade without a key",
            "Sec-WebSocket-Version: 13",
        ),
        (
            "websocket upgrade version 12",
            "Sec-WebSocket-Version: 12\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ),
    ] {
        let (status, text) = raw_http(
            addr,
            &format!(
                "GET {P}/?EIO=4&transport=websocket HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n{headers}"
            ),
            b"",
        )
        .await;
        out.push((
            name.to_owned(),
            check(status == 400, format!("{status} {text:?}")),
        ));
    }

    // After an upgrade, a polling request for the sid: 400 code 3.
    let p = Polling::handshake(addr, P).await;
    p.post_ok("40").await;
    let _ = p.recv(1).await;
    let r = async {
        let mut ws = ws_connect(addr, P, &format!("&sid={}", p.sid))
            .await
            .map_err(|e| e.to_string())?;
        ws.send_text("2probe").await;
        if ws.recv_text().await != "3probe" {
            return Err("no 3probe".to_owned());
        }
        ws.send_text("5").await;
        tokio::time::sleep(ms(50)).await;
        let r = crate::common::get(&eio_url(
            addr,
            P,
            &format!("transport=polling&sid={}", p.sid),
        ))
        .await;
        let ok = r.status.as_u16() == 400 && r.body.contains(r#""code":3"#);
        let alive = ping(&mut ws).await;
        ws.close().await;
        check(ok, format!("{r:?}")).and(alive)
    }
    .await;
    out.push(("polling GET after the upgrade".to_owned(), r));
    out
}

fn check(ok: bool, what: String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what) }
}

// ---------------------------------------------------------------------------------------------
// The matrix

#[tokio::test]
async fn bad_input_matrix() {
    let t0 = std::time::Instant::now();
    let (s, log) = server(strict()).await;
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    let mut total = 0;

    // A: the sessions whose sids the cases borrow live on a quiet server (no heartbeat to answer).
    {
        let (q, _) = server(
            strict()
                .ping_interval(std::time::Duration::from_secs(20))
                .ping_timeout(std::time::Duration::from_secs(20))
                .connect_timeout(std::time::Duration::from_secs(20)),
        )
        .await;
        let poll = Polling::handshake(q.addr, P).await;
        let (ws, _, json) = Ws::open(q.addr, P).await;
        let ws_sid = json["sid"].as_str().unwrap().to_owned();
        for c in http_cases() {
            total += 1;
            let r = run_http_case(q.addr, &poll.sid, &ws_sid, &c).await;
            eprintln!("{:?} A. {}: {r:?}", t0.elapsed(), c.name);
            results.push((format!("A. {}", c.name), r));
        }
        ws.close().await;
        poll.post_ok("1").await;
    }
    for c in body_cases() {
        total += 1;
        let r = run_body_case(&s, &log, &c).await;
        let r = match r {
            Ok(()) => healthy(s.addr).await,
            e => e,
        };
        eprintln!("{:?} B. {}: {r:?}", t0.elapsed(), c.name);
        results.push((format!("B. {}", c.name), r));
    }
    for c in ws_cases() {
        total += 1;
        let r = run_ws_case(&s, &log, &c).await;
        let r = match r {
            Ok(()) => healthy(s.addr).await,
            e => e,
        };
        eprintln!("{:?} C. {}: {r:?}", t0.elapsed(), c.name);
        results.push((format!("C. {}", c.name), r));
    }
    // D runs on a server whose heartbeat does not need answering while a case waits.
    let (d, dlog) = server(
        strict()
            .ping_interval(std::time::Duration::from_secs(5))
            .ping_timeout(std::time::Duration::from_secs(5)),
    )
    .await;
    for (name, r) in specials(&d, &dlog).await {
        total += 1;
        let r = match r {
            Ok(()) => healthy(s.addr).await,
            e => e,
        };
        eprintln!("{:?} D. {name}: {r:?}", t0.elapsed());
        results.push((format!("D. {name}"), r));
    }
    let clean = until_clean(&s.io).await.and(until_clean(&d.io).await);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}")))
        .collect();
    assert!(total >= 60, "only {total} cases");
    assert!(
        failures.is_empty() && clean.is_ok(),
        "{} of {total} cases differ from Node:\n{}\n{clean:?}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Where we answer differently from Node by mistake. Each case says what Node answers; the test
// is ignored until the library follows it (see docs/reliability.md).

fn divergent_ws_cases() -> Vec<WsCase> {
    vec![
        // Node's ws rejects the code (1002) and emits "error": "transport error". Ours: the
        // close frame is taken as a client close, "transport close".
        ws_case(
            "close frame with the reserved code 1004",
            vec![F::Raw(WsFrame::close(Some(CloseFrame {
                code: CloseCode::from(1004),
                reason: "".into(),
            })))],
            TRANSPORT_ERROR,
        ),
        // Node's engine.io-parser decodes a text packet starting with `b` as a base64 binary
        // message on every transport, websocket included: here a binary message that the
        // Socket.IO decoder refuses (no packet waiting) → "forced close". Ours: the engine
        // refuses the frame, "parse error".
        ws_case(
            "base64 text frame on a connected socket",
            vec![t("bAQID")],
            FORCED,
        ),
    ]
}

fn divergent_body_cases() -> Vec<BodyCase> {
    vec![
        // Node reads a text POST as UTF-8 with replacement characters, hands "\u{fffd}\u{fffd}"
        // to the Socket.IO decoder, which throws: the engine connection is closed, "forced
        // close". Ours: the engine refuses the payload, "parse error".
        body_case(
            "invalid UTF-8 in a text POST",
            b"4\xff\xfe".to_vec(),
            200,
            Then::Closed(&["forced close"]),
        ),
    ]
}

fn divergent_http_cases() -> Vec<HttpCase> {
    vec![
        // Node's polling transport answers a method other than GET/POST with a bare 500.
        // Ours: 400.
        http_case(
            "PUT with a polling sid",
            Method::PUT,
            "EIO=4&transport=polling&sid={poll}",
            500,
            None,
        ),
        // Node's query parser makes a repeated `transport` an array, which is no known
        // transport: 400 code 0. Ours: the last one wins, and a session opens.
        http_case(
            "transport given twice",
            Method::GET,
            "EIO=4&transport=websocket&transport=polling",
            400,
            Some(0),
        ),
    ]
}

/// A second websocket for a websocket session that completes the probe: Node's
/// `maybeUpgrade` switches the session to it and closes the first one (`clearTransport`); the
/// session goes on over the second.
async fn websocket_takeover(addr: SocketAddr, io: &Io) -> Result<(), String> {
    let (mut first, socket_id) = raw_connect(addr).await;
    let eio = io
        .sockets()
        .sockets()
        .into_iter()
        .find(|so| so.id() == socket_id)
        .map(|so| so.conn().id().to_owned())
        .ok_or("no session")?;
    let mut second = ws_connect(addr, P, &format!("&sid={eio}"))
        .await
        .map_err(|e| e.to_string())?;
    second.send_text("2probe").await;
    match second.recv().await {
        Frame::Text(t) if t == "3probe" => {}
        other => return Err(format!("probe answered {other:?}")),
    }
    second.send_text("5").await;
    let (old_closed, new_works) = tokio::join!(
        async {
            tokio::time::timeout(ms(1500), async {
                loop {
                    match first.recv().await {
                        Frame::Closed => return true,
                        Frame::Text(t) if t == "2" => {
                            let _ = first.stream.send(WsMessage::text("3")).await;
                        }
                        _ => {}
                    }
                }
            })
            .await
            .unwrap_or(false)
        },
        async {
            tokio::time::sleep(ms(300)).await;
            ping(&mut second).await
        }
    );
    second.close().await;
    check(
        old_closed,
        "the first websocket is still open: two transports serve one session".into(),
    )
    .and(new_works)
}

#[tokio::test]
#[ignore = "differs from Node: a close frame with code 1004 gives \"transport close\" (Node: \"transport error\"), and invalid UTF-8 in a POST gives \"parse error\" (Node: \"forced close\"); see docs/reliability.md"]
async fn divergent_inputs() {
    let (s, log) = server(strict()).await;
    let mut failures = Vec::new();
    for c in divergent_ws_cases() {
        if let Err(e) = run_ws_case(&s, &log, &c).await {
            failures.push(format!("{}: {e}", c.name));
        }
    }
    for c in divergent_body_cases() {
        if let Err(e) = run_body_case(&s, &log, &c).await {
            failures.push(format!("{}: {e}", c.name));
        }
    }
    // On a server whose heartbeat cannot close the first websocket in the meantime.
    let (q, _) = server(
        strict()
            .ping_interval(std::time::Duration::from_secs(5))
            .ping_timeout(std::time::Duration::from_secs(5)),
    )
    .await;
    if let Err(e) = websocket_takeover(q.addr, &q.io).await {
        failures.push(format!("websocket takeover of a websocket session: {e}"));
    }
    let poll = Polling::handshake(s.addr, P).await;
    for c in divergent_http_cases() {
        if let Err(e) = run_http_case(s.addr, &poll.sid, "", &c).await {
            failures.push(format!("{}: {e}", c.name));
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
