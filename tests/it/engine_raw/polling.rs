//! HTTP long-polling: held GETs, POSTs, batching, binary, limits, overlaps, closes.

use super::*;

#[tokio::test]
async fn long_poll_is_held_until_there_is_something_to_send() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let url = c.url();
    let pending = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(ms(150)).await;
    assert!(
        !pending.is_finished(),
        "the GET was answered with nothing to send"
    );
    s.rec.socket(&c.sid).send(text("hi")).unwrap();
    let r = within("the held GET", pending).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.packets(), ["4hi"]);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn post_answers_ok_as_text_html() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let r = c.post("4hello").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "ok");
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{r:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(s.rec.wait_messages(&c.sid, 1).await, [text("hello")]);
    assert_eq!(c.recv(1).await, ["4hello"]);
}

#[tokio::test]
async fn a_post_carries_several_packets() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    c.post_ok(format!("4a\x1e4b\x1eb{}\x1e4c\x1e4", b64(&[1, 2, 3])))
        .await;
    let got = s.rec.wait_messages(&c.sid, 5).await;
    assert_eq!(
        got,
        [
            text("a"),
            text("b"),
            binary(&[1, 2, 3]),
            text("c"),
            text("")
        ]
    );
}

#[tokio::test]
async fn waiting_packets_leave_in_one_response() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let sock = s.rec.socket(&c.sid);
    sock.send(text("x")).unwrap();
    sock.send(binary(&[1, 2, 3])).unwrap();
    sock.send(text("y")).unwrap();
    let r = c.get().await;
    assert_eq!(r.body, format!("4x\x1eb{}\x1e4y", b64(&[1, 2, 3])));
}

#[tokio::test]
async fn binary_over_polling_is_base64_both_ways() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let all: Vec<u8> = (0..=255).collect();
    c.post_ok(format!("b{}", b64(&all))).await;
    assert_eq!(s.rec.wait_messages(&c.sid, 1).await, [binary(&all)]);
    assert_eq!(c.recv(1).await, [format!("b{}", b64(&all))]);
}

#[tokio::test]
async fn post_over_max_http_buffer_size_is_413_and_the_session_stays() {
    let s = start(quiet().max_http_buffer_size(100)).await;
    let c = Polling::handshake(s.addr, P).await;
    let r = c.post(format!("4{}", "x".repeat(200))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.count(), 1);
    assert!(!s.rec.is_closed(&c.sid));
    c.post_ok("4fits").await;
    assert_eq!(c.recv(1).await, ["4fits"]);
    assert_eq!(s.rec.messages(&c.sid), [text("fits")]);
}

#[tokio::test]
async fn a_second_concurrent_get_closes_the_session() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let url = c.url();
    let first = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(ms(100)).await;
    let second = c.get().await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    let first = within("the first GET", first).await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.packets(), ["1"]);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport error");
    s.gone().await;
}

#[tokio::test]
async fn close_packet_while_a_get_is_pending() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let url = c.url();
    let pending = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(ms(100)).await;
    c.post_ok("1").await;
    let r = within("the pending GET", pending).await.unwrap();
    assert_eq!(
        (r.status, r.packets()),
        (StatusCode::OK, vec!["6".to_owned()])
    );
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport close");
    s.gone().await;
    c.get().await.assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn close_packet_without_a_pending_get() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    c.post_ok("4bye\x1e1").await;
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport close");
    assert_eq!(s.rec.messages(&c.sid), [text("bye")]);
    s.gone().await;
}

#[tokio::test]
async fn a_post_that_does_not_parse_closes_the_session() {
    let s = start(quiet()).await;
    for body in ["zzz", "9x", ""] {
        let c = Polling::handshake(s.addr, P).await;
        c.post_ok(body).await;
        assert_eq!(
            s.rec.wait_closed(&c.sid).await,
            "parse error",
            "body {body:?}"
        );
        s.gone().await;
    }
}

#[tokio::test]
async fn packets_before_a_bad_one_are_delivered() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    c.post_ok("4a\x1ezzz").await;
    assert_eq!(s.rec.wait_closed(&c.sid).await, "parse error");
    assert_eq!(s.rec.messages(&c.sid), [text("a")]);
    s.gone().await;
}

#[tokio::test]
async fn binary_post_is_refused_on_eio4() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let resp = http()
        .post(c.url())
        .header("content-type", "application/octet-stream")
        .body(vec![4u8, 1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport error");
    assert!(s.rec.messages(&c.sid).is_empty());
    s.gone().await;
}

#[tokio::test]
async fn overlapping_posts_close_the_session() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let url = c.url();
    let slow = tokio::spawn(async move {
        http()
            .post(url)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
    });
    tx.send(Ok(Bytes::from_static(b"4ab"))).await.unwrap();
    tokio::time::sleep(ms(100)).await;
    let second = c.post("4c").await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    drop(tx);
    let _ = within("the slow POST", slow).await;
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport error");
    s.gone().await;
}

#[tokio::test]
async fn aborted_long_poll_closes_the_session() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET {P}/?EIO=4&transport=polling&sid={} HTTP/1.1\r\nHost: {}\r\n\r\n",
        c.sid, s.addr
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(ms(100)).await;
    drop(tcp);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "transport error");
    s.gone().await;
}

#[tokio::test]
async fn server_close_answers_the_pending_get_with_a_close_packet() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let url = c.url();
    let pending = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(ms(100)).await;
    s.rec.socket(&c.sid).close();
    let r = within("the pending GET", pending).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(data_packets(&r.packets()), ["1"]);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "forced close");
    s.gone().await;
}

#[tokio::test]
async fn server_close_sends_what_is_waiting_first() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let sock = s.rec.socket(&c.sid);
    sock.send(text("bye")).unwrap();
    sock.close();
    let mut got = Vec::new();
    while !got.iter().any(|p| p == "1") {
        let r = c.get().await;
        assert_eq!(r.status, StatusCode::OK, "{r:?} after {got:?}");
        got.extend(data_packets(&r.packets()));
    }
    assert_eq!(got, ["4bye", "1"]);
    assert_eq!(s.rec.wait_closed(&c.sid).await, "forced close");
    s.gone().await;
    c.get().await.assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn send_on_a_closed_session_is_an_error() {
    let s = start(quiet()).await;
    let c = Polling::handshake(s.addr, P).await;
    let sock = s.rec.socket(&c.sid);
    c.post_ok("1").await;
    s.rec.wait_closed(&c.sid).await;
    assert!(sock.send(text("too late")).is_err());
    s.gone().await;
}
