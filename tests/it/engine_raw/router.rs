//! The layer inside an axum app: paths, the inner router, tower::ServiceBuilder.

use super::*;

#[tokio::test]
async fn path_with_and_without_trailing_slash() {
    let s = start(quiet()).await;
    open_from(
        &get(&format!(
            "http://{}/engine.io/?EIO=4&transport=polling",
            s.addr
        ))
        .await,
    );
    open_from(
        &get(&format!(
            "http://{}/engine.io?EIO=4&transport=polling",
            s.addr
        ))
        .await,
    );
    let url = format!("ws://{}/engine.io?EIO=4&transport=websocket", s.addr);
    let mut ws = ws_connect_url(s.addr, &url).await.unwrap();
    assert!(ws.recv_text().await.starts_with('0'));
    assert_eq!(s.count(), 3);
}

#[tokio::test]
async fn custom_path() {
    let rec = Recorder::echo();
    let layer = quiet().path("/rt/eio/").build(rec);
    let app = Router::new()
        .route("/rt/eiox", get_route(|| async { "sibling" }))
        .route("/engine.io/", get_route(|| async { "not the engine here" }))
        .layer(layer.clone());
    let addr = serve(app).await;
    let c = Polling::handshake(addr, "/rt/eio").await;
    c.post_ok("4hi").await;
    assert_eq!(c.recv(1).await, ["4hi"]);
    open_from(&get(&format!("http://{addr}/rt/eio?EIO=4&transport=polling")).await);
    let (mut ws, _, _) = Ws::open(addr, "/rt/eio").await;
    ws.send_text("4ws").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4ws".into()));
    assert_eq!(layer.client_count(), 3);

    let r = get(&format!("http://{addr}/rt/eiox?EIO=4&transport=polling")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "sibling"));
    let r = get(&format!("http://{addr}/engine.io/?EIO=4&transport=polling")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "not the engine here")
    );
    assert_eq!(layer.client_count(), 3);
}

#[tokio::test]
async fn other_requests_reach_the_inner_router_untouched() {
    type Chunks = tokio::sync::mpsc::Receiver<Bytes>;
    let chunks: Arc<Mutex<Option<Chunks>>> = Arc::default();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    *chunks.lock().unwrap() = Some(rx);

    let layer = quiet().build(Recorder::echo());
    let app = Router::new()
        .route("/hello", get_route(|| async { "hello" }))
        .route(
            "/created",
            get_route(|| async { (StatusCode::CREATED, [("x-custom", "kept")], "made") }),
        )
        .route(
            "/echo",
            post_route(|req: Request| async move {
                let ct = req.headers().get("content-type").cloned();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let mut resp = body.into_response();
                if let Some(ct) = ct {
                    resp.headers_mut().insert("content-type", ct);
                }
                resp
            }),
        )
        .route(
            "/stream",
            get_route(move || {
                let rx = chunks.lock().unwrap().take().unwrap();
                async move {
                    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                        rx.recv().await.map(|c| (Ok::<_, Infallible>(c), rx))
                    });
                    Response::builder()
                        .header("content-type", "application/x-ndjson")
                        .body(Body::from_stream(stream))
                        .unwrap()
                }
            }),
        )
        .route("/engine.iox", get_route(|| async { "sibling" }))
        .layer(layer.clone());
    let addr = serve(app).await;
    let base = format!("http://{addr}");

    let r = get(&format!("{base}/hello")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "hello"));
    assert_eq!(r.header("cache-control"), None);
    let r = get(&format!("{base}/created")).await;
    assert_eq!(
        (r.status, r.header("x-custom"), r.body.as_str()),
        (StatusCode::CREATED, Some("kept"), "made")
    );
    let resp = http()
        .post(format!("{base}/echo"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 1, 2, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/octet-stream"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), [0, 1, 2, 0xff]);
    let r = get(&format!("{base}/engine.iox?EIO=4&transport=polling")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "sibling"));
    let r = get(&format!("{base}/nope")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A streaming body streams: the second chunk is only produced after the first arrived.
    let resp = within("GET /stream", http().get(format!("{base}/stream")).send())
        .await
        .unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    let mut body = resp.bytes_stream();
    tx.send(Bytes::from_static(b"first\n")).await.unwrap();
    let first = within("the first chunk", body.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_ref(), b"first\n");
    tx.send(Bytes::from_static(b"second\n")).await.unwrap();
    drop(tx);
    let mut rest = Vec::new();
    while let Some(chunk) = within("the rest of the body", body.next()).await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"second\n");
    assert_eq!(layer.client_count(), 0);
}

#[tokio::test]
async fn works_around_a_whole_router_with_service_builder() {
    init_tracing();
    let rec = Recorder::echo();
    let layer = quiet().build(rec.clone());
    let router = Router::new().route("/hello", get_route(|| async { "hello" }));
    let svc = tower::ServiceBuilder::new()
        .layer(layer.clone())
        .service(router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let make =
            axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(svc);
        axum::serve(listener, make).await.unwrap();
    });

    let c = Polling::handshake(addr, P).await;
    c.post_ok("4hi").await;
    assert_eq!(c.recv(1).await, ["4hi"]);
    let (mut ws, _, _) = Ws::open(addr, P).await;
    ws.send_text("4ws").await;
    assert_eq!(ws.recv_data().await, Frame::Text("4ws".into()));
    let r = get(&format!("http://{addr}/hello")).await;
    assert_eq!(r.body, "hello");
    assert_eq!(layer.client_count(), 2);
    ws.close().await;
    c.post_ok("1").await;
    wait_until("client_count() is back to 0", || layer.client_count() == 0).await;
}
