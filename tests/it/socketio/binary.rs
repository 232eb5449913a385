//! Binary nested in objects and arrays, both ways, byte-exact, over each transport.

use super::*;
use axum_socketio::{Ack, Args, Data, Socket};
use bytes::Bytes;
use serde::Deserialize;
use serde_bytes::ByteBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
    thumb: ByteBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bundle {
    title: String,
    files: Vec<File>,
    extra: Option<Bytes>,
}

fn server_bundle() -> Bundle {
    Bundle {
        title: "from the server".into(),
        files: vec![
            File {
                name: "all-bytes".into(),
                data: Bytes::from((0..=255u8).collect::<Vec<_>>()),
                thumb: ByteBuf::from(vec![0xff, 0x00, 0x1e, b'b']),
            },
            File {
                name: "empty".into(),
                data: Bytes::new(),
                thumb: ByteBuf::from(sample_bytes(3000, 9)),
            },
        ],
        extra: Some(Bytes::from_static(b"4hello")),
    }
}

/// The same bundle as sio.mjs prints it.
fn bundle_json(b: &Bundle) -> Value {
    json!({
        "title": b.title,
        "files": b.files.iter().map(|f| json!({
            "name": f.name, "data": bin(&f.data), "thumb": bin(&f.thumb),
        })).collect::<Vec<_>>(),
        "extra": b.extra.as_ref().map(|e| bin(e)),
    })
}

async fn round_trip(transport: &str) {
    let s = start(builder()).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket| {
        let log = l.clone();
        async move {
            socket
                .emit("bundle", &(server_bundle(), Bytes::from_static(&[1, 2, 3])))
                .unwrap();
            socket.on("upload", move |Data(b): Data<Bundle>, ack: Ack| {
                let log = log.clone();
                async move {
                    log.push(
                        "upload",
                        b.files
                            .iter()
                            .map(|f| (f.name.clone(), f.data.to_vec(), f.thumb.to_vec()))
                            .collect::<Vec<_>>(),
                    );
                    ack.send(&b).unwrap();
                }
            });
            // Raw arguments are passed on untouched, binary included.
            socket.on("relay", |socket: Socket, args: Args| async move {
                socket.emit_args("relayed", args).unwrap();
            });
        }
    });

    let mut js = Js::start(&s.url).await;
    let c = js
        .connect("a", "/", json!({"transports": [transport]}))
        .await;
    assert_eq!(c["transport"], transport);

    // Server → client.
    assert_eq!(
        js.event("a", "bundle").await,
        json!([bundle_json(&server_bundle()), bin(&[1, 2, 3])])
    );

    // Client → server → client (ack), with Buffer, Uint8Array and ArrayBuffer nested.
    let one = sample_bytes(1000, 1);
    let two = sample_bytes(17, 2);
    let upload = json!({
        "title": "from the client",
        "files": [
            {"name": "buffer", "data": bin(&one), "thumb": u8a(&two)},
            {"name": "arraybuffer", "data": array_buffer(&two), "thumb": bin(&[])},
        ],
        "extra": null,
    });
    let ack = js.emit_ack("a", "upload", json!([upload])).await;
    assert_eq!(
        log.one("upload").await,
        json!([["buffer", one, two], ["arraybuffer", two, []]])
    );
    assert_eq!(
        ack,
        json!([{
            "title": "from the client",
            "files": [
                {"name": "buffer", "data": bin(&one), "thumb": bin(&two)},
                {"name": "arraybuffer", "data": bin(&two), "thumb": bin(&[])},
            ],
            "extra": null,
        }])
    );

    let relay = json!([bin(&[9, 8, 7]), {"deep": [[u8a(&[0]), "x"]]}, 5]);
    js.emit("a", "relay", relay).await;
    assert_eq!(
        js.event("a", "relayed").await,
        json!([bin(&[9, 8, 7]), {"deep": [[bin(&[0]), "x"]]}, 5])
    );

    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn nested_binary_over_websocket() {
    round_trip("websocket").await;
}

#[tokio::test]
async fn nested_binary_over_polling() {
    round_trip("polling").await;
}

/// One binary broadcast (encoded once) reaches a websocket and a polling client intact, and a
/// client's binary event relayed to the others keeps its bytes.
#[tokio::test]
async fn binary_broadcast_to_both_transports() {
    let s = start(builder()).await;
    s.io.on_connection(|socket: Socket| async move {
        socket.on("share", |socket: Socket, args: Args| async move {
            socket.broadcast().emit_args("shared", args);
        });
    });
    let mut js = Js::start(&s.url).await;
    js.connect("ws", "/", json!({"transports": ["websocket"]}))
        .await;
    js.connect("poll", "/", json!({"transports": ["polling"]}))
        .await;
    wait_until("2 sockets", || s.count() == 2).await;
    let big = sample_bytes(100_000, 5);
    s.io.emit(
        "blob",
        &(
            Bytes::from(big.clone()),
            json!({"k": "v"}),
            vec![ByteBuf::from(vec![1u8]), ByteBuf::from(vec![])],
        ),
    )
    .unwrap();
    for c in ["ws", "poll"] {
        assert_eq!(
            js.event(c, "blob").await,
            json!([bin(&big), {"k": "v"}, [bin(&[1]), bin(&[])]]),
            "{c}"
        );
    }
    js.emit("poll", "share", json!([{"file": bin(&big[..5000])}]))
        .await;
    assert_eq!(
        js.event("ws", "shared").await,
        json!([{"file": bin(&big[..5000])}])
    );
    js.exit().await;
    s.assert_clean().await;
}
