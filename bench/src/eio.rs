//! Engine.IO v4 / Socket.IO v5 client sequences in raw frames: connect over websocket, over
//! polling, and the polling-then-websocket upgrade.

use std::io;
use std::time::Duration;

use bytes::Bytes;

use crate::http::Http;
use crate::sys::{self, within};
use crate::ws::{Msg, Ws};

/// How long any single network step may take before the connection counts as failed.
pub const STEP: Duration = Duration::from_secs(10);

pub const WS_PATH: &str = "/socket.io/?EIO=4&transport=websocket";
pub const POLL_PATH: &str = "/socket.io/?EIO=4&transport=polling";

pub fn host(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The `sid` of an open packet `0{"sid":"…",…}`.
pub fn open_sid(open: &[u8]) -> io::Result<String> {
    let bad = || {
        io::Error::other(format!(
            "bad open packet: {}",
            String::from_utf8_lossy(&open[..open.len().min(120)])
        ))
    };
    let json = open.strip_prefix(b"0").ok_or_else(bad)?;
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| bad())?;
    v.get("sid")
        .and_then(|s| s.as_str())
        .map(str::to_owned)
        .ok_or_else(bad)
}

/// A websocket session: upgrade, `0{…}` open, `40` → `40{sid}`. `i` picks the source address.
pub async fn connect_ws(port: u16, i: usize) -> io::Result<Ws> {
    let stream = within(
        STEP,
        "tcp connect",
        sys::tcp_connect(sys::source_ip(i), port),
    )
    .await?;
    let mut ws = within(
        STEP,
        "ws upgrade",
        Ws::upgrade(stream, &host(port), WS_PATH, i as u32),
    )
    .await?;
    let open = within(STEP, "open packet", recv_text(&mut ws)).await?;
    if !open.starts_with(b"0") {
        return Err(io::Error::other("first message is not an open packet"));
    }
    ws.send_text(b"40").await?;
    within(STEP, "CONNECT answer", async {
        loop {
            let m = recv_text(&mut ws).await?;
            if m.starts_with(b"40") {
                return Ok(());
            }
            if m.starts_with(b"44") {
                return Err(io::Error::other(format!(
                    "connect_error: {}",
                    String::from_utf8_lossy(&m)
                )));
            }
        }
    })
    .await?;
    Ok(ws)
}

/// The next text message; Engine.IO pings (`2`) are answered (`3`) on the way, a close is an error.
pub async fn recv_text(ws: &mut Ws) -> io::Result<Bytes> {
    loop {
        match ws.recv().await? {
            Msg::Text(t) if &t[..] == b"2" => ws.send_text(b"3").await?,
            Msg::Text(t) => return Ok(t),
            Msg::Binary | Msg::Ping(_) => {}
            Msg::Close => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "server closed",
                ));
            }
        }
    }
}

/// Splits a polling payload into its packets (separated by 0x1e).
pub fn split_payload(body: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match body[start..].iter().position(|&b| b == 0x1e) {
            Some(p) => {
                let s = body.slice(start..start + p);
                start += p + 1;
                Some(s)
            }
            None => {
                done = true;
                Some(body.slice(start..))
            }
        }
    })
}

/// A polling session over two keep-alive connections (`get` for long polls, `post` for sends), as
/// a browser keeps them; returns the sid after `40{sid}` arrived.
pub async fn connect_polling(get: &mut Http, post: &mut Http) -> io::Result<String> {
    let r = within(
        STEP,
        "polling handshake",
        get.request("GET", POLL_PATH, b""),
    )
    .await?;
    if r.status != 200 {
        return Err(io::Error::other(format!(
            "polling handshake: HTTP {}",
            r.status
        )));
    }
    let sid = open_sid(&r.body)?;
    let path = format!("{POLL_PATH}&sid={sid}");
    let r = within(STEP, "polling POST 40", post.request("POST", &path, b"40")).await?;
    if r.status != 200 {
        return Err(io::Error::other(format!("POST 40: HTTP {}", r.status)));
    }
    within(STEP, "polling CONNECT answer", async {
        loop {
            let r = get.request("GET", &path, b"").await?;
            if r.status != 200 {
                return Err(io::Error::other(format!("GET: HTTP {}", r.status)));
            }
            for p in split_payload(&r.body) {
                if p.starts_with(b"40") {
                    return Ok(());
                }
                if &p[..] == b"2" {
                    post.request("POST", &path, b"3").await?;
                }
            }
        }
    })
    .await?;
    Ok(sid)
}

/// What a socket.io-client does to upgrade a connected polling session: a long poll is pending,
/// websocket with the sid, `2probe` → `3probe`, the pending poll is released (noop `6`), `5`.
pub async fn upgrade(port: u16, i: usize, sid: &str, get: &mut Http) -> io::Result<Ws> {
    let path = format!("{POLL_PATH}&sid={sid}");
    get.send("GET", &path, b"").await?;
    let stream = within(
        STEP,
        "tcp connect",
        sys::tcp_connect(sys::source_ip(i), port),
    )
    .await?;
    let ws_path = format!("{WS_PATH}&sid={sid}");
    let mut ws = within(
        STEP,
        "ws upgrade",
        Ws::upgrade(stream, &host(port), &ws_path, i as u32),
    )
    .await?;
    ws.send_text(b"2probe").await?;
    within(STEP, "3probe", async {
        loop {
            if &recv_text(&mut ws).await?[..] == b"3probe" {
                return Ok(());
            }
        }
    })
    .await?;
    // The client pauses polling: it waits for the pending poll to come back before `5`.
    within(STEP, "pending poll released", get.recv()).await?;
    ws.send_text(b"5").await?;
    Ok(ws)
}
