//! `exec` with stdin: an HTTP/1.1 upgrade (as Docker's attach "hijack") turns the connection
//! into a raw duplex stream. The client sends the process's stdin (closing its write half at
//! EOF); the daemon answers with frames.
//!
//! Frame: one kind byte (1 stdout, 2 stderr, 3 exit), a big-endian u32 length, the payload.
//! The exit frame's payload is the exit code as a big-endian i32, and ends the stream.

use std::io::{Read, Write};

pub const UPGRADE_PROTOCOL: &str = "rstack-exec";
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;

/// Largest payload a frame may claim; anything bigger is a protocol error, not an allocation.
const MAX_FRAME: u32 = 1 << 20;

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + payload.len());
    f.push(kind);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// One decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
}

/// Reads the next frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    Ok(Some(match head[0] {
        STDOUT => Frame::Stdout(payload),
        STDERR => Frame::Stderr(payload),
        EXIT => {
            let code = payload
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(255);
            Frame::Exit(code)
        }
        k => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unknown frame kind {k}"),
            ));
        }
    }))
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
    }
}
