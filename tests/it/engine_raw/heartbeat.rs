//! Pings from the server, pongs from the client, and what happens without them.

use super::*;

#[tokio::test]
async fn polling_client_that_answers_pings_stays() {
    let s = start(fast()).await;
    let c = Polling::handshake(s.addr, P).await;
    for _ in 0..4 {
        assert_eq!(c.get_packets().await, ["2"]);
        c.post_ok("3").await;
    }
    assert!(!s.rec.is_closed(&c.sid));
    assert_eq!(s.count(), 1);
    c.post_ok("4still here").await;
    assert_eq!(c.recv(1).await, ["4still here"]);
}

#[tokio::test]
async fn polling_client_that_does_not_answer_is_closed() {
    let s = start(fast()).await;
    let c = Polling::handshake(s.addr, P).await;
    assert_eq!(c.get_packets().await, ["2"]);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "ping timeout");
    s.gone().await;
    c.get().await.assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn websocket_heartbeat() {
    let s = start(fast()).await;
    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    for _ in 0..3 {
        assert_eq!(ws.recv().await, Frame::Text("2".into()));
        ws.send_text("3").await;
    }
    assert!(!s.rec.is_closed(&sid));
    // Now stop answering.
    assert_eq!(ws.recv().await, Frame::Text("2".into()));
    ws.expect_closed().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "ping timeout");
    s.gone().await;
}

#[tokio::test]
async fn a_ping_from_the_client_closes_the_session() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    c.post_ok("2").await;
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport error");
    s.gone().await;

    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    ws.send_text("2").await;
    ws.expect_closed().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "transport error");
    s.gone().await;
}
