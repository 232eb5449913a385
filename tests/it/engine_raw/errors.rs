//! The error answers and the order in which Node checks them.

use super::*;

#[tokio::test]
async fn unknown_transport_is_code_0() {
    let s = start(quiet()).await;
    get(&s.url("EIO=4&transport=foo"))
        .await
        .assert_error(400, 0, "Transport unknown");
    get(&s.url("EIO=4"))
        .await
        .assert_error(400, 0, "Transport unknown");
    get(&s.url("EIO=4&transport=webtransport"))
        .await
        .assert_error(400, 0, "Transport unknown");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn unknown_sid_is_code_1() {
    let s = start(quiet()).await;
    get(&s.url("EIO=4&transport=polling&sid=nope"))
        .await
        .assert_error(400, 1, "Session ID unknown");
    post_to(&s.url("EIO=4&transport=polling&sid=nope"), "4hi")
        .await
        .assert_error(400, 1, "Session ID unknown");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn post_handshake_is_code_2() {
    let s = start(quiet()).await;
    post_to(&s.url("EIO=4&transport=polling"), "4hi")
        .await
        .assert_error(400, 2, "Bad handshake method");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn websocket_transport_without_upgrade_is_code_3() {
    let s = start(quiet()).await;
    get(&s.url("EIO=4&transport=websocket"))
        .await
        .assert_error(400, 3, "Bad request");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn allow_request_refusal_is_403_code_4() {
    let s = start(quiet().allow_request(|parts: &http::request::Parts| {
        let ok = parts.headers.get("x-token").is_some_and(|v| v == "secret");
        async move {
            if ok {
                Ok(())
            } else {
                Err("no token".to_owned())
            }
        }
    }))
    .await;
    get(&s.url("EIO=4&transport=polling"))
        .await
        .assert_error(403, 4, "no token");
    assert_eq!(s.count(), 0);
    let resp = http()
        .get(s.url("EIO=4&transport=polling"))
        .header("x-token", "secret")
        .send()
        .await
        .unwrap();
    open_from(&read(resp).await);
    assert_eq!(s.count(), 1);

    // Over websocket: the refusal is a plain 400, and an accepted request opens a session.
    let refused = ws_connect(s.addr, P, "").await;
    assert_eq!(refused_status(refused), 400);
    let mut req = format!("ws://{}{P}/?EIO=4&transport=websocket", s.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("x-token", HeaderValue::from_static("secret"));
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (stream, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let mut ws = Ws { stream };
    assert!(ws.recv_text().await.starts_with('0'));
    assert_eq!(s.count(), 2);
}

#[tokio::test]
async fn allow_request_only_guards_handshakes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let s = start(quiet().allow_request(move |_parts: &http::request::Parts| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Ok(())
            } else {
                Err("only one".to_owned())
            }
        }
    }))
    .await;
    let c = Polling::handshake(s.addr, P).await;
    get(&s.url("EIO=4&transport=polling"))
        .await
        .assert_error(403, 4, "only one");
    // Requests of the open session do not go through the hook.
    c.post_ok("4hi").await;
    assert_eq!(c.recv(1).await, ["4hi"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bad_protocol_version_is_code_5() {
    let s = start(quiet()).await;
    for q in [
        "transport=polling",
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "EIO=abc&transport=polling",
    ] {
        get(&s.url(q))
            .await
            .assert_error(400, 5, "Unsupported protocol version");
    }
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn errors_are_checked_in_node_order() {
    // transport → sid → method → allowRequest → protocol version
    let s =
        start(quiet().allow_request(|_: &http::request::Parts| async { Err("nope".to_owned()) }))
            .await;
    get(&s.url("EIO=3&transport=foo"))
        .await
        .assert_error(400, 0, "Transport unknown");
    get(&s.url("EIO=4&transport=foo&sid=nope"))
        .await
        .assert_error(400, 0, "Transport unknown");
    post_to(&s.url("EIO=4&transport=foo"), "4x")
        .await
        .assert_error(400, 0, "Transport unknown");
    post_to(&s.url("EIO=4&transport=polling&sid=nope"), "4x")
        .await
        .assert_error(400, 1, "Session ID unknown");
    get(&s.url("EIO=3&transport=polling&sid=nope"))
        .await
        .assert_error(400, 1, "Session ID unknown");
    get(&s.url("EIO=4&transport=websocket&sid=nope"))
        .await
        .assert_error(400, 1, "Session ID unknown");
    post_to(&s.url("EIO=3&transport=polling"), "4x")
        .await
        .assert_error(400, 2, "Bad handshake method");
    get(&s.url("EIO=3&transport=polling"))
        .await
        .assert_error(403, 4, "nope");
    get(&s.url("transport=polling"))
        .await
        .assert_error(403, 4, "nope");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn websocket_request_errors_are_plain_400() {
    let s = start(quiet().allow_request(|parts: &http::request::Parts| {
        let ok = !parts.uri.query().unwrap_or_default().contains("deny");
        async move { if ok { Ok(()) } else { Err("denied".to_owned()) } }
    }))
    .await;
    let a = s.addr;
    for url in [
        format!("ws://{a}{P}/?EIO=4&transport=foo"),
        format!("ws://{a}{P}/?EIO=4&transport=websocket&sid=nope"),
        format!("ws://{a}{P}/?EIO=3&transport=websocket"),
        format!("ws://{a}{P}/?transport=websocket"),
        format!("ws://{a}{P}/?EIO=4&transport=websocket&deny=1"),
    ] {
        assert_eq!(refused_status(ws_connect_url(a, &url).await), 400, "{url}");
    }
    assert_eq!(s.count(), 0);
}
