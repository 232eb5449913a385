//! Engine.IO v3 and Socket.IO protocol v4 on the wire, request by request (shared/reference/
//! protocol.md, "Engine.IO v3" and "Socket.IO v4"): length-prefixed payloads counted in UTF-16
//! units, the XHR2 binary payload, `b64=1`, JSONP, the heartbeat run by the client, binary
//! websocket frames with their type byte, the upgrade, the implicit connection to `/`, auth in
//! the namespace query, ERROR packets with a string.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_socketio::SocketIoLayer;
use axum_socketio::engine::{EngineIoBuilder, EngineIoLayer, Message};
use http::HeaderMap;
use reqwest::StatusCode;

use super::*;
use crate::common::{Frame, Recorder, http, ms, serve, wait_until, within};

const P: &str = "/engine.io";

struct Engine {
    addr: SocketAddr,
    rec: Recorder,
}

async fn engine(b: EngineIoBuilder) -> Engine {
    let rec = Recorder::echo();
    let layer = b.build(rec.clone());
    let addr = serve(Router::new().layer(layer)).await;
    Engine { addr, rec }
}

fn v3() -> EngineIoBuilder {
    EngineIoLayer::builder()
        .allow_eio3(true)
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20))
}

fn url(addr: SocketAddr, path: &str, query: &str) -> String {
    format!("http://{addr}{path}/?EIO=3&{query}")
}

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Raw {
    let r = within("an HTTP answer", req.send()).await.unwrap();
    Raw {
        status: r.status(),
        headers: r.headers().clone(),
        body: within("a body", r.bytes()).await.unwrap().to_vec(),
    }
}

async fn get(url: &str) -> Raw {
    send(http().get(url)).await
}

async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Raw {
    let r = send(
        http()
            .post(url)
            .header("content-type", content_type)
            .body(body),
    )
    .await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "ok"), "POST answer");
    r
}

/// Splits a v3 text payload into its packets, checking every length in UTF-16 units.
fn packets(payload: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':').expect("a length prefix");
        let n: usize = len.parse().unwrap();
        let mut units = 0;
        let end = after
            .char_indices()
            .find_map(|(i, c)| {
                let at = (units == n).then_some(i);
                units += c.len_utf16();
                at
            })
            .unwrap_or(after.len());
        let packet = &after[..end];
        assert_eq!(packet.encode_utf16().count(), n, "length of {packet:?}");
        out.push(packet.to_owned());
        rest = &after[end..];
    }
    out
}

/// `<utf-16 length>:<packet>` for each packet.
fn payload(items: &[&str]) -> String {
    items
        .iter()
        .map(|p| format!("{}:{p}", p.encode_utf16().count()))
        .collect()
}

/// A v3 polling handshake on `path` with `query`: the sid and the open packet's JSON.
async fn handshake(addr: SocketAddr, path: &str, query: &str) -> (String, Value) {
    let r = get(&url(addr, path, &format!("transport=polling&{query}"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    let all = packets(r.text());
    let open = all[0].strip_prefix('0').expect("an open packet");
    let json: Value = serde_json::from_str(open).unwrap();
    (json["sid"].as_str().unwrap().to_owned(), json)
}

fn polling(addr: SocketAddr, path: &str, sid: &str) -> String {
    url(addr, path, &format!("transport=polling&sid={sid}"))
}

#[tokio::test]
async fn eio3_is_refused_unless_allowed() {
    let e = engine(EngineIoLayer::builder()).await;
    let r = get(&url(e.addr, P, "transport=polling")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({ "code": 5, "message": "Unsupported protocol version" })
    );
    let ws = crate::common::ws_connect_url(
        e.addr,
        &format!("ws://{}{P}/?EIO=3&transport=websocket", e.addr),
    )
    .await;
    assert_eq!(crate::common::refused_status(ws), 400);

    // With allow_eio3, only EIO=3 itself is the legacy protocol.
    let e = engine(v3()).await;
    for eio in ["EIO=abc&", "EIO=2&", ""] {
        let r = get(&format!("http://{}{P}/?{eio}transport=polling", e.addr)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{eio}");
    }
    assert!(e.rec.opened().is_empty());
}

#[tokio::test]
async fn eio3_polling_payloads_count_utf16_units() {
    let e = engine(v3()).await;
    let (sid, open) = handshake(e.addr, P, "").await;
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], 20000);
    assert_eq!(open["pingTimeout"], 20000);
    let u = polling(e.addr, P, &sid);

    let body = payload(&["4héllo", "4😀😀", "4plain"]);
    post(&u, "text/plain;charset=UTF-8", body.clone()).await;
    let msgs = e.rec.wait_messages(&sid, 3).await;
    assert_eq!(
        msgs,
        vec![
            Message::from("héllo"),
            Message::from("😀😀"),
            Message::from("plain")
        ]
    );
    // The echoes were queued while the POST was handled: one GET carries them all.
    let r = get(&u).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.text(), body);
    assert_eq!(packets(r.text()), ["4héllo", "4😀😀", "4plain"]);

    // A length that does not match closes the session ("parse error"), as Node does.
    post(&u, "text/plain;charset=UTF-8", "9:4short").await;
    assert_eq!(e.rec.wait_closed(&sid).await, "parse error");
}

#[tokio::test]
async fn eio3_binary_payload_and_b64() {
    let e = engine(v3()).await;
    // Without b64: binary messages travel in the XHR2 binary payload, both ways.
    let (sid, _) = handshake(e.addr, P, "").await;
    let u = polling(e.addr, P, &sid);
    let mut body = vec![0u8, 3, 255];
    body.extend_from_slice(b"4hi");
    body.extend_from_slice(&[1, 4, 255, 4, 1, 2, 3]);
    post(&u, "application/octet-stream", body.clone()).await;
    let msgs = e.rec.wait_messages(&sid, 2).await;
    assert_eq!(
        msgs,
        vec![Message::from("hi"), Message::from(vec![1u8, 2, 3])]
    );
    // Both echoes in one GET: a binary payload, the text packet in it as well.
    let r = get(&u).await;
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, body);
    // Text only: a text payload.
    post(&u, "text/plain;charset=UTF-8", "3:4hi").await;
    assert_eq!(get(&u).await.text(), "3:4hi");

    // With b64=1: binary as `b4<base64>` in the text payload, both ways.
    let (sid, _) = handshake(e.addr, P, "b64=1").await;
    let u = polling(e.addr, P, &sid);
    post(&u, "text/plain;charset=UTF-8", "6:b4AQID").await;
    assert_eq!(
        e.rec.wait_messages(&sid, 1).await,
        vec![Message::from(vec![1u8, 2, 3])]
    );
    let r = get(&u).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.text(), "6:b4AQID");
}

#[tokio::test]
async fn eio3_heartbeat_is_run_by_the_client() {
    let e = engine(
        EngineIoLayer::builder()
            .allow_eio3(true)
            .ping_interval(ms(200))
            .ping_timeout(ms(200)),
    )
    .await;
    let (sid, _) = handshake(e.addr, P, "b64=1").await;
    let u = polling(e.addr, P, &sid);
    // Pinging every 100 ms keeps the session well past interval + timeout; the server answers
    // each ping and never pings itself.
    for _ in 0..8 {
        post(&u, "text/plain;charset=UTF-8", "1:2").await;
        assert_eq!(packets(get(&u).await.text()), ["3"]);
        tokio::time::sleep(ms(100)).await;
    }
    assert!(!e.rec.is_closed(&sid));
    // Silence: closed after ping_interval + ping_timeout.
    assert_eq!(e.rec.wait_closed(&sid).await, "ping timeout");

    // A pong from a v3 client is the wrong direction.
    let (sid, _) = handshake(e.addr, P, "b64=1").await;
    post(&polling(e.addr, P, &sid), "text/plain;charset=UTF-8", "1:3").await;
    assert_eq!(e.rec.wait_closed(&sid).await, "transport error");
}

#[tokio::test]
async fn eio3_websocket_frames_carry_the_type_byte() {
    let e = engine(
        EngineIoLayer::builder()
            .allow_eio3(true)
            .ping_interval(ms(200))
            .ping_timeout(ms(200)),
    )
    .await;
    let mut ws = crate::common::ws_connect_url(
        e.addr,
        &format!("ws://{}{P}/?EIO=3&transport=websocket", e.addr),
    )
    .await
    .unwrap();
    let open = ws.recv_text().await;
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], json!([]));
    let sid = open["sid"].as_str().unwrap().to_owned();

    ws.send_binary(&[4, 1, 2, 3]).await;
    assert_eq!(ws.recv().await, Frame::Binary(vec![4, 1, 2, 3]));
    assert_eq!(e.rec.messages(&sid), vec![Message::from(vec![1u8, 2, 3])]);
    ws.send_text("4héllo").await;
    assert_eq!(ws.recv().await, Frame::Text("4héllo".into()));

    // The client pings, the server answers; no ping ever comes from the server.
    for _ in 0..6 {
        ws.send_text("2").await;
        assert_eq!(ws.recv().await, Frame::Text("3".into()));
        tokio::time::sleep(ms(100)).await;
    }
    assert!(!e.rec.is_closed(&sid));
    ws.expect_closed().await;
    assert_eq!(e.rec.wait_closed(&sid).await, "ping timeout");
}

#[tokio::test]
async fn eio3_upgrade_from_polling() {
    let e = engine(v3()).await;
    let (sid, _) = handshake(e.addr, P, "").await;
    let u = polling(e.addr, P, &sid);
    let pending = tokio::spawn({
        let u = u.clone();
        async move { get(&u).await }
    });
    let mut ws = crate::common::ws_connect_url(
        e.addr,
        &format!("ws://{}{P}/?EIO=3&transport=websocket&sid={sid}", e.addr),
    )
    .await
    .unwrap();
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, Frame::Text("3probe".into()));
    // The pending GET lets go with a noop, in the v3 framing.
    assert_eq!(pending.await.unwrap().text(), "1:6");
    ws.send_text("5").await;
    ws.send_binary(&[4, 9]).await;
    assert_eq!(ws.recv().await, Frame::Binary(vec![4, 9]));
    ws.send_text("2").await;
    assert_eq!(ws.recv().await, Frame::Text("3".into()));
    // Polling is over for this session.
    assert_eq!(get(&u).await.status, StatusCode::BAD_REQUEST);
    ws.close().await;
    assert_eq!(e.rec.wait_closed(&sid).await, "transport close");
}

#[tokio::test]
async fn jsonp_polling() {
    let e = engine(v3()).await;
    let r = get(&url(e.addr, P, "transport=polling&j=4&b64=1")).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    let js = r.text();
    let inner = js
        .strip_prefix("___eio[4](")
        .and_then(|s| s.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a JSONP answer: {js}"));
    let first: String = serde_json::from_str(inner).unwrap();
    let open: Value = serde_json::from_str(&packets(&first)[0][1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    let u = url(e.addr, P, &format!("transport=polling&j=4&b64=1&sid={sid}"));

    // The JSONP client escapes newlines as `\n` and sends the payload as the form field `d`.
    let body = payload_escaped(&payload(&["4line1\nline2", "4back\\nslash"]));
    post(&u, "application/x-www-form-urlencoded", format!("d={body}")).await;
    assert_eq!(
        e.rec.wait_messages(&sid, 2).await,
        vec![Message::from("line1\nline2"), Message::from("back\\nslash")]
    );
    let mut got = Vec::new();
    while got.len() < 2 {
        let js = get(&u).await.text().to_owned();
        let inner = js
            .strip_prefix("___eio[4](")
            .and_then(|s| s.strip_suffix(");"))
            .unwrap();
        let text: String = serde_json::from_str(inner).unwrap();
        got.extend(packets(&text));
    }
    assert_eq!(got, ["4line1\nline2", "4back\\nslash"]);

    // Engine.IO v4 has JSONP too.
    let r = get(&format!(
        "http://{}{P}/?EIO=4&transport=polling&j=0",
        e.addr
    ))
    .await;
    assert!(r.text().starts_with("___eio[0](\"0{"), "{}", r.text());
}

/// What the JSONP client posts: backslash-n escaped twice, newlines as `\n`, form-encoded.
fn payload_escaped(p: &str) -> String {
    let escaped = p.replace("\\n", "\\\\n").replace('\n', "\\n");
    escaped
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Socket.IO protocol v4 on the wire

#[tokio::test]
async fn legacy_socketio_packets() {
    // No client ping in this test: a heartbeat window far away.
    let (s, log) = app(SocketIoLayer::builder()
        .allow_eio3(true)
        .ping_interval(Duration::from_secs(20)))
    .await;
    let path = "/socket.io";
    let (sid, _) = handshake(s.addr, path, "b64=1").await;
    let u = polling(s.addr, path, &sid);

    // Joined to `/` without asking: `0` without payload, the socket id is the session id.
    let mut seen = Vec::new();
    let mut next = async || -> String {
        loop {
            if !seen.is_empty() {
                return seen.remove(0);
            }
            for p in packets(get(&u).await.text()) {
                match p.as_str() {
                    "3" | "6" => {}
                    _ => seen.push(p),
                }
            }
        }
    };
    assert_eq!(next().await, "40");
    assert_eq!(log.one("connected").await["id"], sid.as_str());

    // Auth in the namespace's query.
    post(&u, "text/plain", payload(&["40/admin?token=abc&x=%C3%A9,"])).await;
    assert_eq!(next().await, "40/admin,");
    let welcome = next().await;
    let welcome: Value = serde_json::from_str(welcome.strip_prefix("42/admin,").unwrap()).unwrap();
    assert_eq!(
        welcome,
        json!(["welcome", { "id": format!("/admin#{sid}"), "auth": { "token": "abc", "x": "é" } }])
    );

    // Refusals are ERROR packets with a string.
    post(
        &u,
        "text/plain",
        payload(&["41/admin,", "40/admin?token=no,"]),
    )
    .await;
    assert_eq!(next().await, r#"44/admin,"Not authorized""#);
    post(&u, "text/plain", payload(&["40/nope,"])).await;
    assert_eq!(next().await, r#"44/nope,"Invalid namespace""#);

    // Events and binary events are the v5 ones.
    post(&u, "text/plain", payload(&[r#"42["echo","é",1]"#])).await;
    assert_eq!(next().await, r#"42["echo-back","é",1]"#);
    post(
        &u,
        "text/plain",
        payload(&[r#"451-["echo",{"_placeholder":true,"num":0}]"#, "b4AQID"]),
    )
    .await;
    assert_eq!(
        next().await,
        r#"451-["echo-back",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(next().await, "b4AQID");

    // Client pings keep it up; DISCONNECT leaves `/`.
    post(&u, "text/plain", payload(&["2", "41"])).await;
    wait_until("the socket of / to leave", || s.count() == 0).await;
}
