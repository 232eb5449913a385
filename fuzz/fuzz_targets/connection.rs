//! A whole Socket.IO server, in process: arbitrary sequences of polling requests (POST bodies
//! made of valid and invalid packets, long-poll GETs, overlapping requests, binary POSTs, odd
//! queries), server-side emits and broadcasts with acks, and the passing of (virtual) time, which
//! fires heartbeats, ping timeouts and the connect timeout. After every input the client says
//! goodbye and time passes: every pending request must be answered, every ack resolved, and the
//! session, socket and room tables must be empty again.
//!
//! One server serves every input (a fresh Tokio runtime per input): a built server is never
//! freed (see docs/reliability.md, "found"), and leftovers of one input would fail the next.
//!
//! Runs on a paused-clock Tokio runtime (no sockets, no real waiting). WebSocket frames reach the
//! same code (`decode_text` and the message path) and are covered by `eio_packet`, `sio_parser`
//! and the bad-input matrix of `tests/it/hardening`.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body as AxBody;
use axum_socketio::{Ack, Args, ConnectError, Io, Socket, SocketIoLayer};
use base64::Engine as _;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const KNOWN: &[&str] = &[
    "40",
    "40/admin,",
    "40/admin,{\"token\":1}",
    "40{\"x\":1}",
    "42[\"echo\",1]",
    "421[\"ack\",\"x\"]",
    "42[\"join\",\"r\"]",
    "42[\"bcast\",{\"a\":[1,2]}]",
    "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]",
    "bAQID",
    "3",
    "2",
    "1",
    "5",
    "6",
    "41",
    "41/admin,",
    "43",
    "430[1]",
    "2probe",
    "3probe",
    "b",
    "4",
    "0",
    "42/admin,[\"echo\"]",
    "452-[\"ack\",{\"_placeholder\":true,\"num\":1}]",
    "42[\"disconnect\"]",
];

#[derive(Debug, Arbitrary)]
enum Piece {
    Known(u8),
    Raw(String),
    Binary(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Post(Vec<Piece>),
    PostBytes(Vec<u8>),
    PostOctetStream(Vec<u8>),
    Get,
    Wait(u16),
    Emit(u8),
    EmitWithAck(u8),
    OtherRequest(u8),
    SecondSession,
}

fn body_of(pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(0x1e);
        }
        match p {
            Piece::Known(k) => {
                out.extend_from_slice(KNOWN[usize::from(*k) % KNOWN.len()].as_bytes())
            }
            Piece::Raw(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Binary(b) => {
                out.push(b'b');
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(b)
                        .as_bytes(),
                );
            }
        }
    }
    out
}

fn server() -> (Io, Router) {
    let layer = SocketIoLayer::builder()
        .serve_client(false)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(4096)
        .max_buffered_packets(8)
        .build();
    let io = layer.io();
    io.on_connection(|socket: Socket| async move {
        socket.join("all");
        socket.on("echo", |socket: Socket, args: Args| async move {
            let _ = socket.emit_args("echo", args);
        });
        socket.on("ack", |args: Args, ack: Ack| async move {
            let _ = ack.send_args(args);
        });
        socket.on(
            "join",
            |socket: Socket, axum_socketio::Data(room): axum_socketio::Data<String>| async move {
                socket.join(room);
            },
        );
        socket.on("bcast", |io: Io, args: Args| async move {
            io.to("all").emit_args("msg", args);
        });
    });
    io.of("/admin").use_middleware(|socket: Socket| async move {
        match socket.handshake().auth().get("token") {
            Some(_) => Ok(()),
            None => Err(ConnectError::new("no token")),
        }
    });
    let app = Router::new().layer(layer);
    (io, app)
}

async fn call(
    app: &Router,
    method: Method,
    query: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/socket.io/?EIO=4&{query}"));
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    let req = req.body(AxBody::from(body)).expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    (status, body)
}

/// A 200 polling answer is a payload the server could have written.
fn check_payload(body: &[u8]) {
    for seg in body.split(|b| *b == 0x1e) {
        let first = seg.first().copied();
        assert!(
            matches!(first, Some(b'0'..=b'6' | b'b')),
            "the server wrote a bad packet: {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

async fn handshake(app: &Router) -> String {
    let (status, body) = call(app, Method::GET, "transport=polling", None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).expect("utf8");
    let open: serde_json::Value =
        serde_json::from_str(&text.split('\x1e').next().unwrap()[1..]).expect("open");
    open["sid"].as_str().expect("sid").to_owned()
}

static SERVER: std::sync::OnceLock<(Io, Router)> = std::sync::OnceLock::new();

async fn run(ops: Vec<Op>) {
    let (io, app) = SERVER.get_or_init(server).clone();
    let sid = handshake(&app).await;
    let q = format!("transport=polling&sid={sid}");
    let mut gets = Vec::new();
    let mut acks = Vec::new();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Post(pieces) => {
                let (status, body) = call(&app, Method::POST, &q, None, body_of(&pieces)).await;
                assert!(matches!(status.as_u16(), 200 | 400 | 413), "{status}");
                if status == StatusCode::OK {
                    assert_eq!(body, b"ok");
                }
            }
            Op::PostBytes(b) => {
                let (status, _) = call(&app, Method::POST, &q, None, b).await;
                assert!(matches!(status.as_u16(), 200 | 400 | 413), "{status}");
            }
            Op::PostOctetStream(b) => {
                let (status, _) =
                    call(&app, Method::POST, &q, Some("application/octet-stream"), b).await;
                assert!(matches!(status.as_u16(), 400), "{status}");
            }
            Op::Get => {
                let app = app.clone();
                let q = q.clone();
                gets.push(tokio::spawn(async move {
                    let (status, body) = call(&app, Method::GET, &q, None, Vec::new()).await;
                    if status == StatusCode::OK {
                        check_payload(&body);
                    }
                    status
                }));
                tokio::task::yield_now().await;
            }
            Op::Wait(ms) => tokio::time::sleep(Duration::from_millis(u64::from(ms) % 3000)).await,
            Op::Emit(k) => {
                let _ = match k % 4 {
                    0 => io.emit("srv", &k),
                    1 => io.to("all").emit("srv", &(k, "x")),
                    2 => io
                        .volatile()
                        .emit("srv", &bytes::Bytes::from_static(b"\x00\x01")),
                    _ => io.to("r").except("all").emit("srv", &()),
                };
            }
            Op::EmitWithAck(k) => {
                let io = io.clone();
                acks.push(tokio::spawn(async move {
                    let d = Duration::from_millis(u64::from(k) * 10);
                    let _ = io
                        .timeout(d)
                        .emit_with_ack::<_, serde_json::Value>("ask", &k)
                        .await;
                }));
            }
            Op::OtherRequest(k) => {
                let query = match k % 6 {
                    0 => format!("transport=websocket&sid={sid}"),
                    1 => "transport=polling&sid=nope".to_owned(),
                    2 => format!("transport=foo&sid={sid}"),
                    3 => "transport=polling&EIO=3".to_owned(),
                    4 => format!("transport=polling&sid={sid}%00"),
                    _ => format!("transport=polling&sid={sid}&sid=x"),
                };
                let method = if k % 2 == 0 { Method::GET } else { Method::PUT };
                let (status, _) = call(&app, method, &query, None, Vec::new()).await;
                assert!(
                    matches!(status.as_u16(), 200 | 400 | 403),
                    "{status} for {query}"
                );
            }
            Op::SecondSession => {
                let other = handshake(&app).await;
                let q2 = format!("transport=polling&sid={other}");
                let _ = call(
                    &app,
                    Method::POST,
                    &q2,
                    None,
                    b"40\x1e42[\"bcast\",1]".to_vec(),
                )
                .await;
            }
        }
    }
    // The end: the client says goodbye, time passes (heartbeats and grace periods end the rest).
    let _ = call(&app, Method::POST, &q, None, b"1".to_vec()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    for g in gets {
        let status = tokio::time::timeout(Duration::from_secs(60), g)
            .await
            .expect("a GET never answered")
            .expect("GET task");
        assert!(matches!(status.as_u16(), 200 | 400), "{status}");
    }
    for a in acks {
        tokio::time::timeout(Duration::from_secs(60), a)
            .await
            .expect("an ack never resolved")
            .expect("ack task");
    }
    // A session closed while no GET was pending waits for one (or its grace period).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(io.client_count(), 0, "sessions left");
    for ns in io.namespaces() {
        assert!(ns.sockets().is_empty(), "sockets left on {}", ns.name());
        assert!(
            ns.adapter().local_rooms().is_empty(),
            "rooms left on {}",
            ns.name()
        );
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(run(ops));
});
