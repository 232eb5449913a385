//! `serve_client` (Node's option of the same name): the `socket.io-client` browser bundle served
//! under the server's path, so a page can load `<path>/socket.io.js` from the server it talks to.
//!
//! The files come from a `socket.io-client` installation: the directory given to the builder's
//! [`client_dir`](crate::SocketIoBuilder::client_dir), or else the first
//! `node_modules/socket.io-client/dist/` found walking up from the current directory. They are
//! read once, when the layer is built, and served from memory with an `ETag` (the client version
//! and a hash of the file), answering `304 Not Modified` to a matching `If-None-Match`. With no
//! installation the option is off and one log line says why and how to turn it on.
//!
//! The requests are answered in front of the engine: a wrapper around it (a [`DynEngine`]) that
//! claims the bundle's paths and hands every other request to the engine untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

use crate::engine::{DisconnectReason, DynEngine, EngineConfig};

/// The files of `socket.io-client/dist` that are served (Node serves the same names).
const FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The file every installation has; its presence identifies a `dist` directory.
const MAIN_FILE: &str = "socket.io.js";

const JS: &str = "application/javascript; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// One file of the bundle, ready to serve.
struct ClientFile {
    body: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
}

/// The bundle in memory: file name → file, and where it is served.
pub(crate) struct ClientFiles {
    /// The server path without a trailing slash (`/socket.io`; empty for `/`).
    base: String,
    files: HashMap<&'static str, ClientFile>,
}

impl ClientFiles {
    /// The file name a request path names, when it is one of the bundle's paths.
    fn name_of(&self, path: &str) -> Option<&'static str> {
        let name = path.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        FILES.iter().copied().find(|f| *f == name)
    }

    /// Answers a request for `name`: the file, `304` when the client has it, `404` when this
    /// installation lacks it, `405` for methods other than GET and HEAD.
    fn respond(&self, name: &str, method: &Method, headers: &HeaderMap) -> Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            let mut res = status(StatusCode::METHOD_NOT_ALLOWED);
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
        let Some(file) = self.files.get(name) else {
            return status(StatusCode::NOT_FOUND);
        };
        let not_modified = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|v| etag_matches(v.as_bytes(), file.etag.as_bytes()));
        let mut res = if not_modified {
            tracing::trace!(file = name, "serve_client: 304");
            status(StatusCode::NOT_MODIFIED)
        } else {
            tracing::trace!(file = name, "serve_client: 200");
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(file.body.clone())
            };
            let mut res = Response::new(body);
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, file.content_type.clone());
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.body.len()));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        };
        let h = res.headers_mut();
        h.insert(header::ETAG, file.etag.clone());
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        res
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = code;
    res
}

/// Whether an `If-None-Match` value (`*`, or a list of strong or weak tags) names `etag`.
fn etag_matches(if_none_match: &[u8], etag: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(if_none_match) else {
        return false;
    };
    let Ok(etag) = std::str::from_utf8(etag) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// FNV-1a, 64 bits: a content hash stable across builds and Rust versions, for the ETag.
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The `dist` directory under `dir`: `dir` itself, `dir/dist` (the package), or
/// `dir/node_modules/socket.io-client/dist` (a project).
fn dist_under(dir: &Path) -> Option<PathBuf> {
    [
        dir.to_path_buf(),
        dir.join("dist"),
        dir.join("node_modules")
            .join("socket.io-client")
            .join("dist"),
    ]
    .into_iter()
    .find(|d| d.join(MAIN_FILE).is_file())
}

/// The first `node_modules/socket.io-client/dist` walking up from `start`.
fn find_upwards(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let dist = dir
            .join("node_modules")
            .join("socket.io-client")
            .join("dist");
        dist.join(MAIN_FILE).is_file().then_some(dist)
    })
}

/// The `version` of the package.json next to `dist`, if it reads.
fn client_version(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.parent()?.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let version = json.get("version")?.as_str()?;
    // Keep the ETag a valid header value whatever the file says.
    version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        .then(|| version.to_owned())
}

/// Reads the bundle from `dist` (served under `path`).
fn read_dist(path: &str, dist: &Path) -> std::io::Result<(ClientFiles, Option<String>)> {
    let version = client_version(dist);
    let mut files = HashMap::new();
    for name in FILES {
        let file = dist.join(name);
        let body = match std::fs::read(&file) {
            Ok(b) => Bytes::from(b),
            // Older clients lack some of the variants; those answer 404.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != MAIN_FILE => continue,
            Err(e) => return Err(e),
        };
        let hash = fnv1a(&body);
        let tag = match &version {
            Some(v) => format!("\"{v}-{hash:016x}\""),
            None => format!("\"{hash:016x}\""),
        };
        let etag = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        let content_type = if name.ends_with(".map") { JSON } else { JS };
        files.insert(
            name,
            ClientFile {
                body,
                content_type: HeaderValue::from_static(content_type),
                etag,
            },
        );
    }
    Ok((
        ClientFiles {
            base: path.trim_end_matches('/').to_owned(),
            files,
        },
        version,
    ))
}

/// Finds and reads the bundle for a server at `path`; `None` (after one log line saying why and
/// how to fix it) when there is none.
pub(crate) fn load(path: &str, client_dir: Option<&Path>) -> Option<ClientFiles> {
    const HOW: &str = "install it with `npm install socket.io-client`, point the builder's \
                       `client_dir` at it, or turn this off with `serve_client(false)`";
    let dist = match client_dir {
        Some(dir) => match dist_under(dir) {
            Some(d) => d,
            None => {
                tracing::warn!(
                    client_dir = %dir.display(),
                    "serve_client is off: no socket.io-client bundle (dist/{MAIN_FILE}) in client_dir; {HOW}"
                );
                return None;
            }
        },
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            match find_upwards(&cwd) {
                Some(d) => d,
                None => {
                    tracing::info!(
                        cwd = %cwd.display(),
                        "serve_client is off: no node_modules/socket.io-client/dist found in the \
                         current directory or above; {HOW}"
                    );
                    return None;
                }
            }
        }
    };
    match read_dist(path, &dist) {
        Ok((files, version)) => {
            tracing::info!(
                dir = %dist.display(),
                version = version.as_deref().unwrap_or("unknown"),
                "serving the socket.io-client bundle at {}/{MAIN_FILE}",
                files.base
            );
            Some(files)
        }
        Err(e) => {
            tracing::warn!(
                dir = %dist.display(),
                error = %e,
                "serve_client is off: the socket.io-client bundle could not be read; {HOW}"
            );
            None
        }
    }
}

/// The engine behind a layer, with the bundle's requests answered in front of it when
/// `serve_client` is on and an installation was found; the engine itself otherwise.
pub(crate) fn wrap(
    engine: Arc<dyn DynEngine>,
    path: &str,
    enabled: bool,
    client_dir: Option<&Path>,
) -> Arc<dyn DynEngine> {
    if !enabled {
        return engine;
    }
    match load(path, client_dir) {
        Some(files) => Arc::new(ServeClient {
            inner: engine,
            files,
        }),
        None => engine,
    }
}

/// An engine with the client bundle served in front of it.
struct ServeClient {
    inner: Arc<dyn DynEngine>,
    files: ClientFiles,
}

impl DynEngine for ServeClient {
    fn matches(&self, path: &str) -> bool {
        self.files.name_of(path).is_some() || self.inner.matches(path)
    }

    fn handle(
        self: Arc<Self>,
        req: Request<Body>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<Body>> + Send>> {
        match self.files.name_of(req.uri().path()) {
            Some(name) => {
                let res = self.files.respond(name, req.method(), req.headers());
                Box::pin(std::future::ready(res))
            }
            None => self.inner.clone().handle(req),
        }
    }

    fn client_count(&self) -> usize {
        self.inner.client_count()
    }

    fn transport_counts(&self) -> (usize, usize) {
        self.inner.transport_counts()
    }

    fn close_all(&self, reason: DisconnectReason) {
        self.inner.close_all(reason)
    }

    fn config(&self) -> &EngineConfig {
        self.inner.config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules/socket.io-client/dist")
    }

    #[test]
    fn if_none_match_forms() {
        let etag = b"\"4.8.1-00ff\"";
        assert!(etag_matches(b"\"4.8.1-00ff\"", etag));
        assert!(etag_matches(b"W/\"4.8.1-00ff\"", etag));
        assert!(etag_matches(b"\"other\", W/\"4.8.1-00ff\"", etag));
        assert!(etag_matches(b"*", etag));
        assert!(!etag_matches(b"\"4.8.1\"", etag));
        assert!(!etag_matches(b"4.8.1-00ff", etag));
        assert!(!etag_matches(b"", etag));
        assert!(!etag_matches(&[0xff, 0xfe], etag));
    }

    #[test]
    fn finds_the_dist_directory_from_any_level() {
        let dist = dist();
        if !dist.join(MAIN_FILE).is_file() {
            panic!("{} is missing: run ./scripts/test once", dist.display());
        }
        let package = dist.parent().unwrap();
        let project = package.parent().unwrap().parent().unwrap();
        assert_eq!(dist_under(&dist), Some(dist.clone()));
        assert_eq!(dist_under(package), Some(dist.clone()));
        assert_eq!(dist_under(project), Some(dist.clone()));
        assert_eq!(
            find_upwards(&project.join("some").join("dir")),
            Some(dist.clone())
        );
        assert_eq!(dist_under(Path::new("/nonexistent/socket.io-client")), None);
    }

    #[test]
    fn bundle_paths_under_the_server_path() {
        let (files, version) = read_dist("/socket.io", &dist()).unwrap();
        assert!(version.is_some());
        assert_eq!(
            files.name_of("/socket.io/socket.io.js"),
            Some("socket.io.js")
        );
        assert_eq!(
            files.name_of("/socket.io/socket.io.msgpack.min.js.map"),
            Some("socket.io.msgpack.min.js.map")
        );
        assert_eq!(files.name_of("/socket.io/"), None);
        assert_eq!(files.name_of("/socket.io/socket.io.jsx"), None);
        assert_eq!(files.name_of("/socket.iosocket.io.js"), None);
        assert_eq!(files.name_of("/other/socket.io.js"), None);
        let (root, _) = read_dist("/", &dist()).unwrap();
        assert_eq!(root.name_of("/socket.io.js"), Some("socket.io.js"));
    }

    #[test]
    fn off_without_an_installation() {
        assert!(load("/socket.io", Some(Path::new("/nonexistent/dir"))).is_none());
    }
}
