//! A second client implementation: python-socketio (tests/py/sio_client.py).

use std::path::PathBuf;

use super::*;
use axum_socketio::{Ack, Data, DisconnectReason, Socket};
use bytes::Bytes;
use serde::Deserialize;

#[derive(Debug, Serialize, Deserialize)]
struct Blob {
    name: String,
    data: Bytes,
}

async fn python_client(transport: &str) {
    // The interpreter's threads answer pings late when the machine is busy (a full test run):
    // a roomy ping timeout, as what is checked here is not the heartbeat.
    let s = start(builder().ping_timeout(Duration::from_secs(5))).await;
    let log = Log::new();
    let l = log.clone();
    s.io.on_connection(move |socket: Socket, Data(auth): Data<Value>| {
        let log = l.clone();
        async move {
            log.push("auth", &auth);
            log.push("transport", socket.conn().transport().as_str());
            socket.on(
                "sum",
                |Data((a, b)): Data<(i64, i64)>, ack: Ack| async move {
                    ack.send(&(a + b)).unwrap();
                },
            );
            let lg = log.clone();
            socket.on("echo-bytes", move |Data(blob): Data<Blob>, ack: Ack| {
                let log = lg.clone();
                async move {
                    log.push("bytes", blob.data.to_vec());
                    ack.send(&blob).unwrap();
                }
            });
            socket.on(
                "please-emit",
                |socket: Socket, Data(text): Data<String>| async move {
                    socket.emit("news", &(text, 42)).unwrap();
                },
            );
            let lg = log.clone();
            socket.on(
                "ask-me",
                move |socket: Socket, Data(n): Data<i64>, ack: Ack| {
                    let log = lg.clone();
                    async move {
                        let answer = socket
                            .timeout(Duration::from_secs(3))
                            .emit_with_ack::<_, Value>("question", &n)
                            .await
                            .unwrap();
                        log.push("answer", &answer);
                        ack.send(&answer).unwrap();
                    }
                },
            );
            socket.on_disconnect(move |reason: DisconnectReason| {
                let log = log.clone();
                async move { log.push("disconnect", reason.as_str()) }
            });
        }
    });

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/sio_client.py");
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(&script).arg(&s.url).arg(transport);
    let (status, stdout, stderr) =
        run_process(cmd, "python3 sio_client.py", Duration::from_secs(20)).await;
    assert!(
        !stderr.contains("No module named 'socketio'"),
        "python-socketio is missing: run ./scripts/test once (or pip install 'python-socketio[client]')"
    );
    assert!(
        status.success(),
        "sio_client.py failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |name: &str| -> Value {
        lines
            .iter()
            .find(|l| l["event"] == name)
            .unwrap_or_else(|| panic!("no {name:?} line in {lines:#?}"))
            .clone()
    };

    // The python client's sid is the server's socket id.
    let connect = find("connect");
    assert_eq!(connect["sid"].as_str().unwrap().len(), 20);
    let expected_transport = if transport == "polling" {
        "polling"
    } else {
        "websocket"
    };
    assert_eq!(find("connected")["transport"], expected_transport);
    assert_eq!(log.one("auth").await, json!({"user": "py", "n": 1}));
    assert_eq!(find("sum")["result"], 5);

    let mut blob: Vec<u8> = (0..=255u8).collect();
    blob.extend([0, 0x1e]);
    assert_eq!(log.one("bytes").await, json!(blob));
    let echoed = find("echo-bytes");
    assert_eq!(echoed["name"], "blob");
    assert_eq!(bin(&blob)["$bin"], echoed["data"]);

    assert_eq!(find("news")["args"], json!(["hello from python", 42]));
    assert_eq!(find("question")["q"], 21);
    assert_eq!(log.one("answer").await, json!({"answer": 42}));
    assert_eq!(find("ask-me")["result"], json!({"answer": 42}));
    find("done");
    let reason = log.one("disconnect").await;
    if transport == "polling" {
        assert_eq!(reason, "client namespace disconnect");
    } else {
        // python-engineio's disconnect() queues DISCONNECT and CLOSE for its writer thread, then
        // closes the websocket at once from the caller's thread: the frames may never be sent
        // (a Node server sees the same).
        assert!(
            reason == "client namespace disconnect" || reason == "transport close",
            "{reason}"
        );
    }
    s.assert_clean().await;
}

#[tokio::test]
async fn python_socketio_client_default_transports() {
    python_client("default").await;
}

#[tokio::test]
async fn python_socketio_client_polling_only() {
    python_client("polling").await;
}
