//! The open packet, over polling and over websocket.

use super::*;

#[tokio::test]
async fn polling_handshake_answers_the_open_packet() {
    let s = start(fast()).await;
    let r = get(&s.url("EIO=4&transport=polling")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let (sid, open) = open_from(&r);
    let keys: Vec<&str> = open
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "sid",
            "upgrades",
            "pingInterval",
            "pingTimeout",
            "maxPayload"
        ]
    );
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(open["pingTimeout"], 200);
    assert_eq!(open["maxPayload"], 1_000_000);
    assert_eq!(s.count(), 1);
    assert_eq!(s.rec.opened(), vec![sid.clone()]);
    assert_eq!(s.rec.open_info(&sid).transport, Transport::Polling);
}

#[tokio::test]
async fn handshake_shows_node_defaults() {
    let rec = Recorder::echo();
    let layer = EngineIoLayer::new(rec);
    let addr = serve(Router::new().layer(layer.clone())).await;
    let (_, open) = eio_handshake(addr, "/engine.io").await;
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 20_000);
    assert_eq!(open["maxPayload"], 1_000_000);
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(layer.client_count(), 1);
}

#[tokio::test]
async fn max_payload_is_max_http_buffer_size() {
    let s = start(quiet().max_http_buffer_size(1234)).await;
    let (_, open) = eio_handshake(s.addr, P).await;
    assert_eq!(open["maxPayload"], 1234);
}

#[tokio::test]
async fn sids_are_unique_and_url_safe() {
    let s = start(quiet()).await;
    let mut sids = Vec::new();
    for _ in 0..20 {
        sids.push(eio_handshake(s.addr, P).await.0);
    }
    for sid in &sids {
        assert_eq!(sid.len(), 20, "{sid}");
        assert!(
            sid.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{sid}"
        );
    }
    sids.sort();
    sids.dedup();
    assert_eq!(sids.len(), 20);
    assert_eq!(s.count(), 20);
}

#[tokio::test]
async fn websocket_handshake_first_frame_is_the_open_packet() {
    let s = start(fast()).await;
    let (mut ws, sid, open) = Ws::open(s.addr, P).await;
    let keys: Vec<&str> = open
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "sid",
            "upgrades",
            "pingInterval",
            "pingTimeout",
            "maxPayload"
        ]
    );
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(s.rec.open_info(&sid).transport, Transport::Websocket);
    assert_eq!(s.count(), 1);
    ws.send_text("4hello").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4hello".into()));
    ws.close().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "transport close");
    s.gone().await;
}

#[tokio::test]
async fn on_open_sees_the_handshake_request() {
    let s = start(quiet()).await;
    let resp = http()
        .get(s.url("EIO=4&transport=polling&foo=bar"))
        .header("x-user", "bob")
        .send()
        .await
        .unwrap();
    let (sid, _) = open_from(&read(resp).await);
    let info = s.rec.open_info(&sid);
    assert!(
        info.uri.contains("EIO=4") && info.uri.contains("foo=bar"),
        "{}",
        info.uri
    );
    assert_eq!(info.headers.get("x-user").unwrap(), "bob");
    assert_eq!(
        info.remote
            .expect("ConnectInfo<SocketAddr> in the extensions")
            .ip()
            .to_string(),
        "127.0.0.1"
    );

    let (_ws, sid, _) = Ws::open(s.addr, P).await;
    let info = s.rec.open_info(&sid);
    assert!(info.uri.contains("transport=websocket"), "{}", info.uri);
    assert!(info.remote.is_some());
}
