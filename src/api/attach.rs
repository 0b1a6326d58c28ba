//! `exec` and `run`: an HTTP/1.1 upgrade (as Docker's attach "hijack") turns the connection
//! into a duplex stream. The daemon answers with frames. The client sends the process's stdin
//! and half-closes at EOF: raw bytes, or, with a terminal, frames too, so that a resize of
//! the client's terminal can travel beside the keys.
//!
//! Frame: one kind byte, a big-endian u32 length, the payload. From the daemon: 1 stdout,
//! 2 stderr, 3 exit (the code as a big-endian i32; it ends the stream), 6 error (the process
//! could not start: an HTTP status as a big-endian u16, then the message; it ends the
//! stream). From a client with a terminal: 4 stdin, 5 resize (rows and columns as big-endian
//! u16s); from an attach client with `--sig-proxy`: 7 signal (its number as a big-endian i32),
//! which the daemon sends to the container's main process.

use std::io::{Read, Write};

pub const UPGRADE_PROTOCOL: &str = "rstack-exec";
/// The header (lower case) with which a client asks to send framed input, and a daemon
/// agrees (value `FRAMED`): either side may be older than the other.
pub const INPUT_HEADER: &str = "x-rstack-input";
pub const FRAMED: &str = "framed";
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN: u8 = 4;
pub const RESIZE: u8 = 5;
pub const ERROR: u8 = 6;
pub const SIGNAL: u8 = 7;

/// Largest payload a frame may claim; anything bigger is a protocol error, not an allocation.
const MAX_FRAME: u32 = 1 << 20;

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + payload.len());
    f.push(kind);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A resize frame for a terminal of (rows, columns).
pub fn encode_resize(rows: u16, cols: u16) -> Vec<u8> {
    let mut size = rows.to_be_bytes().to_vec();
    size.extend_from_slice(&cols.to_be_bytes());
    encode(RESIZE, &size)
}

/// One decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    Stdin(Vec<u8>),
    /// (rows, columns)
    Resize(u16, u16),
    /// (HTTP status, message): the process could not start.
    Error(u16, String),
    /// A signal the attach client received, for the container's main process.
    Signal(i32),
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// The payload length a frame header announces, checked.
fn payload_len(head: &[u8; 5]) -> std::io::Result<usize> {
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_FRAME {
        return Err(invalid(format!("frame of {len} bytes")));
    }
    Ok(len as usize)
}

fn decode(kind: u8, payload: Vec<u8>) -> std::io::Result<Frame> {
    let be16 = |i: usize| {
        payload
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    Ok(match kind {
        STDOUT => Frame::Stdout(payload),
        STDERR => Frame::Stderr(payload),
        EXIT => {
            let code = payload
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(255);
            Frame::Exit(code)
        }
        STDIN => Frame::Stdin(payload),
        SIGNAL => match payload.get(..4) {
            Some(b) => Frame::Signal(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            None => return Err(invalid("signal frame without a number".into())),
        },
        ERROR => match be16(0) {
            Some(status) => Frame::Error(status, String::from_utf8_lossy(&payload[2..]).into()),
            None => return Err(invalid("error frame without a status".into())),
        },
        RESIZE => match (be16(0), be16(2)) {
            (Some(rows), Some(cols)) => Frame::Resize(rows, cols),
            _ => return Err(invalid("resize frame without a size".into())),
        },
        k => return Err(invalid(format!("unknown frame kind {k}"))),
    })
}

/// Reads the next frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; payload_len(&head)?];
    r.read_exact(&mut payload)?;
    decode(head[0], payload).map(Some)
}

/// `read_frame` for the daemon's side of the stream.
pub async fn read_frame_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<Option<Frame>> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 5];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; payload_len(&head)?];
    r.read_exact(&mut payload).await?;
    decode(head[0], payload).map(Some)
}

/// Copies `from` to `to` until EOF, then half-closes `to` (the peer sees EOF on stdin).
pub fn pump_stdin(mut from: impl Read, mut to: std::os::unix::net::UnixStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// With a terminal: sends `from` as stdin frames, and a resize frame from `size()` at the
/// start (the size may have changed since the request) and whenever `sigwinch` (a signalfd
/// for SIGWINCH) fires, until `from` ends; then half-closes `to`.
pub fn pump_terminal(
    from: std::os::fd::RawFd,
    sigwinch: std::os::fd::OwnedFd,
    size: impl Fn() -> (u16, u16),
    mut to: std::os::unix::net::UnixStream,
) {
    use std::os::fd::AsRawFd;
    let (rows, cols) = size();
    if to.write_all(&encode_resize(rows, cols)).is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: from,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigwinch.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of two pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if fds[1].revents != 0 {
            let mut info = [0u8; 128];
            // SAFETY: draining whole signalfd records into a buffer of one record's size.
            while unsafe { libc::read(sigwinch.as_raw_fd(), info.as_mut_ptr().cast(), 128) } > 0 {}
            let (rows, cols) = size();
            if to.write_all(&encode_resize(rows, cols)).is_err() {
                return;
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: reading into our buffer from the terminal.
            let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                break;
            }
            if to.write_all(&encode(STDIN, &buf[..n as usize])).is_err() {
                return;
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_input_is_an_error() {
        let mut wire = encode(STDOUT, b"hello");
        wire.extend(encode(STDERR, b""));
        wire.extend(encode(EXIT, &7i32.to_be_bytes()));
        let mut r = &wire[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some(Frame::Stdout(b"hello".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Stderr(Vec::new())));
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Exit(7)));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut huge = &[1u8, 0xff, 0xff, 0xff, 0xff][..];
        assert!(read_frame(&mut huge).is_err());
        let mut unknown = &encode(9, b"x")[..];
        assert!(read_frame(&mut unknown).is_err());
        let mut input = encode(STDIN, b"ls\n");
        input.extend(encode_resize(30, 100));
        let mut r = &input[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some(Frame::Stdin(b"ls\n".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Resize(30, 100)));
        let mut sig = &encode(SIGNAL, &10i32.to_be_bytes())[..];
        assert_eq!(read_frame(&mut sig).unwrap(), Some(Frame::Signal(10)));
        let mut short = &encode(SIGNAL, &[0])[..];
        assert!(read_frame(&mut short).is_err());
        let mut short = &encode(RESIZE, &[0, 30])[..];
        assert!(read_frame(&mut short).is_err());
        let mut failed = &encode(ERROR, b"\x01\xf4no such file")[..];
        assert_eq!(
            read_frame(&mut failed).unwrap(),
            Some(Frame::Error(500, "no such file".into()))
        );
    }
}
