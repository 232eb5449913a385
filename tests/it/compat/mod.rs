//! Every client that talks to Node talks to us: Socket.IO v2 clients (Engine.IO v3 with
//! `allow_eio3`), the msgpack parser, HTTP compression of polling bodies.
//!
//! Real clients, through `tests/js/compat.mjs`: the npm `socket.io-client@2` (installed as
//! `socket.io-client-v2`) and `socket.io-client@4` with `socket.io-msgpack-parser`; the wire
//! details (payload framing, JSONP, heartbeat direction, compression headers) with raw HTTP and
//! websockets.

mod browser;
mod compression;
mod eio3_raw;
mod mixed;
mod msgpack;
mod v2;

use axum_socketio::{Ack, Args, ConnectError, Data, Io, Socket, SocketIoBuilder};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::socketio::{Js, Log, Sio, start};

/// A driver of `compat.mjs` with socket.io-client 2 (`transports` as the client's option).
pub async fn v2_client(url: &str, transports: &[&str]) -> Js {
    Js::start_script(
        "compat.mjs",
        url,
        json!({ "client": "v2", "opts": { "transports": transports }, "timeoutMs": 30000 }),
    )
    .await
}

/// A driver of `compat.mjs` with socket.io-client 4 and `parser` (`default` or `msgpack`).
pub async fn v4_client(url: &str, parser: &str, transports: &[&str]) -> Js {
    Js::start_script(
        "compat.mjs",
        url,
        json!({
            "client": "v4",
            "parser": parser,
            "opts": { "transports": transports },
            "timeoutMs": 30000,
        }),
    )
    .await
}

/// The bytes the server sends on `bin`: every byte value.
pub fn server_bytes() -> Bytes {
    Bytes::from((0..=255u8).collect::<Vec<_>>())
}

/// The application every test of this module serves.
///
/// `/`: on connection logs `connected` `{id, auth, eio}`; `echo` (…args) → `echo-back` with the
/// same arguments; `ack` (…args) → ack with the same arguments; `bin` → `bin-back` with
/// `{data: <every byte>, list: [<bytes 1 2 3>]}` and every byte; `join` (room) → join, ack;
/// `to-room` (room, msg) → `io.to(room).emit("room-msg", msg)`; `shout` (…args) → everyone,
/// sender included, gets `shouted`; `ask` (n) → the server emits `question` (n) with an ack and
/// logs the answer (a string and bytes) under `answer`.
///
/// `/admin`: refused unless the auth has `token: "abc"` ("Not authorized"); on connection emits
/// `welcome` with `{id, auth}`. Other namespaces do not exist.
pub async fn app(b: SocketIoBuilder) -> (Sio, Log) {
    let s = start(b).await;
    let log = install(&s.io);
    (s, log)
}

/// Installs the handlers of [`app`] on `io`; returns the log they write.
pub fn install(io: &Io) -> Log {
    let log = Log::new();
    let l = log.clone();
    io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            log.push(
                "connected",
                json!({
                    "id": socket.id(),
                    "auth": socket.handshake().auth(),
                    "eio": socket.conn().protocol(),
                }),
            );
            socket.on("echo", |socket: Socket, args: Args| async move {
                socket.emit_args("echo-back", args).unwrap();
            });
            socket.on("ack", |args: Args, ack: Ack| async move {
                ack.send_args(args).unwrap();
            });
            socket.on("bin", |socket: Socket| async move {
                #[derive(serde::Serialize)]
                struct Nested {
                    data: Bytes,
                    list: Vec<Bytes>,
                }
                let payload = Nested {
                    data: server_bytes(),
                    list: vec![Bytes::from_static(&[1, 2, 3])],
                };
                socket.emit("bin-back", &(payload, server_bytes())).unwrap();
            });
            socket.on(
                "join",
                |socket: Socket, Data(room): Data<String>, ack: Ack| async move {
                    socket.join(room);
                    ack.send(&()).unwrap();
                },
            );
            // `rmpv::Value` holds binary, which `serde_json::Value` cannot.
            socket.on(
                "to-room",
                |io: Io, Data((room, msg)): Data<(String, rmpv::Value)>| async move {
                    io.to(room).emit("room-msg", &msg).unwrap();
                },
            );
            socket.on("shout", |io: Io, args: Args| async move {
                io.local().emit_args("shouted", args);
            });
            let log = log.clone();
            socket.on("ask", move |socket: Socket, Data(n): Data<i64>| {
                let log = log.clone();
                async move {
                    let answer: Result<(String, Bytes), _> = socket
                        .timeout(std::time::Duration::from_secs(5))
                        .emit_with_ack("question", &n)
                        .await;
                    match answer {
                        Ok((text, data)) => log.push("answer", json!([text, data.to_vec()])),
                        Err(e) => log.push("answer", json!({ "error": e.to_string() })),
                    }
                }
            });
        }
    });
    let admin = io.of("/admin");
    admin.use_middleware(|socket: Socket| async move {
        if socket.handshake().auth()["token"] == "abc" {
            Ok(())
        } else {
            Err(ConnectError::new("Not authorized"))
        }
    });
    admin.on_connection(|socket: Socket| async move {
        let welcome = json!({ "id": socket.id(), "auth": socket.handshake().auth() });
        socket.emit("welcome", &welcome).unwrap();
    });
    log
}
