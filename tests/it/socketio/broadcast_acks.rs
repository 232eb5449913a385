//! Broadcasts with acknowledgements: every reached client's answer, or the partial answers and
//! an error at the timeout.

use super::*;
use axum_socketio::{AckError, Data, Socket};

async fn three_clients(s: &Sio, answering: &[bool; 3]) -> Js {
    s.io.on_connection(|socket: Socket, Data(auth): Data<Value>| async move {
        if let Some(room) = auth.get("room").and_then(Value::as_str) {
            socket.join(room.to_owned());
        }
    });
    let mut js = Js::start(&s.url).await;
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        let room = if i == 2 { "odd" } else { "even" };
        js.connect(
            name,
            "/",
            json!({"transports": ["websocket"], "auth": {"room": room}}),
        )
        .await;
        if answering[i] {
            js.answer(name, "poll", json!([format!("answer-{name}")]))
                .await;
        }
    }
    wait_until("3 sockets", || s.count() == 3).await;
    js
}

#[tokio::test]
async fn every_client_answers() {
    let s = start(builder()).await;
    let mut js = three_clients(&s, &[true, true, true]).await;
    let mut got = within(
        "the broadcast acks",
        s.io.timeout(Duration::from_secs(2))
            .emit_with_ack::<_, String>("poll", &json!({"q": 1})),
    )
    .await
    .unwrap();
    got.sort();
    assert_eq!(got, ["answer-a", "answer-b", "answer-c"]);
    for c in ["a", "b", "c"] {
        assert_eq!(js.event(c, "poll").await, json!([{"q": 1}, "$ack"]));
    }

    // A room: only its members are asked, and only they answer.
    let mut got =
        s.io.to("even")
            .timeout(Duration::from_secs(2))
            .emit_with_ack::<_, String>("poll", &2)
            .await
            .unwrap();
    got.sort();
    assert_eq!(got, ["answer-a", "answer-b"]);

    // Nobody reached: done at once with no answers.
    let got =
        s.io.to("nobody-here")
            .timeout(Duration::from_secs(2))
            .emit_with_ack::<_, String>("poll", &3)
            .await
            .unwrap();
    assert!(got.is_empty());

    js.exit().await;
    s.assert_clean().await;
}

#[tokio::test]
async fn partial_answers_and_a_timeout_when_one_client_is_silent() {
    let s = start(builder()).await;
    let mut js = three_clients(&s, &[true, false, true]).await;
    let err = within(
        "the broadcast acks",
        s.io.timeout(ms(300))
            .emit_with_ack::<_, String>("poll", &()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err.error, AckError::Timeout), "{err:?}");
    assert_eq!(err.error.to_string(), "operation has timed out");
    let mut partial = err.responses;
    partial.sort();
    assert_eq!(partial, ["answer-a", "answer-c"]);
    // The silent client did get the event.
    assert_eq!(js.event("b", "poll").await, json!(["$ack"]));
    js.exit().await;
    s.assert_clean().await;
}
