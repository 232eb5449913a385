//! From polling to websocket: probe, noop, switch, timeout, intruders.

use super::*;

/// Opens a websocket for the polling session `c` and completes the probe.
async fn probe(s: &Server, c: &Polling) -> Ws {
    let mut ws = ws_connect(s.addr, P, &format!("&sid={}", c.sid))
        .await
        .expect("upgrade refused");
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, Frame::Text("3probe".into()));
    ws
}

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let sock = s.rec.socket(&c.sid);
    let url = c.url();
    let pending = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(ms(100)).await;

    let mut ws = probe(&s, &c).await;
    // The pending GET is released with a noop so the client can pause polling.
    let r = within("the pending GET", pending).await.unwrap();
    assert_eq!(
        (r.status, r.packets()),
        (StatusCode::OK, vec!["6".to_owned()])
    );
    assert_eq!(sock.transport(), Transport::Polling);

    // What the server sends meanwhile waits for the new transport.
    sock.send(text("during")).unwrap();
    sock.send(binary(&[9, 9])).unwrap();
    ws.send_text("5").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4during".into()));
    assert_eq!(ws.recv_data().await, Frame::Binary(vec![9, 9]));
    ws.send_text("4after").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4after".into()));
    assert_eq!(sock.transport(), Transport::Websocket);
    assert_eq!(s.rec.messages(&c.sid), [text("after")]);

    // The old transport is refused now.
    c.get().await.assert_error(400, 3, "Bad request");
    c.post("4x").await.assert_error(400, 3, "Bad request");
    assert_eq!(s.count(), 1);
    assert!(!s.rec.is_closed(&c.sid));

    ws.close().await;
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport close");
    s.gone().await;
}

#[tokio::test]
async fn polls_during_the_upgrade_get_noops() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = probe(&s, &c).await;
    for _ in 0..2 {
        assert_eq!(c.get_packets().await, ["6"]);
    }
    ws.send_text("5").await;
    ws.send_text("4up").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4up".into()));
}

#[tokio::test]
async fn upgrade_timeout_closes_the_websocket_and_polling_goes_on() {
    let s = start(quiet().upgrade_timeout(ms(300))).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = probe(&s, &c).await;
    // No "5": the server gives up on the websocket.
    ws.expect_closed().await;
    assert!(!s.rec.is_closed(&c.sid));
    assert_eq!(s.count(), 1);
    assert_eq!(s.rec.socket(&c.sid).transport(), Transport::Polling);
    c.post_ok("4still polling").await;
    assert_eq!(c.recv(1).await, ["4still polling"]);
}

#[tokio::test]
async fn upgrade_timeout_without_a_probe() {
    let s = start(quiet().upgrade_timeout(ms(300))).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = ws_connect(s.addr, P, &format!("&sid={}", c.sid))
        .await
        .unwrap();
    ws.expect_closed().await;
    assert_eq!(s.count(), 1);
    c.post_ok("4ok").await;
    assert_eq!(c.recv(1).await, ["4ok"]);
}

#[tokio::test]
async fn heartbeat_does_not_end_a_session_mid_upgrade() {
    // The client pauses polling during the upgrade, so it cannot answer a ping sent there.
    let s = start(
        EngineIoLayer::builder()
            .ping_interval(ms(500))
            .ping_timeout(ms(300))
            .upgrade_timeout(Duration::from_secs(10)),
    )
    .await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = probe(&s, &c).await;
    tokio::time::sleep(ms(1600)).await;
    assert!(
        !s.rec.is_closed(&c.sid),
        "closed mid-upgrade: {:?}",
        s.rec.close_reasons(&c.sid)
    );
    ws.send_text("5").await;
    ws.send_text("4x").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4x".into()));
    // And the heartbeat goes on over the websocket.
    for _ in 0..2 {
        loop {
            match ws.recv().await {
                Frame::Text(t) if t == "2" => break ws.send_text("3").await,
                Frame::Text(t) if t == "6" => {}
                f => panic!("expected a ping, got {f:?}"),
            }
        }
    }
    assert!(!s.rec.is_closed(&c.sid));
    assert_eq!(s.count(), 1);
}

#[tokio::test]
async fn a_second_websocket_for_an_upgraded_session_is_closed() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = probe(&s, &c).await;
    ws.send_text("5").await;
    wait_until("upgraded", || {
        s.rec.socket(&c.sid).transport() == Transport::Websocket
    })
    .await;

    let mut second = ws_connect(s.addr, P, &format!("&sid={}", c.sid))
        .await
        .expect("101 expected");
    second.expect_closed().await;

    ws.send_text("4first still works").await;
    assert_eq!(
        ws.recv_data().await,
        Frame::Text("4first still works".into())
    );
    assert!(!s.rec.is_closed(&c.sid));
    assert_eq!(s.count(), 1);
}

#[tokio::test]
async fn a_second_websocket_during_an_upgrade_is_closed() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut ws = probe(&s, &c).await;
    let mut second = ws_connect(s.addr, P, &format!("&sid={}", c.sid))
        .await
        .expect("101 expected");
    second.expect_closed().await;
    ws.send_text("5").await;
    ws.send_text("4ok").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4ok".into()));
    assert_eq!(s.count(), 1);
}

#[tokio::test]
async fn a_request_on_another_transport_than_the_session_is_code_3() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    get(&s.url(&format!("EIO=4&transport=websocket&sid={}", c.sid)))
        .await
        .assert_error(400, 3, "Bad request");
    assert!(!s.rec.is_closed(&c.sid));

    let (_ws, sid, _) = Ws::open(s.addr, P).await;
    get(&s.url(&polling_query(&sid)))
        .await
        .assert_error(400, 3, "Bad request");
    post_to(&s.url(&polling_query(&sid)), "4x")
        .await
        .assert_error(400, 3, "Bad request");
    assert!(!s.rec.is_closed(&sid));
    assert_eq!(s.count(), 2);
}
