//! The client's side of `rstack attach` (see `attach_service`): its input always goes as
//! frames (keys, and window sizes when the container has a terminal and ours is one), its
//! stdin's EOF is not sent (the container's stdin stays open, as with Docker), and the
//! detach keys end the attach by closing the connection, leaving the container running.
//! With `sig_proxy` (Docker's `--sig-proxy`, default on) and no terminal in the container,
//! the signals this process receives go to the container's main process as signal frames.

use super::attach::{Frame, encode, encode_resize, read_frame};
use super::client::{Client, read_head, upgrade_refused};
use super::detach::Detach;
use super::error::ApiError;
use serde::Serialize;
use std::io::{BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How an attach ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Attached {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys (or the daemon closed the stream after they did).
    Detached,
}

/// What the client's side sends.
pub struct AttachInput {
    /// Send our stdin (fd 0) to the container (`--no-stdin` turns it off).
    pub stdin: bool,
    /// The detach sequence (`detach::parse`); empty: none.
    pub detach_keys: Vec<u8>,
    /// Our terminal's size, when stdin is a terminal: sent at the start and at each SIGWINCH
    /// if the container has a terminal.
    pub size: Option<fn() -> (u16, u16)>,
    /// Forward our signals to the container (`--sig-proxy`), when it has no terminal (with
    /// one, keys such as Ctrl-C reach it as input: Docker does the same).
    pub sig_proxy: bool,
}

/// The write side of the connection, shared by the input pump and the signal forwarder so
/// that their frames never interleave.
type Out = Arc<Mutex<UnixStream>>;

fn send(to: &Out, frame: &[u8]) -> std::io::Result<()> {
    let mut s = to.lock().unwrap_or_else(|p| p.into_inner());
    s.write_all(frame)
}

/// The signals `--sig-proxy` forwards: those a user sends to a foreground program (Docker
/// forwards every one but SIGCHLD, SIGPIPE and the Go runtime's own).
const PROXIED: [nix::sys::signal::Signal; 10] = {
    use nix::sys::signal::Signal::*;
    [
        SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCONT, SIGTSTP, SIGWINCH,
    ]
};

impl Client {
    /// Attaches as `attach_service` answers. `on_terminal` hears, before any input is read,
    /// whether the container has a terminal (the CLI enters raw mode then; its guard lives
    /// until the attach ends). Every output frame goes to `each`.
    pub fn attach_container<B: Serialize, G>(
        &self,
        path: &str,
        body: &B,
        input: AttachInput,
        on_terminal: impl FnOnce(bool) -> G,
        mut each: impl FnMut(Frame),
    ) -> Result<Attached, ApiError> {
        let payload = serde_json::to_vec(body).map_err(|e| ApiError::Protocol(e.to_string()))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: {}\r\n{}: {}\r\n\r\n",
            payload.len(),
            super::attach::UPGRADE_PROTOCOL,
            super::attach::INPUT_HEADER,
            super::attach::FRAMED,
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(&payload);
        let stream = self.send(&msg)?;
        let writer = stream.try_clone().map_err(ApiError::Io)?;
        let mut reader = BufReader::new(stream);
        let (status, framing, _, terminal) = read_head(&mut reader)?;
        if status != 101 {
            return Err(upgrade_refused(status, framing, reader));
        }
        let _guard = on_terminal(terminal);
        let size = input.size.filter(|_| terminal);
        let sigwinch = match size {
            Some(_) => Some(winch_fd().map_err(ApiError::Io)?),
            None => None,
        };
        let detached = Arc::new(AtomicBool::new(false));
        let flag = detached.clone();
        let detach = Detach::new(input.detach_keys);
        let stdin = input.stdin;
        let writer: Out = Arc::new(Mutex::new(writer));
        if input.sig_proxy && !terminal {
            // Blocked here, before any thread starts, so that no thread takes them.
            let fd = proxy_fd().map_err(ApiError::Io)?;
            let to = writer.clone();
            std::thread::spawn(move || forward_signals(fd, to));
        }
        std::thread::spawn(move || pump(stdin, sigwinch, size, detach, writer, flag));
        loop {
            let frame = read_frame(&mut reader);
            if detached.load(Ordering::SeqCst) {
                return Ok(Attached::Detached);
            }
            match frame.map_err(ApiError::Io)? {
                Some(Frame::Exit(code)) => return Ok(Attached::Exited(code)),
                Some(Frame::Error(status, message)) => {
                    return Err(ApiError::Daemon { status, message });
                }
                Some(f) => each(f),
                None => {
                    return Err(ApiError::Protocol(
                        "the daemon closed the stream before the container exited".into(),
                    ));
                }
            }
        }
    }
}

/// A signalfd for SIGWINCH, blocked first (in this thread, so the pump thread started after
/// inherits the mask).
fn winch_fd() -> std::io::Result<OwnedFd> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    let _ = winch.thread_block();
    let fd = SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    Ok(OwnedFd::from(fd))
}

/// A blocking signalfd for the proxied signals, blocked first in this thread (threads
/// started after inherit the mask).
fn proxy_fd() -> std::io::Result<OwnedFd> {
    use nix::sys::signal::SigSet;
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(s);
    }
    set.thread_block()?;
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;
    Ok(OwnedFd::from(fd))
}

/// Each signal read from `fd` as a signal frame, until the connection is gone.
fn forward_signals(fd: OwnedFd, to: Out) {
    let mut info = [0u8; 128];
    loop {
        // SAFETY: reading one signalfd record (128 bytes) into a buffer of that size.
        let n = unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n < 4 {
            return;
        }
        // ssi_signo is the record's first field (u32, native endian).
        let signo = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32;
        if send(&to, &encode(super::attach::SIGNAL, &signo.to_be_bytes())).is_err() {
            return;
        }
    }
}

/// Our stdin (fd 0) as stdin frames through the detach filter, and window sizes, until the
/// detach keys (then the connection is closed both ways and `detached` set) or until there
/// is nothing left to watch. EOF on stdin is not sent: the connection stays open for output.
fn pump(
    stdin: bool,
    sigwinch: Option<OwnedFd>,
    size: Option<fn() -> (u16, u16)>,
    mut detach: Detach,
    to: Out,
    detached: Arc<AtomicBool>,
) {
    if let Some(size) = size {
        let (rows, cols) = size();
        if send(&to, &encode_resize(rows, cols)).is_err() {
            return;
        }
    }
    let mut stdin_open = stdin;
    let mut buf = [0u8; 16 * 1024];
    while stdin_open || sigwinch.is_some() {
        let mut fds = [
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigwinch.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of two pollfds (negative fds are ignored).
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0
            && let (Some(fd), Some(size)) = (&sigwinch, size)
        {
            let mut info = [0u8; 128];
            // SAFETY: draining whole signalfd records into a buffer of one record's size.
            while unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), 128) } > 0 {}
            let (rows, cols) = size();
            if send(&to, &encode_resize(rows, cols)).is_err() {
                return;
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: reading into our buffer from our stdin.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                stdin_open = false;
                continue;
            }
            let (data, done) = detach.feed(&buf[..n as usize]);
            if !data.is_empty() && send(&to, &encode(super::attach::STDIN, &data)).is_err() {
                return;
            }
            if done {
                detached.store(true, Ordering::SeqCst);
                let s = to.lock().unwrap_or_else(|p| p.into_inner());
                let _ = s.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}
