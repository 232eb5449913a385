//! The handshake of a socket: what the connection's first request said, plus the `auth` of its
//! CONNECT.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use http::{HeaderMap, header, request::Parts};
use serde::ser::SerializeMap;

use crate::engine::percent_decode;

/// What every socket of one connection shares: taken from the handshake request once.
///
/// The headers and the query are kept raw and turned into a `HeaderMap` and a `HashMap` on first
/// use: most applications never look, and every handshake would otherwise pay for both (about
/// twenty allocations) and keep them for the life of the connection.
pub(crate) struct Base {
    /// Every header as `[name length, value length]` (u32, little-endian), name, value; a copy,
    /// so that nothing keeps hyper's read buffer alive.
    raw_headers: Box<[u8]>,
    headers: OnceLock<HeaderMap>,
    address: String,
    xdomain: bool,
    secure: bool,
    issued: u64,
    url: String,
    query: OnceLock<HashMap<String, String>>,
    extensions: http::Extensions,
}

impl Base {
    pub(crate) fn from_parts(parts: &Parts) -> Arc<Base> {
        let issued = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip().to_string())
            .unwrap_or_default();
        let secure = parts.uri.scheme_str() == Some("https")
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes() == b"https");
        let total: usize = parts
            .headers
            .iter()
            .map(|(n, v)| 8 + n.as_str().len() + v.len())
            .sum();
        let mut raw = Vec::with_capacity(total);
        for (name, value) in &parts.headers {
            // Hyper refuses header blocks far below 4 GiB; a longer field could not be
            // described, so it would be left out rather than cut.
            let (Ok(n), Ok(v)) = (
                u32::try_from(name.as_str().len()),
                u32::try_from(value.len()),
            ) else {
                continue;
            };
            raw.extend_from_slice(&n.to_le_bytes());
            raw.extend_from_slice(&v.to_le_bytes());
            raw.extend_from_slice(name.as_str().as_bytes());
            raw.extend_from_slice(value.as_bytes());
        }
        // The same holds for axum's `OriginalUri`, a copy of the request URI: drop it, the handshake
        // keeps `url` as a string.
        let mut extensions = parts.extensions.clone();
        extensions.remove::<axum::extract::OriginalUri>();
        Arc::new(Base {
            xdomain: parts.headers.contains_key(header::ORIGIN),
            raw_headers: raw.into_boxed_slice(),
            headers: OnceLock::new(),
            address,
            secure,
            issued,
            url: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            query: OnceLock::new(),
            extensions,
        })
    }

    fn headers(&self) -> &HeaderMap {
        self.headers.get_or_init(|| {
            let mut headers = HeaderMap::new();
            let mut rest = &self.raw_headers[..];
            while let Some((name, value, next)) = next_raw_header(rest) {
                rest = next;
                let name = http::HeaderName::from_bytes(name);
                let value = http::HeaderValue::from_bytes(value);
                // Both were valid in the request they were copied from.
                if let (Ok(name), Ok(value)) = (name, value) {
                    headers.append(name, value);
                }
            }
            headers
        })
    }

    fn query(&self) -> &HashMap<String, String> {
        self.query.get_or_init(|| match self.url.split_once('?') {
            Some((_, q)) => form_urlencoded_pairs(q).into_iter().collect(),
            None => HashMap::new(),
        })
    }
}

/// The first header of `raw` (as [`Base::from_parts`] writes them) and what follows it.
fn next_raw_header(raw: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let n = u32::from_le_bytes(raw.get(0..4)?.try_into().ok()?) as usize;
    let v = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
    let name = raw.get(8..8 + n)?;
    let value = raw.get(8 + n..8 + n + v)?;
    Some((name, value, &raw[8 + n + v..]))
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// A socket's handshake (Node's `socket.handshake`): headers, time, address, xdomain, secure,
/// issued, url, query, auth. Cheap to clone.
#[derive(Clone)]
pub struct Handshake {
    base: Arc<Base>,
    auth: serde_json::Value,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("address", &self.base.address)
            .field("url", &self.base.url)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    pub(crate) fn new(base: Arc<Base>, auth: serde_json::Value) -> Self {
        Handshake { base, auth }
    }

    /// The handshake request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.base.headers()
    }

    /// When the connection opened, as Node prints it (`Date#toString`, in UTC).
    pub fn time(&self) -> String {
        let secs = self.base.issued / 1000;
        format_http_date(secs)
    }

    /// The client's IP address (from axum's `ConnectInfo`: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; empty otherwise).
    pub fn address(&self) -> &str {
        &self.base.address
    }

    /// Whether the request was cross-origin (it carried an `Origin` header).
    pub fn xdomain(&self) -> bool {
        self.base.xdomain
    }

    /// Whether the connection is over TLS (as far as the request tells).
    pub fn secure(&self) -> bool {
        self.base.secure
    }

    /// When the connection opened, in milliseconds since the epoch.
    pub fn issued(&self) -> u64 {
        self.base.issued
    }

    /// The handshake request's path and query.
    pub fn url(&self) -> &str {
        &self.base.url
    }

    /// The handshake request's query parameters.
    pub fn query(&self) -> &HashMap<String, String> {
        self.base.query()
    }

    /// The `auth` object of the CONNECT packet (`{}` when the client sent none).
    pub fn auth(&self) -> &serde_json::Value {
        &self.auth
    }

    /// The handshake request's extensions (what layers in front of this one put there).
    pub fn extensions(&self) -> &http::Extensions {
        &self.base.extensions
    }
}

impl serde::Serialize for Handshake {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .base
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), serde_json::Value::from(v)))
            })
            .collect();
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("headers", &headers)?;
        m.serialize_entry("time", &self.time())?;
        m.serialize_entry("address", &self.base.address)?;
        m.serialize_entry("xdomain", &self.base.xdomain)?;
        m.serialize_entry("secure", &self.base.secure)?;
        m.serialize_entry("issued", &self.base.issued)?;
        m.serialize_entry("url", &self.base.url)?;
        m.serialize_entry("query", self.base.query())?;
        m.serialize_entry("auth", &self.auth)?;
        m.end()
    }
}

/// Reads a handshake as [`Serialize`](serde::Serialize) writes it, which is also how Node servers
/// describe their sockets to the cluster (`fetchSockets` through an adapter). A field that is
/// missing or of another shape gets its empty value; `time` is recomputed from `issued`; the
/// request extensions do not travel.
impl<'de> serde::Deserialize<'de> for Handshake {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Handshake::from_json(&v))
    }
}

impl Handshake {
    pub(crate) fn from_json(v: &serde_json::Value) -> Handshake {
        use serde_json::Value;
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut headers = HeaderMap::new();
        if let Some(map) = v.get("headers").and_then(Value::as_object) {
            for (name, value) in map {
                let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
                    continue;
                };
                let values: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for value in values {
                    if let Ok(value) = http::HeaderValue::from_str(&text(value)) {
                        headers.append(name.clone(), value);
                    }
                }
            }
        }
        let query: HashMap<String, String> = v
            .get("query")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Array(items) => {
                                items.iter().map(text).collect::<Vec<_>>().join(",")
                            }
                            one => text(one),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let issued = v
            .get("issued")
            .and_then(|i| i.as_u64().or_else(|| i.as_f64().map(|f| f.max(0.0) as u64)))
            .unwrap_or(0);
        let flag = |name: &str| v.get(name).and_then(Value::as_bool).unwrap_or(false);
        let string = |name: &str| v.get(name).map(text).unwrap_or_default();
        Handshake {
            base: Arc::new(Base {
                raw_headers: Box::default(),
                headers: OnceLock::from(headers),
                address: string("address"),
                xdomain: flag("xdomain"),
                secure: flag("secure"),
                issued,
                url: string("url"),
                query: OnceLock::from(query),
                extensions: http::Extensions::new(),
            }),
            auth: v
                .get("auth")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
        }
    }
}

/// `Thu Nov 26 2026 10:00:00 GMT+0000 (Coordinated Universal Time)`, Node's `Date#toString` in UTC.
fn format_http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    let weekday = ((days + 4) % 7) as usize;
    const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        WD[weekday],
        MO[(month - 1) as usize],
        d,
        year,
        h,
        m,
        s
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates_like_node() {
        assert_eq!(
            super::format_http_date(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            super::format_http_date(1_795_000_000),
            "Wed Nov 18 2026 11:06:40 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn reads_what_it_writes() {
        let hs: super::Handshake = serde_json::from_value(serde_json::json!({
            "headers": {"host": "example.com", "x-many": ["a", "b"]},
            "time": "whatever",
            "address": "::1",
            "xdomain": true,
            "secure": false,
            "issued": 1_795_000_000_000u64,
            "url": "/socket.io/?EIO=4",
            "query": {"EIO": "4", "n": 3},
            "auth": {"token": "t"},
        }))
        .unwrap();
        assert_eq!(hs.headers().get_all("x-many").iter().count(), 2);
        assert_eq!(hs.address(), "::1");
        assert!(hs.xdomain());
        assert_eq!(hs.issued(), 1_795_000_000_000);
        assert_eq!(hs.query().get("n").map(String::as_str), Some("3"));
        assert_eq!(hs.auth()["token"], "t");
        let again = serde_json::to_value(&hs).unwrap();
        assert_eq!(again["url"], "/socket.io/?EIO=4");
        assert_eq!(again["headers"]["host"], "example.com");
    }

    #[test]
    fn decodes_query() {
        assert_eq!(crate::engine::percent_decode("a%20b+c%zz%4"), "a b c%zz%4");
    }
}
