//! The websocket transport on its own: frames, limits, closes.

use super::*;

#[tokio::test]
async fn websocket_text_and_binary_frames() {
    let s = start(quiet()).await;
    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    ws.send_text("4hello").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4hello".into()));
    ws.send_text("4é 漢字 🎉").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4é 漢字 🎉".into()));
    ws.send_binary(&[0, 1, 2, 255]).await;
    assert_eq!(ws.recv_data().await, Frame::Binary(vec![0, 1, 2, 255]));
    assert_eq!(
        s.rec.messages(&sid),
        [text("hello"), text("é 漢字 🎉"), binary(&[0, 1, 2, 255])]
    );
    // Server-sent binary is the raw bytes, text carries the type digit.
    let sock = s.rec.socket(&sid);
    sock.send(binary(b"4raw")).unwrap();
    sock.send(text("t")).unwrap();
    assert_eq!(ws.recv_data().await, Frame::Binary(b"4raw".to_vec()));
    assert_eq!(ws.recv_data().await, Frame::Text("4t".into()));
}

#[tokio::test]
async fn oversized_websocket_message_closes_that_connection() {
    let s = start(quiet().max_http_buffer_size(1000)).await;
    let (mut big, big_sid, _) = Ws::open(s.addr, P).await;
    let (mut other, other_sid, _) = Ws::open(s.addr, P).await;
    big.send_text(&format!("4{}", "x".repeat(2000))).await;
    big.expect_closed().await;
    assert_eq!(s.rec.wait_closed(&big_sid).await, "transport error");
    assert!(s.rec.messages(&big_sid).is_empty());
    other.send_text("4fine").await;
    assert_eq!(other.recv_data().await, Frame::Text("4fine".into()));
    assert!(!s.rec.is_closed(&other_sid));
    assert_eq!(s.count(), 1);
    other.close().await;
    s.gone().await;
}

#[tokio::test]
async fn websocket_closed_by_the_client() {
    let s = start(quiet()).await;
    let (ws, sid, _) = Ws::open(s.addr, P).await;
    ws.close().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "transport close");
    s.gone().await;

    // Without a close frame: the TCP connection just goes away.
    let (ws, sid, _) = Ws::open(s.addr, P).await;
    drop(ws);
    assert_eq!(s.rec.wait_closed(&sid).await, "transport close");
    s.gone().await;
}

#[tokio::test]
async fn websocket_frame_that_does_not_parse() {
    let s = start(quiet()).await;
    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    ws.send_text("hello").await;
    ws.expect_closed().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "parse error");
    s.gone().await;
}

#[tokio::test]
async fn server_close_over_websocket() {
    let s = start(quiet()).await;
    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    let sock = s.rec.socket(&sid);
    sock.send(text("bye")).unwrap();
    sock.close();
    assert_eq!(ws.recv_data().await, Frame::Text("4bye".into()));
    ws.expect_closed().await;
    assert_eq!(s.rec.wait_closed(&sid).await, "forced close");
    s.gone().await;
}

#[tokio::test]
async fn long_bursts_both_ways_are_read_and_written_whole() {
    // The connection task reads only after its read waker fired, and reads at most a budget of
    // frames per poll: a burst several budgets long, while the server writes to the same socket
    // from elsewhere, must still be read whole and in order, and every frame written must arrive.
    let s = start(quiet()).await;
    let (mut ws, sid, _) = Ws::open(s.addr, P).await;
    let sock = s.rec.socket(&sid);
    let writer = tokio::spawn(async move {
        for i in 0..300 {
            sock.send(text(&format!("s{i}"))).unwrap();
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for i in 0..300 {
        ws.send_text(&format!("4c{i}")).await;
    }
    let expected: Vec<_> = (0..300).map(|i| text(&format!("c{i}"))).collect();
    assert_eq!(s.rec.wait_messages(&sid, 300).await, expected);
    writer.await.unwrap();
    // The recorder echoes what it reads: both sequences arrive whole, each in its order.
    let (mut echoed, mut sent) = (Vec::new(), Vec::new());
    for _ in 0..600 {
        match ws.recv_data().await {
            Frame::Text(t) if t.starts_with("4c") => echoed.push(t),
            Frame::Text(t) => sent.push(t),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(
        echoed,
        (0..300).map(|i| format!("4c{i}")).collect::<Vec<_>>()
    );
    assert_eq!(sent, (0..300).map(|i| format!("4s{i}")).collect::<Vec<_>>());
}
