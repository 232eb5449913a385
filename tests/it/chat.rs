//! The chat example (`examples/chat`) in headless Chromium, and the `socket.io-client` bundle the
//! layer serves to it (`serve_client`).
//!
//! The browser tests need `/usr/bin/chromium` (or `CHROMIUM`) and `tests/browser/node_modules`;
//! `./scripts/test` installs both.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum_socketio::SocketIoLayer;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::common::{js_dir, serve};

#[allow(dead_code)]
#[path = "../../examples/chat/app.rs"]
mod app;

/// The `socket.io-client` installation of `tests/js` (installed by `./scripts/test`).
fn client_dir() -> PathBuf {
    let dir = js_dir().join("node_modules").join("socket.io-client");
    assert!(
        dir.join("dist").join("socket.io.js").is_file(),
        "{} is missing: run ./scripts/test once (or `npm ci` in tests/js)",
        dir.display()
    );
    dir
}

fn dist_file(name: &str) -> Vec<u8> {
    std::fs::read(client_dir().join("dist").join(name)).unwrap()
}

async fn serve_layer(layer: SocketIoLayer) -> String {
    let addr = serve(Router::new().layer(layer)).await;
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// serve_client

#[tokio::test]
async fn the_bundle_is_served_with_an_etag_and_304_when_unchanged() {
    let base = serve_layer(SocketIoLayer::builder().client_dir(client_dir()).build()).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/socket.io/socket.io.js");

    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[CONTENT_TYPE],
        "application/javascript; charset=utf-8"
    );
    let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "ETag {etag:?}"
    );
    assert_eq!(res.bytes().await.unwrap(), dist_file("socket.io.js"));

    for sent in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let res = http
            .get(&url)
            .header(IF_NONE_MATCH, &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {sent}"
        );
        assert_eq!(res.headers()[ETAG], etag.as_str());
        assert!(res.bytes().await.unwrap().is_empty());
    }

    let res = http
        .get(&url)
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), dist_file("socket.io.js"));

    let res = http.head(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[ETAG], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_variant_and_its_source_map_with_their_content_types() {
    let base = serve_layer(SocketIoLayer::builder().client_dir(client_dir()).build()).await;
    let mut etags = Vec::new();
    for name in [
        "socket.io.js",
        "socket.io.min.js",
        "socket.io.esm.min.js",
        "socket.io.msgpack.min.js",
    ] {
        for (file, content_type) in [
            (name.to_owned(), "application/javascript; charset=utf-8"),
            (format!("{name}.map"), "application/json; charset=utf-8"),
        ] {
            let res = reqwest::get(format!("{base}/socket.io/{file}?v=1"))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{file}");
            assert_eq!(res.headers()[CONTENT_TYPE], content_type, "{file}");
            etags.push(res.headers()[ETAG].clone());
            assert_eq!(res.bytes().await.unwrap(), dist_file(&file), "{file}");
        }
    }
    etags.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    etags.dedup();
    assert_eq!(etags.len(), 8, "each file has its own ETag");

    // Not a file of the bundle: the Socket.IO server answers it as an Engine.IO request.
    let res = reqwest::get(format!("{base}/socket.io/socket.io.esm.js"))
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_bundle_follows_the_server_path_and_socketio_still_works() {
    let base = serve_layer(
        SocketIoLayer::builder()
            .path("/realtime")
            .client_dir(client_dir())
            .build(),
    )
    .await;
    let res = reqwest::get(format!("{base}/realtime/socket.io.min.js"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), dist_file("socket.io.min.js"));

    let res = reqwest::get(format!("{base}/socket.io/socket.io.min.js"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = reqwest::get(format!("{base}/realtime/?EIO=4&transport=polling"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().starts_with("0{"));
}

#[tokio::test]
async fn nothing_is_served_when_off_or_when_there_is_no_installation() {
    for layer in [
        SocketIoLayer::builder()
            .serve_client(false)
            .client_dir(client_dir())
            .build(),
        SocketIoLayer::builder()
            .client_dir("/nonexistent/socket.io-client")
            .build(),
    ] {
        let base = serve_layer(layer).await;
        let res = reqwest::get(format!("{base}/socket.io/socket.io.js"))
            .await
            .unwrap();
        // The request goes on to the Engine.IO server, which knows no such request.
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(
            !res.headers()
                .get(CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/javascript"))
        );

        let res = reqwest::get(format!("{base}/socket.io/?EIO=4&transport=polling"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

// ---------------------------------------------------------------------------------------------
// The chat in a browser

/// One browser at a time: two Chromiums on a small machine make both slow.
pub(crate) static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("browser")
}

/// Serves the chat app and runs `tests/browser/chat.mjs` against it in `mode`
/// (`websocket` or `polling`); fails with the script's output if it does not pass.
async fn chat_in_chromium(mode: &str) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing: run ./scripts/test once (it installs Debian's chromium)"
    );
    let dir = browser_dir();
    assert!(
        dir.join("node_modules").join("playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run ./scripts/test once (or `npm ci` in tests/browser)"
    );

    let _one_at_a_time = BROWSER.lock().await;
    let (router, io) = app::app(client_dir());
    let addr = serve(router).await;

    let child = tokio::process::Command::new("node")
        .arg(dir.join("chat.mjs"))
        .arg(format!("http://{addr}"))
        .arg(mode)
        .env("CHROMIUM", &chromium)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    // The script stops itself after 50 s; this is only a backstop.
    let out = match tokio::time::timeout(Duration::from_secs(90), child.wait_with_output()).await {
        Ok(out) => out.expect("node failed"),
        Err(_) => panic!("the browser test ({mode}) ran longer than 90 s"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the chat failed in Chromium ({mode}, {})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    io.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_over_websocket() {
    chat_in_chromium("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_with_polling_only() {
    chat_in_chromium("polling").await;
}
