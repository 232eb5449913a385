//! A minimal keep-alive HTTP/1.1 client for the polling transport: one request at a time on one
//! connection, bodies by Content-Length or chunked.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Http {
    stream: TcpStream,
    buf: BytesMut,
    host: String,
    req: Vec<u8>,
    /// The server said `Connection: close`: the connection is done after this response.
    pub closed: bool,
}

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Http {
    pub fn new(stream: TcpStream, host: &str) -> Http {
        Http {
            stream,
            buf: BytesMut::with_capacity(4096),
            host: host.to_owned(),
            req: Vec::with_capacity(512),
            closed: false,
        }
    }

    /// Writes a request without waiting for its response.
    pub async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<()> {
        use std::io::Write;
        self.req.clear();
        write!(
            self.req,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n",
            self.host
        )?;
        if method == "POST" {
            write!(
                self.req,
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            )?;
        }
        self.req.extend_from_slice(b"\r\n");
        self.req.extend_from_slice(body);
        self.stream.write_all(&self.req).await
    }

    /// Reads the response to the oldest request sent.
    pub async fn recv(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(io::Error::other("response head too long"));
            }
            self.fill().await?;
        };
        let head = self.buf.split_to(head_end);
        let head =
            std::str::from_utf8(&head).map_err(|_| io::Error::other("non-UTF-8 response head"))?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("bad status line"))?;
        let mut len = None;
        let mut chunked = false;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("connection") {
                self.closed = v.eq_ignore_ascii_case("close");
            }
        }
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let n = len.unwrap_or(0);
            while self.buf.len() < n {
                self.fill().await?;
            }
            self.buf.split_to(n).freeze()
        };
        Ok(Response { status, body })
    }

    pub async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        self.send(method, path, body).await?;
        self.recv().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    async fn read_chunked(&mut self) -> io::Result<Bytes> {
        let mut body = BytesMut::new();
        loop {
            let line_end = loop {
                if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                self.fill().await?;
            };
            let size_line = std::str::from_utf8(&self.buf[..line_end]).unwrap_or("");
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other("bad chunk size"))?;
            self.buf.advance(line_end + 2);
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.advance(size + 2);
            if size == 0 {
                return Ok(body.freeze());
            }
        }
    }
}
