//! socket.io-client 2 in headless Chromium (`tests/browser/compat.mjs`): what the Node v2 client
//! cannot show, because Node has no XHR2 for it (it asks for `b64=1`) nor `<script>` tags: the
//! XHR2 binary polling payload both ways, and JSONP polling with `forceJSONP`; plus websocket and
//! the upgrade from the same page.

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::*;
use crate::socketio::{builder, start_app};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>v2</title>
<script src="/v2/socket.io.js"></script></head><body>socket.io-client 2</body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing: run ./scripts/test once (it installs Debian's chromium)"
    );
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let bundle = std::fs::read(root.join("js/node_modules/socket.io-client-v2/dist/socket.io.js"))
        .expect("tests/js/node_modules is missing: run ./scripts/test once");
    let browser_dir = root.join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run ./scripts/test once"
    );

    let _one_at_a_time = crate::chat::BROWSER.lock().await;
    let layer = builder().allow_eio3(true).build();
    let io = layer.io();
    let log = install(&io);
    let app = Router::new()
        .route("/v2.html", get(|| async { Html(PAGE) }))
        .route(
            "/v2/socket.io.js",
            get(move || {
                let bundle = bundle.clone();
                async move { ([("content-type", "application/javascript")], bundle) }
            }),
        )
        .layer(layer);
    let s = start_app(io, app).await;

    let child = tokio::process::Command::new("node")
        .arg(browser_dir.join("compat.mjs"))
        .arg(&s.url)
        .env("CHROMIUM", &chromium)
        .current_dir(&browser_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let out = match tokio::time::timeout(Duration::from_secs(90), child.wait_with_output()).await {
        Ok(out) => out.expect("node failed"),
        Err(_) => panic!("the browser test ran longer than 90 s"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "socket.io-client 2 failed in Chromium ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for (line, (mode, transport)) in lines.iter().zip([
        ("polling", "polling"),
        ("jsonp", "polling"),
        ("websocket", "websocket"),
        ("upgrade", "websocket"),
    ]) {
        assert_eq!(line["mode"], mode);
        assert_eq!(line["transport"], transport, "{line}");
        assert_eq!(line["echo"], json!(["é😀", "0102ff"]), "{line}");
        assert_eq!(line["ack"], json!([7, "09"]), "{line}");
        assert_eq!(line["nested"], json!([256, "010203"]), "{line}");
        assert_eq!(line["all"], 256, "{line}");
    }
    // Every page's socket id on `/` is its Engine.IO session id, as the server saw it.
    let ids: Vec<Value> = log
        .wait("connected", 4)
        .await
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    for line in &lines[..4] {
        assert!(ids.contains(&line["id"]), "{line} not in {ids:?}");
    }
    // XHR2 polling got binary payloads; JSONP got its wrapped text.
    let responses = &lines[4]["responses"];
    assert!(
        responses["xhr application/octet-stream"].as_u64() > Some(0),
        "no binary payload: {responses}"
    );
    assert!(
        responses["jsonp text/plain; charset=UTF-8"].as_u64() > Some(0),
        "no JSONP answer: {responses}"
    );
    s.assert_clean().await;
}
