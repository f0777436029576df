//! A minimal HTTP/1.1 keep-alive client over raw TCP: it writes a
//! pre-framed request in one call and parses just enough of the answer
//! (status, `Content-Length` or chunked body, `Retry-After`, `Connection`).
//! A full client would cost more CPU per request than the server's own
//! parsing, which is the wrong side of the measurement.

use std::io;
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where to send: the resolved address, the `Host` header, the path.
#[derive(Debug, Clone)]
pub struct Target {
    /// Resolved socket address.
    pub addr: SocketAddr,
    /// `host:port` for the `Host` header.
    pub host: String,
    /// Path of the batch endpoint.
    pub path: String,
}

/// Parses `http://host[:port][/prefix]` and resolves it.
///
/// # Errors
///
/// For other schemes, or a host that does not resolve.
pub fn target(url: &str) -> Result<Target> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("only http:// URLs are supported, got {url}");
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let host = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&host)
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} resolves to no address"))?;
    Ok(Target { addr, host, path: format!("{prefix}/v1/batch") })
}

/// An answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
    /// The server will close the connection.
    pub close: bool,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Conn {
    /// Connects with `TCP_NODELAY` (requests are written whole; Nagle would only add delay).
    ///
    /// # Errors
    ///
    /// When the connection cannot be made.
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: vec![0; 16 * 1024], start: 0, end: 0 })
    }

    /// Reads more bytes into the buffer, compacting or growing it first.
    async fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= 1 << 24 {
                return Err(bad("response too large"));
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server"));
        }
        self.end += n;
        Ok(())
    }

    /// Reads until a CRLF-terminated line (or the header block) is buffered; returns its end.
    async fn until(&mut self, delim: &[u8]) -> io::Result<usize> {
        loop {
            if let Some(i) = find(&self.buf[self.start..self.end], delim) {
                return Ok(self.start + i);
            }
            self.fill().await?;
        }
    }

    async fn take(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        while self.end - self.start < n {
            self.fill().await?;
        }
        out.extend_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(())
    }

    /// Writes `request` (complete, with its body) and reads the answer.
    ///
    /// # Errors
    ///
    /// On any I/O failure or an answer that is not HTTP/1.x; the
    /// connection must then be dropped.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        let head_end = self.until(b"\r\n\r\n").await?;
        let head =
            std::str::from_utf8(&self.buf[self.start..head_end]).map_err(|_| bad("non-UTF-8 header"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(bad("not an HTTP/1.x answer"));
        }
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| bad("bad status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut retry_after = None;
        let mut close = version == "HTTP/1.0";
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("bad content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("retry-after") {
                retry_after = value.parse().ok();
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        self.start = head_end + 4;
        let mut body = Vec::new();
        if chunked {
            loop {
                let line_end = self.until(b"\r\n").await?;
                let size_text = std::str::from_utf8(&self.buf[self.start..line_end])
                    .map_err(|_| bad("bad chunk size"))?;
                let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("bad chunk size"))?;
                self.start = line_end + 2;
                if size == 0 {
                    // No trailers are sent by the server; consume the final CRLF.
                    let end = self.until(b"\r\n").await?;
                    self.start = end + 2;
                    break;
                }
                self.take(size, &mut body).await?;
                let mut crlf = Vec::with_capacity(2);
                self.take(2, &mut crlf).await?;
            }
        } else if let Some(n) = length {
            self.take(n, &mut body).await?;
        } else if status != 204 && status != 304 && !(100..200).contains(&status) {
            // Body delimited by the end of the connection.
            loop {
                match self.fill().await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            body.extend_from_slice(&self.buf[self.start..self.end]);
            self.start = self.end;
            close = true;
        }
        Ok(Response { status, retry_after, close, body })
    }
}
