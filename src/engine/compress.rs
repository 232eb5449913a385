//! HTTP compression of long-polling responses (Node's `httpCompression` option): gzip or
//! deflate, chosen by the request's `Accept-Encoding`, for bodies of at least `threshold` bytes,
//! unless every packet in the body was sent with `compress(false)`.
//!
//! Bodies are whole in memory (a polling response is built at once), so they are compressed in
//! one pass with `flate2`; large ones on the blocking pool, so that a big body does not hold up
//! the connections sharing the runtime thread.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use http::{HeaderMap, HeaderValue, header};

/// Bodies above this size are compressed on tokio's blocking pool.
const BLOCKING_ABOVE: usize = 64 * 1024;

/// Options of the HTTP compression of polling responses (Node's `httpCompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCompression {
    /// Bodies smaller than this many bytes are sent as they are (default 1024, as Node).
    pub threshold: usize,
    /// The zlib level, 0 (none) to 9 (smallest); default 6, as Node.
    pub level: u32,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression {
            threshold: 1024,
            level: 6,
        }
    }
}

impl HttpCompression {
    /// Compression with Node's defaults and this threshold.
    pub fn with_threshold(threshold: usize) -> Self {
        HttpCompression {
            threshold,
            ..Self::default()
        }
    }

    /// Sets the zlib level (clamped to 0..=9).
    #[must_use]
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
}

/// A content coding the server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding to use for a client's `Accept-Encoding`, as Node's `accepts(req).encodings(["gzip",
/// "deflate"])` picks it: the highest quality wins, then the one the client listed first, then
/// gzip; `q=0` refuses a coding; `*` stands for any coding not listed.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut best: Option<(Coding, f32, usize)> = None;
    let mut wildcard: Option<(f32, usize)> = None;
    let mut listed = [None::<f32>; 2];
    let mut position = 0;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let mut q = 1.0f32;
            for param in parts {
                if let Some((k, v)) = param.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v.trim().parse().unwrap_or(0.0);
                    }
                }
            }
            let coding = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")
            {
                Some(Coding::Gzip)
            } else if name.eq_ignore_ascii_case("deflate") {
                Some(Coding::Deflate)
            } else {
                if name == "*" && wildcard.is_none() {
                    wildcard = Some((q, position));
                }
                None
            };
            if let Some(coding) = coding {
                listed[coding as usize] = Some(q);
                consider(&mut best, coding, q, position);
            }
            position += 1;
        }
    }
    if let Some((q, pos)) = wildcard {
        for coding in [Coding::Gzip, Coding::Deflate] {
            if listed[coding as usize].is_none() {
                consider(&mut best, coding, q, pos);
            }
        }
    }
    best.map(|(c, _, _)| c)
}

fn consider(best: &mut Option<(Coding, f32, usize)>, coding: Coding, q: f32, position: usize) {
    if q <= 0.0 {
        return;
    }
    let better = match *best {
        None => true,
        Some((c, bq, bpos)) => {
            q > bq || (q == bq && (position < bpos || (position == bpos && coding < c)))
        }
    };
    if better {
        *best = Some((coding, q, position));
    }
}

impl PartialOrd for Coding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Coding {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

fn encode(coding: Coding, level: u32, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = Compression::new(level);
    let capacity = data.len() / 4 + 64;
    match coding {
        Coding::Gzip => {
            let mut enc = GzEncoder::new(Vec::with_capacity(capacity), level);
            enc.write_all(data)?;
            enc.finish()
        }
        Coding::Deflate => {
            let mut enc = ZlibEncoder::new(Vec::with_capacity(capacity), level);
            enc.write_all(data)?;
            enc.finish()
        }
    }
}

/// What to send: the body, and the `Content-Encoding` / `Vary` headers to add.
pub(crate) struct Compressed {
    pub(crate) body: Bytes,
    pub(crate) coding: Option<Coding>,
    /// The body depends on `Accept-Encoding` (it was big enough to be compressed).
    pub(crate) vary: bool,
}

/// Whether [`maybe_compress`] might compress a body of `len` bytes. When it cannot, the body goes
/// out as it is, with no `Vary`: [`Compressed::plain`].
pub(crate) fn may_compress(options: Option<HttpCompression>, wanted: bool, len: usize) -> bool {
    options.is_some_and(|o| wanted && len >= o.threshold)
}

/// Compresses `body` when the options, the packets and the client allow it.
pub(crate) async fn maybe_compress(
    options: Option<HttpCompression>,
    wanted: bool,
    request: &HeaderMap,
    body: Bytes,
) -> Compressed {
    let plain = |body, vary| Compressed {
        body,
        coding: None,
        vary,
    };
    let Some(options) = options else {
        return plain(body, false);
    };
    if !wanted || body.len() < options.threshold {
        return plain(body, false);
    }
    let Some(coding) = negotiate(request) else {
        return plain(body, true);
    };
    let result = if body.len() > BLOCKING_ABOVE {
        let data = body.clone();
        tokio::task::spawn_blocking(move || encode(coding, options.level, &data))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    } else {
        encode(coding, options.level, &body)
    };
    match result {
        Ok(out) => Compressed {
            body: out.into(),
            coding: Some(coding),
            vary: true,
        },
        Err(e) => {
            tracing::warn!(error = %e, "compression of a polling response failed; sending it raw");
            plain(body, true)
        }
    }
}

impl Compressed {
    /// A body sent as it is, whatever the client accepts.
    pub(crate) fn plain(body: Bytes) -> Self {
        Compressed {
            body,
            coding: None,
            vary: false,
        }
    }

    /// Adds `Content-Encoding` and `Vary: Accept-Encoding` to a response's headers.
    pub(crate) fn set_headers(&self, headers: &mut HeaderMap) {
        if let Some(coding) = self.coding {
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.as_str()),
            );
        }
        if self.vary {
            headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_follows_accepts() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(negotiate(&accept("gzip, deflate, br")), Some(Coding::Gzip));
        assert_eq!(negotiate(&accept("deflate, gzip")), Some(Coding::Deflate));
        assert_eq!(
            negotiate(&accept("gzip;q=0.5, deflate")),
            Some(Coding::Deflate)
        );
        assert_eq!(negotiate(&accept("gzip;q=0, deflate;q=0")), None);
        assert_eq!(negotiate(&accept("br, identity")), None);
        assert_eq!(negotiate(&accept("*")), Some(Coding::Gzip));
        assert_eq!(negotiate(&accept("gzip;q=0, *")), Some(Coding::Deflate));
        assert_eq!(negotiate(&accept("x-gzip")), Some(Coding::Gzip));
    }

    #[tokio::test]
    async fn compresses_above_the_threshold_only() {
        let big = Bytes::from("4hello ".repeat(400));
        let opts = Some(HttpCompression::default());
        let c = maybe_compress(opts, true, &accept("gzip"), big.clone()).await;
        assert_eq!(c.coding, Some(Coding::Gzip));
        assert!(c.vary);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&c.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, big);

        let c = maybe_compress(opts, true, &accept("deflate"), big.clone()).await;
        assert_eq!(c.coding, Some(Coding::Deflate));
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&c.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, big);

        let small = Bytes::from_static(b"4hi");
        let c = maybe_compress(opts, true, &accept("gzip"), small.clone()).await;
        assert_eq!((c.coding, c.vary, c.body), (None, false, small));
        let c = maybe_compress(opts, false, &accept("gzip"), big.clone()).await;
        assert_eq!(c.coding, None);
        let c = maybe_compress(None, true, &accept("gzip"), big.clone()).await;
        assert_eq!(c.coding, None);
        let c = maybe_compress(opts, true, &HeaderMap::new(), big.clone()).await;
        assert_eq!((c.coding, c.vary), (None, true));
    }

    #[tokio::test]
    async fn big_bodies_compress_off_the_runtime_thread() {
        let big = Bytes::from(vec![b'a'; BLOCKING_ABOVE * 2]);
        let c = maybe_compress(Some(HttpCompression::default()), true, &accept("gzip"), big).await;
        assert_eq!(c.coding, Some(Coding::Gzip));
        assert!(c.body.len() < 4096);
    }
}
