//! The tower `Layer`/`Service` pair: requests under the engine's path go to the engine, every
//! other request goes to the inner service untouched.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tower_http::cors::Cors;
use tower_layer::Layer;
use tower_service::Service;

use super::config::{BoxFuture, EngineConfig, EngineIoBuilder};
use super::server::Engine;
use super::{DisconnectReason, EngineHandler};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The engine as the layer sees it, with the handler type erased: one virtual call per HTTP
/// request, none per websocket message.
pub(crate) trait DynEngine: Send + Sync + 'static {
    fn matches(&self, path: &str) -> bool;
    fn handle(self: Arc<Self>, req: Request<Body>) -> BoxFuture<Response<Body>>;
    fn client_count(&self) -> usize;
    fn transport_counts(&self) -> (usize, usize);
    fn close_all(&self, reason: DisconnectReason);
    fn config(&self) -> &EngineConfig;
}

impl<H: EngineHandler> DynEngine for Engine<H> {
    fn matches(&self, path: &str) -> bool {
        Engine::matches(self, path)
    }
    fn handle(self: Arc<Self>, req: Request<Body>) -> BoxFuture<Response<Body>> {
        Engine::handle(self, req)
    }
    fn client_count(&self) -> usize {
        Engine::client_count(self)
    }
    fn transport_counts(&self) -> (usize, usize) {
        Engine::transport_counts(self)
    }
    fn close_all(&self, reason: DisconnectReason) {
        Engine::close_all(self, reason)
    }
    fn config(&self) -> &EngineConfig {
        &self.config
    }
}

/// Hands a request to the engine; wrapped in tower-http's `Cors` when CORS is configured.
#[derive(Clone)]
pub(crate) struct EngineCall(Arc<dyn DynEngine>);

impl Service<Request<Body>> for EngineCall {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let fut = self.0.clone().handle(req);
        Box::pin(async move { Ok(fut.await) })
    }
}

/// Puts something into the extensions of requests that pass through (the Socket.IO layer puts
/// its `Io` handle there for the `Io` extractor).
pub(crate) type Extend = Arc<dyn Fn(&mut http::Extensions) + Send + Sync>;

/// What every clone of a layer and of its services shares. One `Arc`: axum clones the service
/// for every request, and this makes that one reference count.
#[derive(Clone)]
pub(crate) struct Route(Arc<RouteInner>);

pub(crate) struct RouteInner {
    pub(crate) engine: Arc<dyn DynEngine>,
    call: EngineCall,
    cors: Option<Cors<EngineCall>>,
    pub(crate) extend: Option<Extend>,
}

impl std::ops::Deref for Route {
    type Target = RouteInner;
    fn deref(&self) -> &RouteInner {
        &self.0
    }
}

impl Route {
    pub(crate) fn new(engine: Arc<dyn DynEngine>, extend: Option<Extend>) -> Self {
        let call = EngineCall(engine.clone());
        let cors = engine.config().cors.clone().map(|c| c.layer(call.clone()));
        Route(Arc::new(RouteInner {
            engine,
            call,
            cors,
            extend,
        }))
    }

    fn serve(&self, req: Request<Body>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        match &self.cors {
            Some(cors) => {
                let mut cors = cors.clone();
                Box::pin(async move {
                    match cors.call(req).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    }
                })
            }
            None => self.call.0.clone().handle(req),
        }
    }
}

/// A raw Engine.IO server as a tower [`Layer`]: requests under its path (default `/engine.io/`)
/// are answered by the engine, all others go to the wrapped service.
///
/// Every clone shares one session table, so `Router::layer`, which clones the layer for each
/// route, still serves one engine.
#[derive(Clone)]
pub struct EngineIoLayer {
    route: Route,
}

impl fmt::Debug for EngineIoLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoLayer")
            .field("config", self.route.engine.config())
            .finish()
    }
}

impl EngineIoLayer {
    /// A layer with every default around `handler`.
    pub fn new<H: EngineHandler>(handler: H) -> Self {
        EngineIoBuilder::new().build(handler)
    }

    /// A builder for the engine's options.
    pub fn builder() -> EngineIoBuilder {
        EngineIoBuilder::new()
    }

    pub(crate) fn from_config<H: EngineHandler>(config: EngineConfig, handler: H) -> Self {
        let engine: Arc<dyn DynEngine> = Engine::new(config, handler);
        EngineIoLayer {
            route: Route::new(engine, None),
        }
    }

    /// How many sessions are open now (Node's `engine.clientsCount`).
    pub fn client_count(&self) -> usize {
        self.route.engine.client_count()
    }

    /// Closes every session ("forced close").
    pub fn close(&self) {
        self.route.engine.close_all(DisconnectReason::ForcedClose);
    }
}

impl<S> Layer<S> for EngineIoLayer {
    type Service = EngineIoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineIoService {
            inner,
            route: self.route.clone(),
        }
    }
}

/// The service made by [`EngineIoLayer`] (and by the Socket.IO layer): the engine in front of
/// `S`.
#[derive(Clone)]
pub struct EngineIoService<S> {
    inner: S,
    route: Route,
}

impl<S> EngineIoService<S> {
    pub(crate) fn with_route(inner: S, route: Route) -> Self {
        EngineIoService { inner, route }
    }
}

impl<S: fmt::Debug> fmt::Debug for EngineIoService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoService")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for EngineIoService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if self.route.engine.matches(req.uri().path()) {
            return ResponseFuture {
                kind: Kind::Engine {
                    fut: self.route.serve(req.map(Body::new)),
                },
            };
        }
        if let Some(extend) = &self.route.extend {
            extend(req.extensions_mut());
        }
        ResponseFuture {
            kind: Kind::Inner {
                fut: self.inner.call(req),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`EngineIoService`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Engine { fut: Pin<Box<dyn Future<Output = Response<Body>> + Send>> },
        Inner { #[pin] fut: F },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Engine { fut } => fut.as_mut().poll(cx).map(Ok),
            KindProj::Inner { fut } => fut.poll(cx).map_ok(|res| res.map(Body::new)),
        }
    }
}
