//! Builder options: transports, upgrades, initial packet, cookie, ids, CORS.

use super::*;

#[tokio::test]
async fn allow_upgrades_false_offers_no_upgrade() {
    let s = start(quiet().allow_upgrades(false)).await;
    let (_, open) = eio_handshake(s.addr, P).await;
    assert_eq!(open["upgrades"], json!([]));
}

#[tokio::test]
async fn websocket_only_server() {
    let s = start(quiet().transports(&[Transport::Websocket])).await;
    get(&s.url("EIO=4&transport=polling"))
        .await
        .assert_error(400, 0, "Transport unknown");
    let (mut ws, _, open) = Ws::open(s.addr, P).await;
    assert_eq!(open["upgrades"], json!([]));
    ws.send_text("4hi").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4hi".into()));
    assert_eq!(s.count(), 1);
}

#[tokio::test]
async fn polling_only_server() {
    let s = start(quiet().transports(&[Transport::Polling])).await;
    let c = Polling::handshake(s.addr, P).await;
    assert_eq!(c.open["upgrades"], json!([]));
    assert!(ws_connect(s.addr, P, "").await.is_err());
    assert!(
        ws_connect(s.addr, P, &format!("&sid={}", c.sid))
            .await
            .is_err()
    );
    assert_eq!(s.count(), 1);
    c.post_ok("4still").await;
    assert_eq!(c.recv(1).await, ["4still"]);
}

#[tokio::test]
async fn initial_packet_follows_the_open_packet() {
    let s = start(quiet().initial_packet(text("welcome"))).await;
    let r = get(&s.url("EIO=4&transport=polling")).await;
    let (sid, _) = open_from(&r);
    let mut after_open = r.packets()[1..].to_vec();
    if after_open.is_empty() {
        after_open = get(&s.url(&polling_query(&sid))).await.packets();
    }
    assert_eq!(after_open[0], "4welcome");

    let (mut ws, _, _) = Ws::open(s.addr, P).await;
    assert_eq!(ws.recv_data().await, Frame::Text("4welcome".into()));
}

#[tokio::test]
async fn cookie_is_set_on_the_polling_handshake() {
    let s = start(quiet().cookie(true)).await;
    let r = get(&s.url("EIO=4&transport=polling")).await;
    let (sid, _) = open_from(&r);
    assert_eq!(
        r.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    // Only on the handshake.
    let p = post_to(&s.url(&polling_query(&sid)), "4x").await;
    assert_eq!(p.header("set-cookie"), None);
    let g = get(&s.url(&polling_query(&sid))).await;
    assert_eq!(g.header("set-cookie"), None);
}

#[tokio::test]
async fn no_cookie_by_default() {
    let s = start(quiet()).await;
    let r = get(&s.url("EIO=4&transport=polling")).await;
    assert_eq!(r.header("set-cookie"), None);
}

#[tokio::test]
async fn generate_id_names_the_sessions() {
    let n = Arc::new(AtomicUsize::new(0));
    let s = start(quiet().generate_id(move |parts: &http::request::Parts| {
        let who = parts
            .headers
            .get("x-who")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        format!("custom{}{who}", n.fetch_add(1, Ordering::SeqCst) + 1)
    }))
    .await;
    let resp = http()
        .get(s.url("EIO=4&transport=polling"))
        .header("x-who", "-ann")
        .send()
        .await
        .unwrap();
    let (sid, _) = open_from(&read(resp).await);
    assert_eq!(sid, "custom1-ann");
    let c = Polling {
        addr: s.addr,
        path: P.into(),
        sid: sid.clone(),
        open: json!({}),
    };
    c.post_ok("4hi").await;
    assert_eq!(c.recv(1).await, ["4hi"]);
    let (_ws, ws_sid, _) = Ws::open(s.addr, P).await;
    assert_eq!(ws_sid, "custom2");
    assert_eq!(s.rec.opened(), ["custom1-ann", "custom2"]);
}

#[tokio::test]
async fn cors_preflight_is_answered_with_the_configured_headers() {
    let cors = CorsLayer::new()
        .allow_origin(HeaderValue::from_static("http://example.com"))
        .allow_methods([Method::GET, Method::POST])
        .allow_credentials(true);
    let s = start(quiet().cors(cors)).await;
    let resp = http()
        .request(Method::OPTIONS, s.url("EIO=4&transport=polling"))
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let r = read(resp).await;
    assert!(r.status.is_success(), "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://example.com")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let methods = r
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_owned();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    assert_eq!(s.count(), 0);

    // Ordinary engine requests carry the headers too.
    let resp = http()
        .get(s.url("EIO=4&transport=polling"))
        .header("origin", "http://example.com")
        .send()
        .await
        .unwrap();
    let r = read(resp).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://example.com")
    );
    open_from(&r);

    // Routes outside the engine are not the engine's business.
    let resp = http()
        .get(format!("http://{}/hello", s.addr))
        .header("origin", "http://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("access-control-allow-origin"), None);
}
