//! Socket.IO protocol v4, spoken by v2 clients over Engine.IO v3 (`allow_eio3`).
//!
//! Its packets are written as v5's, except for the few that concern joining a namespace:
//! - the server connects the client to `/` as soon as the engine session opens, without a
//!   CONNECT from the client, and a successful CONNECT is answered `0[/nsp,]` with no payload;
//! - a client's CONNECT carries its auth in the query of the namespace (`0/admin?token=abc,`),
//!   and every packet's namespace may carry one (it is split off, as Node's `url.parse` does);
//! - socket ids are the engine session id on `/` and `<nsp>#<session id>` elsewhere;
//! - a refused CONNECT is an ERROR (type 4) whose payload is a plain string (the middleware's
//!   `data` when it gave some).
//!
//! EVENT, ACK and DISCONNECT packets are byte for byte the same in v4 and v5 (with either parser),
//! so a broadcast encoded once serves v2 and v3+ clients alike; what differs between Engine.IO v3
//! and v4 (payload framing, the type byte of binary websocket frames) is added by the transport
//! of each recipient when it writes.

use serde_json::{Map, Value};

use crate::engine::{self, EngineSocket, Utf8Bytes, form_decode};
use crate::protocol::{Packet, PacketData};

/// Whether the connection speaks the legacy protocol (an Engine.IO v3 client).
pub(crate) fn is_legacy(conn: &EngineSocket) -> bool {
    conn.protocol() == 3
}

/// The socket id for a new socket of `conn` in namespace `nsp`.
pub(crate) fn socket_id(conn: &EngineSocket, nsp: &str) -> String {
    if !is_legacy(conn) {
        return engine::generate_id();
    }
    if nsp == "/" {
        conn.id().to_owned()
    } else {
        format!("{nsp}#{}", conn.id())
    }
}

/// The answer to a successful CONNECT: `{"sid"…}` on v5, no payload on v4.
pub(crate) fn connect_reply(
    conn: &EngineSocket,
    nsp: Utf8Bytes,
    sid: &str,
    pid: Option<&str>,
) -> Packet {
    if is_legacy(conn) {
        Packet::connect(nsp, None)
    } else {
        Packet::connect_reply(nsp, sid, pid)
    }
}

/// The answer to a refused CONNECT: CONNECT_ERROR `{"message","data"}` on v5; on v4 an ERROR
/// whose payload is `data` when there is some, else the message as a string.
pub(crate) fn connect_error(
    conn: &EngineSocket,
    nsp: Utf8Bytes,
    message: &str,
    data: Option<Value>,
) -> Packet {
    if !is_legacy(conn) {
        return Packet::connect_error(nsp, message, data);
    }
    Packet {
        nsp,
        id: None,
        data: PacketData::ConnectError(match data {
            Some(data) if !data.is_null() => data,
            _ => Value::String(message.to_owned()),
        }),
    }
}

/// A packet of a legacy client as the server handles it: the namespace without its query, and
/// for a CONNECT the query as the auth object.
pub(crate) fn normalize(mut packet: Packet) -> Packet {
    let raw = packet.nsp.as_str();
    let cut = raw.find(['?', '#']).unwrap_or(raw.len());
    if cut == raw.len() {
        return packet;
    }
    let query = match raw[cut..].strip_prefix('?') {
        Some(q) => q.split('#').next().unwrap_or(""),
        None => "",
    };
    let auth = parse_query(query);
    let nsp = match &raw[..cut] {
        "" => "/".to_owned(),
        path => path.to_owned(),
    };
    packet.nsp = Utf8Bytes::from(nsp);
    if let PacketData::Connect(data) = &mut packet.data {
        *data = Some(Value::Object(auth));
    }
    packet
}

/// A query string as Node's `querystring.parse` reads it: `+` is a space, `%XX` a byte, a key
/// given more than once collects its values in an array.
fn parse_query(query: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), Value::String(form_decode(v)));
        match map.get_mut(&k) {
            None => {
                map.insert(k, v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(first) => {
                let first = first.take();
                map.insert(k, Value::Array(vec![first, v]));
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Args, DefaultParser, Parser};
    use serde_json::json;

    fn connect(nsp: &str) -> Packet {
        Packet::connect(nsp.to_owned(), None)
    }

    #[test]
    fn the_query_of_a_namespace_is_the_auth() {
        let p = normalize(connect("/admin?token=abc&x=1+2&x=%41&e"));
        assert_eq!(p.nsp.as_str(), "/admin");
        let PacketData::Connect(Some(auth)) = p.data else {
            panic!("no auth")
        };
        assert_eq!(auth, json!({"token": "abc", "x": ["1 2", "A"], "e": ""}));

        let p = normalize(connect("/admin"));
        assert!(matches!(p.data, PacketData::Connect(None)));
        let p = normalize(connect("/admin#frag?x=1"));
        assert_eq!(p.nsp.as_str(), "/admin");
        assert!(matches!(p.data, PacketData::Connect(Some(ref v)) if v == &json!({})));

        let p = normalize(Packet::event("/chat?x=1".to_owned(), "ev", Args::new()));
        assert_eq!(p.nsp.as_str(), "/chat");
        assert!(matches!(p.data, PacketData::Event { .. }));
    }

    #[test]
    fn errors_are_strings() {
        let conn = test_conn(3);
        let parser = DefaultParser::new();
        let p = connect_error(&conn, "/admin".into(), "Not authorized", None);
        assert_eq!(
            parser.encode(&p).text(),
            Some(r#"44/admin,"Not authorized""#)
        );
        let p = connect_error(&conn, "/".into(), "no", Some(json!({"code": 7})));
        assert_eq!(parser.encode(&p).text(), Some(r#"44{"code":7}"#));
        let p = connect_reply(&conn, "/admin".into(), "x", None);
        assert_eq!(parser.encode(&p).text(), Some("40/admin,"));
        assert_eq!(socket_id(&conn, "/"), conn.id());
        assert_eq!(socket_id(&conn, "/admin"), format!("/admin#{}", conn.id()));

        let conn = test_conn(4);
        let p = connect_error(&conn, "/".into(), "no", None);
        assert_eq!(parser.encode(&p).text(), Some(r#"44{"message":"no"}"#));
        assert_eq!(socket_id(&conn, "/").len(), 20);
    }

    fn test_conn(protocol: u8) -> EngineSocket {
        engine::test_socket("sid0", protocol)
    }
}
