//! Blocking HTTP/1.1 client over the daemon's unix socket.
//!
//! The CLI is short-lived and latency-bound (`run --rm x true` end to end is measured in
//! milliseconds), so it uses plain std I/O instead of starting an async runtime: one request per
//! connection, `Content-Length` bodies out, `Content-Length` or chunked bodies back.

use super::error::ApiError;
use super::types::{ErrorBody, LogLine};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub struct Client {
    socket: PathBuf,
}

/// A response whose body is read lazily (streams) or at once.
pub struct Response {
    pub status: u16,
    body: BodyReader,
}

pub(super) enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    Close,
}

struct BodyReader {
    inner: BufReader<UnixStream>,
    framing: Framing,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Connects, mapping the usual failures to errors that say what to do.
    fn connect(&self) -> Result<UnixStream, ApiError> {
        UnixStream::connect(&self.socket).map_err(|e| ApiError::connect(&self.socket, e))
    }

    /// Connects and writes a whole request. Callers build it first: the daemon wakes on the
    /// connect, and a request not there yet when it reads costs it another wake-up.
    pub(super) fn send(&self, msg: &[u8]) -> Result<UnixStream, ApiError> {
        let mut stream = self.connect()?;
        stream.write_all(msg).map_err(ApiError::Io)?;
        Ok(stream)
    }

    /// Sends one request; `body` is serialized as JSON when given.
    pub fn request<B: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ApiError> {
        let payload = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ApiError::Protocol(e.to_string()))?,
            None => Vec::new(),
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(&payload);
        let stream = self.send(&msg)?;
        let mut reader = BufReader::new(stream);
        let (status, framing, _, _) = read_head(&mut reader)?;
        Ok(Response {
            status,
            body: BodyReader {
                inner: reader,
                framing,
            },
        })
    }

    /// `POST path` with the `len` bytes of `body` as the request body, streamed (an image
    /// archive may be gigabytes); the answer is JSON as with `call`.
    pub fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        body: impl Read,
        len: u64,
    ) -> Result<T, ApiError> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        let mut stream = self.send(head.as_bytes())?;
        let copied = std::io::copy(&mut body.take(len), &mut stream);
        let mut reader = BufReader::new(stream);
        // A daemon that refuses the upload may answer (and close) before it has read it all:
        // its answer says more than the broken pipe.
        let (status, framing, _, _) = match (read_head(&mut reader), copied) {
            (Ok(head), _) => head,
            (Err(_), Err(e)) => return Err(ApiError::Io(e)),
            (Err(e), Ok(_)) => return Err(e),
        };
        let resp = Response {
            status,
            body: BodyReader {
                inner: reader,
                framing,
            },
        }
        .ok()?;
        let bytes = resp.bytes()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Protocol(format!("POST {path}: bad answer: {e}")))
    }

    /// `POST path` with the `len` bytes of `body` as the request body (streamed), returning
    /// the answer unread, for an answer that streams (a build's lines).
    pub fn upload_streaming(
        &self,
        path: &str,
        body: impl Read,
        len: u64,
    ) -> Result<Response, ApiError> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/x-tar\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        let mut stream = self.send(head.as_bytes())?;
        let copied = std::io::copy(&mut body.take(len), &mut stream);
        let mut reader = BufReader::new(stream);
        let (status, framing, _, _) = match (read_head(&mut reader), copied) {
            (Ok(head), _) => head,
            (Err(_), Err(e)) => return Err(ApiError::Io(e)),
            (Err(e), Ok(_)) => return Err(e),
        };
        Response {
            status,
            body: BodyReader {
                inner: reader,
                framing,
            },
        }
        .ok()
    }

    /// Request expecting a JSON answer; non-2xx answers become `ApiError::Daemon`.
    pub fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let resp = self.request(method, path, body)?.ok()?;
        let bytes = resp.bytes()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Protocol(format!("{method} {path}: bad answer: {e}")))
    }

    /// Request whose answer is a stream of `LogLine`s; `each` sees every item in order.
    pub fn stream<B: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
        mut each: impl FnMut(LogLine) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let resp = self.request(method, path, body)?.ok()?;
        let mut reader = BufReader::new(resp.body);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(ApiError::Io)? == 0 {
                return Ok(());
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let item: LogLine = serde_json::from_slice(&line)
                .map_err(|e| ApiError::Protocol(format!("bad stream item: {e}")))?;
            each(item)?;
        }
    }
}

impl Client {
    /// `exec`-style request: upgrades the connection, sends `stdin` to the process (in a
    /// thread; half-closed at EOF) and hands every frame to `each`. Returns the exit code.
    /// `stdin`: what to send as the process's stdin (`None`: nothing, EOF at once). With
    /// `terminal_size`, the client's stdin is its terminal (fd 0): keys go as stdin frames,
    /// and each SIGWINCH sends the new size.
    pub fn attach<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        stdin: Option<impl Read + Send + 'static>,
        terminal_size: Option<fn() -> (u16, u16)>,
        mut each: impl FnMut(super::attach::Frame),
    ) -> Result<i32, ApiError> {
        let payload = serde_json::to_vec(body).map_err(|e| ApiError::Protocol(e.to_string()))?;
        // With a terminal, ask to send framed input (keys and resizes); a daemon that does
        // not say yes gets raw keys, and sizes stay as they were at the start.
        let ask_framed = match terminal_size {
            Some(_) => format!(
                "{}: {}\r\n",
                super::attach::INPUT_HEADER,
                super::attach::FRAMED
            ),
            None => String::new(),
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: {}\r\n{ask_framed}\r\n",
            payload.len(),
            super::attach::UPGRADE_PROTOCOL
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(&payload);
        let stream = self.send(&msg)?;
        let writer = stream.try_clone().map_err(ApiError::Io)?;
        let mut reader = BufReader::new(stream);
        let (status, framing, framed_input, _) = read_head(&mut reader)?;
        if status != 101 {
            return Err(Response {
                status,
                body: BodyReader {
                    inner: reader,
                    framing,
                },
            }
            .ok()
            .err()
            .unwrap_or_else(|| ApiError::Protocol(format!("expected an upgrade, got {status}"))));
        }
        match terminal_size.filter(|_| framed_input) {
            Some(size) => {
                // Blocked before the pump thread starts, so it inherits the mask and the
                // signal waits for its signalfd.
                let mut winch = nix::sys::signal::SigSet::empty();
                winch.add(nix::sys::signal::Signal::SIGWINCH);
                let _ = winch.thread_block();
                let sigfd = nix::sys::signalfd::SignalFd::with_flags(
                    &winch,
                    nix::sys::signalfd::SfdFlags::SFD_CLOEXEC
                        | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
                )
                .map_err(|e| ApiError::Io(e.into()))?;
                let sigfd = std::os::fd::OwnedFd::from(sigfd);
                std::thread::spawn(move || super::attach::pump_terminal(0, sigfd, size, writer));
            }
            None => match stdin {
                Some(stdin) => {
                    std::thread::spawn(move || super::attach::pump_stdin(stdin, writer));
                }
                None => {
                    let _ = writer.shutdown(std::net::Shutdown::Write);
                }
            },
        }
        loop {
            match super::attach::read_frame(&mut reader).map_err(ApiError::Io)? {
                Some(super::attach::Frame::Exit(code)) => return Ok(code),
                Some(super::attach::Frame::Error(status, message)) => {
                    return Err(ApiError::Daemon { status, message });
                }
                Some(f) => each(f),
                None => {
                    return Err(ApiError::Protocol(
                        "the daemon closed the stream before the process exited".into(),
                    ));
                }
            }
        }
    }
}

/// A non-101 answer to an upgrade request, as the daemon's error.
pub(super) fn upgrade_refused(
    status: u16,
    framing: Framing,
    inner: BufReader<UnixStream>,
) -> ApiError {
    Response {
        status,
        body: BodyReader { inner, framing },
    }
    .ok()
    .err()
    .unwrap_or_else(|| ApiError::Protocol(format!("expected an upgrade, got {status}")))
}

impl Response {
    /// Turns a non-2xx answer into the daemon's error message.
    pub fn ok(self) -> Result<Response, ApiError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let status = self.status;
        let bytes = self.bytes()?;
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(ApiError::Daemon { status, message })
    }

    /// The body as a reader (streamed answers read line by line).
    pub fn into_reader(self) -> impl Read {
        self.body
    }

    pub fn bytes(mut self) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        self.body.read_to_end(&mut out).map_err(ApiError::Io)?;
        Ok(out)
    }
}

/// Reads the status line and headers; returns the status and how the body is framed.
/// The status, the body's framing, whether the daemon takes framed input (attach), and
/// whether the attached process has a terminal (`attach_service::TTY_HEADER`).
pub(super) fn read_head(
    reader: &mut BufReader<UnixStream>,
) -> Result<(u16, Framing, bool, bool), ApiError> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(ApiError::Io)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::Protocol(format!("bad status line {line:?}")))?;
    let mut framing = Framing::Close;
    let mut framed_input = false;
    let mut terminal = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(ApiError::Io)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                // Digits only: a sign, spaces or a second value inside mean a broken answer,
                // and guessing its length would cut it or read into nothing.
                let n = Some(v)
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| ApiError::Protocol(format!("bad Content-Length {v:?}")))?;
                if matches!(framing, Framing::Length(m) if m != n) {
                    return Err(ApiError::Protocol(
                        "conflicting Content-Length headers".into(),
                    ));
                }
                if !matches!(framing, Framing::Chunked { .. }) {
                    framing = Framing::Length(n);
                }
            } else if k == super::attach::INPUT_HEADER {
                framed_input = v == super::attach::FRAMED;
            } else if k == super::attach_service::TTY_HEADER {
                terminal = v == "1";
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                // Chunked framing wins over a Content-Length (RFC 9112 6.3).
                framing = Framing::Chunked {
                    left: 0,
                    done: false,
                };
            }
        }
    }
    Ok((status, framing, framed_input, terminal))
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.framing {
            Framing::Close => self.inner.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 && max > 0 {
                    return Err(cut_short(format!("{left} bytes of its body missing")));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut size = String::new();
                    if self.inner.read_line(&mut size)? == 0 {
                        return Err(cut_short("no last chunk".into()));
                    }
                    if size.trim().is_empty() {
                        // CRLF closing the previous chunk.
                        size.clear();
                        if self.inner.read_line(&mut size)? == 0 {
                            return Err(cut_short("no last chunk".into()));
                        }
                    }
                    let hex = size.trim().split(';').next().unwrap_or("");
                    let n = u64::from_str_radix(hex, 16).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if n == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = n;
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 && max > 0 {
                    return Err(cut_short(format!("{left} bytes of a chunk missing")));
                }
                *left -= n as u64;
                Ok(n)
            }
        }
    }
}

/// The error of an answer whose connection closed before its body was complete.
fn cut_short(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("the daemon's answer was cut short: {what}"),
    )
}

/// Percent-encodes `s` for a URL query value (everything but RFC 3986's unreserved bytes).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response the client reads when a server writes `raw` and closes.
    fn answer(raw: &[u8]) -> Result<Response, ApiError> {
        let (client, mut server) = UnixStream::pair().expect("socketpair");
        let raw = raw.to_vec();
        // A thread plays the server, so an answer larger than the socket buffer works too;
        // it ends (closing its end) once all is written or the client end is dropped.
        std::thread::spawn(move || {
            let _ = server.write_all(&raw);
        });
        let mut reader = BufReader::new(client);
        read_head(&mut reader).map(|(status, framing, _, _)| Response {
            status,
            body: BodyReader {
                inner: reader,
                framing,
            },
        })
    }

    fn body(raw: &[u8]) -> Result<Vec<u8>, ApiError> {
        answer(raw)?.bytes()
    }

    #[test]
    fn a_content_length_body_is_read_whole() {
        let got = body(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello and more").unwrap();
        assert_eq!(got, b"hello");
    }

    #[test]
    fn a_malformed_content_length_is_an_error() {
        for bad in [
            "abc",
            "-1",
            "+5",
            "5 5",
            "",
            "1e3",
            "99999999999999999999999",
        ] {
            let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\nhello");
            match answer(raw.as_bytes()) {
                Err(ApiError::Protocol(m)) => assert!(m.contains("Content-Length"), "{m}"),
                Err(e) => panic!("{bad:?}: {e}"),
                Ok(_) => panic!("{bad:?} was accepted"),
            }
        }
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
        assert!(matches!(answer(two), Err(ApiError::Protocol(_))));
    }

    #[test]
    fn a_body_cut_short_is_an_error() {
        let e = body(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello").unwrap_err();
        match e {
            ApiError::Io(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
                assert!(e.to_string().contains("cut short"), "{e}");
            }
            e => panic!("{e}"),
        }
        // An error answer cut short is an error too, not a shorter message.
        let e = answer(b"HTTP/1.1 500 Internal\r\nContent-Length: 50\r\n\r\n{\"message\"")
            .unwrap()
            .ok()
            .err()
            .expect("an error");
        assert!(matches!(e, ApiError::Io(_)), "{e}");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        assert_eq!(body(raw).unwrap(), b"hello, world");
        // Chunked wins over a Content-Length beside it.
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(body(raw).unwrap(), b"abc");
        // A large chunk, read in several pieces.
        let big = vec![b'x'; 300_000];
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            big.len()
        )
        .into_bytes();
        raw.extend_from_slice(&big);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(body(&raw).unwrap(), big);
    }

    #[test]
    fn a_chunked_body_cut_short_or_malformed_is_an_error() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        ] {
            let e = body(raw).unwrap_err();
            assert!(matches!(e, ApiError::Io(_)), "{e}");
        }
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(super::query_escape("busybox:test"), "busybox%3Atest");
        assert_eq!(super::query_escape("a b/&=é"), "a%20b%2F%26%3D%C3%A9");
    }
}
