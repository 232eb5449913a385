//! Engine options, with the Node server's defaults.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use tower_http::cors::CorsLayer;

use super::compress::HttpCompression;
use super::layer::EngineIoLayer;
use super::{EngineHandler, Message, Transport};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type AllowRequest = Arc<dyn Fn(&Parts) -> BoxFuture<Result<(), String>> + Send + Sync>;
pub(crate) type GenerateId = Arc<dyn Fn(&Parts) -> String + Send + Sync>;

/// The `io` cookie set on the polling handshake (Node's `cookie` option), for sticky sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieOptions {
    /// Cookie name (default `io`).
    pub name: String,
    /// `Path` attribute (default `/`).
    pub path: Option<String>,
    /// `HttpOnly` attribute (default on).
    pub http_only: bool,
    /// `SameSite` attribute (default `Lax`).
    pub same_site: Option<String>,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions {
            name: "io".into(),
            path: Some("/".into()),
            http_only: true,
            same_site: Some("Lax".into()),
        }
    }
}

impl CookieOptions {
    pub(crate) fn header_value(&self, sid: &str) -> String {
        let mut v = format!("{}={}", self.name, sid);
        if let Some(p) = &self.path {
            v.push_str("; Path=");
            v.push_str(p);
        }
        if self.http_only {
            v.push_str("; HttpOnly");
        }
        if let Some(s) = &self.same_site {
            v.push_str("; SameSite=");
            v.push_str(s);
        }
        v
    }
}

/// Every Engine.IO option. Built with [`EngineIoBuilder`] (or the Socket.IO builder, which
/// forwards to it); the defaults are the Node server's.
#[derive(Clone)]
pub struct EngineConfig {
    pub(crate) path: String,
    pub(crate) add_trailing_slash: bool,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) upgrade_timeout: Duration,
    pub(crate) max_http_buffer_size: usize,
    pub(crate) transports: Vec<Transport>,
    pub(crate) allow_upgrades: bool,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) cors: Option<CorsLayer>,
    pub(crate) initial_packet: Option<Message>,
    pub(crate) cookie: Option<CookieOptions>,
    pub(crate) generate_id: Option<GenerateId>,
    pub(crate) ws_read_buffer_size: usize,
    pub(crate) max_buffered_packets: usize,
    pub(crate) allow_eio3: bool,
    pub(crate) http_compression: Option<HttpCompression>,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("add_trailing_slash", &self.add_trailing_slash)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_http_buffer_size", &self.max_http_buffer_size)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("allow_request", &self.allow_request.is_some())
            .field("cors", &self.cors.is_some())
            .field("initial_packet", &self.initial_packet)
            .field("cookie", &self.cookie)
            .field("generate_id", &self.generate_id.is_some())
            .field("ws_read_buffer_size", &self.ws_read_buffer_size)
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("allow_eio3", &self.allow_eio3)
            .field("http_compression", &self.http_compression)
            .finish()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/engine.io".into(),
            add_trailing_slash: true,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            transports: vec![Transport::Polling, Transport::Websocket],
            allow_upgrades: true,
            allow_request: None,
            cors: None,
            initial_packet: None,
            cookie: None,
            generate_id: None,
            ws_read_buffer_size: 2048,
            max_buffered_packets: 1024,
            allow_eio3: false,
            http_compression: Some(HttpCompression::default()),
        }
    }
}

impl EngineConfig {
    /// The path the engine serves, as configured (without the trailing slash).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Builds an [`EngineIoLayer`] (a raw Engine.IO server) with options other than the defaults.
///
/// ```
/// use std::time::Duration;
/// # use axum_socketio::engine::{EngineHandler, EngineSocket, Message, DisconnectReason};
/// # struct Echo;
/// # impl EngineHandler for Echo {
/// #     type Connection = ();
/// #     fn on_open(&self, _: &EngineSocket, _: &http::request::Parts) {}
/// #     fn on_message(&self, _: &(), s: &EngineSocket, m: Message) { s.send(m).ok(); }
/// #     fn on_close(&self, _: &(), _: &EngineSocket, _: DisconnectReason) {}
/// # }
/// let layer = axum_socketio::engine::EngineIoLayer::builder()
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200))
///     .build(Echo);
/// ```
#[derive(Debug, Clone, Default)]
pub struct EngineIoBuilder {
    pub(crate) config: EngineConfig,
}

impl EngineIoBuilder {
    /// A builder with every default (path `/engine.io`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the engine is served (default `/engine.io`). A trailing slash is ignored.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path: String = path.into();
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        self.config.path = path;
        self
    }

    /// With `true` (the default) the engine answers `<path>/…` (what Node's clients request) and
    /// `<path>` itself; with `false`, only `<path>` itself, for clients configured with
    /// `addTrailingSlash: false`.
    pub fn add_trailing_slash(mut self, enabled: bool) -> Self {
        self.config.add_trailing_slash = enabled;
        self
    }

    /// How often the server pings the client (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.config.ping_interval = d;
        self
    }

    /// How long the server waits for the pong before closing with "ping timeout" (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.config.ping_timeout = d;
        self
    }

    /// How long an upgrade to websocket may take before the websocket is dropped (default 10 s).
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.config.upgrade_timeout = d;
        self
    }

    /// The largest message (websocket) or request body (polling) accepted, in bytes (default
    /// 1 000 000). Sent to clients as `maxPayload`.
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.config.max_http_buffer_size = bytes;
        self
    }

    /// The transports accepted (default polling and websocket).
    pub fn transports(mut self, transports: &[Transport]) -> Self {
        self.config.transports = transports.to_vec();
        self
    }

    /// Whether polling sessions may upgrade to websocket (default `true`).
    pub fn allow_upgrades(mut self, enabled: bool) -> Self {
        self.config.allow_upgrades = enabled;
        self
    }

    /// A hook run on every handshake request; `Err(message)` refuses it with `403`
    /// `{"code":4,"message":<message>}`.
    pub fn allow_request<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.config.allow_request = Some(Arc::new(move |parts| Box::pin(f(parts))));
        self
    }

    /// CORS for the engine's requests, with tower-http's [`CorsLayer`] (default: none, as Node).
    pub fn cors(mut self, cors: CorsLayer) -> Self {
        self.config.cors = Some(cors);
        self
    }

    /// A message sent to every client right after the open packet.
    pub fn initial_packet(mut self, msg: impl Into<Message>) -> Self {
        self.config.initial_packet = Some(msg.into());
        self
    }

    /// Set the `io` cookie with Node's default attributes on the polling handshake (default off).
    pub fn cookie(mut self, enabled: bool) -> Self {
        self.config.cookie = enabled.then(CookieOptions::default);
        self
    }

    /// Set a cookie with these attributes on the polling handshake.
    pub fn cookie_options(mut self, options: CookieOptions) -> Self {
        self.config.cookie = Some(options);
        self
    }

    /// Generate session ids from the handshake request (default: 20 random url-safe characters).
    pub fn generate_id<F>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> String + Send + Sync + 'static,
    {
        self.config.generate_id = Some(Arc::new(f));
        self
    }

    /// The websocket read buffer of each connection, in bytes (default 2048). Larger buffers read
    /// big messages in fewer calls; every idle connection holds one.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.ws_read_buffer_size = bytes.max(256);
        self
    }

    /// How many messages may wait to be sent on one session before it counts as a slow consumer
    /// (default 1024).
    pub fn max_buffered_packets(mut self, n: usize) -> Self {
        self.config.max_buffered_packets = n.max(1);
        self
    }

    /// Accept Engine.IO v3 clients (`EIO=3`: Socket.IO v2 clients) as well as v4 ones (default
    /// `false`, as Node's `allowEIO3`; refused handshakes get code 5 "Unsupported protocol
    /// version"). Only `EIO=3` itself is taken as v3; Node also takes a missing or unknown `EIO`
    /// for 3.
    pub fn allow_eio3(mut self, enabled: bool) -> Self {
        self.config.allow_eio3 = enabled;
        self
    }

    /// Compress polling responses with gzip or deflate, as the request's `Accept-Encoding`
    /// allows, when they are at least 1024 bytes (default `true`, as Node's `httpCompression`).
    /// Packets sent with `compress(false)` do not ask for it. Websocket frames are never
    /// compressed (no `perMessageDeflate`).
    pub fn http_compression(mut self, enabled: bool) -> Self {
        self.config.http_compression = enabled.then(HttpCompression::default);
        self
    }

    /// HTTP compression of polling responses with these options (threshold, level).
    pub fn http_compression_options(mut self, options: HttpCompression) -> Self {
        self.config.http_compression = Some(options);
        self
    }

    /// The options collected so far.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Builds the layer around `handler`.
    pub fn build<H: EngineHandler>(self, handler: H) -> EngineIoLayer {
        EngineIoLayer::from_config(self.config, handler)
    }
}
