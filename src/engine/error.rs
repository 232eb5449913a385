//! Errors of the engine: the handshake error table and send failures.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

/// Why a message could not be queued on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// The session's outbox is full: the client does not read fast enough.
    #[error("the session's outbox is full")]
    Full,
}

/// A request the engine refuses, with the code and message the Node server gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    /// 0 "Transport unknown"
    UnknownTransport,
    /// 1 "Session ID unknown"
    UnknownSid,
    /// 2 "Bad handshake method"
    BadHandshakeMethod,
    /// 3 "Bad request"
    BadRequest,
    /// 4 "Forbidden", with the message of the `allow_request` hook
    Forbidden(String),
    /// 5 "Unsupported protocol version"
    UnsupportedProtocolVersion,
}

impl RequestError {
    fn code(&self) -> u8 {
        match self {
            RequestError::UnknownTransport => 0,
            RequestError::UnknownSid => 1,
            RequestError::BadHandshakeMethod => 2,
            RequestError::BadRequest => 3,
            RequestError::Forbidden(_) => 4,
            RequestError::UnsupportedProtocolVersion => 5,
        }
    }

    fn message(&self) -> &str {
        match self {
            RequestError::UnknownTransport => "Transport unknown",
            RequestError::UnknownSid => "Session ID unknown",
            RequestError::BadHandshakeMethod => "Bad handshake method",
            RequestError::BadRequest => "Bad request",
            RequestError::Forbidden(m) => m,
            RequestError::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The answer to a polling (plain HTTP) request: JSON `{"code","message"}`.
    pub(crate) fn into_response(self) -> Response<Body> {
        let status = match self {
            RequestError::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({ "code": self.code(), "message": self.message() });
        Response::builder()
            .status(status)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }

    /// The answer to a websocket upgrade request: Node writes a bare `400 Bad Request` whatever
    /// the error, `allow_request` refusals included.
    pub(crate) fn into_ws_response(self) -> Response<Body> {
        let mut res = Response::new(Body::from("Bad Request"));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        res
    }
}

/// A bare status answer (`413`, `400`) with an empty body.
pub(crate) fn status_response(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res
}
