//! A minimal websocket client (RFC 6455): the upgrade request, masked text frames out, frames in.
//! Just what the load needs, with as little client-side cost as possible, so that the server, not
//! the generator, is what a run measures.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A message received.
#[derive(Debug)]
pub enum Msg {
    Text(Bytes),
    /// A binary message (its payload dropped: the load is all text).
    Binary,
    /// A websocket ping from the server (answer with a pong).
    Ping(Bytes),
    Close,
}

/// The reading half: a buffer and the frame parser.
pub struct WsReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    /// Fragments of a message not yet finished (rare: servers send whole frames).
    partial: Option<(u8, BytesMut)>,
}

/// The writing half: a reusable frame buffer and the masking key.
pub struct WsWriter {
    wr: OwnedWriteHalf,
    mask: [u8; 4],
    frame: Vec<u8>,
}

/// Both halves of one connection.
pub struct Ws {
    pub r: WsReader,
    pub w: WsWriter,
}

impl Ws {
    /// Upgrades `stream` (already connected) by GET `path_and_query`; `seed` varies the mask key.
    pub async fn upgrade(
        stream: TcpStream,
        host: &str,
        path_and_query: &str,
        seed: u32,
    ) -> io::Result<Ws> {
        let (rd, mut wr) = stream.into_split();
        let req = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        wr.write_all(req.as_bytes()).await?;
        let mut r = WsReader {
            rd,
            buf: BytesMut::with_capacity(4096),
            partial: None,
        };
        // Read the response head; what follows it stays in the buffer (the first frames).
        let head_end = loop {
            if let Some(p) = find(&r.buf, b"\r\n\r\n") {
                break p + 4;
            }
            if r.buf.len() > 16 * 1024 {
                return Err(io::Error::other("upgrade response head too long"));
            }
            if r.rd.read_buf(&mut r.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during upgrade",
                ));
            }
        };
        let head = r.buf.split_to(head_end);
        if !head.starts_with(b"HTTP/1.1 101") {
            let line = String::from_utf8_lossy(&head[..head.len().min(200)]).into_owned();
            return Err(io::Error::other(format!("upgrade refused: {line}")));
        }
        let s = seed.wrapping_mul(2654435761).wrapping_add(0x9e37_79b9);
        let w = WsWriter {
            wr,
            mask: s.to_le_bytes(),
            frame: Vec::with_capacity(256),
        };
        Ok(Ws { r, w })
    }

    /// The next message; websocket pings are answered here.
    pub async fn recv(&mut self) -> io::Result<Msg> {
        loop {
            match self.r.recv().await? {
                Msg::Ping(p) => self.w.send(OP_PONG, &p).await?,
                m => return Ok(m),
            }
        }
    }

    pub async fn send_text(&mut self, payload: &[u8]) -> io::Result<()> {
        self.w.send_text(payload).await
    }

    /// Sends a close frame (1000) and waits (bounded by the caller) for the server to close.
    pub async fn close(mut self) -> io::Result<()> {
        self.w.send(OP_CLOSE, &1000u16.to_be_bytes()).await?;
        loop {
            match self.r.recv().await {
                Ok(Msg::Close) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl WsReader {
    /// The next whole message (continuation frames joined). EOF is an error.
    pub async fn recv(&mut self) -> io::Result<Msg> {
        loop {
            if let Some(m) = self.parse()? {
                return Ok(m);
            }
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(4096);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
        }
    }

    /// Takes one message off the buffer if a whole one is there.
    fn parse(&mut self) -> io::Result<Option<Msg>> {
        loop {
            let b = &self.buf[..];
            if b.len() < 2 {
                return Ok(None);
            }
            let fin = b[0] & 0x80 != 0;
            let op = b[0] & 0x0f;
            let masked = b[1] & 0x80 != 0;
            let (len, mut hdr) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(a) as usize, 10)
                }
                126 | 127 => return Ok(None),
                n => (n as usize, 2),
            };
            if masked {
                hdr += 4; // servers never mask; skip the key if one does (payload left as is)
            }
            if len > 64 * 1024 * 1024 {
                return Err(io::Error::other("frame too large"));
            }
            if b.len() < hdr + len {
                let need = hdr + len - b.len();
                self.buf.reserve(need);
                return Ok(None);
            }
            self.buf.advance(hdr);
            let payload = self.buf.split_to(len);
            match op {
                OP_TEXT | OP_BINARY if fin => {
                    let p = payload.freeze();
                    return Ok(Some(if op == OP_TEXT {
                        Msg::Text(p)
                    } else {
                        Msg::Binary
                    }));
                }
                OP_TEXT | OP_BINARY => self.partial = Some((op, payload)),
                OP_CONT => {
                    let Some((first_op, mut acc)) = self.partial.take() else {
                        return Err(io::Error::other("continuation without a first frame"));
                    };
                    acc.extend_from_slice(&payload);
                    if fin {
                        let p = acc.freeze();
                        return Ok(Some(if first_op == OP_TEXT {
                            Msg::Text(p)
                        } else {
                            Msg::Binary
                        }));
                    }
                    self.partial = Some((first_op, acc));
                }
                OP_CLOSE => return Ok(Some(Msg::Close)),
                OP_PING => return Ok(Some(Msg::Ping(payload.freeze()))),
                OP_PONG => {}
                _ => return Err(io::Error::other(format!("unknown opcode {op}"))),
            }
        }
    }
}

impl WsWriter {
    pub async fn send_text(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send(OP_TEXT, payload).await
    }

    /// Writes one frame (after any queued ones).
    async fn send(&mut self, op: u8, payload: &[u8]) -> io::Result<()> {
        self.encode_append(op, payload);
        self.flush_batch().await
    }

    /// Appends one text frame to an internal batch without writing it; `flush_batch` writes them.
    pub fn queue_text(&mut self, payload: &[u8]) {
        self.encode_append(OP_TEXT, payload);
    }

    pub async fn flush_batch(&mut self) -> io::Result<()> {
        if !self.frame.is_empty() {
            let r = self.wr.write_all(&self.frame).await;
            self.frame.clear();
            r?;
        }
        Ok(())
    }

    fn encode_append(&mut self, op: u8, payload: &[u8]) {
        let f = &mut self.frame;
        f.push(0x80 | op);
        let n = payload.len();
        if n < 126 {
            f.push(0x80 | n as u8);
        } else if n <= u16::MAX as usize {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        f.extend_from_slice(&self.mask);
        let start = f.len();
        f.extend_from_slice(payload);
        for (i, b) in f[start..].iter_mut().enumerate() {
            *b ^= self.mask[i & 3];
        }
    }
}
