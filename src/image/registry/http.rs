//! A small blocking HTTP/1.1 client for registry traffic: one connection per request
//! (`Connection: close`), bounded connect and read timeouts, Content-Length, chunked and
//! read-to-close bodies, streamed both ways (a blob is never held whole in memory).
//!
//! Blocking on purpose: pulls run on the daemon's blocking threads, where hashing, writing
//! and extracting are blocking anyway, and layers download in parallel on plain threads.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection to a registry may take before it is called unreachable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a registry may stay silent in the middle of an answer.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest response header accepted.
const MAX_HEAD: usize = 64 << 10;

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub(crate) fn parse(s: &str) -> Option<Url> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return None;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })?;
        Some(Url {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    /// `scheme://host[:port]`, without a path.
    pub(crate) fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            format!("{scheme}://{}", self.host_for_url())
        } else {
            format!("{scheme}://{}:{}", self.host_for_url(), self.port)
        }
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Resolves `location` (absolute, or a path on this origin) against this URL.
    pub(crate) fn join(&self, location: &str) -> Option<Url> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Some(Url {
                path: location.to_string(),
                ..self.clone()
            })
        } else {
            None
        }
    }
}

/// Splits `host[:port]` / `[v6][:port]`.
pub(crate) fn split_host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        return Some((h.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_string(), default)),
        None => None,
    }
}

/// A request body.
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// A file streamed from disk, with its length.
    File(&'a std::path::Path, u64),
}

/// An answer whose body is read as a stream.
pub(crate) struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    body: BodyReader,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers named `name`.
    pub(crate) fn headers(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub(crate) fn bytes(mut self, limit: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        (&mut self.body).take(limit + 1).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(io::Error::other(format!(
                "answer larger than {limit} bytes"
            )));
        }
        Ok(out)
    }

    /// The body as a reader.
    pub(crate) fn reader(self) -> impl Read + Send {
        self.body
    }
}

/// A connected stream (plain TCP, or TLS over it).
pub(crate) trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Why a request failed before any answer came.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Could not connect (resolution, refusal, timeout, TLS handshake).
    Connect(String),
    /// The connection broke or the answer was not HTTP.
    Io(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(s) | SendError::Io(s) => f.write_str(s),
        }
    }
}

/// Opens a connection to `url`'s host.
fn connect(url: &Url) -> Result<Box<dyn Stream>, SendError> {
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| SendError::Connect(format!("cannot resolve {}: {e}", url.host)))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                let _ = s.set_nodelay(true);
                if url.tls {
                    return super::tls::wrap(s, &url.host).map_err(SendError::Connect);
                }
                return Ok(Box::new(s));
            }
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(SendError::Connect(last.unwrap_or_else(|| {
        format!("{} resolves to no address", url.host)
    })))
}

/// Sends one request and reads the answer's head; the body is left to the caller.
pub(crate) fn send(
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
    body: &Body<'_>,
) -> Result<Response, SendError> {
    let mut stream = connect(url)?;
    let io = |e: io::Error| SendError::Io(format!("{} {}: {e}", method, url.origin()));
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rstack/{}\r\nConnection: close\r\n",
        url.path,
        host_header(url),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Body::Empty if method == "GET" || method == "HEAD" => {}
        Body::Empty => head.push_str("Content-Length: 0\r\n"),
        Body::Bytes(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::File(_, len) => head.push_str(&format!("Content-Length: {len}\r\n")),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io)?;
    match body {
        Body::Empty => {}
        Body::Bytes(b) => stream.write_all(b).map_err(io)?,
        Body::File(path, len) => {
            let f = std::fs::File::open(path).map_err(io)?;
            let copied = io::copy(&mut f.take(*len), &mut stream).map_err(io)?;
            if copied != *len {
                return Err(io(io::Error::other(format!(
                    "{} is shorter than {len} bytes",
                    path.display()
                ))));
            }
        }
    }
    stream.flush().map_err(io)?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader).map_err(io)?;
    let no_body =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    let framing = if no_body {
        Framing::Length(0)
    } else if headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    }) {
        Framing::Chunked {
            left: 0,
            done: false,
        }
    } else if let Some((_, v)) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        Framing::Length(
            v.trim()
                .parse()
                .map_err(|_| io(io::Error::other(format!("bad Content-Length \"{v}\""))))?,
        )
    } else {
        Framing::Close
    };
    Ok(Response {
        status,
        headers,
        body: BodyReader {
            inner: reader,
            framing,
        },
    })
}

fn host_header(url: &Url) -> String {
    let default = if url.tls { 443 } else { 80 };
    if url.port == default {
        url.host_for_url()
    } else {
        format!("{}:{}", url.host_for_url(), url.port)
    }
}

type Head = (u16, Vec<(String, String)>);

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut total = 0usize;
    let mut line = String::new();
    let mut next = |line: &mut String| -> io::Result<()> {
        line.clear();
        let n = r.take((MAX_HEAD - total) as u64).read_line(line)?;
        total += n;
        if n == 0 || total >= MAX_HEAD {
            return Err(io::Error::other("truncated or oversized answer header"));
        }
        Ok(())
    };
    next(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {:?}", line.trim_end())))?;
    let mut headers = Vec::new();
    loop {
        next(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            return Ok((status, headers));
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    Close,
}

struct BodyReader {
    inner: BufReader<Box<dyn Stream>>,
    framing: Framing,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let max = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the end of the answer",
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Close => self.inner.read(buf),
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    (&mut self.inner).take(1024).read_line(&mut line)?;
                    let size = line.trim().split(';').next().unwrap_or("");
                    let size = u64::from_str_radix(size.trim(), 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        loop {
                            line.clear();
                            let n = (&mut self.inner).take(8192).read_line(&mut line)?;
                            if n == 0 || line.trim().is_empty() {
                                break;
                            }
                        }
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let max = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed inside a chunk",
                    ));
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.inner.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_join() {
        let u = Url::parse("http://127.0.0.1:5000/v2/").expect("url");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 5000, "/v2/")
        );
        let u = Url::parse("https://registry-1.docker.io").expect("url");
        assert_eq!((u.port, u.path.as_str()), (443, "/"));
        assert_eq!(u.origin(), "https://registry-1.docker.io");
        let j = u.join("/v2/x/blobs/uploads/abc?_state=1").expect("join");
        assert_eq!(j.path, "/v2/x/blobs/uploads/abc?_state=1");
        assert_eq!(j.host, "registry-1.docker.io");
        let k = u.join("http://cdn.example:8080/blob").expect("join");
        assert_eq!((k.tls, k.port), (false, 8080));
        assert!(Url::parse("ftp://x").is_none());
        assert_eq!(
            split_host_port("[::1]:5000", 80),
            Some(("::1".into(), 5000))
        );
    }

    #[test]
    fn chunked_bodies_decode() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let (status, headers) = read_head(&mut r).expect("head");
        assert_eq!(status, 200);
        assert_eq!(headers.len(), 1);
        let rest: Vec<u8> = r.fill_buf().expect("buf").to_vec();
        let stream: Box<dyn Stream> = Box::new(io::Cursor::new(rest));
        let mut body = BodyReader {
            inner: BufReader::new(stream),
            framing: Framing::Chunked {
                left: 0,
                done: false,
            },
        };
        let mut s = String::new();
        body.read_to_string(&mut s).expect("read");
        assert_eq!(s, "hello world");
    }
}
