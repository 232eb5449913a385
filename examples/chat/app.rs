//! The chat app: an axum `Router` with the Socket.IO layer, the page (HTML, CSS and JS compiled
//! into the binary) and a `/stats` route. `main.rs` serves it; the browser test in
//! `tests/it/chat.rs` includes this file and serves the same router.
//!
//! Events (client → server):
//! - `join` `{name, room}` with an ack → `{ok: true, name, room, users}` or `{ok: false, error}`;
//!   joining another room leaves the current one.
//! - `message` `{text}` with an ack → `{ok: true, id, time}` ("delivered") or `{ok: false, error}`.
//! - `typing` `true | false`.
//!
//! Events (server → client): `message` `{id, name, text, time}`, `typing` `{name, typing}`,
//! `notice` `{kind: "join" | "leave", name, room, time}`, `presence` `{room, users}`.
//!
//! Presence and join/leave notices come from the adapter's room events
//! ([`Namespace::on_room_event`]), so a socket that disconnects, whatever the reason, leaves its
//! room and everyone there hears of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use axum_socketio::adapter::{BroadcastOptions, RoomEvent};
use axum_socketio::{Ack, DisconnectReason, Io, Namespace, Socket, SocketIoLayer, TryData};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Chat rooms are adapter rooms named `room:<name>`, so a room a user picks can never be another
/// socket's own room (its id).
const ROOM_PREFIX: &str = "room:";
const MAX_NAME: usize = 32;
const MAX_ROOM: usize = 32;
const MAX_TEXT: usize = 2000;

/// What the server remembers of a socket (`socket.data`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    name: String,
    room: String,
}

#[derive(Debug, Deserialize)]
struct JoinRequest {
    name: String,
    room: String,
}

#[derive(Debug, Deserialize)]
struct MessageRequest {
    text: String,
}

/// The chat app served by `main.rs` (and by the browser test): the page at `/`, the Socket.IO
/// server at `/socket.io/` (which also serves the `socket.io-client` bundle found in
/// `client_dir`), and `/stats`.
pub fn app(client_dir: impl Into<PathBuf>) -> (Router, Io) {
    let layer = SocketIoLayer::builder().client_dir(client_dir).build();
    let io = layer.io();

    let ns = io.sockets();
    let events_ns = ns.clone();
    ns.on_room_event(move |ev| match ev {
        RoomEvent::JoinRoom { room, sid } => announce(&events_ns, room, sid, "join"),
        RoomEvent::LeaveRoom { room, sid } => announce(&events_ns, room, sid, "leave"),
        RoomEvent::CreateRoom(_) | RoomEvent::DeleteRoom(_) => {}
    });

    io.on_connection(|socket: Socket| async move {
        tracing::info!(socket = %socket.id(), transport = ?socket.conn().transport(), "connected");
        socket.on("join", on_join);
        socket.on("message", on_message);
        socket.on("typing", on_typing);
        socket.on_disconnect(|socket: Socket, reason: DisconnectReason| async move {
            let name = socket.data::<User>().map(|u| u.name);
            tracing::info!(socket = %socket.id(), ?name, %reason, "disconnected");
        });
    });

    let router = Router::new()
        .route(
            "/",
            get(|| async { Html(include_str!("static/index.html")) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", include_str!("static/app.js")) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css", include_str!("static/style.css")) }),
        )
        .route("/stats", get(stats))
        .layer(layer);
    (router, io)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

async fn on_join(socket: Socket, TryData(req): TryData<JoinRequest>, ack: Ack) {
    let checked = req
        .map_err(|_| "expected {name, room}".to_owned())
        .and_then(|r| {
            Ok((
                clean("name", &r.name, MAX_NAME)?,
                clean("room", &r.room, MAX_ROOM)?,
            ))
        });
    let reply = match checked {
        Ok((name, room)) => {
            let previous = socket.data::<User>();
            let same = previous
                .as_ref()
                .is_some_and(|u| u.name == name && u.room == room);
            if !same {
                // Leave under the old name, then join under the new one: the room events that
                // follow read the name from the socket's data.
                if let Some(prev) = previous {
                    socket.leave(&room_key(&prev.room));
                }
                let user = User {
                    name: name.clone(),
                    room: room.clone(),
                };
                if let Err(e) = socket.set_data(&user) {
                    tracing::warn!(error = %e, "cannot store the user");
                }
                socket.join(room_key(&room));
                tracing::info!(socket = %socket.id(), %name, %room, "joined");
            }
            let users = users_in(socket.ns(), &room_key(&room));
            json!({ "ok": true, "name": name, "room": room, "users": users })
        }
        Err(error) => json!({ "ok": false, "error": error }),
    };
    ack.send(&reply).ok();
}

async fn on_message(socket: Socket, TryData(req): TryData<MessageRequest>, ack: Ack) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let Some(user) = socket.data::<User>() else {
        ack.send(&json!({ "ok": false, "error": "join a room first" }))
            .ok();
        return;
    };
    let text = match req {
        Ok(r) => r.text,
        Err(_) => {
            ack.send(&json!({ "ok": false, "error": "expected {text}" }))
                .ok();
            return;
        }
    };
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        let error = format!("a message has 1 to {MAX_TEXT} characters");
        ack.send(&json!({ "ok": false, "error": error })).ok();
        return;
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let time = now_ms();
    tracing::debug!(socket = %socket.id(), room = %user.room, id, "message");
    let msg = json!({ "id": id, "name": user.name, "text": text, "time": time });
    socket.to(room_key(&user.room)).emit("message", &msg).ok();
    ack.send(&json!({ "ok": true, "id": id, "time": time }))
        .ok();
}

async fn on_typing(socket: Socket, TryData(typing): TryData<bool>) {
    let (Some(user), Ok(typing)) = (socket.data::<User>(), typing) else {
        return;
    };
    socket
        .to(room_key(&user.room))
        .volatile()
        .emit("typing", &json!({ "name": user.name, "typing": typing }))
        .ok();
}

/// Tells a chat room that someone joined or left, and who is there now.
fn announce(ns: &Namespace, key: &str, sid: &str, kind: &str) {
    let Some(room) = key.strip_prefix(ROOM_PREFIX) else {
        return; // a socket's own room
    };
    let Some(user) = ns.get_socket(sid).and_then(|s| s.data::<User>()) else {
        return;
    };
    let to = ns.to(key.to_owned());
    let notice = json!({ "kind": kind, "name": user.name, "room": room, "time": now_ms() });
    to.emit("notice", &notice).ok();
    to.emit(
        "presence",
        &json!({ "room": room, "users": users_in(ns, key) }),
    )
    .ok();
}

/// The names of the users in a chat room, sorted, each once.
fn users_in(ns: &Namespace, key: &str) -> Vec<String> {
    let opts = BroadcastOptions {
        rooms: vec![key.into()],
        ..Default::default()
    };
    let mut names: Vec<String> = ns
        .adapter()
        .sockets(&opts)
        .iter()
        .filter_map(|s| s.data::<User>().map(|u| u.name))
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup();
    names
}

/// `GET /stats`: a snapshot of the server, from the `Io` handle the layer puts in every request.
async fn stats(io: Io) -> Json<Value> {
    let mut namespaces: Vec<Value> = io
        .namespaces()
        .iter()
        .map(|ns| {
            let mut rooms: Vec<(String, usize)> = ns
                .adapter()
                .local_rooms()
                .into_iter()
                // Every socket is in a room named by its id; list only the other rooms.
                .filter(|room| ns.get_socket(room).is_none())
                .map(|room| {
                    let opts = BroadcastOptions {
                        rooms: vec![room.clone()],
                        ..Default::default()
                    };
                    (room.to_string(), ns.adapter().sockets(&opts).len())
                })
                .collect();
            rooms.sort();
            let rooms: serde_json::Map<String, Value> =
                rooms.into_iter().map(|(r, n)| (r, json!(n))).collect();
            json!({ "name": ns.name(), "sockets": ns.sockets().len(), "rooms": rooms })
        })
        .collect();
    namespaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(json!({
        "clients": io.client_count(),
        "namespaces": namespaces,
        "metrics": io.metrics(),
    }))
}

fn room_key(room: &str) -> String {
    format!("{ROOM_PREFIX}{room}")
}

/// Trims `value` and checks its length and characters (no control characters).
fn clean(what: &str, value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(char::is_control) {
        return Err(format!("a {what} has 1 to {max} characters"));
    }
    Ok(value.to_owned())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
